r"""Convex ReLU estimators with ``alpha`` chosen by cross-validation along a path.

The cone-constrained reformulation of :mod:`convexnn.estimators.convex` is
solved along a decreasing grid of ``alpha`` on the training part of every
fold, each solve starting from the structure of the solution at the alpha
before (:func:`~convexnn.solvers.solve_constrained_path`), with gates
sampled once from all the training data; the ``alpha`` of the best mean
held-out score is refitted on all data.
"""

from __future__ import annotations

import numpy as np

from .._backend import to_numpy
from .._sklearn_compat import StrOptions
from ..solvers import solve_constrained_path
from ._base import CLASS_WEIGHT, ClassifierOutputMixin, RegressorOutputMixin
from ._convex_fit import SOLVERS, _ConvexReLUModel, convex_fit_problem
from ._network_cv import NETWORK_CV_PARAMETERS, _NetworkCV, cv_docstring

_PATH = r"""
    Solves the cone-constrained reformulation of the two-layer ReLU network

    .. math::
        \min_{v, w, b}\; f\Bigl(\sum_{i=1}^{P} D_i\tilde X(v_i - w_i)
        + \mathbf 1b^\top\Bigr) + \alpha\sum_{i=1}^{P}(\|v_i\| + \|w_i\|)
        \quad\text{s.t.}\quad (2D_i - I)\tilde Xv_i \ge 0,\;
        (2D_i - I)\tilde Xw_i \ge 0

    (see :class:`ConvexReLURegressor`) along a decreasing grid of ``alpha``
    on the training part of every fold, scores every solution on the
    held-out part, and refits the ``alpha`` of the best mean score on all
    data (the conventions of :class:`~sklearn.linear_model.LassoCV`). Each
    solve starts from the solution at the alpha before: the active-set
    finish re-solves the small problem of its nonzero blocks and tight
    constraints, which neighbouring alphas mostly share, and ``solver``
    solves from scratch where that fails
    (:func:`~convexnn.solvers.solve_constrained_path`; one output column,
    ``tol`` at least ``1e-7``).

    The gates are sampled once, from all the training data (seeded by
    ``random_state``), and every fold and alpha shares them: they fix the
    model class — the patterns :math:`D_i` — so that the scores along the
    path compare penalties of one network rather than different networks,
    the path can be warm-started, and the refit is the model that was
    scored. The default grid starts at the gated ReLU problem's

    .. math::
        \alpha_{\max} = \max_{i,k} \bigl\|(D_i\tilde X)^\top
        \nabla_k f(Z_0)\bigr\|_2,

    (:math:`Z_0` the outputs of the intercept-only fit, :math:`k` the output
    column), an upper bound on the smallest ``alpha`` at which every block
    is zero: the constraints' multipliers can only lower it, so the first
    alphas of the grid may all give the zero network. Standardise ``X``: no
    rescaling happens inside.

    Parameters
    ----------
    n_patterns : int, default=100
        Number of gates sampled; duplicate and empty patterns are dropped.
    gates : array-like of shape (n_gates, d̃), default=None
        Fixed gate vectors, used as given instead of sampling."""

_SETTINGS = r"""
    solver : {"auto", "interior_point", "admm", "augmented_lagrangian"}, default="auto"
        The method of the solves from scratch, as in
        :class:`ConvexReLURegressor`.
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept.
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the inputs of the hidden layer.
    keep_multipliers : bool, default=False
        Keep the refit's multipliers as ``multipliers_`` (``2 × n_patterns_ ×
        n_samples × n_outputs`` numbers, the witness from which
        :func:`convexnn.testing.assert_certified` recomputes the KKT
        residuals), as in :class:`ConvexReLURegressor`."""

_SOLUTION = r"""
    coef_ : ndarray of shape (2, n_patterns\_, d̃, n_outputs)
        The refit at ``alpha_``: ``coef_[0]`` holds the blocks ``v_i``,
        ``coef_[1]`` the ``w_i``.
    intercept_ : ndarray of shape (n_outputs,)
        Output intercept ``b`` (zeros when ``fit_intercept=False``).
    multipliers_ : ndarray of shape (2, n_patterns\_, n_samples, n_outputs)
        The multipliers ``Λ ≥ 0`` of the refit's cone constraints. Only when
        ``keep_multipliers=True``.
    n_patterns_ : int
        Number of gates.
    solver_ : str
        The method that solved the refit (one solve at ``alpha_``).
    n_iter_ : int
        Iterations of that method.
    objective_ : float
        The objective of the refit at ``alpha_``.
    lower_bound_ : float
        A certified lower bound on the optimum at ``alpha_`` (see
        :class:`ConvexReLURegressor`).
    constraint_violation_ : float
        Relative violation of the cone constraints.
    stationarity_ : float
        Relative stationarity residual.
    complementarity_ : float
        Relative complementary slackness.
    converged_ : bool
        Whether the refit's three residuals reached ``tol`` within
        ``max_iter`` and ``max_time``.
    n_active_neurons_ : int
        Neurons of the equivalent network (:meth:`to_torch`).
    n_neurons_removed_ : int
        Always 0: the cross-validated estimators do not prune.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names."""


def _docstring(summary: str, loss: str, score: str, tail: str) -> str:
    """A class docstring: the shared sections and the class's own."""
    formulation = _PATH + loss + _SETTINGS
    tol = "Target of the three relative KKT residuals of every solve."
    return cv_docstring(summary, formulation, score, tol, _SOLUTION, tail)


