r"""Checking that ``to_torch()`` is the fitted convex model, as a network."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from torch import nn

from ._certificates import assert_relatively_close
from ._formulas import (
    convex_outputs,
    convex_penalty,
    fitted_alpha,
    formula_kind,
    mean_loss,
    training_targets,
)


def network_outputs(network: nn.Module, X: ArrayLike) -> np.ndarray:
    """Outputs ``(n_samples, n_outputs)`` of a float64 CPU ``network`` on ``X``."""
    with torch.no_grad():
        X_tensor = torch.as_tensor(np.asarray(X, dtype=np.float64))
        return network(X_tensor).double().numpy()


def network_objective(
    network: nn.Module, X: ArrayLike, y: ArrayLike, estimator: BaseEstimator
) -> float:
    r"""Loss plus weight decay :math:`f(\text{network}(X), Y) + \alpha\,\text{wd}`.

    ``Y`` and the loss are those ``estimator`` (fitted) uses for ``y``; ``alpha``
    is the one it was fitted at and ``wd`` the network's ``weight_decay()``.
    """
    Y, loss, _ = training_targets(estimator, y)
    with torch.no_grad():
        weight_decay = float(network.weight_decay())
    return mean_loss(network_outputs(network, X), Y, loss) + (
        fitted_alpha(estimator) * weight_decay
    )


def _network_penalty(estimator) -> float:
    """The weight decay ``to_torch()`` should have: the fitted penalty, except
    that a gated network always pays the nuclear norm of each block."""
    if formula_kind(estimator) == "gated":
        return float(np.linalg.norm(estimator.coef_, ord="nuc", axis=(1, 2)).sum())
    return convex_penalty(estimator)


def assert_network_reproduces(
    estimator: BaseEstimator,
    X: ArrayLike,
    y: ArrayLike | None = None,
    *,
    atol: float = 1e-8,
    rtol: float = 1e-8,
) -> None:
    r"""Assert that ``estimator.to_torch()`` computes the fitted convex model.

    Two checks, against the convex formula evaluated from ``coef_``,
    ``gates_`` and ``intercept_`` (not against ``predict``, which may itself go
    through the network):

    1. the network's outputs on ``X`` equal the convex model's,
       :math:`|\text{net}(X) - \hat Z(X)| \le \text{atol} + \text{rtol}\,|\hat Z(X)|`
       entrywise;
    2. when ``y`` is given, the network's training objective — mean loss plus
       ``alpha`` times ``weight_decay()`` — equals ``objective_`` up to ``rtol``.
       A gated network's weight decay is the nuclear norm of each block, so
       with ``group_norm="frobenius"`` and several outputs the expected value is
       ``objective_`` plus ``alpha`` times the difference of the two norms.

    Parameters
    ----------
    estimator : fitted gated ReLU or convex ReLU estimator
    X : array-like of shape (n_samples, n_features)
        Points to compare on. Convex ReLU networks agree with the convex
        formula only where its cone constraints hold: pass the training data
        (up to ``constraint_violation_``, relative to the outputs' scale).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
        The training targets of ``X``; required for check 2.
    atol, rtol : float
        Tolerances of the two checks.

    Raises
    ------
    AssertionError
        With the largest difference and where it occurs, or both objectives.
    """
    expected = convex_outputs(estimator, X)
    network = estimator.to_torch()
    outputs = network_outputs(network, X)
    excess = np.abs(outputs - expected) - (atol + rtol * np.abs(expected))
    if excess.max(initial=-np.inf) > 0:
        worst = np.unravel_index(excess.argmax(), excess.shape)
        raise AssertionError(
            f"{type(estimator).__name__}.to_torch() does not reproduce the convex "
            f"model: at sample {worst[0]}, output {worst[1]} the network gives "
            f"{outputs[worst]:.12g} and the convex formula {expected[worst]:.12g} "
            f"(|difference| {abs(outputs[worst] - expected[worst]):.3g} > "
            f"atol={atol:g} + rtol={rtol:g} × |convex|); {int((excess > 0).sum())} "
            f"of {excess.size} entries differ."
        )
    if y is None:
        return
    objective = network_objective(network, X, y, estimator)
    target = estimator.objective_ + fitted_alpha(estimator) * (
        _network_penalty(estimator) - convex_penalty(estimator)
    )
    assert_relatively_close(
        objective,
        target,
        rtol,
        f"{type(estimator).__name__}.to_torch() has training objective "
        f"(mean loss + alpha × weight_decay) {objective:.12g}, but the fitted "
        f"model reports {target:.12g} (objective_ = {estimator.objective_:.12g})",
    )
