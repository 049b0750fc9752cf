"""The problem of the issues' breast-cancer targets, shared by the scripts here.

Scripts import it as ``common`` (they run as ``python benchmarks/bench_*.py``,
which puts this folder first on the import path).
"""

from __future__ import annotations

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
"""Breast cancer, 100 gates, no intercept, no hidden bias, scnn's λ = 1e-3
after its √n column scaling: the problem of issues 2 (gated) and 3 (convex)."""


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Standardised breast cancer features and ±1 targets."""
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), 2.0 * y - 1.0
