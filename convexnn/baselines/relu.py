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
from ..estimators._base import ClassifierOutputMixin, RegressorOutputMixin
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
        device="auto",
        dtype=None,
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
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def _network(self, backend, hidden, output, bias):
        return ReLUNetwork(hidden, output, bias, self.hidden_bias)

    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str):
        backend = Backend.from_params(self.device, self.dtype)
        rng = check_random_state(self.random_state)
        shape = (self.n_neurons, X.shape[1] + self.hidden_bias, Y.shape[1])
        X_tensor, data_loss = backend.tensor(X), LOSSES[loss](backend.tensor(Y))
        runs = [
            self._train(backend, X_tensor, data_loss, shape, rng)
            for _ in range(self.n_restarts)
        ]
        objectives = np.array([result.objective for _, result in runs])
        if self.verbose:
            print(f"restart objectives: {objectives}")
        self._keep(*runs[int(objectives.argmin())])
        self.restart_objectives_ = objectives


_DOC = """{summary}

    Parameters
    ----------
    alpha : float, default=1e-3
        Weight decay ``alpha/2 (‖W‖² + ‖a‖²)``, as in the convex estimators.
    n_neurons : int, default=100
        Hidden width.
    n_restarts : int, default=1
        Independent random initialisations; the run with the lowest final
        objective is kept.
    loss : {loss}
    fit_intercept : bool, default=True
    hidden_bias : bool, default=True
        Append a (penalised) column of ones to the hidden layer's inputs.
    learning_rate : float, default=1e-2
        Adam's step size.
    max_iter : int, default=2000
        Maximum number of full-batch Adam steps per restart.
    tol : float, default=1e-6
        Stop a run when its objective has not improved by this relative amount
        for 50 steps.
    device, dtype, verbose
        As in the convex estimators.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations.

    Attributes
    ----------
    hidden_weights_ : ndarray of shape (n_neurons, d̃)
    output_weights_ : ndarray of shape (n_neurons, n_outputs)
    intercept_ : ndarray of shape (n_outputs,)
    objective_ : float
        Objective of the kept run at its best weights.
    restart_objectives_ : ndarray of shape (n_restarts,)
        Final objective of every run.
    objective_curve_ : ndarray of shape (n_iter\\_,)
        Objective at each Adam step of the kept run.
    n_iter_ : int
    converged_ : bool
"""


class NonconvexReLURegressor(RegressorOutputMixin, _BaseNonconvexReLU):
    __doc__ = _DOC.format(
        summary="Two-layer ReLU regression network trained by Adam (nonconvex "
        "baseline).",
        loss='{"squared"}, default="squared"',
    )

    _parameter_constraints = {
        **_BaseNonconvexReLU._parameter_constraints,
        "loss": [StrOptions({"squared"})],
    }


class NonconvexReLUClassifier(ClassifierOutputMixin, _BaseNonconvexReLU):
    __doc__ = _DOC.format(
        summary="Two-layer ReLU classification network trained by Adam "
        "(nonconvex baseline).",
        loss='{"auto", "logistic", "multinomial", "squared"}, default="auto"',
    )

    _parameter_constraints = {
        **_BaseNonconvexReLU._parameter_constraints,
        "loss": [StrOptions({"auto", "logistic", "multinomial", "squared"})],
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_neurons=100,
        n_restarts=1,
        loss="auto",
        fit_intercept=True,
        hidden_bias=True,
        learning_rate=1e-2,
        max_iter=2000,
        tol=1e-6,
        device="auto",
        dtype=None,
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
            device=device,
            dtype=dtype,
            random_state=random_state,
            verbose=verbose,
        )
