"""Data sets shared by the benchmarks, built once per process and seeded."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

import numpy as np


def load_script(name: str):
    """The module ``benchmarks/<name>.py`` of the side-by-side scripts (this
    folder's package is also called ``benchmarks``, so it is loaded by path):
    the issues' breast-cancer problem and the benchmark matrix are defined
    there once."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmark_scripts_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_SCRIPTS = load_script("common")
ISSUE_PROBLEM = _SCRIPTS.ISSUE_PROBLEM
breast_cancer = cache(_SCRIPTS.breast_cancer)


@cache
def synthetic(n_samples: int, n_features: int, seed: int = 0):
    """A two-layer ReLU teacher's noisy regression targets on Gaussian inputs."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    hidden = rng.standard_normal((n_features, 10)) / np.sqrt(n_features)
    y = np.maximum(X @ hidden, 0) @ rng.standard_normal(10)
    return X, y + 0.1 * rng.standard_normal(n_samples)
