"""The training loop shared by the nonconvex baselines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..problems import Loss


@dataclass
class TrainingResult:
    """Final objective (float64), its history, and the number of Adam steps."""

    objective: float
    objective_curve: np.ndarray
    n_iter: int
    converged: bool


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
) -> TrainingResult:
    r"""Minimise :math:`f(\text{network}(X)) + \alpha\,\text{network.weight\_decay}()`
    by full-batch Adam.

    Stops when the best objective has not improved by a relative ``tol`` for
    ``patience`` consecutive steps, or after ``max_iter`` steps. The weights
    left in ``network`` are the best seen.
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
        objective.backward()
        optimizer.step()
    network.load_state_dict(best_state)
    with torch.no_grad():
        final = loss.value(network(X)) + alpha * float(network.weight_decay())
    return TrainingResult(final, curve[:n_iter], n_iter, stalled >= patience)
