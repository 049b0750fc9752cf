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

from .._sklearn_compat import StrOptions
from ._base import CLASS_WEIGHT, ClassifierOutputMixin, RegressorOutputMixin
from ._gated_fit import _BaseGatedReLU


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
    max_time : float, default=None
        Wall-clock budget of ``fit`` in seconds. When it runs out the solver
        stops at its next checkpoint and keeps its best certified point
        (``converged_=False``, ``dual_gap_`` its honest gap, and a
        :class:`~sklearn.exceptions.ConvergenceWarning`). None: no limit.
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
        When positive, print a progress line at each checkpoint of the solver
        (iterations, objective, relative duality gap, elapsed time); above 1,
        also those of its inner solves.

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
        Whether ``dual_gap_ <= tol`` was reached within ``max_iter`` and
        ``max_time``.
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
    class_weight : dict, "balanced" or None, default=None
        Class weights multiplying ``sample_weight``: a dict maps labels to
        weights (1 if omitted); "balanced" is ``n / (n_classes · n_k)`` with
        ``n_k`` the total ``sample_weight`` of class ``k`` (its count without).
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
    max_time : float, default=None
        Wall-clock budget of ``fit`` in seconds. When it runs out the solver
        stops at its next checkpoint and keeps its best certified point
        (``converged_=False``, ``dual_gap_`` its honest gap, and a
        :class:`~sklearn.exceptions.ConvergenceWarning`). None: no limit.
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
        When positive, print a progress line at each checkpoint of the solver
        (iterations, objective, relative duality gap, elapsed time); above 1,
        also those of its inner solves.

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
        Whether ``dual_gap_ <= tol`` was reached within ``max_iter`` and
        ``max_time``.
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
        group_norm="nuclear",
        fit_intercept=True,
        hidden_bias=True,
        max_iter=10_000,
        tol=1e-6,
        max_time=None,
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
            max_time=max_time,
            warm_start=warm_start,
            device=device,
            dtype=dtype,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight
