r"""Two-layer ReLU networks trained the nonconvex way, by Adam.

The same network and objective as :mod:`convexnn.estimators.convex`,

.. math::
    f\Bigl(\sum_{j=1}^m (\tilde Xw_j)_+ a_j^\top + \mathbf 1b^\top\Bigr)
    + \frac\alpha2\sum_j (\|w_j\|^2 + \|a_j\|^2),

trained from random initialisations by full-batch Adam, keeping the best of
``n_restarts`` runs. With enough neurons and all activation patterns the
convex optimum is the global minimum of this objective, so Adam never gets
below it: these estimators are the reference the property tests compare
against.
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
from ..estimators._warm_start import previous_solution
from ..networks import ReLUNetwork
from ..problems import LOSSES
from ._base import AdamBaseline


class _BaseNonconvexReLU(AdamBaseline):
    _parameter_constraints = {
        **AdamBaseline._parameter_constraints,
        "n_neurons": [Interval(Integral, 1, None, closed="left")],
        "n_restarts": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_neurons=100,
        n_restarts=1,
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
        self.n_neurons = n_neurons
        self.n_restarts = n_restarts
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
        return ReLUNetwork(hidden, output, bias, self.hidden_bias)

    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str, sample_weight=None):
        backend = Backend.from_params(self.device, self.dtype)
        rng = check_random_state(self.random_state)
        shape = (self.n_neurons, X.shape[1] + self.hidden_bias, Y.shape[1])
        X_tensor, data_loss = (
            backend.tensor(X),
            LOSSES[loss](backend.tensor(Y), sample_weight),
        )
        # a warm start continues the previous weights in the first run
        previous = previous_solution(self, self._weight_shapes(*shape))
        first = None if previous is None else tuple(previous.values())
        starts = [first] + [None] * (self.n_restarts - 1)
        runs = [
            self._train(backend, X_tensor, data_loss, shape, rng, start)
            for start in starts
        ]
        objectives = np.array([result.objective for _, result in runs])
        self._keep(*runs[int(objectives.argmin())])
        self.restart_objectives_ = objectives


class NonconvexReLURegressor(RegressorOutputMixin, _BaseNonconvexReLU):
    r"""Two-layer ReLU regression network trained by Adam (nonconvex baseline).

    The same network and objective as :class:`~convexnn.ConvexReLURegressor`,

    .. math::
        f\Bigl(\sum_{j=1}^m (\tilde Xw_j)_+ a_j^\top + \mathbf 1b^\top\Bigr)
        + \frac\alpha2\sum_j (\|w_j\|^2 + \|a_j\|^2),

    trained from random initialisations by full-batch Adam, keeping the best
    of ``n_restarts`` runs. With enough neurons and all activation patterns
    the convex optimum is the global minimum of this objective, so Adam never
    gets below it. Here ``f`` is the mean squared loss.

    Parameters
    ----------
    alpha : float, default=1e-3
        Weight decay ``alpha/2 (‖W‖² + ‖a‖²)``, as in the convex estimators.
    n_neurons : int, default=100
        Hidden width.
    n_restarts : int, default=1
        Independent random initialisations; the run with the lowest final
        objective is kept.
    loss : {"squared"}, default="squared"
        The mean squared loss.
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept.
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the hidden layer's inputs.
    learning_rate : float, default=1e-2
        Adam's step size.
    max_iter : int, default=2000
        Maximum number of full-batch Adam steps per restart.
    tol : float, default=1e-6
        Stop a run when its objective has not improved by this relative amount
        for 50 steps.
    warm_start : bool, default=False
        Start the first run from the previous fit's weights instead of a
        random draw (the other ``n_restarts − 1`` runs start at random), so
        that a new fit continues training. A fit with another number of
        neurons, features or outputs starts at random.
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
        Seeds the initialisations.
    verbose : int, default=0
        When positive, print a progress line (steps, best objective, elapsed
        time) every 100 Adam steps and at the end of each run.

    Attributes
    ----------
    hidden_weights_ : ndarray of shape (n_neurons, d̃)
        Hidden-layer weights ``w_j``; ``d̃ = n_features_in_ + hidden_bias``.
    output_weights_ : ndarray of shape (n_neurons, n_outputs)
        Output weights ``a_j``.
    intercept_ : ndarray of shape (n_outputs,)
        Output intercept ``b``.
    objective_ : float
        Objective of the kept run at its best weights.
    restart_objectives_ : ndarray of shape (n_restarts,)
        Final objective of every run.
    objective_curve_ : ndarray of shape (n_iter\_,)
        Objective at each Adam step of the kept run.
    n_iter_ : int
        Adam steps of the kept run.
    converged_ : bool
        Whether the kept run met the stopping rule of ``tol`` within
        ``max_iter``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    See Also
    --------
    convexnn.ConvexReLURegressor : The same network fitted to its global optimum.
    NonconvexReLUClassifier : The same baseline for classification.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from convexnn.baselines import NonconvexReLURegressor
    >>> X, y = make_regression(n_samples=40, n_features=3, noise=1.0, random_state=0)
    >>> y = y / y.std()
    >>> model = NonconvexReLURegressor(
    ...     alpha=1e-2, n_neurons=20, tol=1e-4, random_state=0
    ... ).fit(X, y)
    >>> model.converged_
    True
    >>> print(model.score(X, y) >= 0.9)
    True
    """

    _parameter_constraints = {
        **_BaseNonconvexReLU._parameter_constraints,
        "loss": [StrOptions({"squared"})],
    }


class NonconvexReLUClassifier(ClassifierOutputMixin, _BaseNonconvexReLU):
    r"""Two-layer ReLU classification network trained by Adam (nonconvex baseline).

    The same network and objective as :class:`~convexnn.ConvexReLUClassifier`,

    .. math::
        f\Bigl(\sum_{j=1}^m (\tilde Xw_j)_+ a_j^\top + \mathbf 1b^\top\Bigr)
        + \frac\alpha2\sum_j (\|w_j\|^2 + \|a_j\|^2),

    trained from random initialisations by full-batch Adam, keeping the best
    of ``n_restarts`` runs. With enough neurons and all activation patterns
    the convex optimum is the global minimum of this objective, so Adam never
    gets below it. Binary problems use one output (logistic or ±1 squared
    targets), several classes one output per class.

    Parameters
    ----------
    alpha : float, default=1e-3
        Weight decay ``alpha/2 (‖W‖² + ‖a‖²)``, as in the convex estimators.
    n_neurons : int, default=100
        Hidden width.
    n_restarts : int, default=1
        Independent random initialisations; the run with the lowest final
        objective is kept.
    loss : {"auto", "logistic", "multinomial", "squared"}, default="auto"
        "auto" is "logistic" for two classes and "multinomial" otherwise.
    class_weight : dict, "balanced" or None, default=None
        Class weights multiplying ``sample_weight``: a dict maps labels to
        weights (1 if omitted); "balanced" is ``n / (n_classes · n_k)`` with
        ``n_k`` the total ``sample_weight`` of class ``k`` (its count without).
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept.
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the hidden layer's inputs.
    learning_rate : float, default=1e-2
        Adam's step size.
    max_iter : int, default=2000
        Maximum number of full-batch Adam steps per restart.
    tol : float, default=1e-6
        Stop a run when its objective has not improved by this relative amount
        for 50 steps.
    warm_start : bool, default=False
        Start the first run from the previous fit's weights instead of a
        random draw (the other ``n_restarts − 1`` runs start at random), so
        that a new fit continues training. A fit with another number of
        neurons, features or outputs starts at random.
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
        Seeds the initialisations.
    verbose : int, default=0
        When positive, print a progress line (steps, best objective, elapsed
        time) every 100 Adam steps and at the end of each run.

    Attributes
    ----------
    hidden_weights_ : ndarray of shape (n_neurons, d̃)
        Hidden-layer weights ``w_j``; ``d̃ = n_features_in_ + hidden_bias``.
    output_weights_ : ndarray of shape (n_neurons, n_outputs)
        Output weights ``a_j``.
    intercept_ : ndarray of shape (n_outputs,)
        Output intercept ``b``.
    objective_ : float
        Objective of the kept run at its best weights.
    restart_objectives_ : ndarray of shape (n_restarts,)
        Final objective of every run.
    objective_curve_ : ndarray of shape (n_iter\_,)
        Objective at each Adam step of the kept run.
    n_iter_ : int
        Adam steps of the kept run.
    converged_ : bool
        Whether the kept run met the stopping rule of ``tol`` within
        ``max_iter``.
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
    convexnn.ConvexReLUClassifier : The same network fitted to its global optimum.
    NonconvexReLURegressor : The same baseline for regression.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from convexnn.baselines import NonconvexReLUClassifier
    >>> X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    >>> model = NonconvexReLUClassifier(
    ...     alpha=1e-2, n_neurons=20, tol=1e-4, random_state=0
    ... ).fit(X, y)
    >>> model.converged_, model.predict_proba(X[:3]).shape
    (True, (3, 2))
    >>> print(model.score(X, y) >= 0.9)
    True
    """

    _parameter_constraints = {
        **_BaseNonconvexReLU._parameter_constraints,
        "loss": [StrOptions({"auto", "logistic", "multinomial", "squared"})],
        **CLASS_WEIGHT,
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_neurons=100,
        n_restarts=1,
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
            n_neurons=n_neurons,
            n_restarts=n_restarts,
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
