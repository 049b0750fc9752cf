r"""Cross-validation along regularisation paths, over one or several candidates.

A *candidate* is one model family whose ``alpha`` path is cross-validated:
a vector of penalty factors (one per trust value of LLM-Lasso, or the user's
factors of :class:`WeightedLassoCV`), or the gates of a network shared by
every fold. Every candidate is fitted along its own ``alpha`` grid on the
training part of every fold, each solve warm-started from the one before,
and each solution is scored on the held-out part. All candidates see the
*same* folds, so their curves differ only by the candidate. The fits are
independent tasks, one per (candidate, fold), run by joblib in threads (the
solver's tensor kernels release the GIL, and threads share CUDA tensors where
processes could not). What a fold's path is, and how it is solved, is the
caller's: :func:`cross_validate_paths` asks for it through ``fit_path``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import copy_context
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from joblib import Parallel, delayed
from scipy.special import logsumexp
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring, r2_score

from .._sklearn_compat import check_shuffled_cv
from ..solvers.progress import report, timed
from ._fitting import warn_cv_not_converged
from ._lasso_path import check_alphas


class Path(Protocol):
    """Solutions along an ``alpha`` grid, as a fold's fit returns them."""

    alphas: np.ndarray
    converged: np.ndarray
    """Shape ``(n_alphas,)``: whether each solve reached ``tol``."""
    n_iter: np.ndarray
    objectives: np.ndarray
    gaps: np.ndarray
    """Shape ``(n_alphas,)``: each solve's iterations, objective and relative
    gap, for the progress lines."""

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """Model outputs on ``X`` at every alpha, ``(n_alphas, n, n_outputs)``."""

    def n_selected(self) -> np.ndarray:
        """Size of each solution: its nonzero features, or blocks."""