class _BaseConvexReLUCV(_NetworkCV, _ConvexReLUModel):
    _parameter_constraints = {
        **NETWORK_CV_PARAMETERS,
        "solver": [StrOptions(set(SOLVERS))],
        "keep_multipliers": ["boolean"],
    }
    _block_axes = (3,)

    def __init__(
        self,
        *,
        n_patterns=100,
        gates=None,
        loss="squared",
        solver="auto",
        fit_intercept=True,
        hidden_bias=True,
        keep_multipliers=False,
        alphas=None,
        n_alphas=100,
        alpha_min_ratio=1e-3,
        cv=None,
        scoring=None,
        n_jobs=None,
        max_iter=10_000,
        tol=1e-6,
        max_time=None,
        device="auto",
        dtype=None,
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.n_patterns = n_patterns
        self.gates = gates
        self.loss = loss
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.hidden_bias = hidden_bias
        self.keep_multipliers = keep_multipliers
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.max_iter = max_iter
        self.tol = tol
        self.max_time = max_time
        self.device = device
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _problem(self, X_lifted, Y, loss, gates, backend, sample_weight):
        return convex_fit_problem(
            self, X_lifted, Y, loss, gates, backend, 1.0, sample_weight
        )

    def _solve(self, problem, alphas, config, verbose):
        return solve_constrained_path(
            problem,
            alphas,
            method=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
            verbose=verbose,
            config=config,
        )

    def _point(self, problem, solved):
        objective, result = problem.problem, solved[1]
        coef, intercept = objective.split(result.x)
        shape = (2, -1, objective.penalty.group_size, objective.n_outputs)
        intercept = (
            np.zeros(objective.n_outputs) if intercept is None else to_numpy(intercept)
        )
        kkt = result.kkt
        return (
            to_numpy(coef).reshape(shape),
            intercept,
            result.converged,
            result.n_iter,
            kkt.objective,
            kkt.relative_gap,
        )

    def _set_refit(self, problem, solved, gates: np.ndarray):
        self._set_solution(problem, *solved, gates, self.keep_multipliers)


class ConvexReLURegressorCV(RegressorOutputMixin, _BaseConvexReLUCV):
    __doc__ = _docstring(
        "Two-layer ReLU regression network with alpha chosen by cross-validation.",
        r"""
    loss : {"squared"}, default="squared"
        The mean squared loss.""",
        "R², averaged over the outputs",
        r"""

    See Also
    --------
    ConvexReLURegressor : The same network at one given alpha.
    ConvexReLUClassifierCV : The same cross-validation for classification.
    GatedReLURegressorCV : The gated ReLU relaxation, cross-validated.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from convexnn import ConvexReLURegressorCV
    >>> X, y = make_regression(n_samples=40, n_features=2, noise=5.0, random_state=0)
    >>> y = y / y.std()
    >>> model = ConvexReLURegressorCV(n_patterns=8, n_alphas=5, cv=3, random_state=0)
    >>> model.fit(X, y).converged_
    True
    >>> model.scores_path_.shape
    (5, 3)
    >>> network = model.to_torch()  # an ordinary torch.nn.Module
    """,
    )

    _parameter_constraints = {
        **_BaseConvexReLUCV._parameter_constraints,
        "loss": [StrOptions({"squared"})],
    }


class ConvexReLUClassifierCV(ClassifierOutputMixin, _BaseConvexReLUCV):
    __doc__ = _docstring(
        "Two-layer ReLU classification network with alpha chosen by cross-validation.",
        r"""
    loss : {"auto", "logistic", "multinomial", "squared"}, default="auto"
        "auto" is "logistic" for two classes and "multinomial" otherwise.
    class_weight : dict, "balanced" or None, default=None
        Class weights multiplying ``sample_weight``, in the fits and in the
        held-out scores: a dict maps labels to weights (1 if omitted);
        "balanced" is ``n / (n_classes · n_k)`` with ``n_k`` the total
        ``sample_weight`` of class ``k`` (its count without).""",
        "the accuracy",
        r"""
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    loss_ : str
        The loss used.

    See Also
    --------
    ConvexReLUClassifier : The same network at one given alpha.
    ConvexReLURegressorCV : The same cross-validation for regression.
    GatedReLUClassifierCV : The gated ReLU relaxation, cross-validated.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from convexnn import ConvexReLUClassifierCV
    >>> X, y = make_classification(n_samples=40, n_features=3, n_redundant=0,
    ...                            random_state=0)
    >>> model = ConvexReLUClassifierCV(n_patterns=8, n_alphas=5, cv=3, random_state=0)
    >>> model.fit(X, y).predict(X[:3]).shape
    (3,)
    """,
    )

    _parameter_constraints = {
        **_BaseConvexReLUCV._parameter_constraints,
        "loss": [StrOptions({"auto", "logistic", "multinomial", "squared"})],
        **CLASS_WEIGHT,
    }

    def __init__(
        self,
        *,
        n_patterns=100,
        gates=None,
        loss="auto",
        class_weight=None,
        solver="auto",
        fit_intercept=True,
        hidden_bias=True,
        keep_multipliers=False,
        alphas=None,
        n_alphas=100,
        alpha_min_ratio=1e-3,
        cv=None,
        scoring=None,
        n_jobs=None,
        max_iter=10_000,
        tol=1e-6,
        max_time=None,
        device="auto",
        dtype=None,
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_patterns=n_patterns,
            gates=gates,
            loss=loss,
            solver=solver,
            fit_intercept=fit_intercept,
            hidden_bias=hidden_bias,
            keep_multipliers=keep_multipliers,
            alphas=alphas,
            n_alphas=n_alphas,
            alpha_min_ratio=alpha_min_ratio,
            cv=cv,
            scoring=scoring,
            n_jobs=n_jobs,
            max_iter=max_iter,
            tol=tol,
            max_time=max_time,
            device=device,
            dtype=dtype,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight
