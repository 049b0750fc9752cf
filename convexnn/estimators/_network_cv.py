r"""The fit shared by the cross-validated network estimators: one set of gates,
warm-started ``alpha`` paths on every fold, the choice of ``alpha`` and the
refit on all data (one solve at that alpha).

The gates are sampled once, from the whole training set, and every fold and
every alpha uses them. They fix the model class, the columns of the operator
:math:`[D_1\tilde X, \dots, D_P\tilde X]`: with other gates per fold or per
alpha, the curves would compare different networks as much as different
penalties, a path could not be warm-started (its solutions would live in
different coordinates), and the refit would not be the model the scores were
measured for. The default grid starts at the problem's ``alpha_max``
(:func:`~convexnn.solvers.alpha_max`) on all data.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.base import is_classifier

from .._backend import Backend
from ..patterns import lift, resolve_gates
from ..solvers import alpha_grid, alpha_max
from ._cv_selection import select_min
from ._fitting import TIME_PARAMETERS, fit_config, without_autograd
from ._gated_fit import GATED_PARAMETERS
from ._lasso_cv import PathCVMixin, cross_validate_paths, estimator_score
from ._lasso_fit import CV_PARAMETERS

NETWORK_CV_PARAMETERS = {
    **{name: rule for name, rule in GATED_PARAMETERS.items() if name != "alpha"},
    **CV_PARAMETERS,
    **TIME_PARAMETERS,
}
"""Parameters of every cross-validated network estimator."""


CV_PARAMETERS_DOC = r"""
    alphas : array-like of float, default=None
        The alphas to cross-validate (sorted decreasingly). By default
        ``n_alphas`` values from ``alpha_max`` down to
        ``alpha_min_ratio · alpha_max``, evenly spaced on a log scale.
    n_alphas : int, default=100
        Length of the default grid.
    alpha_min_ratio : float in (0, 1), default=1e-3
        Where the default grid stops (scikit-learn's ``eps``).
    cv : int, cross-validation generator or iterable, default=None
        As in :func:`~sklearn.model_selection.check_cv`; an int (default 5)
        makes shuffled folds (stratified for classifiers) seeded by
        ``random_state``. With ``sample_weight`` the fits on the training
        folds and the held-out scores are weighted; samples of weight zero are
        left out before the folds are made (as in the fit at one alpha), so an
        iterable ``cv`` indexes the samples of positive weight.
    scoring : str or callable, default=None
        A scikit-learn scorer (greater is better). None is the estimator's
        ``score`` (SCORE), computed directly from the path's outputs; other
        scorers see a fitted copy of the estimator per alpha (for classifiers
        with the class indices ``0 .. n_classes − 1`` as labels).
    n_jobs : int, default=None
        Folds solved in parallel (joblib threads).
    max_iter : int, default=10000
        Maximum number of solver iterations per alpha.
    tol : float, default=1e-6
        TOL
    max_time : float, default=None
        Wall-clock budget of the whole ``fit`` in seconds, shared by every
        solve (all folds and alphas, then the refit). When it runs out each
        solve stops at its next checkpoint with its best certified point, and
        later ones stop at their first: the fit completes quickly, with
        ``converged_=False`` where the refit fell short and a
        :class:`~sklearn.exceptions.ConvergenceWarning`. None: no limit.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the solver runs; "auto" picks CUDA when available.
    dtype : {"float32", "float64"}, default=None
        Solver precision; None is float64 on CPU and float32 on CUDA.
    n_threads : int, default=None
        Intra-op CPU threads (:func:`torch.set_num_threads`) during ``fit``;
        None picks them by the size of the problem.
    random_state : int, RandomState instance or None, default=None
        Seeds the gate sampling and the shuffled folds.
    verbose : int, default=0
        Print a progress line per fold's path (its iterations, objective at
        the last alpha, largest relative gap) and the refit's solver
        progress; above 1, the folds' solver lines too.
"""
"""The parameters' documentation shared by the cross-validated network
estimators; ``SCORE`` names the default score, ``TOL`` what ``tol`` bounds."""

CV_ATTRIBUTES_DOC = r"""
    alpha_ : float
        The chosen alpha: the first of the best mean held-out score.
    alphas_ : ndarray of shape (n_alphas,)
        The grid, decreasing.
    scores_path_ : ndarray of shape (n_alphas, n_folds)
        Held-out score of every alpha on every fold.
    best_score_ : float
        Mean held-out score at ``alpha_``.
    cv_results_ : dict of ndarrays
        One entry per alpha in the layout of ``GridSearchCV.cv_results_``
        (``pandas.DataFrame(cv_results_)`` makes a table): ``alpha``,
        ``mean_test_score``, ``std_test_score``, ``split{k}_test_score`` and
        ``mean_n_selected``, the number of nonzero blocks averaged over the
        folds.
    gates_ : ndarray of shape (n_patterns\_, d̃)
        The gates shared by every fold and the refit.
