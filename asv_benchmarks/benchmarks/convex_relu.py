"""Convex ReLU estimators: fit time, peak memory, the objective and residuals."""

from __future__ import annotations

import warnings

from sklearn.exceptions import ConvergenceWarning

from convexnn import ConvexReLUClassifier, ConvexReLURegressor

from .common import ISSUE_PROBLEM, breast_cancer, synthetic


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


class ConvexReLURegressorBenchmark:
    """Fits to KKT residuals 1e-4 (or 2000 steps) by each solver."""

    params = (
        ["n=300,d=10", "breast_cancer"],
        [20, 50],
        ["admm", "augmented_lagrangian"],
    )
    param_names = ["data", "n_patterns", "solver"]
    timeout = 300

    def setup(self, data, n_patterns, solver):
        if data == "breast_cancer":
            self.X, self.y = breast_cancer()
        else:
            sizes = dict(part.split("=") for part in data.split(","))
            self.X, self.y = synthetic(int(sizes["n"]), int(sizes["d"]))
        self.model = ConvexReLURegressor(
            alpha=1e-2,
            n_patterns=n_patterns,
            solver=solver,
            tol=1e-4,
            max_iter=2000,
            random_state=0,
            device="cpu",
        )

    def time_fit(self, data, n_patterns, solver):
        _fit(self.model, self.X, self.y)

    def peakmem_fit(self, data, n_patterns, solver):
        _fit(self.model, self.X, self.y)

    def track_objective(self, data, n_patterns, solver):
        return _fit(self.model, self.X, self.y).objective_

    def track_largest_residual(self, data, n_patterns, solver):
        model = _fit(self.model, self.X, self.y)
        return max(
            model.stationarity_, model.constraint_violation_, model.complementarity_
        )


class ConvexReLUClassifierBenchmark:
    """Binary logistic fits on breast cancer."""

    params = [1e-2, 1e-1]
    param_names = ["alpha"]
    timeout = 300

    def setup(self, alpha):
        self.X, targets = breast_cancer()
        self.y = targets > 0
        self.model = ConvexReLUClassifier(
            alpha=alpha,
            n_patterns=20,
            tol=1e-4,
            max_iter=2000,
            random_state=0,
            device="cpu",
        )

    def time_fit(self, alpha):
        _fit(self.model, self.X, self.y)

    def track_objective(self, alpha):
        return _fit(self.model, self.X, self.y).objective_


class ConvexReLUIssueTargetBenchmark:
    """Issue 3's target: breast cancer, 100 gates, squared loss on ±1 targets,
    the gated benchmark's alpha, KKT residuals ≤ 1e-6 (goal: under 2 s)."""

    timeout = 600

    def setup(self):
        self.X, self.y = breast_cancer()
        self.model = ConvexReLURegressor(**ISSUE_PROBLEM, tol=1e-6)

    def time_fit(self):
        _fit(self.model, self.X, self.y)

    def track_largest_residual(self):
        model = _fit(self.model, self.X, self.y)
        return max(
            model.stationarity_, model.constraint_violation_, model.complementarity_
        )
