r"""A barrier method for the cone-constrained convex ReLU program.

The program (:func:`~convexnn.problems.cone.convex_relu_problem`) is

.. math::
    \min_{v, w, b}\; f\bigl(B(v - w) + \mathbf 1 b\bigr)
    + \alpha\sum_j \|u_j\| \quad\text{s.t.}\quad K_ju_j \ge 0,

over the blocks :math:`u_j` of :math:`u = (v, w)`, with
:math:`K_j = (2D_i - I)\tilde X` the rows of block ``j``'s cone. The barrier
method (Boyd & Vandenberghe, 2004, §11.3) follows the central path: for a
growing :math:`\tau` it minimises

.. math::
    F_\tau(u, b) = \tau f(Z) + \sum_j \psi_\tau(\|u_j\|)
    - \sum_j \sum_r \log\,(K_ju_j)_r,

where :math:`\psi_\tau(r) = \min_{t > r}\; \tau\alpha t - \log(t^2 - r^2)`
is the second-order-cone barrier with its epigraph variable eliminated: the
minimiser :math:`t(r) = \bigl(1 + \sqrt{1 + \tau^2\alpha^2r^2}\bigr)/(\tau\alpha)`
gives :math:`\nabla\psi_\tau(u) = \tau\alpha\,u/t` (a smoothed
:math:`\tau\alpha\,u/\|u\|`) and

.. math::
    \nabla^2\psi_\tau(u) = \frac{\tau\alpha}{t}I
    - \frac{\tau^2\alpha^2}{t^2(\tau\alpha t - 1)}\,uu^\top \succ 0 .

The start is the cones' interior point (the gates, scaled), with
:math:`v = w` so that the network's outputs are zero. Each centring runs
damped Newton steps from the last centre, kept inside the cones by a step to
the boundary and accepted on the change of :math:`F_\tau` summed term by term
(the values grow with :math:`\tau`; their difference would cancel).

**The Newton system** has the structure of the difference operator. With
:math:`M = B^\top QB` (``Q`` the loss's diagonal Hessian, formed once for a
quadratic loss), :math:`B_v, B_w` the block-diagonal Hessians of the barrier
terms of ``v`` and ``w``, :math:`S = B_v + B_w` and
:math:`C^{-1} = (B_v^{-1} + B_w^{-1})^{-1} = B_vS^{-1}B_w`, the step of
:math:`\delta u = \delta v - \delta w` and of the intercept solves

.. math::
    \begin{pmatrix} C^{-1} + M & B^\top q \\ q^\top B & \mathbf 1^\top q
    \end{pmatrix}
    \begin{pmatrix}\delta u \\ \delta b\end{pmatrix} =
    \begin{pmatrix} B_wS^{-1}r_v - B_vS^{-1}r_w \\ r_b\end{pmatrix},

a dense system of the size of ``v`` alone, and
:math:`\delta v = S^{-1}(r_v + r_w + B_w\delta u)`,
:math:`\delta w = \delta v - \delta u`. Only :math:`S` is factorised: the
entries of :math:`B_v` and :math:`B_w` span the barrier's whole range, and
inverting either alone loses the step.

**Several outputs coupled by the loss** (the multinomial loss) have one
group per block and output: the barrier terms and the elimination above are
those of one output, output by output, and the loss's Hessian couples the
outputs' reduced systems; :mod:`~convexnn.solvers._coupled_path` solves the
joint system by conjugate gradients with a two-level preconditioner.

**Certificates and the finish.** A centre gives the multipliers
:math:`\Lambda = 1/(\tau K u)` (the barrier's dual point); its KKT residuals
are measured as every constrained solver's are, at the point itself and with
the blocks the barrier only holds off zero set to zero, whichever is better
(a zero block's norm shrinks as :math:`1/\tau`, to
:math:`\tau\alpha\|u_j\| \le` ``ZERO_BLOCK``, where a nonzero block tends
to its size; the path, its Newton steps and these measures are
:mod:`convexnn.solvers._central_path`). The path also tells which rows are
tight: a tight row's slack shrinks as :math:`1/\tau` (as :math:`1/\sqrt\tau`
where its multiplier tends to zero too) while another's tends to a positive
limit, so comparing two centres separates them cleanly where a threshold on
one centre cannot (rows nearly dependent on the tight ones keep small
slacks). At every centre whose residuals, or whose complementarity alone,
are below ``FINISH_BELOW`` the active-set finish
(:mod:`~convexnn.solvers.active_set`) solves the reduced problem of that
structure exactly, for a few reduced solves at most: a wrong
guess is better corrected by the next centre.
"""

from __future__ import annotations

import torch

from ..problems.constrained import ConstrainedProblem
from ..problems.losses import MultinomialLoss
from ._central_path import CentralPath
from ._coupled_path import CoupledPath
from .config import SolverConfig
from .finish_schedule import FinishSchedule
from .phases import Phase
from .polish import polished_kkt
from .progress import report_kkt, timed
from .results import ConstrainedResult

#: Newton steps a solve takes, for its cost estimate (90 to 180 measured).
NEWTON_STEPS = 120
#: Largest growth of :math:`\tau` over its start: beyond it the barrier's
#: terms span more than float64 resolves, and the path ends.
LAST_TAU = 1e14
#: Newton steps per formation of the loss's part of the Newton system, for
#: the cost estimate (5 to 8 measured on logistic fits).
REFORMED_EVERY = 4
#: Conjugate-gradient iterations of a Newton step with coupled outputs, for
#: the cost estimate (27 to 37 on average measured, three to ten classes).
COUPLED_CG_STEPS = 40
#: Newton steps of one centring at most.
CENTRING_STEPS = 50
#: Largest KKT residual, or complementarity, at which the active-set finish
#: is tried: above it the path has rarely told the tight rows apart yet.
FINISH_BELOW = 3e-3
#: Reduced solves of one try of the finish at most: from the structure the
#: path tells, a try that succeeds takes one or two.
FINISH_ROUNDS = 6


class InteriorPoint(Phase):
    """The barrier method of this module.

    Needs the difference structure of the objective's operator, a known
    interior point of the cones, and one output column with a loss with a
    diagonal Hessian or several coupled by the multinomial loss
    (:mod:`~convexnn.solvers._coupled_path`); applies while each output's
    dense system (``d̃ · P`` unknowns, with ``P`` the patterns) has at most
    ``config.interior_point_max_coefficients`` rows and the solve's estimated
    work (:meth:`cost`) is at most ``config.interior_point_max_flops``, or
    ``config.interior_point_coupled_max_flops`` for coupled outputs.
    """

    name = "interior point"
    needs = frozenset({"difference", "constraint_interior"})

    def applies(self, problem, config: SolverConfig) -> bool:
        if not _supported(problem):
            return False
        small = _size(problem) <= config.interior_point_max_coefficients
        limit = config.interior_point_max_flops
        if problem.problem.n_outputs > 1:
            limit = config.interior_point_coupled_max_flops
        return small and self.cost(problem, config) <= limit

    def cost(self, problem, config: SolverConfig) -> float:
        """Floating-point operations of a whole solve: ``NEWTON_STEPS`` steps,
        each a factorisation of the dense system (one per output) and the
        cones' block Hessians, and for a loss that is not quadratic the loss's
        part of the system formed anew on one step in ``REFORMED_EVERY``
        (:meth:`~convexnn.solvers._central_path.CentralPath._solve`). With
        ``c`` coupled outputs, each step adds ``COUPLED_CG_STEPS`` conjugate
        gradient iterations, each two products with the joint system
        (``8 n m c``) and a solve with every output's factor (``2 c m²``)."""
        objective, m = problem.problem, _size(problem)
        n, c = objective.operator.n_samples, objective.n_outputs
        d = problem.constraint.n_features
        step = c * (m**3 / 3 + 2 * problem.constraint.n_blocks * n * d * d)
        if not objective.loss.quadratic:
            step += c * n * m * m / REFORMED_EVERY
        if c > 1:
            step += COUPLED_CG_STEPS * (8 * n * m * c + 2 * c * m * m)
        return NEWTON_STEPS * step

    def memory(self, problem, config: SolverConfig) -> float:
        objective, m = problem.problem, _size(problem)
        n, c = objective.operator.n_samples, objective.n_outputs
        # B, M and its factor in float64 (one each per output, and with
        # coupled outputs the loss's part kept between formations), and the
        # chunks of the block Hessians
        matrices = 2 if c == 1 else 3 * c
        return 8.0 * (n * m + matrices * m * m + 2**24)


