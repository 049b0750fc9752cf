"""Data sets shared by the benchmarks, built once per process and seeded."""

from __future__ import annotations

from functools import cache

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

ISSUE_PROBLEM = dict(
    alpha=0.02385,
    n_patterns=100,
    fit_intercept=False,
    hidden_bias=False,
    random_state=0,
    device="cpu",
)
"""The issues' breast-cancer problem: 100 gates, no intercept or hidden bias."""


@cache
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Standardised breast cancer features and ±1 targets."""
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), 2.0 * y - 1.0


@cache
def synthetic(n_samples: int, n_features: int, seed: int = 0):
    """A two-layer ReLU teacher's noisy regression targets on Gaussian inputs."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    hidden = rng.standard_normal((n_features, 10)) / np.sqrt(n_features)
    y = np.maximum(X @ hidden, 0) @ rng.standard_normal(10)
    return X, y + 0.1 * rng.standard_normal(n_samples)
