"""What the Lasso estimators share: feature names and penalty factors, the fitted
attributes read off a path solution, and the cross-validated fit over folds,
penalty-factor candidates and the alpha path."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.metrics import get_scorer_names

from .._backend import Backend
from .._features import values_by_feature
from .._sklearn_compat import Interval, StrOptions
from ._cv_selection import select
from ._fitting import fit_config, warn_not_converged
from ._lasso_cv import CVPaths, PathCVMixin, cross_validate_paths, negative_error
from ._lasso_path import LassoData, PathSolution


def feature_names(estimator, n_features: int) -> list[str]:
    """``feature_names_in_`` when ``X`` was a DataFrame, else ``x0 .. x{p-1}``."""
    if hasattr(estimator, "feature_names_in_"):
        return [str(name) for name in estimator.feature_names_in_]
    return [f"x{j}" for j in range(n_features)]


def check_penalty_factors(penalty_factors, names: list[str]) -> np.ndarray:
    """Resolve ``penalty_factors`` (``None`` is all ones) and check them."""
    if penalty_factors is None:
        return np.ones(len(names))
    factors = values_by_feature(penalty_factors, names, "penalty_factors")
    if np.isnan(factors).any() or (factors < 0).any():
        raise ValueError(
            "penalty_factors must be nonnegative (0 = unpenalised, inf = excluded); "
            f"got {factors[np.isnan(factors) | (factors < 0)][:5]!r}."
        )
    return factors


CV_PARAMETERS = {
    "alphas": ["array-like", None],
    "n_alphas": [Interval(Integral, 1, None, closed="left")],
    "alpha_min_ratio": [Interval(Real, 0, 1, closed="neither")],
    "cv": ["cv_object"],
    "scoring": [StrOptions(set(get_scorer_names())), callable, None],
    "n_jobs": [Integral, None],
    "random_state": ["random_state"],
}
"""Cross-validation parameters shared by the CV estimators."""


class _WeightedLassoBase(BaseEstimator):
    """Storing a weighted-Lasso solution and predicting with it.

    Regressors keep scikit-learn's :class:`~sklearn.linear_model.Lasso` layout
    (``coef_`` of shape ``(n_features,)`` and a float ``intercept_`` for one
    target, ``(n_targets, n_features)`` otherwise); classifiers keep
    :class:`~sklearn.linear_model.LogisticRegression`'s (``(1, n_features)``
    for two classes, ``(n_classes, n_features)`` otherwise).

    Samples of weight zero stay in the data (they change nothing in the
    objective), so that the rows of a ``cv`` given as index splits are the
    rows passed to ``fit``.
    """

    _keeps_zero_weights = True

    def _solution_attributes(self, path: PathSolution, index: int) -> dict:
        """Fitted attributes of the solution at ``path``'s alpha ``index``."""
        coef, intercept = path.coefs[index].T, path.intercepts[index]
        if coef.shape[0] == 1 and not is_classifier(self):
            coef, intercept = coef[0], float(intercept[0])
        return {
            "coef_": coef,
            "intercept_": intercept,
            "n_iter_": int(path.n_iter[: index + 1].sum()),
            "dual_gap_": float(path.gaps[index]),
            "converged_": bool(path.converged[index]),
        }

    def _set_fitted(self, attributes: dict, names: list[str]):
        for name, value in attributes.items():
            setattr(self, name, value)
        selected = np.atleast_2d(self.coef_).any(axis=0)
        self.selected_features_ = np.asarray(names, dtype=object)[selected]
        if not self.converged_:
            warn_not_converged(self, f"a relative duality gap of {self.dual_gap_:.3g}")

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        return X @ np.atleast_2d(self.coef_).T + np.atleast_1d(self.intercept_)

    def _backend(self) -> Backend:
        return Backend.from_params(self.device, self.dtype)


@dataclass(frozen=True)
class CVFit:
    """The outcome of a cross-validated fit over penalty-factor candidates."""

    cv: CVPaths
    candidate: int
    alpha: float
    attributes: dict
    """Fitted attributes of the refit at the chosen pair."""


class _LassoCVBase(PathCVMixin, _WeightedLassoBase):
    """Cross-validation of weighted-Lasso paths, then a refit on all data."""

    def _cross_validated_fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        loss: str,
        candidates: list[np.ndarray],
        sample_weight: np.ndarray | None = None,
    ) -> CVFit:
        backend, config = self._backend(), fit_config()
        settings = {"fit_intercept": self.fit_intercept, "backend": backend}
        solver = {"tol": self.tol, "max_iter": self.max_iter, "config": config}
        full = [
            LassoData.build(X, Y, loss, f, sample_weight=sample_weight, **settings)
            for f in candidates
        ]
        grid = self._given_alphas()
        if grid is None:
            alphas = np.stack(
                [d.default_alphas(self.n_alphas, self.alpha_min_ratio) for d in full]
            )
        else:
            alphas = np.tile(grid, (len(candidates), 1))

        def fit_path(candidate: int, train, weights, verbose: int) -> PathSolution:
            data = LassoData.build(
                X[train],
                Y[train],
                loss,
                candidates[candidate],
                sample_weight=weights,
                **settings,
            )
            return data.solve(alphas[candidate], verbose=verbose, **solver)

        cv = cross_validate_paths(
            X,
            Y,
            fit_path,
            alphas,
            self._folds(X, Y, sample_weight),
            score=self._score_function(negative_error(loss), loss),
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            sample_weight=sample_weight,
            same_as=_first_equal(candidates),
        )
        self._warn_unconverged(cv)
        candidate, index = select(cv, self.selection)
        path = full[candidate].solve(
            alphas[candidate, : index + 1], verbose=self.verbose, **solver
        )
        attributes = self._solution_attributes(path, index)
        attributes["alpha_"] = float(alphas[candidate, index])
        attributes["alphas_"] = alphas[candidate]
        return CVFit(cv, candidate, attributes["alpha_"], attributes)

    def _fold_model(
        self, path: PathSolution, index: int, n_features: int, n_outputs: int, loss
    ):
        """A fitted copy of this estimator at one solution, for scorers."""
        model = self._bare_copy(n_features, n_outputs, loss)
        for name, value in self._solution_attributes(path, index).items():
            setattr(model, name, value)
        return model


def _first_equal(candidates: list[np.ndarray]) -> list[int]:
    """For each candidate, the first one with the same penalty factors (so the
    same path: equal scores make every trust value the plain Lasso)."""
    return [
        next(k for k in range(c + 1) if np.array_equal(candidates[k], factors))
        for c, factors in enumerate(candidates)
    ]
