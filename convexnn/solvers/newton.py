r"""The exact Newton finish on the active blocks of a group-lasso problem:
when it applies and its damped steps.

Proximal gradient identifies which blocks are nonzero long before it pins
down their values: on ill-conditioned problems (more coefficients than
samples, strongly correlated blocks, as with gated ReLU) most of its
iterations are spent on the last digits. Once the nonzero blocks ``S`` are
known, the objective restricted to them,

.. math::
    F(u, b) = f(A_S u + \mathbf 1 b) + \alpha \sum_{g\in S} w_g \|u_g\|,

is smooth around the iterate, and Newton's method finishes the job in a few
steps. Its Hessian, factorised in sample or coefficient space, is
:mod:`convexnn.solvers.newton_systems`.

A factorisation is kept while the support stays the same: at later points
its inverse preconditions conjugate gradients on the exact Newton system,
which a stale Hessian on its own would solve only to a fixed fraction (the
norms of blocks that have just entered the support, and with them the
curvatures :math:`c_g`, change by large factors in the first steps). It is
refreshed when conjugate gradients stop converging fast. Blocks that enter
the support join it without a fresh factorisation while the factorised
curvatures are still close (:mod:`convexnn.solvers.newton_extension`): an
entering block is small, its curvature huge, and only its direction along
:math:`\hat u_g` couples to the rest.

Each Newton step is damped by a backtracking line search on the true
objective and followed by one proximal-gradient step on the whole problem,
which lets blocks leave or enter the support. The result is only a candidate:
the caller certifies it with the duality gap of the whole problem, so a
Newton step can speed up a solve but never weaken its certificate.
"""

from __future__ import annotations

import math

import torch

from ..problems import Problem
from .config import SolverConfig
from .newton_extension import _extend
from .newton_systems import (
    _CoefficientSystem,
    _SampleSystem,
    block_weights,
    newton_cost,
    sample_factor,
    system_kind,
)
from .phases import LoopPhase


class NewtonFinish(LoopPhase):
    """Damped Newton steps on the nonzero blocks once they have settled.

    Needs one output, a Euclidean group penalty with positive weights, a loss
    with a diagonal Hessian and an operator that can be restricted to blocks.
    (Whether a support is small enough for a Newton system is
    :func:`~convexnn.solvers.newton_systems.system_kind`'s call at each
    factorisation.) Inside the proximal-gradient loop the support is watched
    once the last certified gap is below ``config.newton_max_gap``; once it
    has not changed for ``config.newton_patience`` iterations, and a
    factorisation costs no more than the iterations done so far (less the
    Newton work already spent), :func:`newton_finish` runs from the iterate.
    Newton's work therefore never exceeds the iterations done, so a problem
    where it does not pay costs at most twice as much.
    """

    name = "Newton finish"
    needs = frozenset(
        {"single_output", "euclidean", "diagonal_hessian", "restrict", "all_samples"}
    )

    def memory(self, problem: Problem, config: SolverConfig) -> float:
        n = problem.operator.n_samples
        samples = 0.0
        if n <= config.sample_system_max_samples:
            samples = float(n * n * config.sample_system_precision.itemsize)
        m = config.newton_max_coefficients
        return max(samples, 8.0 * (m * m + config.newton_max_columns))

    def cost(self, problem: Problem, config: SolverConfig) -> float:
        return newton_cost(problem, problem.n_blocks, config)

    def start(self, run) -> None:
        self.support, self.stable = run.problem.active_blocks(run.x), 0

    def watched(self, run):
        if run.best.relative_gap <= run.config.newton_max_gap:
            return self.support
        return None

    def recover(self, run) -> bool:
        self.stable = 0  # the iterations go on from another point
        return False

    def after_step(self, run, same, active) -> bool:
        problem, config = run.problem, run.config
        self.stable, self.support = (self.stable + 1 if same else 0), active
        if self.stable < config.newton_patience:
            return False
        if run.spent + newton_cost(problem, int(active.sum()), config) > run.n_iter:
            return False
        run.to_full()
        x, Z, spent = newton_finish(
            problem,
            run.x,
            run.Z,
            run.L,
            run.tol * config.newton_tol_factor,
            config,
            budget=run.n_iter - run.spent,
        )
        run.restart(x, Z)
        run.spent += spent
        self.support, self.stable = problem.active_blocks(x), 0
        return True