def _supported(problem) -> bool:
    """One output with a diagonal Hessian, or outputs coupled by the
    multinomial loss (:mod:`~convexnn.solvers._coupled_path`)."""
    objective = problem.problem
    if objective.n_outputs == 1:
        return "diagonal_hessian" in objective.capabilities
    return isinstance(objective.loss, MultinomialLoss)


def _size(problem) -> int:
    return problem.problem.operator.n_coefs // 2


@timed
def interior_point(
    problem: ConstrainedProblem,
    x0: torch.Tensor | None = None,
    multipliers0: torch.Tensor | None = None,
    *,
    tol: float = 1e-6,
    max_iter: int = 500,
    verbose: int = 0,
    config: SolverConfig = SolverConfig(),
) -> ConstrainedResult:
    r"""Solve ``problem`` by the barrier method to KKT residuals ``≤ tol``.

    Parameters
    ----------
    problem : ConstrainedProblem
        Must meet the needs of :class:`InteriorPoint`.
    x0, multipliers0 : tensor, optional
        A warm start (:mod:`~convexnn.solvers.finish_schedule`): the solve
        ends there when it, or the active-set finish from it, meets
        ``tol``. The central path itself always starts inside the cones, which
        a solution on their boundary is not.
    tol : float
        Target for the three relative KKT residuals.
    max_iter : int
        Maximum number of Newton steps, all centrings together.
    verbose : int
        Print a progress line (:func:`~convexnn.solvers.progress.report`) at
        each centre when positive.
    config : SolverConfig
        ``config.interior_point_growth`` is the factor of :math:`\tau` from
        one centre to the next; the active-set finish is tuned as for ADMM.
        Past ``config.deadline`` the method stops after the current centre,
        with the best one measured so far.

    Returns
    -------
    ConstrainedResult
        ``n_iter`` counts Newton steps, ``n_outer`` centres; ``rho`` is the
        last :math:`\tau`.
    """
    coupled = problem.problem.n_outputs > 1
    path = (CoupledPath if coupled else CentralPath)(problem)
    tau = start = path.initial_tau()
    schedule = FinishSchedule(problem, tol, config, verbose)
    warm = schedule.warm_start(x0, multipliers0, tau)
    if warm is not None:
        return warm
    n_iter = n_outer = 0
    best = previous = None
    while n_iter < max_iter and tau <= LAST_TAU * start:
        n_iter += path.centre(tau, min(CENTRING_STEPS, max_iter - n_iter))
        n_outer += 1
        multipliers = path.multipliers(tau)
        candidates = [polished_kkt(problem, x, multipliers) for x in path.points(tau)]
        kkt = min(candidates, key=lambda residuals: residuals.largest)
        if verbose:
            report_kkt(InteriorPoint.name, n_iter, kkt, centre=n_outer, tau=tau)
        if best is not None and kkt.largest >= best[0].largest:
            if kkt.complementarity <= tol and not _falling(candidates, previous):
                break  # only the stationarity is left, and rounding stops it
        else:
            best = kkt, multipliers
        previous = candidates
        if kkt.largest <= tol:
            break
        # the residuals need not fall from one centre to the next, and blocks
        # held off zero can keep the stationarity above FINISH_BELOW while
        # the path has long told the structure: the finish is tried at every
        # centre whose residuals or complementarity are below it, with the
        # rows the path tells tight
        tight = path.layout(path.tight_rows(config.interior_point_growth))
        if min(kkt.largest, kkt.complementarity) <= FINISH_BELOW:
            # with coupled outputs the finish's work grows as the cube of its
            # groups' free directions: it starts from the blocks the barrier
            # does not hold off zero alone
            point = candidates[1].x if coupled else kkt.x
            finished = schedule.now(
                point, multipliers, tight, n_iter=n_iter, max_rounds=FINISH_ROUNDS
            )
            if finished is not None:
                best = finished
                break
        if config.out_of_time():
            break
        tau *= config.interior_point_growth
    kkt, multipliers = best
    converged = kkt.largest <= tol
    return ConstrainedResult(kkt.x, multipliers, kkt, n_iter, n_outer, converged, tau)


def _falling(candidates: list, previous: list | None) -> bool:
    """Whether the largest residual of a candidate point fell by half since
    the previous centre. The point with the blocks the barrier holds off zero
    set to zero may still be worse than the point as it is while its
    residuals fall as :math:`1/\\tau`: the path must go on for it."""
    if previous is None:
        return True
    return any(
        now.largest <= 0.5 * before.largest
        for now, before in zip(candidates, previous, strict=True)
    )
