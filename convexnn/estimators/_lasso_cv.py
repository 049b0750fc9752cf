r"""Cross-validation of weighted-Lasso paths over several penalty-factor candidates.

Every candidate (a vector of penalty factors: one per trust value of
LLM-Lasso, or the user's factors of :class:`WeightedLassoCV`) is fitted along
its own ``alpha`` grid on the training part of every fold, and each solution
is scored on the held-out part. All candidates see the *same* folds, so their
curves differ only by the factors. The fits are independent tasks, one per
(candidate, fold), run by joblib in threads (the solver's tensor kernels
release the GIL, and threads share CUDA tensors where processes could not).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from contextvars import copy_context
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

from .._backend import Backend
from ..solvers.progress import report, timed
from ._fitting import convergence_advice, user_stacklevel
from ._lasso_path import LassoData, PathSolution

ScoreFn = Callable[
    [PathSolution, np.ndarray, np.ndarray, np.ndarray | None], np.ndarray
]
"""``score(path, X_test, Y_test, sample_weight_test) -> (n_alphas,)`` scores,
greater is better (the weights are ``None`` for an unweighted fit)."""


def negative_error(loss: str) -> ScoreFn:
    """The default score: minus the mean squared error (squared loss) or minus
    the mean cross-entropy, the log-loss (logistic and multinomial losses),
    averaged over the held-out samples with their weights."""

    def score(path: PathSolution, X, Y, sample_weight=None) -> np.ndarray:
        Z = path.outputs(X)  # (n_alphas, n, c)
        if loss == "squared":
            errors = ((Z - Y) ** 2).mean(axis=2)
        elif loss == "logistic":
            errors = (np.logaddexp(0.0, Z) - Y * Z).mean(axis=2)
        else:
            errors = logsumexp(Z, axis=2) - (Y * Z).sum(axis=2)
        return -np.average(errors, axis=1, weights=sample_weight)

    return score


@dataclass(frozen=True)
class CVPaths:
    """Held-out scores of every candidate at every alpha on every fold."""

    alphas: np.ndarray
    """Shape ``(n_candidates, n_alphas)``: each candidate's grid, decreasing."""
    scores: np.ndarray
    """Shape ``(n_candidates, n_alphas, n_folds)``, greater is better."""
    n_selected: np.ndarray
    """Shape ``(n_candidates, n_alphas, n_folds)``: nonzero features per fit."""

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


@timed
def cross_validate_paths(
    X: np.ndarray,
    Y: np.ndarray,
    loss: str,
    candidates: Sequence[np.ndarray],
    alphas: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    score: ScoreFn,
    fit_intercept: bool,
    backend: Backend,
    tol: float,
    max_iter: int,
    n_jobs: int | None,
    verbose: int = 0,
    sample_weight: np.ndarray | None = None,
) -> CVPaths:
    """Fit and score every candidate's path on every fold.

    Parameters
    ----------
    X, Y : ndarray
        Training data and encoded targets ``(n_samples, n_outputs)``.
    loss : str
        Name of the loss in :data:`~convexnn.problems.LOSSES`.
    candidates : sequence of ndarray of shape (n_features,)
        Penalty factors of each candidate.
    alphas : ndarray of shape (n_candidates, n_alphas)
        Each candidate's decreasing ``alpha`` grid.
    folds : sequence of (train, test) index arrays
    score : ScoreFn
        Scores a path's solutions on held-out data.
    fit_intercept, backend, tol, max_iter
        Solver settings.
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

    Returns
    -------
    CVPaths
        Warns once with :class:`~sklearn.exceptions.ConvergenceWarning` when
        some solves stopped at ``max_iter``.
    """
    tasks = [(c, f) for c in range(len(candidates)) for f in range(len(folds))]

    def weights(rows):
        return None if sample_weight is None else sample_weight[rows]

    def run(c, f):
        train, test = folds[f]
        data = LassoData.build(
            X[train],
            Y[train],
            loss,
            candidates[c],
            fit_intercept=fit_intercept,
            backend=backend,
            sample_weight=weights(train),
        )
        path = data.solve(
            alphas[c], tol=tol, max_iter=max_iter, verbose=max(verbose - 1, 0)
        )
        if verbose:
            report(
                "cross-validation",
                int(path.n_iter.sum()),
                float(path.objectives[-1]),
                float(path.gaps.max()),
                candidate=f"{c + 1}/{len(candidates)}",
                fold=f"{f + 1}/{len(folds)}",
            )
        fold_scores = score(path, X[test], Y[test], weights(test))
        return fold_scores, path.n_selected(), path.converged

    # each task runs in a copy of this context: in a worker thread too, its
    # progress lines count time from the start of cross-validation
    results = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(copy_context().run)(run, c, f) for c, f in tasks
    )
    shape = (len(candidates), alphas.shape[1], len(folds))
    scores, n_selected = np.empty(shape), np.empty(shape)
    n_failed = 0
    for (c, f), (fold_scores, fold_selected, converged) in zip(
        tasks, results, strict=True
    ):
        scores[c, :, f] = fold_scores
        n_selected[c, :, f] = fold_selected
        n_failed += int((~converged).sum())
    if n_failed:
        warnings.warn(
            f"{n_failed} of {scores.size} cross-validation solves stopped at "
            f"max_iter={max_iter} before reaching tol={tol}; {convergence_advice()}",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return CVPaths(np.asarray(alphas, dtype=np.float64), scores, n_selected)
