r"""Gated ReLU estimators: the group-lasso reformulation.

.. math::
    \min_{U, b}\; f\Bigl(\sum_{i=1}^{P} D_i \tilde X U_i + \mathbf 1 b^\top\Bigr)
    + \alpha \sum_{i=1}^{P} \|U_i\|

with :math:`D_i = \operatorname{diag}(\mathbf 1[\tilde X g_i > 0])` for sampled
gates :math:`g_i`, the mean loss ``f`` and, for several outputs, the nuclear
norm (``group_norm="nuclear"``, the exact network penalty) or the Frobenius
norm. With one output both are the Euclidean norm and the problem equals
training the gated ReLU network with weight decay
:math:`\frac\alpha2\sum_j (\|w_j\|^2 + \|a_j\|^2)` (Mishkin, Sahiner & Pilanci,
2022).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._backend import CPU64, Backend, to_numpy
from .._sklearn_compat import Interval, StrOptions
from ..global_certificate.mixin import GlobalCertificateMixin
from ..networks import GatedReLUNetwork, count_neurons
from ..patterns import lift, resolve_gates
from ..problems import LOSSES, GatedOperator, gated_problem
from ..solvers import solve
from ._base import (
    NETWORK_PARAMETERS,
    ClassifierOutputMixin,
    RegressorOutputMixin,
    warn_not_converged,
    without_autograd,
)

GATED_PARAMETERS = {
    **NETWORK_PARAMETERS,
    "n_patterns": [Interval(Integral, 1, None, closed="left")],
    "gates": ["array-like", None],
}
"""Parameters shared by the convex gated estimators and their nonconvex baselines."""


class _BaseGatedReLU(GlobalCertificateMixin, BaseEstimator):
    _parameter_constraints = {
        **GATED_PARAMETERS,
        "group_norm": [StrOptions({"nuclear", "frobenius"})],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_patterns=100,
        gates=None,
        loss="squared",
        group_norm="nuclear",
        fit_intercept=True,
        hidden_bias=True,
        max_iter=10_000,
        tol=1e-6,
        warm_start=False,
        device="auto",
        dtype=None,
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.n_patterns = n_patterns
        self.gates = gates
        self.loss = loss
        self.group_norm = group_norm
        self.fit_intercept = fit_intercept
        self.hidden_bias = hidden_bias
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.device = device
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _warm_start_from(self, X_lifted: np.ndarray, n_outputs: int):
        """Previous ``(gates, coef, intercept)`` when warm starting is possible."""
        if not (self.warm_start and hasattr(self, "coef_")):
            return None
        if self.gates is not None and not np.array_equal(
            np.asarray(self.gates, dtype=np.float64), self.gates_
        ):
            return None  # new gates given: a new problem
        if (
            self.gates_.shape[1] != X_lifted.shape[1]
            or self.coef_.shape[2] != n_outputs
        ):
            return None
        return self.gates_, self.coef_, self.intercept_

    @without_autograd
    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str):
        backend = Backend.from_params(self.device, self.dtype)
        X_lifted = lift(X, self.hidden_bias)
        previous = self._warm_start_from(X_lifted, Y.shape[1])
        if previous is not None:
            gates = previous[0]
        else:
            gates = resolve_gates(
                self.gates, X_lifted, self.n_patterns, self.random_state
            )
        n_features = X_lifted.shape[1]
        problem = gated_problem(
            backend.tensor(X_lifted),
            backend.tensor(gates),
            LOSSES[loss](backend.tensor(Y)),
            self.alpha,
            group_norm=self.group_norm,
            fit_intercept=self.fit_intercept,
        )
        x0 = None
        if previous is not None:
            x0 = problem.pack(backend.tensor(previous[1]), backend.tensor(previous[2]))
        result = solve(
            problem, x0, tol=self.tol, max_iter=self.max_iter, verbose=self.verbose
        )
        coef, intercept = problem.split(result.x)
        coef = to_numpy(coef).reshape(len(gates), n_features, Y.shape[1])

        self.gates_ = np.asarray(gates, dtype=np.float64)
        self.coef_ = coef
        self.intercept_ = (
            np.zeros(Y.shape[1]) if intercept is None else to_numpy(intercept)
        )
        self.n_patterns_ = len(gates)
        self.n_iter_ = result.n_iter
        self.objective_ = result.certificate.primal
        self.dual_gap_ = result.certificate.relative_gap
        self.converged_ = result.converged
        self.n_active_neurons_ = count_neurons(coef)
        if not result.converged:
            warn_not_converged(self, f"a relative duality gap of {self.dual_gap_:.3g}")

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        X_lifted = CPU64.tensor(lift(X, self.hidden_bias))
        operator = GatedOperator.from_gates(X_lifted, CPU64.tensor(self.gates_))
        coef = CPU64.tensor(self.coef_).reshape(operator.n_coefs, -1)
        return to_numpy(operator.matvec(coef)) + self.intercept_

    def to_torch(self) -> GatedReLUNetwork:
        """The fitted model as a gated ReLU :class:`torch.nn.Module` (float64, CPU).

        Each block ``U_i`` splits into neurons by its SVD (``w = √σ u``,
        ``a = √σ v``): the network predicts what the estimator predicts, and
        ``alpha · network.weight_decay()`` equals the penalty of ``objective_``
        (for several outputs this holds with ``group_norm="nuclear"``; with
        ``"frobenius"`` the network's weight decay is the nuclear norm, which is
        larger).

        Returns
        -------
        GatedReLUNetwork
            The equivalent network.
        """
        check_is_fitted(self)
        return GatedReLUNetwork.from_gated_coefficients(
            self.gates_, self.coef_, self.intercept_, self.hidden_bias
        )


class GatedReLURegressor(RegressorOutputMixin, _BaseGatedReLU):
    r"""Gated ReLU network fitted to its global optimum (squared loss).

    Solves the group-lasso reformulation of the gated ReLU network

    .. math::
        \min_{U, b}\; f\Bigl(\sum_{i=1}^{P} D_i \tilde X U_i + \mathbf 1 b^\top\Bigr)
        + \alpha \sum_{i=1}^{P} \|U_i\|

    with :math:`D_i = \operatorname{diag}(\mathbf 1[\tilde X g_i > 0])` for
    sampled gates :math:`g_i` (:math:`\tilde X` is ``X`` with a column of ones
    appended when ``hidden_bias=True``) and the mean squared loss
    :math:`f(\hat Y) = \frac{1}{2n}\|\hat Y - Y\|_F^2`. For several outputs
    the norm of a block is the nuclear norm (``group_norm="nuclear"``, the
    exact network penalty) or the Frobenius norm. With one output both are
    the Euclidean norm and the problem equals training the gated ReLU network
    with weight decay :math:`\frac\alpha2\sum_j (\|w_j\|^2 + \|a_j\|^2)`
    (Mishkin, Sahiner & Pilanci, 2022). Standardise ``X`` (for example with a
    :class:`~sklearn.preprocessing.StandardScaler` in a pipeline): no
    rescaling happens inside.

    Parameters
    ----------
    alpha : float, default=1e-3
        Regularisation strength (the network's weight decay is ``alpha/2``).
    n_patterns : int, default=100
        Number of gates sampled; duplicate and empty patterns are dropped.
    gates : array-like of shape (n_gates, d̃), default=None
        Fixed gate vectors, used as given instead of sampling (two models can
        then share patterns; :func:`convexnn.patterns.enumerate_patterns`
        gives one gate per activation pattern).
    loss : {"squared"}, default="squared"
        The mean squared loss.
    group_norm : {"nuclear", "frobenius"}, default="nuclear"
        Norm of each block for several outputs (identical for one output).
        ``"nuclear"`` is the exact network penalty.
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept.
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the inputs of the hidden layer.
    max_iter : int, default=10000
        Maximum number of solver iterations.
    tol : float, default=1e-6
        Target relative duality gap.
    warm_start : bool, default=False
        Reuse the previous gates and solution as the starting point. A fit
        with new ``gates``, another number of features or of outputs starts
        cold; a changed ``n_patterns`` or ``random_state`` takes effect with
        ``warm_start=False``.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the solver runs; "auto" picks CUDA when available.
    dtype : {"float32", "float64"}, default=None
        Solver precision; None is float64 on CPU and float32 on CUDA. The
        solution and its certificate are in this precision (a float64 solver
        may take its first iterations in float32, see
        :func:`convexnn.solvers.fista`).
    n_threads : int, default=None
        Intra-op CPU threads (:func:`torch.set_num_threads`) during ``fit``.
        None uses one thread when the solver's operator products are small
        (more threads only slow them down) and torch's current setting
        otherwise; the global setting is restored after the fit.
    random_state : int, RandomState instance or None, default=None
        Seeds the gate sampling.
    verbose : int, default=0
        Print solver progress.

    Attributes
    ----------
    gates_ : ndarray of shape (n_patterns\_, d̃)
        Gate vectors; ``d̃ = n_features_in_ + hidden_bias``.
    coef_ : ndarray of shape (n_patterns\_, d̃, n_outputs)
        The blocks ``U_i``.
    intercept_ : ndarray of shape (n_outputs,)
        Output intercept ``b`` (zeros when ``fit_intercept=False``).
    n_patterns_ : int
        Number of gates: the distinct nonempty activation patterns kept from
        sampling, or the given ``gates``, which are used as they are.
    n_iter_ : int
        Solver iterations.
    objective_ : float
        The objective above at the returned solution.
    dual_gap_ : float
        Relative duality gap ``(primal − dual) / primal`` certifying it; never
        below float64 rounding (``2.2e-16``), so a smaller ``tol`` cannot be
        reached.
    converged_ : bool
        Whether ``dual_gap_ <= tol`` was reached within ``max_iter``.
    n_active_neurons_ : int
        Neurons of the equivalent network (:meth:`to_torch`).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    See Also
    --------
    GatedReLUClassifier : The same network for classification.
    ConvexReLURegressor : The ReLU network itself, by its cone-constrained
        reformulation.
    convexnn.baselines.NonconvexGatedReLURegressor : The same network and
        objective trained by Adam.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from convexnn import GatedReLURegressor
    >>> X, y = make_regression(n_samples=40, n_features=3, noise=1.0, random_state=0)
    >>> y = y / y.std()
    >>> model = GatedReLURegressor(n_patterns=20, random_state=0).fit(X, y)
    >>> model.converged_
    True
    >>> model.predict(X[:3]).shape
    (3,)
    >>> print(round(model.score(X, y), 2))
    1.0
    """

    _parameter_constraints = {
        **_BaseGatedReLU._parameter_constraints,
        "loss": [StrOptions({"squared"})],
    }


class GatedReLUClassifier(ClassifierOutputMixin, _BaseGatedReLU):
    r"""Gated ReLU classifier fitted to its global optimum.

    Solves the group-lasso reformulation of the gated ReLU network

    .. math::
        \min_{U, b}\; f\Bigl(\sum_{i=1}^{P} D_i \tilde X U_i + \mathbf 1 b^\top\Bigr)
        + \alpha \sum_{i=1}^{P} \|U_i\|

    with :math:`D_i = \operatorname{diag}(\mathbf 1[\tilde X g_i > 0])` for
    sampled gates :math:`g_i` (:math:`\tilde X` is ``X`` with a column of ones
    appended when ``hidden_bias=True``) and the mean loss ``f`` named by
    ``loss``. Binary problems use one output (logistic or ±1 squared
    targets), several classes one output per class. For several outputs the
    norm of a block is the nuclear norm (``group_norm="nuclear"``, the exact
    network penalty) or the Frobenius norm. With one output both are the
    Euclidean norm and the problem equals training the gated ReLU network with
    weight decay :math:`\frac\alpha2\sum_j (\|w_j\|^2 + \|a_j\|^2)` (Mishkin,
    Sahiner & Pilanci, 2022). Standardise ``X``: no rescaling happens inside.

    Parameters
    ----------
    alpha : float, default=1e-3
        Regularisation strength (the network's weight decay is ``alpha/2``).
    n_patterns : int, default=100
        Number of gates sampled; duplicate and empty patterns are dropped.
    gates : array-like of shape (n_gates, d̃), default=None
        Fixed gate vectors, used as given instead of sampling (two models can
        then share patterns; :func:`convexnn.patterns.enumerate_patterns`
        gives one gate per activation pattern).
    loss : {"auto", "logistic", "multinomial", "squared"}, default="auto"
        "auto" is "logistic" for two classes and "multinomial" otherwise.
    group_norm : {"nuclear", "frobenius"}, default="nuclear"
        Norm of each block for several outputs (identical for one output).
        ``"nuclear"`` is the exact network penalty.
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept.
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the inputs of the hidden layer.
    max_iter : int, default=10000
        Maximum number of solver iterations.
    tol : float, default=1e-6
        Target relative duality gap.
    warm_start : bool, default=False
        Reuse the previous gates and solution as the starting point. A fit
        with new ``gates``, another number of features or of outputs starts
        cold; a changed ``n_patterns`` or ``random_state`` takes effect with
        ``warm_start=False``.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the solver runs; "auto" picks CUDA when available.
    dtype : {"float32", "float64"}, default=None
        Solver precision; None is float64 on CPU and float32 on CUDA. The
        solution and its certificate are in this precision (a float64 solver
        may take its first iterations in float32, see
        :func:`convexnn.solvers.fista`).
    n_threads : int, default=None
        Intra-op CPU threads (:func:`torch.set_num_threads`) during ``fit``.
        None uses one thread when the solver's operator products are small
        (more threads only slow them down) and torch's current setting
        otherwise; the global setting is restored after the fit.
    random_state : int, RandomState instance or None, default=None
        Seeds the gate sampling.
    verbose : int, default=0
        Print solver progress.

    Attributes
    ----------
    gates_ : ndarray of shape (n_patterns\_, d̃)
        Gate vectors; ``d̃ = n_features_in_ + hidden_bias``.
    coef_ : ndarray of shape (n_patterns\_, d̃, n_outputs)
        The blocks ``U_i``.
    intercept_ : ndarray of shape (n_outputs,)
        Output intercept ``b`` (zeros when ``fit_intercept=False``).
    n_patterns_ : int
        Number of gates: the distinct nonempty activation patterns kept from
        sampling, or the given ``gates``, which are used as they are.
    n_iter_ : int
        Solver iterations.
    objective_ : float
        The objective above at the returned solution.
    dual_gap_ : float
        Relative duality gap ``(primal − dual) / primal`` certifying it; never
        below float64 rounding (``2.2e-16``), so a smaller ``tol`` cannot be
        reached.
    converged_ : bool
        Whether ``dual_gap_ <= tol`` was reached within ``max_iter``.
    n_active_neurons_ : int
        Neurons of the equivalent network (:meth:`to_torch`).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    loss_ : str
        The loss used.

    See Also
    --------
    GatedReLURegressor : The same network for regression.
    ConvexReLUClassifier : The ReLU network itself, by its cone-constrained
        reformulation.
    convexnn.baselines.NonconvexGatedReLUClassifier : The same network and
        objective trained by Adam.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from convexnn import GatedReLUClassifier
    >>> X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    >>> model = GatedReLUClassifier(n_patterns=20, random_state=0).fit(X, y)
    >>> model.converged_, model.loss_
    (True, 'logistic')
    >>> model.predict_proba(X[:3]).shape
    (3, 2)
    >>> print(round(model.score(X, y), 2))
    1.0
    """

    _parameter_constraints = {
        **_BaseGatedReLU._parameter_constraints,
        "loss": [StrOptions({"auto", "logistic", "multinomial", "squared"})],
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_patterns=100,
        gates=None,
        loss="auto",
        group_norm="nuclear",
        fit_intercept=True,
        hidden_bias=True,
        max_iter=10_000,
        tol=1e-6,
        warm_start=False,
        device="auto",
        dtype=None,
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            alpha,
            n_patterns=n_patterns,
            gates=gates,
            loss=loss,
            group_norm=group_norm,
            fit_intercept=fit_intercept,
            hidden_bias=hidden_bias,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
            device=device,
            dtype=dtype,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
