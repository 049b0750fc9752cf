"""Data sets shared by the benchmarks, built once per process and seeded."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np


def _scripts_common():
    """``benchmarks/common.py`` of the side-by-side scripts, where the issues'
    breast-cancer problem is defined once (this folder's package is also
    called ``benchmarks``, so it is loaded by path)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "common.py"
    spec = importlib.util.spec_from_file_location("benchmark_scripts_common", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SCRIPTS = _scripts_common()
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
