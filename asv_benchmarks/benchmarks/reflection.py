"""Reflection Lasso (1-D deep networks): fit time, peak memory, objective."""

from __future__ import annotations

import numpy as np

from convexnn import ReflectionLassoRegressor


def _signal(n_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``y = sin(3x) + 0.3 ε`` on ``x ~ U(-2, 2)``, the data of bench_reflection."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n_samples)
    return x, np.sin(3 * x) + 0.3 * rng.normal(size=n_samples)


class ReflectionLassoBenchmark:
    """Certified fits (relative duality gap 1e-6) of small 1-D problems."""

    params = (["2-relu", "3-relu", "3-abs", "2-sign"], [30, 60])
    param_names = ["network", "n_samples"]
    timeout = 300

    def setup(self, network, n_samples):
        depth, activation = network.split("-")
        self.x, self.y = _signal(n_samples)
        self.model = ReflectionLassoRegressor(
            int(depth), activation, alpha=1e-2, device="cpu"
        )

    def time_fit(self, network, n_samples):
        self.model.fit(self.x, self.y)

    def peakmem_fit(self, network, n_samples):
        self.model.fit(self.x, self.y)

    def track_objective(self, network, n_samples):
        return self.model.fit(self.x, self.y).objective_

    def track_iterations(self, network, n_samples):
        return self.model.fit(self.x, self.y).n_iter_


class ReflectionLassoTargets:
    """The issue's sizes: depth-2 ReLU on N = 100 000 (target 5 s, 1 GB) and
    depth 3 on N = 2 000 (target 30 s), ``alpha = 1e-3``, gap 1e-6."""

    params = ["2-100000", "3-2000"]
    param_names = ["depth_n_samples"]
    timeout = 300

    def setup(self, depth_n_samples):
        depth, n_samples = map(int, depth_n_samples.split("-"))
        self.x, self.y = _signal(n_samples)
        self.model = ReflectionLassoRegressor(depth, "relu", 1e-3, device="cpu")

    def time_fit(self, depth_n_samples):
        self.model.fit(self.x, self.y)

    def peakmem_fit(self, depth_n_samples):
        self.model.fit(self.x, self.y)

    def track_dual_gap(self, depth_n_samples):
        return self.model.fit(self.x, self.y).dual_gap_
