"""One proximal-gradient step with the backtracking line search of
:mod:`convexnn.solvers.fista`."""

from __future__ import annotations

import torch

from ..problems import Loss, Problem

#: Doublings of the step-size estimate before the line search gives up: a
#: guard, not a tuning knob (``L`` grows by ``2²⁰⁰``, which only iterates that
#: are no longer finite exhaust).
_MAX_BACKTRACKS = 200
#: Squared relative size of a step that rounding errors alone could make.
_EPSILON_SQUARED = 1e-30


def _squared_norm(a: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a)) ** 2


def _measures(
    loss: Loss,
    step: torch.Tensor,
    output_step: torch.Tensor,
    drift: torch.Tensor,
    flag: torch.Tensor | None = None,
) -> tuple[float, float, float, bool]:
    """``‖step‖²``, ``‖output_step‖²`` (over the samples of every process,
    :meth:`Loss.norm`), ``⟨step, drift⟩`` and the boolean ``flag`` (``False``
    when absent), read from the device in one synchronisation."""
    values = [
        torch.linalg.vector_norm(step),
        loss.norm(output_step),
        torch.vdot(step.view(-1), drift.view(-1)),
    ]
    if flag is not None:
        values.append(flag.to(step.dtype))
    values = [*torch.stack(values).tolist(), 0.0]
    return values[0] ** 2, values[1] ** 2, values[2], values[3] > 0


def _inner(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.vdot(a.view(-1), b.view(-1)))


def proximal_step(
    problem: Problem,
    y: torch.Tensor,
    Zy: torch.Tensor,
    x: torch.Tensor,
    L: float,
    curvature: float,
    support: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, float, float, bool, torch.Tensor | None]:
    """One proximal-gradient step from ``y`` (outputs ``Zy``) with the line
    search of :mod:`convexnn.solvers.fista`; ``x`` is the previous iterate.
    Returns the new point, its outputs, the accepted ``L``,
    ``⟨x⁺ − y, x⁺ − x⟩`` (the restart test), and, when ``support`` is given,
    whether the new point's nonzero blocks are ``support`` and what they
    are."""
    gradient = problem.rmatvec(problem.loss.gradient(Zy))
    f_y = None
    for _ in range(_MAX_BACKTRACKS):
        x_new = problem.prox(torch.add(y, gradient, alpha=-1.0 / L), 1.0 / L)
        Z_new = problem.matvec(x_new)
        step = x_new - y
        active = same = None
        if support is not None:  # whether the support changed, read with the measures
            active = problem.active_blocks(x_new)
            same = (active == support).all()
        step_norm, output_norm, uphill, same = _measures(
            problem.loss, step, Z_new - Zy, x_new - x, same
        )
        if curvature * output_norm <= L * step_norm:
            break
        if step_norm <= _EPSILON_SQUARED * _squared_norm(y):
            break  # a fixed point: the test only measures rounding errors
        # the test above is the descent test of an unweighted quadratic loss;
        # with sample weights it bounds every weight by the largest
        if not problem.loss.quadratic or problem.loss.sample_weight is not None:
            if f_y is None:
                f_y = problem.loss.value(Zy)
            upper = f_y + _inner(gradient, step) + 0.5 * L * step_norm
            if problem.loss.value(Z_new) <= upper:
                break
        L *= 2.0
    else:
        raise FloatingPointError(
            "the line search found no step size: the iterates are not finite. "
            "Standardise X (and y), or use dtype='float64'."
        )
    return x_new, Z_new, L, uphill, same, active