def newton_finish(
    problem: Problem,
    x: torch.Tensor,
    Z: torch.Tensor,
    lipschitz: float,
    tol: float,
    config: SolverConfig,
    budget: float = math.inf,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Improve ``x`` (outputs ``Z``) by damped Newton steps on its nonzero
    blocks, each followed by a proximal-gradient step of size ``1/lipschitz``.

    A factorised Hessian is reused as long as the support stays the same or
    only grows (:func:`~convexnn.solvers.newton_extension._extend`): at a
    later point it preconditions conjugate gradients on the exact Newton
    system (an iteration costs four products with the blocks' operator,
    against an ``n × n`` factorisation for a fresh Hessian), until a step
    needs ``config.newton_max_cg`` iterations. Stops when the Newton
    decrement (about twice the remaining decrease) falls below ``tol`` times
    the objective, after ``config.newton_max_steps`` steps, or
    at a fresh factorisation beyond ``config.newton_max_factorisations``.
    ``problem`` must meet the needs of :class:`NewtonFinish`. Returns the new point
    (never worse than ``x``), its outputs, and the work done in
    proximal-gradient iterations:
    :func:`~convexnn.solvers.newton_systems.newton_cost` per factorisation,
    ``config.newton_step_cost`` per step and ``config.newton_cg_cost`` per
    conjugate-gradient iteration and per block an extension adds;
    infinite work when a sample-space system is due
    and the operator cannot form the Gram matrix
    :meth:`~convexnn.problems.LinearOperator.sample_gram`, so that a caller
    comparing work never tries again. The finish stops early when the support
    outgrows both kinds of system
    (:func:`~convexnn.solvers.newton_systems.system_kind`).
    """
    value = problem.objective(x, Z)
    system, spent, factorisations = None, 0.0, 0
    for _ in range(config.newton_max_steps):
        blocks = problem.active_blocks(x).nonzero().squeeze(1)
        if len(blocks) == 0:
            break
        extended = None if system is None else _extend(system, x, Z, blocks, config)
        if extended is not None:
            spent += config.newton_cg_cost * (len(blocks) - len(system.blocks))
            system = extended
        elif system is None or not torch.equal(blocks, system.blocks):
            kind = system_kind(problem, len(blocks), config)
            cost = newton_cost(problem, len(blocks), config)
            if kind is None or (spent > 0 and spent + cost > budget):
                break
            if factorisations == config.newton_max_factorisations:
                break  # the support keeps changing: proximal gradient first
            factorisations += 1
            spent += cost
            system = None  # its memory can take the new system's
            scale = block_weights(problem, x, blocks)
            if kind == "coefficients":
                system = _CoefficientSystem(problem, x, Z, blocks, scale)
            else:
                if "sample_gram" not in problem.capabilities:
                    return x, Z, math.inf
                root = problem.loss.hessian_diagonal(Z).sqrt()  # Q^½
                factor = sample_factor(
                    problem, blocks, scale, root, config.sample_system_precision
                )
                system = _SampleSystem(problem, x, Z, blocks, scale, factor)
        # the last step only shows that the decrement is small: with a
        # factorised Hessian from an earlier point, its estimate suffices
        step, decrement, iterations = system.step(
            x, Z, config, enough=config.newton_estimate_margin * tol * abs(value)
        )
        spent += config.newton_step_cost + config.newton_cg_cost * iterations
        if not decrement > tol * abs(value):
            break  # also when the decrement is not finite
        if iterations >= config.newton_max_cg:
            system = None  # this Hessian no longer pays: refresh it next time
        x, Z, value = _line_search(problem, x, Z, value, step, decrement)
        # one proximal-gradient step: blocks may leave or enter the support
        gradient = problem.rmatvec(problem.loss.gradient(Z))
        moved = problem.prox(x - gradient / lipschitz, 1.0 / lipschitz)
        moved_Z = problem.matvec(moved)
        moved_value = problem.objective(moved, moved_Z)
        if moved_value <= value:
            x, Z, value = moved, moved_Z, moved_value
    return x, Z, spent


def _line_search(problem, x, Z, value, step, decrement):
    """Backtracking along ``-step`` with an Armijo test; returns ``x`` itself
    when no step size lowers the objective.

    A block that the step would carry through zero (its direction reversed)
    wants to leave the support, which the smooth model cannot express: such
    blocks are set to zero instead."""
    size = 1.0
    group_size = problem.penalty.group_size
    before = problem.split(x)[0].view(-1, group_size)
    while size > 1e-8:
        candidate = x - size * step
        after = problem.split(candidate)[0].view(-1, group_size)
        after[(before * after).sum(1) < 0] = 0
        candidate_Z = problem.matvec(candidate)
        candidate_value = problem.objective(candidate, candidate_Z)
        if candidate_value <= value - 1e-4 * size * decrement:
            return candidate, candidate_Z, candidate_value
        size *= 0.5
    return x, Z, value
