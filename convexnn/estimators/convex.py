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

from .._sklearn_compat import StrOptions
from ._base import CLASS_WEIGHT, ClassifierOutputMixin, RegressorOutputMixin
from ._convex_fit import _BaseConvexReLU


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
    solver : {"auto", "interior_point", "admm", "augmented_lagrangian"}, default="auto"
        ``"interior_point"``: a barrier method with an exact active-set
        finish, for one output (a squared or logistic loss) while its dense
        Newton system (``d̃ ×`` the patterns unknowns) stays small.
        ``"admm"``: ADMM whose linear step is solved exactly (up to 2000
        samples) or by Nyström-preconditioned conjugate gradients (the CRONOS
        scheme). ``"augmented_lagrangian"``: augmented Lagrangian whose
        subproblems the accelerated proximal-gradient solver solves.
        ``"auto"`` takes the first of these that applies: the interior point
        where it does, ``"admm"`` up to 50 000 samples, the augmented
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
    max_time : float, default=None
        Wall-clock budget of ``fit`` in seconds. When it runs out the solver
        stops at its next check (an ADMM check, a barrier centre, an
        augmented Lagrangian step) and keeps the checked point with the
        smallest residuals (``converged_=False``, its honest KKT residuals
        and ``lower_bound_``, and a
        :class:`~sklearn.exceptions.ConvergenceWarning`). None: no limit.
    max_neurons : int, default=None
        When set, prune the fitted network (:meth:`prune`) after fitting. A
        :class:`UserWarning` says so if more than ``max_neurons`` neurons
        remain (the reduction stops at linearly independent neurons, at most
        ``n_samples`` per output).
    warm_start : bool, default=False
        Start from the previous solution (its gates, coefficients and, fitted
        on as many samples, multipliers): along a grid of ``alpha`` the active-set
        finish from it often solves the new problem at once
        (``n_iter_ == 0``), and otherwise ADMM and the augmented Lagrangian
        start from it (the interior-point method starts inside the cones, as
        usual). The optimum is unchanged. A fit with new ``gates``, another
        number of features or of outputs starts cold; a changed
        ``n_patterns`` or ``random_state`` takes effect with
        ``warm_start=False``.
    keep_multipliers : bool, default=False
        Keep the solver's multipliers as ``multipliers_``: ``2 × n_patterns_ ×
        n_samples × n_outputs`` numbers, by far the largest part of a fitted
        model when ``n_samples`` is large, so a model that is pickled (saved,
        or sent back by the workers of a grid search) stays small without
        them (``warm_start=True`` keeps them too: the next fit starts from
        them). They are the witness from which
        :func:`convexnn.testing.assert_certified` recomputes the KKT
        residuals; ``lower_bound_`` and the residuals are computed during the
        fit either way.
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
        When positive, print a progress line at each checkpoint of the solver
        (iterations, objective, relative gap to the multipliers' dual bound,
        the three KKT residuals, elapsed time).

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
        one per training sample. Only when ``keep_multipliers=True``.
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
        A certified lower bound on the optimum over these patterns: the
        Lagrange dual objective of the solver's own multipliers, scaled to
        dual feasibility (no second solve), and never above ``objective_``. At
        a converged fit ``objective_ − lower_bound_`` is the duality gap.
    constraint_violation_ : float
        ``max (−(2D_i − I)X̃v_i)_+ / max |X̃v_i|`` over all blocks.
    stationarity_ : float
        Largest distance of a block's gradient to the subdifferential of
        ``alpha‖·‖``, divided by ``alpha``.
    complementarity_ : float
        ``Σ Λ |(2D_i − I)X̃v_i|`` divided by ``objective_``.
    converged_ : bool
        Whether the three residuals reached ``tol`` within ``max_iter`` and
        ``max_time``.
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
    (True, 'interior_point')
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
    class_weight : dict, "balanced" or None, default=None
        Class weights multiplying ``sample_weight``: a dict maps labels to
        weights (1 if omitted); "balanced" is ``n / (n_classes · n_k)`` with
        ``n_k`` the total ``sample_weight`` of class ``k`` (its count without).
    solver : {"auto", "interior_point", "admm", "augmented_lagrangian"}, default="auto"
        ``"interior_point"``: a barrier method with an exact active-set
        finish, for one output (a squared or logistic loss) while its dense
        Newton system (``d̃ ×`` the patterns unknowns) stays small.
        ``"admm"``: ADMM whose linear step is solved exactly (up to 2000
        samples) or by Nyström-preconditioned conjugate gradients (the CRONOS
        scheme). ``"augmented_lagrangian"``: augmented Lagrangian whose
        subproblems the accelerated proximal-gradient solver solves.
        ``"auto"`` takes the first of these that applies: the interior point
        where it does, ``"admm"`` up to 50 000 samples, the augmented
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
    max_time : float, default=None
        Wall-clock budget of ``fit`` in seconds. When it runs out the solver
        stops at its next check (an ADMM check, a barrier centre, an
        augmented Lagrangian step) and keeps the checked point with the
        smallest residuals (``converged_=False``, its honest KKT residuals
        and ``lower_bound_``, and a
        :class:`~sklearn.exceptions.ConvergenceWarning`). None: no limit.
    max_neurons : int, default=None
        When set, prune the fitted network (:meth:`prune`) after fitting. A
        :class:`UserWarning` says so if more than ``max_neurons`` neurons
        remain (the reduction stops at linearly independent neurons, at most
        ``n_samples`` per output).
    warm_start : bool, default=False
        Start from the previous solution (its gates, coefficients and, fitted
        on as many samples, multipliers): along a grid of ``alpha`` the active-set
        finish from it often solves the new problem at once
        (``n_iter_ == 0``), and otherwise ADMM and the augmented Lagrangian
        start from it (the interior-point method starts inside the cones, as
        usual). The optimum is unchanged. A fit with new ``gates``, another
        number of features or of outputs starts cold; a changed
        ``n_patterns`` or ``random_state`` takes effect with
        ``warm_start=False``.
    keep_multipliers : bool, default=False
        Keep the solver's multipliers as ``multipliers_``: ``2 × n_patterns_ ×
        n_samples × n_outputs`` numbers, by far the largest part of a fitted
        model when ``n_samples`` is large, so a model that is pickled (saved,
        or sent back by the workers of a grid search) stays small without
        them (``warm_start=True`` keeps them too: the next fit starts from
        them). They are the witness from which
        :func:`convexnn.testing.assert_certified` recomputes the KKT
        residuals; ``lower_bound_`` and the residuals are computed during the
        fit either way.
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
        When positive, print a progress line at each checkpoint of the solver
        (iterations, objective, relative gap to the multipliers' dual bound,
        the three KKT residuals, elapsed time).

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
        one per training sample. Only when ``keep_multipliers=True``.
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
        A certified lower bound on the optimum over these patterns: the
        Lagrange dual objective of the solver's own multipliers, scaled to
        dual feasibility (no second solve), and never above ``objective_``. At
        a converged fit ``objective_ − lower_bound_`` is the duality gap.
    constraint_violation_ : float
        ``max (−(2D_i − I)X̃v_i)_+ / max |X̃v_i|`` over all blocks.
    stationarity_ : float
        Largest distance of a block's gradient to the subdifferential of
        ``alpha‖·‖``, divided by ``alpha``.
    complementarity_ : float
        ``Σ Λ |(2D_i − I)X̃v_i|`` divided by ``objective_``.
    converged_ : bool
        Whether the three residuals reached ``tol`` within ``max_iter`` and
        ``max_time``.
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
        **CLASS_WEIGHT,
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_patterns=100,
        gates=None,
        loss="auto",
        class_weight=None,
        solver="auto",
        fit_intercept=True,
        hidden_bias=True,
        max_iter=10_000,
        tol=1e-6,
        max_time=None,
        max_neurons=None,
        warm_start=False,
        keep_multipliers=False,
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
            max_time=max_time,
            max_neurons=max_neurons,
            warm_start=warm_start,
            keep_multipliers=keep_multipliers,
            device=device,
            dtype=dtype,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight
