r"""Convex ReLU estimators: the exact cone-constrained reformulation.

.. math::
    \min_{v, w, b}\; f\Bigl(\sum_{i=1}^{P} D_i\tilde X(v_i - w_i)
    + \mathbf 1b^\top\Bigr) + \alpha\sum_{i=1}^{P}(\|v_i\| + \|w_i\|)
    \quad\text{s.t.}\quad (2D_i - I)\tilde Xv_i \ge 0,\;
    (2D_i - I)\tilde Xw_i \ge 0,

over activation patterns :math:`D_i = \operatorname{diag}(\mathbf 1[\tilde Xg_i > 0])`
of sampled gates (or of all patterns, :func:`convexnn.patterns.enumerate_patterns`).
Its optimum is the optimum of the two-layer ReLU network
:math:`\sum_j(\tilde x^\top w_j)_+a_j + b` with weight decay
:math:`\frac\alpha2(\|W\|_F^2 + \|a\|^2)` whose neurons have these
patterns, and with all patterns the global optimum of that network
(Pilanci & Ergen, 2020). Several outputs are fitted as one network per
output sharing the gates: every block and constraint is per output column.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._backend import Backend, to_numpy
from .._sklearn_compat import Interval, StrOptions
from ..global_certificate.mixin import GlobalCertificateMixin
from ..networks import ReLUNetwork
from ..patterns import activation_patterns, lift, resolve_gates
from ..problems import LOSSES
from ..problems.cone import convex_relu_problem, gated_relaxation
from ..pruning import prune_cone_coefficients
from ..solvers import CONSTRAINED_SOLVERS, select_constrained_solver, solve
from ._base import (
    ClassifierOutputMixin,
    NetworkOutputsMixin,
    RegressorOutputMixin,
    user_stacklevel,
    validate_predict_input,
    warn_not_converged,
    without_autograd,
)
from .gated import GATED_PARAMETERS


class _BaseConvexReLU(GlobalCertificateMixin, NetworkOutputsMixin, BaseEstimator):
    _parameter_constraints = {
        **GATED_PARAMETERS,
        "solver": [StrOptions({"auto", "admm", "augmented_lagrangian"})],
        "max_neurons": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_patterns=100,
        gates=None,
        loss="squared",
        solver="auto",
        fit_intercept=True,
        hidden_bias=True,
        max_iter=10_000,
        tol=1e-6,
        max_neurons=None,
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
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.hidden_bias = hidden_bias
        self.max_iter = max_iter
        self.tol = tol
        self.max_neurons = max_neurons
        self.device = device
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    @without_autograd
    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str):
        backend = Backend.from_params(self.device, self.dtype)
        X_lifted = lift(X, self.hidden_bias)
        gates = resolve_gates(self.gates, X_lifted, self.n_patterns, self.random_state)
        X_tensor, Y_tensor = backend.tensor(X_lifted), backend.tensor(Y)
        masks = backend.tensor(activation_patterns(X_lifted, gates))
        data_loss = LOSSES[loss](Y_tensor)
        problem = convex_relu_problem(
            X_tensor, masks, data_loss, self.alpha, self.fit_intercept
        )
        solver = select_constrained_solver(self.solver, len(X))
        result = CONSTRAINED_SOLVERS[solver](
            problem, tol=self.tol, max_iter=self.max_iter, verbose=self.verbose
        )
        lower_bound = self._relaxation_bound(X_tensor, masks, data_loss)

        coef, intercept = problem.problem.split(result.x)
        n_patterns, n_features = gates.shape
        n_outputs = Y.shape[1]
        multipliers = problem.constraint.per_block(result.multipliers)
        self.gates_ = np.asarray(gates, dtype=np.float64)
        self.coef_ = to_numpy(coef).reshape(2, n_patterns, n_features, n_outputs)
        self.intercept_ = (
            np.zeros(n_outputs) if intercept is None else to_numpy(intercept)
        )
        self.multipliers_ = to_numpy(multipliers).reshape(
            2, n_patterns, len(X), n_outputs
        )
        self.n_patterns_ = n_patterns
        self.solver_ = solver
        self.n_iter_ = result.n_iter
        self.objective_ = result.kkt.objective
        self.lower_bound_ = lower_bound
        self.constraint_violation_ = result.kkt.violation
        self.stationarity_ = result.kkt.stationarity
        self.complementarity_ = result.kkt.complementarity
        self.converged_ = result.converged
        self.n_neurons_removed_ = 0
        if not result.converged:
            warn_not_converged(self, f"KKT residuals: {result.kkt}")
        self._count_neurons()
        if self.max_neurons is not None:
            self._prune(X_lifted)
            if self.n_active_neurons_ > self.max_neurons:
                warnings.warn(
                    f"{type(self).__name__} kept {self.n_active_neurons_} neurons, "
                    f"more than max_neurons={self.max_neurons}: fewer linearly "
                    "independent neurons cannot reach this objective; increase "
                    "alpha for a smaller network.",
                    UserWarning,
                    stacklevel=user_stacklevel(),
                )

    def _relaxation_bound(self, X_tensor, masks, loss) -> float:
        """Certified lower bound from the gated ReLU relaxation (§4).

        Any feasible ``(v, w)`` gives gated blocks ``u_i = v_i − w_i`` with
        ``‖u_i‖ ≤ ‖v_i‖ + ‖w_i‖``, so the gated optimum over the same patterns
        is below the convex ReLU optimum; the dual objective of its
        certificate is below the gated optimum.
        """
        relaxation = gated_relaxation(
            X_tensor, masks, loss, self.alpha, self.fit_intercept
        )
        return solve(relaxation, tol=self.tol, max_iter=self.max_iter).certificate.dual

    def _prune(self, X_lifted: np.ndarray):
        before = self.coef_
        self.coef_, removed = prune_cone_coefficients(X_lifted, self.coef_)
        decrease = (
            np.linalg.norm(before, axis=2).sum()
            - np.linalg.norm(self.coef_, axis=2).sum()
        )
        self.objective_ -= self.alpha * decrease
        self.n_neurons_removed_ += removed
        self._count_neurons()

    def _count_neurons(self):
        self.n_active_neurons_ = int((np.linalg.norm(self.coef_, axis=2) > 0).sum())

    def prune(self, X):
        """Remove neurons whose training outputs are linearly dependent.

        A Carathéodory reduction (:mod:`convexnn.pruning`): the network's
        predictions on ``X`` are unchanged and its weight decay never grows,
        so on the training data the objective never rises, and at most
        ``n_samples`` neurons remain per output. ``n_neurons_removed_`` counts
        the neurons removed so far; ``objective_`` is updated, for ``X`` the
        training data. The solver's records (``multipliers_``, the KKT
        residuals, ``converged_``, ``lower_bound_``) still describe the fit
        before pruning: the pruned network has the same training outputs and
        no larger penalty, so they bound its objective too.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training data (predictions are preserved on these points).

        Returns
        -------
        self : object
            The pruned estimator.
        """
        X = validate_predict_input(self, X)
        self._prune(lift(X, self.hidden_bias))
        return self

    def to_torch(self) -> ReLUNetwork:
        """The fitted model as an ordinary two-layer ReLU network (float64, CPU).

        Each nonzero ``v_i`` (output ``k``) is the neuron
        ``(v_i/√‖v_i‖, +√‖v_i‖ e_k)``, each nonzero ``w_i`` the neuron
        ``(w_i/√‖w_i‖, −√‖w_i‖ e_k)``. Where the cone constraints hold (on the
        training data, up to ``constraint_violation_``) the network predicts
        what the convex model predicts, and ``alpha · weight_decay()`` is the
        penalty in ``objective_``.

        Returns
        -------
        ReLUNetwork
            The equivalent network.
        """
        check_is_fitted(self)
        return ReLUNetwork.from_cone_coefficients(
            self.coef_, self.intercept_, self.hidden_bias
        )


class ConvexReLURegressor(RegressorOutputMixin, _BaseConvexReLU):
    r"""Two-layer ReLU regression network fitted to its global optimum.

    Solves the cone-constrained reformulation

    .. math::
        \min_{v, w, b}\; f\Bigl(\sum_{i=1}^{P} D_i\tilde X(v_i - w_i)
        + \mathbf 1b^\top\Bigr) + \alpha\sum_{i=1}^{P}(\|v_i\| + \|w_i\|)
        \quad\text{s.t.}\quad (2D_i - I)\tilde Xv_i \ge 0,\;
        (2D_i - I)\tilde Xw_i \ge 0,

    over activation patterns
    :math:`D_i = \operatorname{diag}(\mathbf 1[\tilde Xg_i > 0])` of sampled
    gates (or of all patterns, :func:`convexnn.patterns.enumerate_patterns`),
    where :math:`\tilde X` is ``X`` with a column of ones appended when
    ``hidden_bias=True``. Its optimum is the optimum of the two-layer ReLU
    network :math:`\sum_j(\tilde x^\top w_j)_+a_j + b` with weight decay
    :math:`\frac\alpha2(\|W\|_F^2 + \|a\|^2)` whose neurons have these
    patterns, and with all patterns the global optimum of that network
    (Pilanci & Ergen, 2020).
    Here ``f`` is the mean squared loss
    :math:`\frac{1}{2n}\|\hat Y - Y\|_F^2`; predictions at any point come
    from the equivalent ReLU network (:meth:`to_torch`). Several targets are
    fitted as one network per target sharing the gates: every block and
    constraint is per output column. Standardise ``X`` (a
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
    solver : {"auto", "admm", "augmented_lagrangian"}, default="auto"
        ``"admm"``: ADMM whose linear step is solved exactly (up to 2000
        samples) or by Nyström-preconditioned conjugate gradients (the CRONOS
        scheme). ``"augmented_lagrangian"``: augmented Lagrangian whose
        subproblems the accelerated proximal-gradient solver solves.
        ``"auto"`` is ``"admm"`` up to 50 000 samples and the augmented
        Lagrangian above.
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept.
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the inputs of the hidden layer.
    max_iter : int, default=10000
        Maximum number of solver iterations (ADMM steps, or inner
        proximal-gradient steps of the augmented Lagrangian).
    tol : float, default=1e-6
        Target of the three relative KKT residuals (stationarity, constraint
        violation, complementary slackness). In float32 the residuals stop
        near 1e-5: use ``dtype="float64"`` for a smaller ``tol``.
    max_neurons : int, default=None
        When set, prune the fitted network (:meth:`prune`) after fitting. A
        :class:`UserWarning` says so if more than ``max_neurons`` neurons
        remain (the reduction stops at linearly independent neurons, at most
        ``n_samples`` per output).
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
    coef_ : ndarray of shape (2, n_patterns\_, d̃, n_outputs)
        ``coef_[0]`` holds the blocks ``v_i``, ``coef_[1]`` the ``w_i``.
    intercept_ : ndarray of shape (n_outputs,)
        Output intercept ``b`` (zeros when ``fit_intercept=False``).
    multipliers_ : ndarray of shape (2, n_patterns\_, n_samples, n_outputs)
        The solver's multipliers ``Λ ≥ 0`` of the constraints
        ``(2D_i − I)X̃v_i ≥ 0`` (``[0]``) and ``(2D_i − I)X̃w_i ≥ 0`` (``[1]``),
        one per training sample.
    n_patterns_ : int
        Number of gates: the distinct nonempty activation patterns kept from
        sampling, or the given ``gates``, which are used as they are.
    solver_ : str
        The solver used.
    n_iter_ : int
        Solver iterations.
    objective_ : float
        The objective above at the returned solution.
    lower_bound_ : float
        A certified lower bound on the optimum: the dual objective of the
        gated ReLU relaxation over the same patterns (which drops the cone
        constraints). ``objective_ − lower_bound_`` bounds how much the
        constraints cost.
    constraint_violation_ : float
        ``max (−(2D_i − I)X̃v_i)_+ / max |X̃v_i|`` over all blocks.
    stationarity_ : float
        Largest distance of a block's gradient to the subdifferential of
        ``alpha‖·‖``, divided by ``alpha``.
    complementarity_ : float
        ``Σ Λ |(2D_i − I)X̃v_i|`` divided by ``objective_``.
    converged_ : bool
        Whether the three residuals reached ``tol`` within ``max_iter``.
    n_active_neurons_ : int
        Neurons of the equivalent network (:meth:`to_torch`).
    n_neurons_removed_ : int
        Neurons removed by pruning.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    See Also
    --------
    ConvexReLUClassifier : The same network for classification.
    GatedReLURegressor : The gated ReLU relaxation, without cone constraints.
    convexnn.baselines.NonconvexReLURegressor : The same network and
        objective trained by Adam.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from convexnn import ConvexReLURegressor
    >>> X, y = make_regression(n_samples=40, n_features=3, noise=1.0, random_state=0)
    >>> y = y / y.std()
    >>> model = ConvexReLURegressor(n_patterns=20, random_state=0).fit(X, y)
    >>> model.converged_, model.solver_
    (True, 'admm')
    >>> model.lower_bound_ <= model.objective_
    True
    >>> print(round(model.score(X, y), 2))
    1.0
    >>> network = model.to_torch()  # an ordinary torch.nn.Module
    """

    _parameter_constraints = {
        **_BaseConvexReLU._parameter_constraints,
        "loss": [StrOptions({"squared"})],
    }


class ConvexReLUClassifier(ClassifierOutputMixin, _BaseConvexReLU):
    r"""Two-layer ReLU classification network fitted to its global optimum.

    Solves the cone-constrained reformulation

    .. math::
        \min_{v, w, b}\; f\Bigl(\sum_{i=1}^{P} D_i\tilde X(v_i - w_i)
        + \mathbf 1b^\top\Bigr) + \alpha\sum_{i=1}^{P}(\|v_i\| + \|w_i\|)
        \quad\text{s.t.}\quad (2D_i - I)\tilde Xv_i \ge 0,\;
        (2D_i - I)\tilde Xw_i \ge 0,

    over activation patterns
    :math:`D_i = \operatorname{diag}(\mathbf 1[\tilde Xg_i > 0])` of sampled
    gates (or of all patterns, :func:`convexnn.patterns.enumerate_patterns`),
    where :math:`\tilde X` is ``X`` with a column of ones appended when
    ``hidden_bias=True``. Its optimum is the optimum of the two-layer ReLU
    network :math:`\sum_j(\tilde x^\top w_j)_+a_j + b` with weight decay
    :math:`\frac\alpha2(\|W\|_F^2 + \|a\|^2)` whose neurons have these
    patterns, and with all patterns the global optimum of that network
    (Pilanci & Ergen, 2020).
    Here ``f`` is the mean loss named by ``loss``. Binary problems use one
    output (logistic or ±1 squared targets), several classes one output — one
    network — per class, sharing the gates: every block and constraint is per
    output column. Standardise ``X``: no rescaling happens inside.

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
    solver : {"auto", "admm", "augmented_lagrangian"}, default="auto"
        ``"admm"``: ADMM whose linear step is solved exactly (up to 2000
        samples) or by Nyström-preconditioned conjugate gradients (the CRONOS
        scheme). ``"augmented_lagrangian"``: augmented Lagrangian whose
        subproblems the accelerated proximal-gradient solver solves.
        ``"auto"`` is ``"admm"`` up to 50 000 samples and the augmented
        Lagrangian above.
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept.
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the inputs of the hidden layer.
    max_iter : int, default=10000
        Maximum number of solver iterations (ADMM steps, or inner
        proximal-gradient steps of the augmented Lagrangian).
    tol : float, default=1e-6
        Target of the three relative KKT residuals (stationarity, constraint
        violation, complementary slackness). In float32 the residuals stop
        near 1e-5: use ``dtype="float64"`` for a smaller ``tol``.
    max_neurons : int, default=None
        When set, prune the fitted network (:meth:`prune`) after fitting. A
        :class:`UserWarning` says so if more than ``max_neurons`` neurons
        remain (the reduction stops at linearly independent neurons, at most
        ``n_samples`` per output).
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
    coef_ : ndarray of shape (2, n_patterns\_, d̃, n_outputs)
        ``coef_[0]`` holds the blocks ``v_i``, ``coef_[1]`` the ``w_i``.
    intercept_ : ndarray of shape (n_outputs,)
        Output intercept ``b`` (zeros when ``fit_intercept=False``).
    multipliers_ : ndarray of shape (2, n_patterns\_, n_samples, n_outputs)
        The solver's multipliers ``Λ ≥ 0`` of the constraints
        ``(2D_i − I)X̃v_i ≥ 0`` (``[0]``) and ``(2D_i − I)X̃w_i ≥ 0`` (``[1]``),
        one per training sample.
    n_patterns_ : int
        Number of gates: the distinct nonempty activation patterns kept from
        sampling, or the given ``gates``, which are used as they are.
    solver_ : str
        The solver used.
    n_iter_ : int
        Solver iterations.
    objective_ : float
        The objective above at the returned solution.
    lower_bound_ : float
        A certified lower bound on the optimum: the dual objective of the
        gated ReLU relaxation over the same patterns (which drops the cone
        constraints). ``objective_ − lower_bound_`` bounds how much the
        constraints cost.
    constraint_violation_ : float
        ``max (−(2D_i − I)X̃v_i)_+ / max |X̃v_i|`` over all blocks.
    stationarity_ : float
        Largest distance of a block's gradient to the subdifferential of
        ``alpha‖·‖``, divided by ``alpha``.
    complementarity_ : float
        ``Σ Λ |(2D_i − I)X̃v_i|`` divided by ``objective_``.
    converged_ : bool
        Whether the three residuals reached ``tol`` within ``max_iter``.
    n_active_neurons_ : int
        Neurons of the equivalent network (:meth:`to_torch`).
    n_neurons_removed_ : int
        Neurons removed by pruning.
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
    ConvexReLURegressor : The same network for regression.
    GatedReLUClassifier : The gated ReLU relaxation, without cone constraints.
    convexnn.baselines.NonconvexReLUClassifier : The same network and
        objective trained by Adam.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from convexnn import ConvexReLUClassifier
    >>> X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    >>> model = ConvexReLUClassifier(alpha=1e-2, n_patterns=20, random_state=0)
    >>> model.fit(X, y).converged_
    True
    >>> model.predict_proba(X[:3]).shape
    (3, 2)
    >>> print(model.score(X, y) >= 0.9)
    True
    """

    _parameter_constraints = {
        **_BaseConvexReLU._parameter_constraints,
        "loss": [StrOptions({"auto", "logistic", "multinomial", "squared"})],
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_patterns=100,
        gates=None,
        loss="auto",
        solver="auto",
        fit_intercept=True,
        hidden_bias=True,
        max_iter=10_000,
        tol=1e-6,
        max_neurons=None,
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
            solver=solver,
            fit_intercept=fit_intercept,
            hidden_bias=hidden_bias,
            max_iter=max_iter,
            tol=tol,
            max_neurons=max_neurons,
            device=device,
            dtype=dtype,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