"""
"""The attributes' documentation shared by the cross-validated network
estimators."""


def cv_docstring(
    summary: str, formulation: str, score: str, tol: str, solution: str, tail: str
) -> str:
    """A cross-validated network estimator's docstring: its ``summary`` line,
    its ``formulation`` (extended summary, and the parameters before
    ``alphas``), the shared parameters (with the default ``score`` and what
    ``tol`` bounds), the shared attributes, its ``solution``'s attributes and
    the ``tail`` (its last attributes, See Also and Examples)."""
    parameters = CV_PARAMETERS_DOC.replace("SCORE", score).replace("TOL", tol)
    return (
        summary
        + "\n"
        + formulation
        + parameters.rstrip("\n")
        + "\n\n    Attributes\n    ----------"
        + CV_ATTRIBUTES_DOC.rstrip("\n")
        + solution
        + tail
    )


@dataclass(frozen=True)
class NetworkPath:
    """A network's solutions along a grid, evaluated by the estimator's own
    prediction code: ``template`` is a copy of the estimator holding the
    gates, and each solution is that copy with its ``coef_`` and
    ``intercept_``."""

    alphas: np.ndarray
    coefs: np.ndarray
    """Shape ``(n_alphas, *coef_.shape)``."""
    intercepts: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    objectives: np.ndarray
    gaps: np.ndarray
    template: object
    block_axes: tuple[int, ...]
    """The axes of ``coefs`` that span one block (one neuron's weights)."""

    def at(self, index: int):
        """The fitted estimator of the solution at alpha ``index``."""
        model = copy.copy(self.template)
        model.coef_, model.intercept_ = self.coefs[index], self.intercepts[index]
        return model

    def outputs(self, X: np.ndarray) -> np.ndarray:
        return np.stack([self.at(i)._outputs(X) for i in range(len(self.alphas))])

    def n_selected(self) -> np.ndarray:
        """Number of nonzero blocks of each solution."""
        nonzero = (self.coefs != 0).any(axis=self.block_axes)
        return nonzero.reshape(len(self.alphas), -1).sum(axis=1)


class _NetworkCV(PathCVMixin):
    """Cross-validation of a network along an ``alpha`` path (the module
    docstring); subclasses say how one formulation is built and solved:

    * ``_problem(X_lifted, Y, loss, gates, backend, sample_weight)``: its
      problem, the loss weighted by ``sample_weight`` when given;
    * ``_solve(problem, alphas, config, verbose)``: its solves along
      ``alphas``, warm-started, one result per alpha;
    * ``_point(problem, result)``: ``(coef, intercept, converged, n_iter,
      objective, gap)`` of one;
    * ``_set_refit(problem, result, gates)``: the fitted attributes;
    * ``_block_axes``: the axes of a ``coef_`` that span one block.
    """

    @without_autograd
    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str, sample_weight=None):
        backend, config = Backend.from_params(self.device, self.dtype), fit_config()
        X_lifted = lift(X, self.hidden_bias)
        gates = resolve_gates(self.gates, X_lifted, self.n_patterns, self.random_state)
        full = self._problem(X_lifted, Y, loss, gates, backend, sample_weight)
        alphas = self._given_alphas()
        if alphas is None:
            largest = alpha_max(full) or 1.0  # 1: no alpha changes the solution
            alphas = alpha_grid(largest, self.n_alphas, self.alpha_min_ratio)
        template = self._bare_copy(X.shape[1], Y.shape[1], loss)
        template.gates_ = gates

        def fit_path(_, train, weights, verbose: int) -> NetworkPath:
            problem = self._problem(
                X_lifted[train], Y[train], loss, gates, backend, weights
            )
            results = self._solve(problem, alphas, config, verbose)
            points = zip(
                *(self._point(problem, result) for result in results), strict=True
            )
            coefs, intercepts, *records = (np.array(values) for values in points)
            return NetworkPath(
                alphas, coefs, intercepts, *records, template, self._block_axes
            )

        default_score = estimator_score(is_classifier(self))
        cv = cross_validate_paths(
            X,
            Y,
            fit_path,
            alphas[None],
            self._folds(X, Y, sample_weight),
            score=self._score_function(default_score, loss),
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            sample_weight=sample_weight,
        )
        self._warn_unconverged(cv)
        _, index = select_min(cv.mean_scores)
        # one solve from scratch: a warm-started path down to alpha_ would cost
        # more wherever alpha_ is past its first few alphas
        refit = self._solve(full, alphas[index : index + 1], config, self.verbose)
        self._set_refit(full, refit[0], gates)
        self.alpha_ = float(alphas[index])
        self.alphas_ = alphas
        self.cv_results_ = cv.results()
        self.scores_path_ = cv.scores[0]
        self.best_score_ = float(cv.mean_scores[0, index])

    def _fold_model(self, path: NetworkPath, index: int, *_):
        return path.at(index)
