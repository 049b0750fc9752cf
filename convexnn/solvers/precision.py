r"""Which precision a solve iterates in, and in which it certifies.

A problem is *certified* in float64 whatever its own precision
(:meth:`~convexnn.problems.Problem.certifying_problem`): a float32 problem's
certificates convert the iterate (exactly) to float64 and recompute its
outputs with float64 products on a float64 copy of the data, built once per
problem. The *iterations* of a solve run in two phases, the same two for a
float64 and a float32 problem, mirror images of each other:

* a float64 problem whose operator converts starts in float32, where products
  cost about half as much, and goes on in float64 once its certified gap is
  below ``config.single_precision_switch_gap``;
* a float32 problem starts in float32, its own precision, and goes on in
  float64 — on the float64 copy its certificates use — once its certified gap
  is below ``config.float32_switch_gap``, the level from which float32
  rounding in the gradients stalls the iterates.

Both also switch when the objective stalls between two checkpoints
(``config.single_precision_stall``) and before a Newton method, which needs
float64 products; when a step of the first phase fails (an overflow) they go
on in float64 from the best point certified so far. :func:`phases` gives a
solver its two problems, :class:`LowerPrecisionStart` is the first phase in
the proximal-gradient loop (:func:`~convexnn.solvers.fista`),
:func:`switch_gap` the gap at which it ends, and :func:`in_precision` turns a
certificate of the float64 problem into one of the problem the caller gave,
in its precision, so that ``primal`` is the float64 objective of exactly the
point returned.
"""

from __future__ import annotations

import math

import torch

from ..problems import Certificate, Problem
from .config import SolverConfig
from .phases import LoopPhase


def phases(problem: Problem, single_precision: bool = True) -> tuple[Problem, Problem]:
    """The problems of a solve's two phases: ``(full, first)``.

    ``full`` is the problem certified, finished by Newton's methods and
    iterated on after the switch: ``problem`` itself in float64, its float64
    copy (:meth:`~convexnn.problems.Problem.certifying_problem`) for a
    lower-precision problem whose operator converts, and ``problem`` itself
    otherwise. ``first`` is the problem the iterations start on: a float32
    copy of a float64 problem whose operator converts (when
    ``single_precision``), a lower-precision ``problem`` itself, and ``full``
    otherwise (a solve with a single phase).

    Parameters
    ----------
    problem : Problem
        The problem to solve.
    single_precision : bool
        Whether a float64 problem starts its iterations in float32. A
        lower-precision problem always starts in its own precision.

    Returns
    -------
    full, first : Problem
        The float64 problem and the problem of the first phase; the same
        object when there is one phase.
    """
    full = problem.certifying_problem()
    if full is not problem:
        return full, problem
    float64 = problem.operator.dtype == torch.float64
    if single_precision and float64 and "astype" in problem.capabilities:
        return problem, problem.astype(torch.float32)
    return problem, problem


def switch_gap(problem: Problem, config: SolverConfig = SolverConfig()) -> float:
    """Relative gap below which the iterations of ``problem`` leave their
    first phase (:func:`phases`): ``config.single_precision_switch_gap`` for a
    float64 problem, ``config.float32_switch_gap`` for a lower-precision one."""
    if problem.operator.dtype == torch.float64:
        return config.single_precision_switch_gap
    return config.float32_switch_gap


def in_precision(problem: Problem, certificate: Certificate) -> Certificate:
    r"""A certificate of ``problem``'s float64 copy as one of ``problem``.

    The point is rounded to ``problem``'s precision and its objective and
    outputs are computed anew in float64 (:math:`\hat P(\mathrm{fl}(x))`),
    so that ``primal`` is the float64 objective of exactly the point
    returned; the lower bound stays, being one of the same problem's
    optimum. Near the optimum the rounding raises the objective only to
    second order. A certificate of ``problem`` itself is returned as it is.

    Parameters
    ----------
    problem : Problem
        The problem the caller gave.
    certificate : Certificate
        A certificate of ``problem.certifying_problem()``.

    Returns
    -------
    Certificate
        Its point and outputs in ``problem``'s precision, with the float64
        objective of that point and the same lower bound.
    """
    full = problem.certifying_problem()
    dtype = problem.operator.dtype
    if full is problem or certificate.x.dtype == dtype:
        return certificate
    x = certificate.x.to(dtype)
    x_full = x.to(full.operator.dtype)
    Z = full.matvec(x_full)
    violations = certificate.violations
    return Certificate(
        x,
        Z.to(dtype),
        full.objective(x_full, Z),
        certificate.dual,
        None if violations is None else violations.to(dtype),
    )


class LowerPrecisionStart(LoopPhase):
    """The first phase of :func:`phases` in the proximal-gradient loop: the
    iterations start on ``first`` (float32) while the certified gap is above
    :func:`switch_gap` of ``caller``, certified on the float64 problem."""

    name = "lower-precision start"

    def __init__(self, caller: Problem, first: Problem):
        self.caller, self.first = caller, first
        if caller.operator.dtype == torch.float64:  # it converts to float32
            self.needs = frozenset({"astype"})

    def applies(self, problem: Problem, config: SolverConfig) -> bool:
        return self.first is not problem

    def start(self, run) -> None:
        if run.best.relative_gap <= switch_gap(self.caller, run.config):
            return
        if run.L is None:
            lipschitz = self.first.lipschitz()
            if not math.isfinite(lipschitz):
                return  # float32 overflowed: the iterations stay in float64
            run.set_step(lipschitz)
        run.iterate_on(self.first)

    def at_checkpoint(self, run, progress) -> None:
        if run.working is run.problem:
            return
        config = run.config
        stalled = (
            progress.previous_primal - run.best.primal
            <= config.single_precision_stall * run.best.primal
        )
        if stalled or run.best.relative_gap <= switch_gap(self.caller, config):
            run.to_full()

    def recover(self, run) -> bool:
        if run.working is run.problem:
            return False
        run.restart(run.best.x, run.best.Z)
        run.set_step(run.problem.lipschitz())
        return True
