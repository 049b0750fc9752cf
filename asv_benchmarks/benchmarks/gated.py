"""Gated ReLU estimators: fit time, peak memory and the objective reached."""

from __future__ import annotations

from convexnn import GatedReLUClassifier, GatedReLURegressor

from .common import breast_cancer, synthetic


class GatedReLURegressorBenchmark:
    """Certified fits (relative duality gap 1e-6) on a few problem sizes."""

    params = (["breast_cancer", "n=2000,d=20", "n=10000,d=50"], [50, 200])
    param_names = ["data", "n_patterns"]
    timeout = 300

    def setup(self, data, n_patterns):
        if data == "breast_cancer":
            self.X, self.y = breast_cancer()
        else:
            sizes = dict(part.split("=") for part in data.split(","))
            self.X, self.y = synthetic(int(sizes["n"]), int(sizes["d"]))
        self.model = GatedReLURegressor(
            alpha=1e-2, n_patterns=n_patterns, random_state=0, device="cpu"
        )

    def time_fit(self, data, n_patterns):
        self.model.fit(self.X, self.y)

    def peakmem_fit(self, data, n_patterns):
        self.model.fit(self.X, self.y)

    def track_objective(self, data, n_patterns):
        return self.model.fit(self.X, self.y).objective_

    def track_iterations(self, data, n_patterns):
        return self.model.fit(self.X, self.y).n_iter_


class GatedReLUClassifierBenchmark:
    """Binary logistic fits on breast cancer at three regularisation levels."""

    params = [1e-3, 1e-2, 1e-1]
    param_names = ["alpha"]
    timeout = 300

    def setup(self, alpha):
        self.X, targets = breast_cancer()
        self.y = targets > 0
        self.model = GatedReLUClassifier(
            alpha=alpha, n_patterns=100, random_state=0, device="cpu"
        )

    def time_fit(self, alpha):
        self.model.fit(self.X, self.y)

    def peakmem_fit(self, alpha):
        self.model.fit(self.X, self.y)

    def track_objective(self, alpha):
        return self.model.fit(self.X, self.y).objective_
