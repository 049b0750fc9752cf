r"""Gated ReLU networks trained the nonconvex way, by Adam.

The same network and the same objective as :mod:`convexnn.estimators.gated`,

.. math::
    f\Bigl(\sum_j \mathbf 1[\tilde X g_j > 0](\tilde X w_j) a_j^\top
    + \mathbf 1 b^\top\Bigr) + \frac\alpha2 \sum_j (\|w_j\|^2 + \|a_j\|^2),

with one neuron per gate and the gates sampled exactly as the convex
estimator samples them (same ``random_state``, same gates), so the two
objectives are directly comparable: the convex optimum is never above what
Adam reaches.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from .._backend import Backend
from .._sklearn_compat import Interval, StrOptions
from ..estimators._base import (
    CLASS_WEIGHT,
    ClassifierOutputMixin,
    RegressorOutputMixin,
)
from ..estimators._warm_start import gates_to_fit, previous_gated_solution
from ..networks import GatedReLUNetwork
from ..patterns import lift
from ..problems import LOSSES
from ._base import AdamBaseline


class _BaseNonconvexGatedReLU(AdamBaseline):
    _parameter_constraints = {
        **AdamBaseline._parameter_constraints,
        "n_patterns": [Interval(Integral, 1, None, closed="left")],
        "gates": ["array-like", None],
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_patterns=100,
        gates=None,
        loss="squared",
        fit_intercept=True,
        hidden_bias=True,
        learning_rate=1e-2,
        max_iter=2000,
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
        self.fit_intercept = fit_intercept
        self.hidden_bias = hidden_bias
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.device = device
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _network(self, backend, hidden, output, bias):
        gates = backend.tensor(self.gates_)
        return GatedReLUNetwork(gates, hidden, output, bias, self.hidden_bias)

    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str, sample_weight=None):
        backend = Backend.from_params(self.device, self.dtype)
        rng = check_random_state(self.random_state)
        X_lifted = lift(X, self.hidden_bias)
        n_features, n_outputs = X_lifted.shape[1], Y.shape[1]
        weights = self._weight_shapes(None, n_features, n_outputs)
        previous = previous_gated_solution(self, n_features, weights)
        gates = gates_to_fit(self, X_lifted, previous, rng)
        start = None if previous is None else tuple(previous[w] for w in weights)
        self.gates_ = np.asarray(gates, dtype=np.float64)
        shape = (*gates.shape, n_outputs)
        data_loss = LOSSES[loss](backend.tensor(Y), sample_weight)
        network, result = self._train(
            backend, backend.tensor(X), data_loss, shape, rng, start
        )
        self._keep(network, result)


class NonconvexGatedReLURegressor(RegressorOutputMixin, _BaseNonconvexGatedReLU):
    r"""Gated ReLU regression network trained by Adam (nonconvex baseline).

    The same network and the same objective as
    :class:`~convexnn.GatedReLURegressor`,

    .. math::
        f\Bigl(\sum_j \mathbf 1[\tilde X g_j > 0](\tilde X w_j) a_j^\top
        + \mathbf 1 b^\top\Bigr) + \frac\alpha2 \sum_j (\|w_j\|^2 + \|a_j\|^2),

    with one neuron per gate and the gates sampled exactly as the convex
    estimator samples them (same ``random_state``, same gates), so the two
    objectives are directly comparable: the convex optimum is never above
    what Adam reaches. Here ``f`` is the mean squared loss.

    Parameters
    ----------
    alpha : float, default=1e-3
        Weight decay ``alpha/2 (‖W‖² + ‖a‖²)``, as in the convex estimators.
    n_patterns : int, default=100
        Number of gates (one neuron each), sampled as the convex estimator does.
    gates : array-like of shape (n_gates, d̃), default=None
        Fixed gates instead of sampling.
    loss : {"squared"}, default="squared"
        The mean squared loss.
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept.
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the inputs of the hidden layer.
    learning_rate : float, default=1e-2
        Adam's step size.
    max_iter : int, default=2000
        Maximum number of full-batch Adam steps.
    tol : float, default=1e-6
        Stop when the objective has not improved by this relative amount for
        50 steps.
    warm_start : bool, default=False
        Start from the previous fit's gates and weights instead of new gates
        and a random draw, so that a new fit continues training. A fit with
        new ``gates``, another number of features or of outputs starts anew.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the training runs, as in the convex estimators; "auto" picks
        CUDA when available.
    dtype : {"float32", "float64"}, default=None
        Training precision, as in the convex estimators; None is float64 on
        CPU and float32 on CUDA.
    n_threads : int, default=None
        Intra-op CPU threads (:func:`torch.set_num_threads`) during ``fit``.
        None uses one thread when the solver's operator products are small
        (more threads only slow them down) and torch's current setting
        otherwise; the global setting is restored after the fit.
    random_state : int, RandomState instance or None, default=None
        Seeds the gate sampling, as in the convex estimators, and the
        initialisation.
    verbose : int, default=0
        When positive, print a progress line (steps, best objective, elapsed
        time) every 100 Adam steps and at the end of each run.

    Attributes
    ----------
    gates_ : ndarray of shape (n_neurons, d̃)
        Gate vectors; ``d̃ = n_features_in_ + hidden_bias``.
    hidden_weights_ : ndarray of shape (n_neurons, d̃)
        Hidden-layer weights ``w_j``.
    output_weights_ : ndarray of shape (n_neurons, n_outputs)
        Output weights ``a_j``.
    intercept_ : ndarray of shape (n_outputs,)
        Output intercept ``b``.
    objective_ : float
        Objective at the best weights seen.
    objective_curve_ : ndarray of shape (n_iter\_,)
        Objective at each Adam step.
    n_iter_ : int
        Adam steps taken.
    converged_ : bool
        Whether the stopping rule of ``tol`` was met within ``max_iter``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    See Also
    --------
    convexnn.GatedReLURegressor : The same network fitted to its global optimum.
    NonconvexGatedReLUClassifier : The same baseline for classification.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from convexnn.baselines import NonconvexGatedReLURegressor
    >>> X, y = make_regression(n_samples=40, n_features=3, noise=1.0, random_state=0)
    >>> y = y / y.std()
    >>> model = NonconvexGatedReLURegressor(
    ...     alpha=1e-2, n_patterns=20, tol=1e-4, random_state=0
    ... ).fit(X, y)
    >>> model.converged_
    True
    >>> print(model.score(X, y) >= 0.9)
    True
    """

    _parameter_constraints = {
        **_BaseNonconvexGatedReLU._parameter_constraints,
        "loss": [StrOptions({"squared"})],
    }


class NonconvexGatedReLUClassifier(ClassifierOutputMixin, _BaseNonconvexGatedReLU):
    r"""Gated ReLU classification network trained by Adam (nonconvex baseline).

    The same network and the same objective as
    :class:`~convexnn.GatedReLUClassifier`,

    .. math::
        f\Bigl(\sum_j \mathbf 1[\tilde X g_j > 0](\tilde X w_j) a_j^\top
        + \mathbf 1 b^\top\Bigr) + \frac\alpha2 \sum_j (\|w_j\|^2 + \|a_j\|^2),

    with one neuron per gate and the gates sampled exactly as the convex
    estimator samples them (same ``random_state``, same gates), so the two
    objectives are directly comparable: the convex optimum is never above
    what Adam reaches. Binary problems use one output (logistic or ±1 squared
    targets), several classes one output per class.

    Parameters
    ----------
    alpha : float, default=1e-3
        Weight decay ``alpha/2 (‖W‖² + ‖a‖²)``, as in the convex estimators.
    n_patterns : int, default=100
        Number of gates (one neuron each), sampled as the convex estimator does.
    gates : array-like of shape (n_gates, d̃), default=None
        Fixed gates instead of sampling.
    loss : {"auto", "logistic", "multinomial", "squared"}, default="auto"
        "auto" is "logistic" for two classes and "multinomial" otherwise.
    class_weight : dict, "balanced" or None, default=None
        Class weights multiplying ``sample_weight``: a dict maps labels to
        weights (1 if omitted); "balanced" is ``n / (n_classes · n_k)`` with
        ``n_k`` the total ``sample_weight`` of class ``k`` (its count without).
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept.
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the inputs of the hidden layer.
    learning_rate : float, default=1e-2
        Adam's step size.
    max_iter : int, default=2000
        Maximum number of full-batch Adam steps.
    tol : float, default=1e-6
        Stop when the objective has not improved by this relative amount for
        50 steps.
    warm_start : bool, default=False
        Start from the previous fit's gates and weights instead of new gates
        and a random draw, so that a new fit continues training. A fit with
        new ``gates``, another number of features or of outputs starts anew.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the training runs, as in the convex estimators; "auto" picks
        CUDA when available.
    dtype : {"float32", "float64"}, default=None
        Training precision, as in the convex estimators; None is float64 on
        CPU and float32 on CUDA.
    n_threads : int, default=None
        Intra-op CPU threads (:func:`torch.set_num_threads`) during ``fit``.
        None uses one thread when the solver's operator products are small
        (more threads only slow them down) and torch's current setting
        otherwise; the global setting is restored after the fit.
    random_state : int, RandomState instance or None, default=None
        Seeds the gate sampling, as in the convex estimators, and the
        initialisation.
    verbose : int, default=0
        When positive, print a progress line (steps, best objective, elapsed
        time) every 100 Adam steps and at the end of each run.

    Attributes
    ----------
    gates_ : ndarray of shape (n_neurons, d̃)
        Gate vectors; ``d̃ = n_features_in_ + hidden_bias``.
    hidden_weights_ : ndarray of shape (n_neurons, d̃)
        Hidden-layer weights ``w_j``.
    output_weights_ : ndarray of shape (n_neurons, n_outputs)
        Output weights ``a_j``.
    intercept_ : ndarray of shape (n_outputs,)
        Output intercept ``b``.
    objective_ : float
        Objective at the best weights seen.
    objective_curve_ : ndarray of shape (n_iter\_,)
        Objective at each Adam step.
    n_iter_ : int
        Adam steps taken.
    converged_ : bool
        Whether the stopping rule of ``tol`` was met within ``max_iter``.
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
    convexnn.GatedReLUClassifier : The same network fitted to its global optimum.
    NonconvexGatedReLURegressor : The same baseline for regression.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from convexnn.baselines import NonconvexGatedReLUClassifier
    >>> X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    >>> model = NonconvexGatedReLUClassifier(
    ...     alpha=1e-2, n_patterns=20, tol=1e-4, random_state=0
    ... ).fit(X, y)
    >>> model.converged_, model.predict_proba(X[:3]).shape
    (True, (3, 2))
    >>> print(model.score(X, y) >= 0.9)
    True
    """

    _parameter_constraints = {
        **_BaseNonconvexGatedReLU._parameter_constraints,
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
        fit_intercept=True,
        hidden_bias=True,
        learning_rate=1e-2,
        max_iter=2000,
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
            fit_intercept=fit_intercept,
            hidden_bias=hidden_bias,
            learning_rate=learning_rate,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
            device=device,
            dtype=dtype,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight
