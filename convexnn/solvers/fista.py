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
  :math:`\kappa\|\mathcal A(x^+-y)\|^2/n \le L\|x^+-y\|^2` (a sufficient
  condition computed without cancellation), or the usual descent condition
  holds, or the step is at the level of rounding errors (a fixed point);
  otherwise ``L`` doubles. After each accepted step ``L`` shrinks by
  ``step_growth`` so the step tracks the local curvature, but never below
  ``1e-6`` times its initial estimate: steps in the null space of
  :math:`\mathcal A` (there are many when ``n < n_coefs``) pass the test
  for any ``L``.
* **Momentum and restart.** The extrapolation is the "greedy" FISTA step
  :math:`y = x^+ + (x^+ - x_k)` of Liang, Luo & Schönlieb (2022), which beats
  the classical :math:`t_k` sequence on these problems (10–25% fewer
  iterations in ``benchmarks/``), made safe by the adaptive restart of
  O'Donoghue & Candès (2015): momentum is dropped for one step whenever it
  points uphill, :math:`\langle y - x^+, x^+ - x_k\rangle > 0`.
* **Stopping.** At checkpoints
  :func:`~convexnn.solvers.polish.polished_certificate` polishes the iterate
  and bounds the optimum from below. The solver keeps the best point and the
  best lower bound seen, and stops when their relative gap is
  ≤ ``tol``. A certificate costs a few products, so checkpoints follow the
  gap's observed linear rate: the next one comes halfway to where that rate
  predicts the gap reaches ``tol``, never sooner than ``check_every`` and never
  later than ``10 · check_every`` iterations.
* **Newton on the block weights.** A quadratic loss with a Euclidean group
  penalty (:func:`~convexnn.solvers.kernel_newton.supports_kernel_newton`)
  is a smooth convex problem in one weight per block
  (:mod:`convexnn.solvers.kernel_newton`), which projected Newton steps solve
  from a rough start. At the first checkpoint where
  ``config.kernel_newton_expected_steps`` of its steps cost fewer iterations
  than the gap's observed rate predicts the iterations still need (or than
  those done so far), it takes over from the
  iterate certified there, with that many iterations (at most what
  ``max_iter`` leaves) as its budget; the result is certified like any
  iterate, and where it falls short the iterations go on from it. It is
  tried once.
* **Newton finish.** Where :func:`~convexnn.solvers.newton.supports_newton`
  allows (group penalties, one output), once the set of nonzero blocks has
  not changed for ``config.newton_patience`` iterations and the last
  certified gap is below ``config.newton_max_gap``, damped Newton steps on
  those blocks (:func:`~convexnn.solvers.newton.newton_finish`, in sample or coefficient
  space, whichever is smaller) replace the slow tail of the first-order
  iterations; the result is certified like any iterate. The support is
  watched only once the gap allows a finish; it is compared on the device
  and read in the same synchronisation as the line search's measures, so
  watching it costs no extra round trip on a GPU. Newton's work, counted in
  iterations, never exceeds the iterations done so far, so a problem where
  it does not pay costs at most twice as much.
* **Single-precision phase.** A float64 problem whose operator converts
  (:meth:`Problem.astype`) starts its iterations in float32, where products
  cost about half as much (on CPUs and on GPUs alike): the early iterations
  only have to find the nonzero blocks, which float32 rounding does not
  disturb. Every certificate is computed in float64 on the float64 data
  (the iterate converted, its outputs recomputed), so what the solver
  reports is exactly what it would report without this phase. The
  iterations switch to float64 for good, keeping their momentum, before a
  Newton finish, once the certified gap is below
  ``config.single_precision_switch_gap`` (on ill-conditioned problems float32
  rounding slows the iterates down from about there), or when the objective
  improved by less than ``config.single_precision_stall`` between two
  checkpoints; when a float32 step fails (an overflow) they go on in float64
  from the best point certified so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch

from ..problems import Certificate, Problem
from .config import SolverConfig
from .kernel_newton import kernel_newton, kernel_step_cost, supports_kernel_newton
from .newton import newton_finish, supports_newton
from .newton_systems import newton_cost
from .polish import polished_certificate
from .proximal_step import proximal_step


