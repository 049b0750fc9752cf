"""What the Lasso estimators share: feature names and penalty factors, the fitted
attributes read off a path solution, and the cross-validated fit over folds,
penalty-factor candidates and the alpha path."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.metrics import check_scoring, get_scorer_names

from .._backend import Backend
from .._features import values_by_feature
from .._sklearn_compat import Interval, StrOptions, check_shuffled_cv
from ._cv_selection import select
from ._fitting import warn_not_converged
from ._lasso_cv import CVPaths, ScoreFn, cross_validate_paths, negative_error
from ._lasso_path import LassoData, PathSolution, check_alphas


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

    def results(self, **per_candidate: np.ndarray) -> dict:
        """``cv_results_``: one entry per (candidate, alpha), candidate-major,
        with the given per-candidate columns repeated along each grid."""
        cv = self.cv
        _, n_alphas, n_folds = cv.scores.shape
        results = {
            name: np.repeat(np.asarray(values), n_alphas)
            for name, values in per_candidate.items()
        }
        results["alpha"] = cv.alphas.ravel()
        results["mean_test_score"] = cv.mean_scores.ravel()
        results["std_test_score"] = cv.std_scores.ravel()
        for fold in range(n_folds):
            results[f"split{fold}_test_score"] = cv.scores[:, :, fold].ravel()
        results["mean_n_selected"] = cv.mean_n_selected.ravel()
        return results


class _LassoCVBase(_WeightedLassoBase):
    """Cross-validation of weighted-Lasso paths, then a refit on all data."""

    def _given_alphas(self) -> np.ndarray | None:
        """The ``alphas`` parameter validated and sorted decreasingly, or
        ``None`` for the default grid."""
        return None if self.alphas is None else check_alphas(self.alphas)

    def _cross_validated_fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        loss: str,
        candidates: list[np.ndarray],
        sample_weight: np.ndarray | None = None,
    ) -> CVFit:
        backend = self._backend()
        settings = {"fit_intercept": self.fit_intercept, "backend": backend}
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
        cv = cross_validate_paths(
            X,
            Y,
            loss,
            candidates,
            alphas,
            self._folds(X, Y, loss, sample_weight),
            score=self._score_function(loss),
            sample_weight=sample_weight,
            tol=self.tol,
            max_iter=self.max_iter,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            **settings,
        )
        candidate, index = select(cv, self.selection)
        path = full[candidate].solve(
            alphas[candidate, : index + 1],
            tol=self.tol,
            max_iter=self.max_iter,
            verbose=self.verbose,
        )
        attributes = self._solution_attributes(path, index)
        attributes["alpha_"] = float(alphas[candidate, index])
        attributes["alphas_"] = alphas[candidate]
        return CVFit(cv, candidate, attributes["alpha_"], attributes)

    def _folds(self, X, Y, loss, sample_weight=None):
        """The (train, test) splits, the same for every candidate; every
        training fold must hold every class with positive weight."""
        labels = None if loss == "squared" else _labels(Y)
        splitter = check_shuffled_cv(
            self.cv,
            labels,
            classifier=labels is not None,
            random_state=self.random_state,
        )
        folds = list(splitter.split(X, labels))
        if labels is not None:
            n_classes = max(Y.shape[1], 2)
            for k, (train, _) in enumerate(folds):
                if sample_weight is not None:
                    train = train[sample_weight[train] > 0]
                if len(np.unique(labels[train])) < n_classes:
                    raise ValueError(
                        f"cv: training fold {k} lacks some of the {n_classes} "
                        "classes (among its samples of positive weight); use a "
                        "StratifiedKFold or fewer splits."
                    )
        return folds

    def _score_function(self, loss: str) -> ScoreFn:
        if self.scoring is None:
            return negative_error(loss)
        scorer = check_scoring(self, scoring=self.scoring)

        def score(path: PathSolution, X, Y, sample_weight=None) -> np.ndarray:
            y = _labels(Y) if is_classifier(self) else Y[:, 0] if Y.shape[1] == 1 else Y
            weights = {} if sample_weight is None else {"sample_weight": sample_weight}
            return np.array(
                [
                    scorer(self._fold_model(path, index, Y.shape[1]), X, y, **weights)
                    for index in range(len(path.alphas))
                ]
            )

        return score

    def _fold_model(self, path: PathSolution, index: int, n_outputs: int):
        """A bare fitted copy of this estimator at one solution, for scorers."""
        model = type(self)()
        for name, value in self._solution_attributes(path, index).items():
            setattr(model, name, value)
        model.n_features_in_ = path.coefs.shape[1]
        if is_classifier(self):
            model.classes_ = np.arange(max(n_outputs, 2))
            model.loss_ = "logistic" if n_outputs == 1 else "multinomial"
        else:
            model._single_output = n_outputs == 1
        return model


def _labels(Y: np.ndarray) -> np.ndarray:
    """Integer class labels from encoded classification targets."""
    return Y.argmax(axis=1) if Y.shape[1] > 1 else Y[:, 0].astype(int)
