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
from ..estimators._base import ClassifierOutputMixin, RegressorOutputMixin
from ..networks import GatedReLUNetwork
from ..patterns import lift, resolve_gates
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
        device="auto",
        dtype=None,
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
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def _network(self, backend, hidden, output, bias):
        gates = backend.tensor(self.gates_)
        return GatedReLUNetwork(gates, hidden, output, bias, self.hidden_bias)

    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str):
        backend = Backend.from_params(self.device, self.dtype)
        rng = check_random_state(self.random_state)
        gates = resolve_gates(
            self.gates, lift(X, self.hidden_bias), self.n_patterns, rng
        )
        self.gates_ = np.asarray(gates, dtype=np.float64)
        shape = (*gates.shape, Y.shape[1])
        data_loss = LOSSES[loss](backend.tensor(Y))
        self._keep(*self._train(backend, backend.tensor(X), data_loss, shape, rng))


_DOC = r"""{summary}

    Parameters
    ----------
    alpha : float, default=1e-3
        Weight decay ``alpha/2 (‖W‖² + ‖a‖²)``, as in the convex estimators.
    n_patterns : int, default=100
        Number of gates (one neuron each), sampled as the convex estimator does.
    gates : array-like of shape (n_gates, d̃), default=None
        Fixed gates instead of sampling.
    loss : {loss}
    fit_intercept : bool, default=True
    hidden_bias : bool, default=True
    learning_rate : float, default=1e-2
        Adam's step size.
    max_iter : int, default=2000
        Maximum number of full-batch Adam steps.
    tol : float, default=1e-6
        Stop when the objective has not improved by this relative amount for
        50 steps.
    device, dtype, random_state, verbose
        As in the convex estimators; ``random_state`` also seeds the
        initialisation.

    Attributes
    ----------
    gates_ : ndarray of shape (n_neurons, d̃)
    hidden_weights_ : ndarray of shape (n_neurons, d̃)
    output_weights_ : ndarray of shape (n_neurons, n_outputs)
    intercept_ : ndarray of shape (n_outputs,)
    objective_ : float
        Objective at the best weights seen.
    objective_curve_ : ndarray of shape (n_iter\_,)
        Objective at each Adam step.
    n_iter_ : int
    converged_ : bool
"""


class NonconvexGatedReLURegressor(RegressorOutputMixin, _BaseNonconvexGatedReLU):
    __doc__ = _DOC.format(
        summary="Gated ReLU regression network trained by Adam (nonconvex baseline).",
        loss='{"squared"}, default="squared"',
    )

    _parameter_constraints = {
        **_BaseNonconvexGatedReLU._parameter_constraints,
        "loss": [StrOptions({"squared"})],
    }


class NonconvexGatedReLUClassifier(ClassifierOutputMixin, _BaseNonconvexGatedReLU):
    __doc__ = _DOC.format(
        summary="Gated ReLU classification network trained by Adam (nonconvex "
        "baseline).",
        loss='{"auto", "logistic", "multinomial", "squared"}, default="auto"',
    )

    _parameter_constraints = {
        **_BaseNonconvexGatedReLU._parameter_constraints,
        "loss": [StrOptions({"auto", "logistic", "multinomial", "squared"})],
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_patterns=100,
        gates=None,
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
            n_patterns=n_patterns,
            gates=gates,
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
