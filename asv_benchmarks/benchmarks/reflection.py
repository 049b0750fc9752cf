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