ScoreFn = Callable[[Path, np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]
"""``score(path, X_test, Y_test, sample_weight_test) -> (n_alphas,)`` scores,
greater is better (the weights are ``None`` for an unweighted fit)."""


def negative_error(loss: str) -> ScoreFn:
    """The default score: minus the mean squared error (squared loss) or minus
    the mean cross-entropy, the log-loss (logistic and multinomial losses),
    averaged over the held-out samples with their weights."""

    def score(path: Path, X, Y, sample_weight=None) -> np.ndarray:
        Z = path.outputs(X)  # (n_alphas, n, c)
        if loss == "squared":
            errors = ((Z - Y) ** 2).mean(axis=2)
        elif loss == "logistic":
            errors = (np.logaddexp(0.0, Z) - Y * Z).mean(axis=2)
        else:
            errors = logsumexp(Z, axis=2) - (Y * Z).sum(axis=2)
        return -np.average(errors, axis=1, weights=sample_weight)

    return score


def estimator_score(classifier: bool) -> ScoreFn:
    """The score of the estimators' ``score`` method, from a path's outputs:
    the accuracy for a classifier (one output: positive outputs are class 1;
    several: the largest output's class), :math:`R^2` averaged over the
    outputs for a regressor, both weighted by the held-out samples' weights."""

    def score(path: Path, X, Y, sample_weight=None) -> np.ndarray:
        Z = path.outputs(X)  # (n_alphas, n, c)
        if classifier:
            predicted = Z[:, :, 0] > 0 if Z.shape[2] == 1 else Z.argmax(axis=2)
            correct = predicted == class_indices(Y)
            return np.average(correct, axis=1, weights=sample_weight)
        return np.array(
            [r2_score(Y, outputs, sample_weight=sample_weight) for outputs in Z]
        )

    return score


@dataclass(frozen=True)
class CVPaths:
    """Held-out scores of every candidate at every alpha on every fold."""

    alphas: np.ndarray
    """Shape ``(n_candidates, n_alphas)``: each candidate's grid, decreasing."""
    scores: np.ndarray
    """Shape ``(n_candidates, n_alphas, n_folds)``, greater is better."""
    n_selected: np.ndarray
    """Shape ``(n_candidates, n_alphas, n_folds)``: the size of each solution
    (nonzero features, or blocks)."""
    n_unconverged: int = 0
    """How many of the solves stopped short of ``tol``."""

    @property
    def mean_scores(self) -> np.ndarray:
        return self.scores.mean(axis=2)

    @property
    def std_scores(self) -> np.ndarray:
        """Standard deviation over folds (``ddof=0``, as in ``GridSearchCV``)."""
        return self.scores.std(axis=2)

    @property
    def standard_errors(self) -> np.ndarray:
        r"""Standard error of the mean score, :math:`s/\sqrt{K}` with the
        ``ddof=1`` standard deviation ``s`` over the ``K`` folds (glmnet's)."""
        n_folds = self.scores.shape[2]
        if n_folds < 2:
            return np.zeros(self.scores.shape[:2])
        return self.scores.std(axis=2, ddof=1) / np.sqrt(n_folds)

    @property
    def mean_n_selected(self) -> np.ndarray:
        return self.n_selected.mean(axis=2)

    def results(self, **per_candidate: np.ndarray) -> dict:
        """``cv_results_``: one entry per (candidate, alpha), candidate-major,
        with the given per-candidate columns repeated along each grid."""
        _, n_alphas, n_folds = self.scores.shape
        results = {
            name: np.repeat(np.asarray(values), n_alphas)
            for name, values in per_candidate.items()
        }
        results["alpha"] = self.alphas.ravel()
        results["mean_test_score"] = self.mean_scores.ravel()
        results["std_test_score"] = self.std_scores.ravel()
        for fold in range(n_folds):
            results[f"split{fold}_test_score"] = self.scores[:, :, fold].ravel()
        results["mean_n_selected"] = self.mean_n_selected.ravel()
        return results


@timed
def cross_validate_paths(
    X: np.ndarray,
    Y: np.ndarray,
    fit_path: Callable[[int, np.ndarray, np.ndarray | None, int], Path],
    alphas: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    score: ScoreFn,
    n_jobs: int | None,
    verbose: int = 0,
    sample_weight: np.ndarray | None = None,
    same_as: Sequence[int] | None = None,
) -> CVPaths:
    """Fit and score every candidate's path on every fold.

    Parameters
    ----------
    X, Y : ndarray
        Training data and encoded targets ``(n_samples, n_outputs)``.
    fit_path : callable
        ``fit_path(candidate, train, sample_weight, verbose)``: the path of
        candidate ``candidate`` along its grid, fitted on the samples
        ``train`` with their weights (``None`` without), its solves printing
        their progress at ``verbose``.
    alphas : ndarray of shape (n_candidates, n_alphas)
        Each candidate's decreasing ``alpha`` grid.
    folds : sequence of (train, test) index arrays
    score : ScoreFn
        Scores a path's solutions on held-out data.
    n_jobs : int or None
        Parallel tasks (joblib threads), one task per (candidate, fold).
    verbose : int
        When positive, print a progress line
        (:func:`~convexnn.solvers.progress.report`) per task when its path is
        solved: its iterations, its objective at the last alpha, its largest
        relative gap, and the time since cross-validation started; the paths
        get ``verbose − 1`` (:func:`~convexnn.solvers.solve_path`).
    sample_weight : ndarray of shape (n_samples,), optional
        Weights of the samples, in the fits on the training folds and in the
        scores on the held-out ones.
    same_as : sequence of int, optional
        For each candidate, an earlier candidate (or itself) that has the
        same paths: same model, same grid. Only the candidates that are their
        own are fitted; the others get copies of their results (and of their
        unconverged solves' count).

    Returns
    -------
    CVPaths
        ``n_unconverged`` counts the solves that stopped short of ``tol``.
    """
    same_as = np.arange(len(alphas)) if same_as is None else np.asarray(same_as)
    tasks = [
        (c, f) for c in range(len(alphas)) for f in range(len(folds)) if same_as[c] == c
    ]

    def weights(rows):
        return None if sample_weight is None else sample_weight[rows]

    def run(c, f):
        train, test = folds[f]
        path = fit_path(c, train, weights(train), max(verbose - 1, 0))
        if verbose:
            report(
                "cross-validation",
                int(path.n_iter.sum()),
                float(path.objectives[-1]),
                float(path.gaps.max()),
                candidate=f"{c + 1}/{len(alphas)}",
                fold=f"{f + 1}/{len(folds)}",
            )
        fold_scores = score(path, X[test], Y[test], weights(test))
        return fold_scores, path.n_selected(), path.converged

    # each task runs in a copy of this context: in a worker thread too, its
    # progress lines count time from the start of cross-validation
    results = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(copy_context().run)(run, c, f) for c, f in tasks
    )
    shape = (len(alphas), alphas.shape[1], len(folds))
    scores, n_selected = np.empty(shape), np.empty(shape)
    unconverged = np.zeros(len(alphas), dtype=int)
    for (c, f), (fold_scores, fold_selected, converged) in zip(
        tasks, results, strict=True
    ):
        scores[c, :, f] = fold_scores
        n_selected[c, :, f] = fold_selected
        unconverged[c] += int((~converged).sum())
    scores, n_selected = scores[same_as], n_selected[same_as]
    n_unconverged = int(unconverged[same_as].sum())
    return CVPaths(
        np.asarray(alphas, dtype=np.float64), scores, n_selected, n_unconverged
    )


