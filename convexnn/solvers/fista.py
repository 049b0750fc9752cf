r"""Accelerated proximal gradient with backtracking and adaptive restart.

One loop serves every formulation: it sees a :class:`~convexnn.problems.Problem`
(operator, loss, penalty) and nothing else. Each iteration from the
extrapolated point :math:`y`

.. math::
    x^+ = \operatorname{prox}_{\alpha\Omega/L}\bigl(y - \tfrac1L \mathcal A^\top
    \nabla f(\mathcal A y)\bigr)

costs exactly one product with :math:`\mathcal A^\top` and one with
:math:`\mathcal A`: the outputs of the extrapolated point are extrapolated
too, :math:`\mathcal A y = \mathcal A x_k
+ \beta_k(\mathcal A x_k - \mathcal A x_{k-1})`.

* **Line search** (:func:`~convexnn.solvers.proximal_step.proximal_step`).
  ``L`` is accepted when
  :math:`L_f\|\mathcal A(x^+-y)\|^2 \le L\|x^+-y\|^2` (a sufficient
  condition computed without cancellation; :math:`L_f` is the Lipschitz
  constant of the loss's gradient, :math:`\kappa/n` for a mean loss of
  curvature :math:`\kappa`), or the usual descent condition holds, or the
  step is at the level of rounding errors (a fixed point);
  otherwise ``L`` doubles. After each accepted step ``L`` shrinks by
  ``step_growth`` so the step tracks the local curvature, but never below
  ``1e-6`` times its initial estimate: steps in the null space of
  :math:`\mathcal A` (there are many when ``n < n_coefs``) pass the test
  for any ``L``.
* **Momentum and restart.** The extrapolation is the "greedy" FISTA step
  :math:`y = x^+ + (x^+ - x_k)` of Liang, Luo & Schönlieb (2022), which beats
  the classical :math:`t_k` sequence on these problems (fewer iterations on
  the problems of ``benchmarks/``), made safe by the adaptive restart of
  O'Donoghue & Candès (2015): momentum is dropped for one step whenever it
  points uphill, :math:`\langle y - x^+, x^+ - x_k\rangle > 0`.
* **Stopping.** At checkpoints
  :func:`~convexnn.solvers.polish.polished_certificate` polishes the iterate
  and bounds the optimum from below. The solver keeps the best point and the
  best lower bound seen, and stops when their relative gap is
  ≤ ``tol``, or unconverged at the first checkpoint past
  ``config.deadline`` (the start's certificate, for a solve that begins
  past it), with that best point. A certificate costs a few
  products, so checkpoints follow the gap's observed linear rate: the next
  one comes halfway to where that rate predicts the gap reaches ``tol``,
  never sooner than ``check_every`` and never later than
  ``10 · check_every`` iterations.
* **Phases.** Faster methods take over where the problem allows, each a
  :class:`~convexnn.solvers.phases.LoopPhase` whose needs are checked once
  before the first iteration (:func:`~convexnn.solvers.phases.runnable`):
  :class:`~convexnn.solvers.kernel_newton.KernelNewton` (Newton's method on
  the block weights, tried once at an early checkpoint when its expected
  work is below the iterations the gap's rate predicts),
  :class:`~convexnn.solvers.newton.NewtonFinish` (Newton steps on the
  nonzero blocks once they have settled) and
  :class:`~convexnn.solvers.precision.LowerPrecisionStart` (float32
  iterations first, certified in float64: :mod:`convexnn.solvers.precision`).
  Whatever a phase returns is certified like any iterate, so a phase can
  speed up a solve but never weaken its certificate, and the work the Newton
  phases spend, counted in iterations, is bounded by the iterations done or
  still needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

from ..problems import Certificate, Problem
from .config import SolverConfig
from .kernel_newton import KernelNewton
from .newton import NewtonFinish
from .phases import LoopPhase, runnable
from .polish import polished_certificate
from .precision import LowerPrecisionStart, in_precision, phases
from .progress import report, timed
from .proximal_step import proximal_step
from .results import SolverResult


@timed
def fista(
    problem: Problem,
    x0: torch.Tensor | None = None,
    *,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    lipschitz: float | None = None,
    check_every: int = 10,
    step_growth: float = 0.8,
    newton: bool = True,
    kernel: bool = True,
    single_precision: bool = True,
    polish: bool = True,
    verbose: int = 0,
    config: SolverConfig = SolverConfig(),
) -> SolverResult:
    """Minimise ``problem`` to relative duality gap ``tol``.

    Parameters
    ----------
    problem : Problem
        The composite problem.
    x0 : tensor, optional
        Warm start in the layout of ``problem.shape`` (default zeros).
    tol : float
        Target relative duality gap ``gap / primal``.
    max_iter : int
        Maximum number of proximal-gradient iterations; a Newton solve on the
        block weights keeps its work (counted in iterations) within what they
        leave.
    lipschitz : float, optional
        Initial step-size estimate ``L``; by default from power iteration.
    check_every : int
        Fewest iterations between two duality-gap evaluations.
    step_growth : float
        Factor (≤ 1) applied to ``L`` after each accepted step.
    newton : bool
        Finish with Newton steps on the nonzero blocks once they have stopped
        changing (:class:`~convexnn.solvers.newton.NewtonFinish`), where the
        problem allows.
    kernel : bool
        With ``newton``, solve by Newton's method on the block weights
        (:class:`~convexnn.solvers.kernel_newton.KernelNewton`) from an early
        checkpoint, where the problem allows and it is expected to be cheaper.
    single_precision : bool
        Run the first iterations of a float64 problem in float32 where its
        operator converts (:mod:`convexnn.solvers.precision`); a float32
        problem always starts in float32 and finishes on its float64 copy.
    polish : bool
        Polish each certified point (:func:`~convexnn.solvers.polish.polish`).
        Without it a point is certified as it is, which bounds the optimum
        only for a problem without free coordinates (no intercept, no
        unpenalised block), and the gap closes more slowly.
    verbose : int
        Print a progress line (:func:`~convexnn.solvers.progress.report`) at
        every certificate when positive.
    config : SolverConfig
        Tuning of the Newton methods and of the single-precision phase; past
        ``config.deadline`` the loop stops at its next checkpoint (before the
        phases' hooks).

    Returns
    -------
    SolverResult
        The best point found, in ``problem``'s dtype, and its certificate,
        computed in float64 (``certificate.dual`` is the best lower bound).
    """
    caller = problem
    problem, first = phases(caller, single_precision)
    run = _Run.start(problem, x0, tol, config, polish)
    if run.best.relative_gap <= tol:  # the start is a solution
        if verbose:
            run.report()
        run.set_step(run.working.lipschitz() if lipschitz is None else lipschitz)
        return run.result(caller, converged=True)
    if _out_of_time(problem, config):  # begun past the deadline: the start, certified
        return run.result(caller, converged=False)
    loop_phases = _loop_phases(problem, config, newton, kernel, caller, first)
    if lipschitz is not None:
        run.set_step(lipschitz)
    for phase in loop_phases:
        phase.start(run)
    if run.L is None:
        run.set_step(run.working.lipschitz())
    curvature = problem.loss.lipschitz()
    checked, next_check = 0, check_every
    for n_iter in range(1, max_iter + 1):
        run.n_iter = n_iter
        support = _watched(loop_phases, run)
        try:
            same, active = run.step(curvature, support, step_growth)
        except FloatingPointError:
            if not any([phase.recover(run) for phase in loop_phases]):  # all told
                raise
            continue
        if support is not None and any(
            phase.after_step(run, same, active) for phase in loop_phases
        ):
            next_check = run.n_iter
        if run.n_iter == next_check or run.n_iter == max_iter:
            progress = run.checkpoint(checked, max_iter, verbose)
            out_of_time = _out_of_time(problem, config)
            if run.best.relative_gap > tol and not out_of_time:
                for phase in loop_phases:
                    phase.at_checkpoint(run, progress)
                if verbose and run.best.relative_gap <= tol:
                    run.report()  # a phase (a Newton solve) finished it
            if run.best.relative_gap <= tol:
                return run.result(caller, converged=True)
            if out_of_time:
                break
            next_check = run.n_iter + _next_interval(
                progress.previous_gap,
                run.best.relative_gap,
                run.n_iter - checked,
                tol,
                check_every,
            )
            checked = run.n_iter
    return run.result(caller, converged=False)


def _loop_phases(
    problem: Problem,
    config: SolverConfig,
    newton: bool,
    kernel: bool,
    caller: Problem,
    first: Problem,
) -> list[LoopPhase]:
    """The phases asked for that ``problem`` and ``config`` allow, in the
    order their checkpoint hooks run (a Newton solve before the switch out of
    the lower precision)."""
    wanted = []
    if newton and kernel:
        wanted.append(KernelNewton())
    wanted.append(LowerPrecisionStart(caller, first))
    if newton:
        wanted.append(NewtonFinish())
    return [phase for phase in wanted if runnable(phase, problem, config)]


def _out_of_time(problem: Problem, config: SolverConfig) -> bool:
    """Whether ``config.deadline`` has passed (on any process, for a problem
    whose samples are split over several: they all stop at the same
    checkpoint)."""
    out_of_time = config.out_of_time()
    shards = problem.loss.shards
    return out_of_time if shards is None else shards.any(out_of_time)


def _watched(phases: list[LoopPhase], run: _Run) -> torch.Tensor | None:
    """The support the next step compares its own with: the first phase's that
    watches one."""
    for phase in phases:
        support = phase.watched(run)
        if support is not None:
            return support
    return None


@dataclass
class _Progress:
    """What a checkpoint tells the phases: the gap and objective before it,
    and the iterations a phase may spend (the iterations still needed at the
    gap's observed rate, or those done, within what ``max_iter`` leaves)."""

    previous_gap: float
    previous_primal: float
    budget: float


@dataclass
class _Run:
    """The state of one proximal-gradient run: the problem certified and the
    one iterated on (the same problem, or its float32 copy), the iterate
    ``x``, the extrapolated point ``y`` and their outputs, the step-size
    estimate, the best certificate, and the work the phases spent (in
    iterations)."""

    problem: Problem
    working: Problem
    certify: Callable[[torch.Tensor, torch.Tensor], Certificate]
    tol: float
    config: SolverConfig
    best: Certificate
    x: torch.Tensor
    Z: torch.Tensor
    y: torch.Tensor
    Zy: torch.Tensor
    L: float | None = None
    L_floor: float = 0.0
    n_iter: int = 0
    spent: float = 0.0

    @classmethod
    def start(cls, problem, x0, tol, config, polish) -> _Run:
        if polish:
            certify = partial(polished_certificate, problem)
        else:
            exact = not problem.fit_intercept and not bool(problem.free_blocks().any())
            certify = partial(problem.certificate, exact=exact)
        x = problem.zeros() if x0 is None else x0.to(problem.operator.dtype, copy=True)
        Z = problem.matvec(x)
        best = certify(x, Z)
        return cls(problem, problem, certify, tol, config, best, x, Z, x, Z)

    def set_step(self, lipschitz: float) -> None:
        """Restart the step size at ``lipschitz``; it never shrinks below
        ``1e-6`` times this estimate (see the module docstring)."""
        self.L = max(lipschitz, 1e-12)
        self.L_floor = 1e-6 * self.L

    def step(self, curvature: float, support, step_growth: float):
        """One accelerated proximal-gradient step (see the module docstring);
        returns whether the new support equals ``support`` and what it is."""
        x_new, Z_new, L, uphill, same, active = proximal_step(
            self.working, self.y, self.Zy, self.x, self.L, curvature, support
        )
        # full momentum, dropped for one step when it points uphill
        momentum = 0.0 if uphill < 0 else 1.0
        self.y = torch.lerp(x_new, self.x, -momentum)  # x⁺ + β (x⁺ − x)
        self.Zy = torch.lerp(Z_new, self.Z, -momentum)
        self.x, self.Z = x_new, Z_new
        self.L = max(L * step_growth, self.L_floor)
        return same, active

    def iterate_on(self, working: Problem) -> None:
        """Go on iterating on ``working`` (the problem in another precision)."""
        dtype = working.operator.dtype
        self.working = working
        self.x, self.Z = self.x.to(dtype), self.Z.to(dtype)
        self.y, self.Zy = self.y.to(dtype), self.Zy.to(dtype)

    def in_full(self, x: torch.Tensor, Z: torch.Tensor):
        """``x`` and its outputs in the certified problem's precision (the
        outputs computed anew when the iterations run in another)."""
        if self.working is self.problem:
            return x, Z
        x = x.to(self.problem.operator.dtype)
        return x, self.problem.matvec(x)

    def to_full(self) -> None:
        """Iterate on the certified problem from now on, keeping the momentum."""
        self.x, self.Z = self.in_full(self.x, self.Z)
        self.y, self.Zy = self.in_full(self.y, self.Zy)
        self.working = self.problem

    def restart(self, x: torch.Tensor, Z: torch.Tensor) -> None:
        """Go on from ``x`` (outputs ``Z``) on the certified problem, without
        momentum."""
        self.working = self.problem
        self.x, self.Z, self.y, self.Zy = x, Z, x, Z

    def certify_iterate(self) -> None:
        """Certify the iterate; keep the best point and bound."""
        self.best = self.best.improve(self.certify(*self.in_full(self.x, self.Z)))

    def checkpoint(self, checked: int, max_iter: int, verbose: int) -> _Progress:
        """Certify the iterate and measure the progress since the last
        checkpoint (``checked`` iterations in)."""
        previous_gap, previous_primal = self.best.relative_gap, self.best.primal
        self.certify_iterate()
        if verbose:
            self.report()
        remaining = _remaining(
            previous_gap, self.best.relative_gap, self.n_iter - checked, self.tol
        )
        budget = min(max(remaining, self.n_iter), max_iter - self.n_iter)
        return _Progress(previous_gap, previous_primal, budget)

    def report(self) -> None:
        """Print the progress line of the best certificate."""
        precision = str(self.working.operator.dtype).removeprefix("torch.")
        best = self.best
        report(
            "proximal gradient",
            self.n_iter,
            best.primal,
            best.relative_gap,
            iterates=precision,
        )

    def result(self, caller: Problem, converged: bool) -> SolverResult:
        """The result for ``caller``, the problem given to the solver: the best
        point in its precision (:func:`~convexnn.solvers.precision.in_precision`)."""
        certificate = in_precision(caller, self.best)
        converged = converged and certificate.relative_gap <= self.tol
        return SolverResult(
            certificate.x, certificate, self.n_iter, converged, self.L or 0.0
        )


def _remaining(previous_gap: float, gap: float, elapsed: int, tol: float) -> float:
    """Iterations until the gap reaches ``tol`` at its observed linear rate
    (infinite when it did not shrink)."""
    if not 0 < gap < previous_gap:
        return math.inf
    rate = math.log(previous_gap / gap) / elapsed
    return math.log(gap / max(tol, 1e-300)) / rate


def _next_interval(
    previous_gap: float, gap: float, elapsed: int, tol: float, check_every: int
) -> int:
    """Iterations until the next certificate: half the way to ``tol`` at the
    gap's observed linear rate, clipped to ``[check_every, 10 · check_every]``."""
    remaining = _remaining(previous_gap, gap, elapsed, tol)
    if remaining == math.inf:
        return check_every
    return int(min(max(remaining / 2, check_every), 10 * check_every))
