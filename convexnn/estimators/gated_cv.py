r"""Gated ReLU estimators with ``alpha`` chosen by cross-validation along a path.

The group-lasso reformulation of :mod:`convexnn.estimators.gated`,

.. math::
    \min_{U, b}\; f\Bigl(\sum_{i=1}^{P} D_i \tilde X U_i + \mathbf 1 b^\top\Bigr)
    + \alpha \sum_{i=1}^{P} \|U_i\|,

is solved along a decreasing grid of ``alpha`` on the training part of every
fold, each solve warm-started from the one before, with gates sampled once
from all the training data; the ``alpha`` of the best mean held-out score is
refitted on all data.
"""

from __future__ import annotations

import numpy as np

from .._backend import to_numpy
from .._sklearn_compat import StrOptions
from ..solvers import solve_path
from ..solvers.results import SolverResult
from ._base import CLASS_WEIGHT, ClassifierOutputMixin, RegressorOutputMixin
from ._gated_fit import _GatedReLUModel, gated_fit_problem
from ._network_cv import NETWORK_CV_PARAMETERS, _NetworkCV, cv_docstring

_PATH = r"""
    Solves the group-lasso reformulation of the gated ReLU network

    .. math::
        \min_{U, b}\; f\Bigl(\sum_{i=1}^{P} D_i \tilde X U_i + \mathbf 1 b^\top\Bigr)
        + \alpha \sum_{i=1}^{P} \|U_i\|

    (see :class:`GatedReLURegressor`) along a decreasing grid of ``alpha``
    on the training part of every fold, each solve warm-started from the
    solution at the alpha before, scores every solution on the held-out part,
    and refits the ``alpha`` of the best mean score on all data (the
    conventions of :class:`~sklearn.linear_model.LassoCV`). This costs less
    than :class:`~sklearn.model_selection.GridSearchCV` over independent fits
    with the same gates, the more so the finer the grid: neighbouring alphas
    have nearby solutions.

    The gates are sampled once, from all the training data (seeded by
    ``random_state``), and every fold and alpha shares them: they fix the
    model class — the columns :math:`D_i\tilde X` — so that the scores along
    the path compare penalties of one network rather than different
    networks, the path can be warm-started, and the refit is the model that
    was scored. The default grid starts at

    .. math::
        \alpha_{\max} = \max_i \bigl\|(D_i\tilde X)^\top \nabla f(Z_0)\bigr\|_*,

    the smallest ``alpha`` at which every block is zero (:math:`Z_0` the
    outputs of the intercept-only fit, :math:`\|\cdot\|_*` the dual of the
    group norm: spectral for ``"nuclear"``, Frobenius for ``"frobenius"``).
    Standardise ``X``: no rescaling happens inside.

    Parameters
    ----------
    n_patterns : int, default=100
        Number of gates sampled; duplicate and empty patterns are dropped.
    gates : array-like of shape (n_gates, d̃), default=None
        Fixed gate vectors, used as given instead of sampling."""

_SETTINGS = r"""
    group_norm : {"nuclear", "frobenius"}, default="nuclear"
        Norm of each block for several outputs (identical for one output).
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept.
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the inputs of the hidden layer."""

_SOLUTION = r"""
    coef_ : ndarray of shape (n_patterns\_, d̃, n_outputs)
        The blocks ``U_i`` of the refit at ``alpha_``.
    intercept_ : ndarray of shape (n_outputs,)
        Output intercept ``b`` (zeros when ``fit_intercept=False``).
    n_patterns_ : int
        Number of gates.
    n_iter_ : int
        Solver iterations of the refit (one solve at ``alpha_``).
    objective_ : float
        The objective of the refit at ``alpha_``.
    dual_gap_ : float
        Relative duality gap certifying it.
    converged_ : bool
        Whether the refit reached ``dual_gap_ <= tol`` within ``max_iter``
        and ``max_time``.
    n_active_neurons_ : int
        Neurons of the equivalent network (:meth:`to_torch`).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names."""


