"""Weighted Lasso and LLM-Lasso: path and cross-validated fit times."""

from __future__ import annotations

from functools import cache

import numpy as np

from convexnn import LLMLassoRegressor, WeightedLasso, WeightedLassoCV
from convexnn.scoring import PrecomputedScorer


@cache
def sparse_regression(n_samples: int, n_features: int, seed: int = 0):
    """Gaussian design, 20 informative features, and importance scores that
    favour them (noisily)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    support = rng.choice(n_features, 20, replace=False)
    coef = np.zeros(n_features)
    coef[support] = rng.uniform(0.5, 2.0, 20) * rng.choice([-1, 1], 20)
    y = X @ coef + rng.standard_normal(n_samples)
    scores = rng.uniform(0.05, 0.6, n_features)
    scores[support] = rng.uniform(0.3, 1.0, 20)
    return X, y, scores / scores.max()


class WeightedLassoBenchmark:
    """One certified fit (relative duality gap 1e-6) at a tenth of alpha_max."""

    params = (["n=500,p=2000", "n=2000,p=500"],)
    param_names = ["data"]
    timeout = 300

    def setup(self, data):
        sizes = dict(part.split("=") for part in data.split(","))
        self.X, self.y, scores = sparse_regression(int(sizes["n"]), int(sizes["p"]))
        alpha_max = np.abs(self.X.T @ (self.y - self.y.mean())).max() / len(self.y)
        self.model = WeightedLasso(
            alpha=alpha_max / 10, penalty_factors=1 / scores, device="cpu"
        )

    def time_fit(self, data):
        self.model.fit(self.X, self.y)

    def peakmem_fit(self, data):
        self.model.fit(self.X, self.y)

    def track_objective(self, data):
        return self.model.fit(self.X, self.y).objective_


class WeightedLassoCVBenchmark:
    """Warm-started paths of 50 alphas over 5 folds."""

    timeout = 300

    def setup(self):
        self.X, self.y, _ = sparse_regression(300, 1000)
        self.model = WeightedLassoCV(n_alphas=50, cv=5, device="cpu")

    def time_fit(self):
        self.model.fit(self.X, self.y)


class LLMLassoBenchmark:
    """Prior-weighted paths for every trust value, with precomputed scores."""

    params = [2, 6]
    param_names = ["n_trust_values"]
    timeout = 300

    def setup(self, n_trust_values):
        self.X, self.y, scores = sparse_regression(200, 1000)
        self.model = LLMLassoRegressor(
            PrecomputedScorer(scores),
            trust_grid=np.linspace(0.0, 2.0, n_trust_values),
            n_alphas=50,
            cv=5,
            device="cpu",
        )

    def time_fit(self, n_trust_values):
        self.model.fit(self.X, self.y)

    def track_selected_features(self, n_trust_values):
        return len(self.model.fit(self.X, self.y).selected_features_)
