"""What the nonconvex baselines share: the Adam loop and the estimator around it.

A baseline estimator subclasses :class:`AdamBaseline` and implements
``_network(backend, hidden, output, bias)``, which builds its
:class:`torch.nn.Module` from weights; ``_fit`` then draws random weights,
builds the network with them, trains it by :func:`train_adam`, and keeps the
trained weights — the same steps for every architecture.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import nn

from .._backend import CPU64, Backend
from .._sklearn_compat import Interval
from ..estimators._base import NetworkOutputsMixin
from ..estimators._fitting import NETWORK_PARAMETERS, warn_not_converged
from ..estimators._warm_start import WARM_START_PARAMETERS
from ..problems import Loss
from ..solvers.progress import report, timed


@dataclass
class TrainingResult:
    """Final objective (float64), its history, and the number of Adam steps."""

    objective: float
    objective_curve: np.ndarray
    n_iter: int
    converged: bool


#: Adam steps between two progress lines of a verbose fit.
REPORT_EVERY = 100


@timed
@torch.enable_grad()
def train_adam(
    network: nn.Module,
    X: torch.Tensor,
    loss: Loss,
    alpha: float,
    *,
    learning_rate: float,
    max_iter: int,
    tol: float,
    patience: int = 50,
    verbose: int = 0,
) -> TrainingResult:
    r"""Minimise :math:`f(\text{network}(X)) + \alpha\,\text{network.weight\_decay}()`
    by full-batch Adam.

    Stops when the best objective has not improved by a relative ``tol`` for
    ``patience`` consecutive steps, or after ``max_iter`` steps. The weights
    left in ``network`` are the best seen. With ``verbose``, prints the best
    objective every :data:`REPORT_EVERY` steps and at the end
    (:func:`~convexnn.solvers.progress.report`; no gap: the problem is not
    convex). Gradients are enabled inside, so a fit called under the user's
    :func:`torch.no_grad` still trains (and their setting holds again
    afterwards).
    """
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    curve = np.empty(max_iter)
    best, best_state, stalled = np.inf, None, 0
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        optimizer.zero_grad(set_to_none=True)
        objective = loss(network(X)) + alpha * network.weight_decay()
        value = float(objective.detach())
        curve[n_iter - 1] = value
        if value < best * (1 - tol):
            stalled = 0
        else:
            stalled += 1
        if value < best:
            best = value
            best_state = {
                k: v.detach().clone() for k, v in network.state_dict().items()
            }
        if stalled >= patience:
            break
        if verbose and n_iter % REPORT_EVERY == 0 and n_iter < max_iter:
            report("Adam", n_iter, best, None)
        objective.backward()
        optimizer.step()
    network.load_state_dict(best_state)
    with torch.no_grad():
        final = loss.value(network(X)) + alpha * float(network.weight_decay())
    if verbose:
        report("Adam", n_iter, final, None)
    return TrainingResult(final, curve[:n_iter], n_iter, stalled >= patience)


class AdamBaseline(NetworkOutputsMixin, BaseEstimator):
    """Two-layer networks trained by :func:`train_adam`, as estimators.

    Subclasses implement ``_network(backend, hidden, output, bias)`` (the
    module with these weights on ``backend``) and ``_fit``, which calls
    :meth:`_train` once per random start it wants and :meth:`_keep` on the
    run it keeps.
    """

    _parameter_constraints = {
        **NETWORK_PARAMETERS,
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        **WARM_START_PARAMETERS,
    }

    @staticmethod
    def _weight_shapes(n_neurons: int | None, n_features: int, n_outputs: int):
        """The shapes of the fitted weights, by attribute, in the order
        :meth:`_train` takes them as a start (``None``: any number of neurons)."""
        return {
            "hidden_weights_": (n_neurons, n_features),
            "output_weights_": (n_neurons, n_outputs),
            "intercept_": (n_outputs,),
        }

    def _train(
        self,
        backend: Backend,
        X: torch.Tensor,
        loss: Loss,
        shape: tuple[int, int, int],
        rng: np.random.RandomState,
        start: tuple | None = None,
    ) -> tuple[nn.Module, TrainingResult]:
        """Train a network from the weights ``start`` or a random start.

        ``shape`` is ``(n_neurons, d̃, n_outputs)``; random weights are drawn
        with variance ``1/d̃`` (hidden) and ``1/n_neurons`` (output), the
        intercept starts at zero; it is trained only when ``fit_intercept``.
        """
        n_neurons, n_features, n_outputs = shape
        if start is None:
            hidden = rng.standard_normal((n_neurons, n_features)) / np.sqrt(n_features)
            output = rng.standard_normal((n_neurons, n_outputs)) / np.sqrt(n_neurons)
            start = hidden, output, np.zeros(n_outputs)
        # copies: training writes into the weights, never into fitted arrays
        network = self._network(backend, *(backend.tensor(w).clone() for w in start))
        network.bias.requires_grad_(self.fit_intercept)
        result = train_adam(
            network,
            X,
            loss,
            self.alpha,
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            tol=self.tol,
            verbose=self.verbose,
        )
        return network, result

    def _keep(self, network: nn.Module, result: TrainingResult) -> None:
        """Store the trained ``network``'s weights and its run's record."""
        self.hidden_weights_, self.output_weights_, self.intercept_ = (
            network.numpy_weights()
        )
        self.objective_ = result.objective
        self.objective_curve_ = result.objective_curve
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        if not result.converged:
            warn_not_converged(self, "its objective still decreasing")

    def to_torch(self) -> nn.Module:
        """The trained network as a float64 CPU :class:`torch.nn.Module`.

        The weights are copies: changing the module leaves the estimator as it
        is.

        Returns
        -------
        torch.nn.Module
            The network of the fitted weights.
        """
        return self._network(
            CPU64,
            CPU64.tensor(self.hidden_weights_).clone(),
            CPU64.tensor(self.output_weights_).clone(),
            CPU64.tensor(self.intercept_).clone(),
        )