def _docstring(summary: str, loss: str, score: str, tail: str) -> str:
    """A class docstring: the shared sections and the class's own."""
    formulation = _PATH + loss + _SETTINGS
    tol = "Target relative duality gap of every solve."
    return cv_docstring(summary, formulation, score, tol, _SOLUTION, tail)


class _BaseGatedReLUCV(_NetworkCV, _GatedReLUModel):
    _parameter_constraints = {
        **NETWORK_CV_PARAMETERS,
        "group_norm": [StrOptions({"nuclear", "frobenius"})],
    }
    _block_axes = (2, 3)

    def __init__(
        self,
        *,
        n_patterns=100,
        gates=None,
        loss="squared",
        group_norm="nuclear",
        fit_intercept=True,
        hidden_bias=True,
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
        self.group_norm = group_norm
        self.fit_intercept = fit_intercept
        self.hidden_bias = hidden_bias
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
        return gated_fit_problem(
            self, X_lifted, Y, loss, gates, backend, 1.0, sample_weight
        )

    def _solve(self, problem, alphas, config, verbose):
        return solve_path(
            problem,
            alphas,
            tol=self.tol,
            max_iter=self.max_iter,
            verbose=verbose,
            config=config,
        )

    def _point(self, problem, result: SolverResult):
        coef, intercept = problem.split(result.x)
        shape = (-1, problem.penalty.group_size, problem.n_outputs)
        intercept = (
            np.zeros(problem.n_outputs) if intercept is None else to_numpy(intercept)
        )
        certificate = result.certificate
        return (
            to_numpy(coef).reshape(shape),
            intercept,
            result.converged,
            result.n_iter,
            certificate.primal,
            certificate.relative_gap,
        )

    def _set_refit(self, problem, result: SolverResult, gates: np.ndarray):
        self._set_solution(problem, result, gates)


class GatedReLURegressorCV(RegressorOutputMixin, _BaseGatedReLUCV):
    __doc__ = _docstring(
        "Gated ReLU regression network with alpha chosen by cross-validation.",
        r"""
    loss : {"squared"}, default="squared"
        The mean squared loss.""",
        "R², averaged over the outputs",
        r"""

    See Also
    --------
    GatedReLURegressor : The same network at one given alpha.
    GatedReLUClassifierCV : The same cross-validation for classification.
    ConvexReLURegressorCV : The ReLU network itself, cross-validated.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from convexnn import GatedReLURegressorCV
    >>> X, y = make_regression(n_samples=60, n_features=3, noise=5.0, random_state=0)
    >>> y = y / y.std()
    >>> model = GatedReLURegressorCV(n_patterns=20, n_alphas=10, cv=3, random_state=0)
    >>> model.fit(X, y).converged_
    True
    >>> model.scores_path_.shape
    (10, 3)
    >>> bool(model.alpha_ in model.alphas_)
    True
    """,
    )

    _parameter_constraints = {
        **_BaseGatedReLUCV._parameter_constraints,
        "loss": [StrOptions({"squared"})],
    }


class GatedReLUClassifierCV(ClassifierOutputMixin, _BaseGatedReLUCV):
    __doc__ = _docstring(
        "Gated ReLU classifier with alpha chosen by cross-validation.",
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
    GatedReLUClassifier : The same network at one given alpha.
    GatedReLURegressorCV : The same cross-validation for regression.
    ConvexReLUClassifierCV : The ReLU network itself, cross-validated.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from convexnn import GatedReLUClassifierCV
    >>> X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    >>> model = GatedReLUClassifierCV(n_patterns=20, n_alphas=10, cv=3, random_state=0)
    >>> model.fit(X, y).predict_proba(X[:2]).shape
    (2, 2)
    >>> model.cv_results_["mean_test_score"].shape
    (10,)
    """,
    )

    _parameter_constraints = {
        **_BaseGatedReLUCV._parameter_constraints,
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
        group_norm="nuclear",
        fit_intercept=True,
        hidden_bias=True,
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
            group_norm=group_norm,
            fit_intercept=fit_intercept,
            hidden_bias=hidden_bias,
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