@dataclass
class SolverResult:
    """Outcome of a solve: the certified point and how it was reached."""

    x: torch.Tensor
    certificate: Certificate
    n_iter: int
    converged: bool
    lipschitz: float


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
        changing (:mod:`convexnn.solvers.newton`), where the problem allows.
    kernel : bool
        With ``newton``, solve by Newton's method on the block weights
        (:mod:`convexnn.solvers.kernel_newton`) from an early checkpoint, where
        the problem allows and it is expected to be cheaper.
    single_precision : bool
        Run the first iterations of a float64 problem in float32 where its
        operator converts (:meth:`Problem.astype`); see the module docstring.
    polish : bool
        Polish each certified point (:func:`~convexnn.solvers.polish.polish`).
        Without it a point is certified as it is, which bounds the optimum
        only for a problem without free coordinates (no intercept, no
        unpenalised block), and the gap closes more slowly.
    verbose : int
        Print the gap at every check when positive.
    config : SolverConfig
        Tuning of the Newton methods and of the single-precision phase.

    Returns
    -------
    SolverResult
        The best point found, in ``problem``'s dtype; ``certificate.dual`` is
        the best lower bound.
    """
    if polish:
        certify = partial(polished_certificate, problem)
    else:
        exact = not problem.fit_intercept and not bool(problem.free_blocks().any())
        certify = partial(problem.certificate, exact=exact)
    x = problem.zeros() if x0 is None else x0.clone()
    Z = problem.matvec(x)
    best = certify(x, Z)
    working = problem  # the problem the iterations run on
    if single_precision and best.relative_gap > config.single_precision_switch_gap:
        working = _single_precision(problem) or problem
    if lipschitz is None:
        lipschitz = working.lipschitz()
        if not math.isfinite(lipschitz) and working is not problem:
            working, lipschitz = problem, problem.lipschitz()  # float32 overflowed
    x, Z = x.to(working.operator.dtype), Z.to(working.operator.dtype)
    L = max(lipschitz, 1e-12)
    L_floor = 1e-6 * L
    if best.relative_gap <= tol:
        return SolverResult(best.x, best, 0, True, L)

    curvature = problem.loss.lipschitz()
    kernel = kernel and newton and supports_kernel_newton(problem, config)
    newton = newton and supports_newton(problem)
    support, stable, newton_spent = problem.active_blocks(x), 0, 0.0
    y, Zy = x, Z
    n_iter, checked, next_check = 0, 0, check_every
    for n_iter in range(1, max_iter + 1):
        # the support is watched once a Newton finish may be tried
        watching = newton and best.relative_gap <= config.newton_max_gap
        try:
            x_new, Z_new, L, uphill, same, active = proximal_step(
                working, y, Zy, x, L, curvature, support if watching else None
            )
        except FloatingPointError:
            if working is problem:
                raise
            # single precision failed: go on from the best point in full, with
            # a step size estimated there
            working, x, Z = problem, best.x, best.Z
            y, Zy, stable = x, Z, 0
            L = max(problem.lipschitz(), 1e-12)
            L_floor = 1e-6 * L
            continue

        # full momentum, dropped for one step when it points uphill
        momentum = 0.0 if uphill < 0 else 1.0
        y = torch.lerp(x_new, x, -momentum)  # x⁺ + β (x⁺ − x)
        Zy = torch.lerp(Z_new, Z, -momentum)
        x, Z = x_new, Z_new
        L = max(L * step_growth, L_floor)

        if watching:
            stable, support = (stable + 1 if same else 0), active
            if (
                stable >= config.newton_patience
                and newton_spent + newton_cost(problem, int(support.sum()), config)
                <= n_iter
            ):
                x, Z = _in_full(problem, working, x, Z)
                working = problem
                x, Z, spent = newton_finish(
                    problem,
                    x,
                    Z,
                    L,
                    tol * config.newton_tol_factor,
                    config,
                    budget=n_iter - newton_spent,
                )
                y, Zy, newton_spent = x, Z, newton_spent + spent
                support, stable, next_check = problem.active_blocks(x), 0, n_iter
        if n_iter == next_check or n_iter == max_iter:
            previous_gap, previous_primal = best.relative_gap, best.primal
            best = best.improve(certify(*_in_full(problem, working, x, Z)))
            if verbose:
                print(
                    f"iter {n_iter:6d}  objective {best.primal:.10e}  "
                    f"relative gap {best.relative_gap:.3e}"
                    + ("" if working is problem else "  (float32 iterates)")
                )
            if best.relative_gap <= tol:
                return SolverResult(best.x, best, n_iter, True, L)
            # Newton on the block weights: its work is weighed against the
            # iterations still needed (or done), within those max_iter leaves
            remaining = _remaining(
                previous_gap, best.relative_gap, n_iter - checked, tol
            )
            budget = min(max(remaining, n_iter), max_iter - n_iter)
            expected = config.kernel_newton_expected_steps
            if kernel and expected * kernel_step_cost(problem, config) <= budget:
                kernel = False  # one try: where it fails, proximal gradient goes on
                x, Z, spent = kernel_newton(
                    problem,
                    best.x,
                    tol * config.kernel_newton_tol_factor,
                    config,
                    budget=budget,
                )
                newton_spent += spent
                working, y, Zy = problem, x, Z
                best = best.improve(certify(x, Z))
                if best.relative_gap <= tol:
                    return SolverResult(best.x, best, n_iter, True, L)
            stalled = (
                previous_primal - best.primal
                <= config.single_precision_stall * best.primal
            )
            switch = best.relative_gap <= config.single_precision_switch_gap
            if working is not problem and (switch or stalled):
                x, Z = _in_full(problem, working, x, Z)
                y, Zy = _in_full(problem, working, y, Zy)  # the momentum goes on
                working = problem
            next_check = n_iter + _next_interval(
                previous_gap, best.relative_gap, n_iter - checked, tol, check_every
            )
            checked = n_iter
    return SolverResult(best.x, best, n_iter, False, L)


def _single_precision(problem: Problem) -> Problem | None:
    """``problem`` in float32 when it is a float64 problem whose operator
    converts, else ``None``."""
    if problem.operator.dtype != torch.float64:
        return None
    return problem.astype(torch.float32)


def _in_full(problem: Problem, working: Problem, x: torch.Tensor, Z: torch.Tensor):
    """``x`` and its outputs in ``problem``'s precision (the outputs computed
    anew when the iterations run in another)."""
    if working is problem:
        return x, Z
    x = x.to(problem.operator.dtype)
    return x, problem.matvec(x)


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