def class_indices(Y: np.ndarray) -> np.ndarray:
    """Integer class labels from encoded classification targets (one-hot, or
    one column of ``{0, 1}`` or ``±1``)."""
    return Y.argmax(axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0).astype(int)


class PathCVMixin:
    """What the cross-validated estimators share: their ``alphas`` parameter,
    the folds, the score, and the warning for unconverged solves.

    Subclasses give ``_fold_model(path, index, n_outputs)``, a fitted copy of
    the estimator at one solution of a path, for scorers that need one.
    """

    def _given_alphas(self) -> np.ndarray | None:
        """The ``alphas`` parameter validated and sorted decreasingly, or
        ``None`` for the default grid."""
        return None if self.alphas is None else check_alphas(self.alphas)

    def _folds(self, X: np.ndarray, Y: np.ndarray, sample_weight=None) -> list:
        """The (train, test) splits, the same for every candidate; stratified
        for a classifier given an int ``cv``, whose every training fold must
        hold every class with positive weight."""
        classes = class_indices(Y) if is_classifier(self) else None
        splitter = check_shuffled_cv(
            self.cv,
            classes,
            classifier=classes is not None,
            random_state=self.random_state,
        )
        folds = list(splitter.split(X, classes))
        if classes is not None:
            n_classes = max(Y.shape[1], 2)
            for k, (train, _) in enumerate(folds):
                if sample_weight is not None:
                    train = train[sample_weight[train] > 0]
                if len(np.unique(classes[train])) < n_classes:
                    raise ValueError(
                        f"cv: training fold {k} lacks some of the {n_classes} "
                        "classes (among its samples of positive weight); use a "
                        "StratifiedKFold or fewer splits."
                    )
        return folds

    def _score_function(self, default: ScoreFn, loss: str) -> ScoreFn:
        """``default`` without ``scoring``, else the scorer applied to a fitted
        copy of the estimator at each solution (classifiers' labels are the
        class indices), with the held-out samples' weights when given."""
        if self.scoring is None:
            return default
        scorer = check_scoring(self, scoring=self.scoring)

        def score(path: Path, X, Y, sample_weight=None) -> np.ndarray:
            if is_classifier(self):
                y = class_indices(Y)
            else:
                y = Y[:, 0] if Y.shape[1] == 1 else Y
            models = (
                self._fold_model(path, index, X.shape[1], Y.shape[1], loss)
                for index in range(len(path.alphas))
            )
            if sample_weight is None:
                return np.array([scorer(model, X, y) for model in models])
            return np.array(
                [scorer(model, X, y, sample_weight=sample_weight) for model in models]
            )

        return score

    def _bare_copy(self, n_features: int, n_outputs: int, loss: str):
        """A copy of this estimator that predicts once its solution attributes
        are set: it has those ``fit`` sets around ``_fit``."""
        model = clone(self)
        model.n_features_in_ = n_features
        if is_classifier(self):
            model.classes_ = np.arange(max(n_outputs, 2))
            model.loss_ = loss
        else:
            model._single_output = n_outputs == 1
        return model

    def _warn_unconverged(self, cv: CVPaths) -> None:
        if cv.n_unconverged:
            warn_cv_not_converged(self, cv.n_unconverged, cv.scores.size)
