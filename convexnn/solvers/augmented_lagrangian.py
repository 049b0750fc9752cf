r"""Augmented Lagrangian method for linear inequality constraints.

For :math:`\min_W f(AW) + \alpha\Omega(W)` subject to :math:`KW \ge 0`, each
outer step minimises, with multipliers :math:`\Lambda \ge 0` and penalty
:math:`\rho`,

.. math::
    f(AW) + h_{\Lambda,\rho}(KW) + \alpha\,\Omega(W), \qquad
    h_{\Lambda,\rho}(S) = \frac\rho2\bigl\|(\Lambda/\rho - S)_+\bigr\|^2 ,

an ordinary composite problem: the operator stacks ``A`` and ``K``, the loss
is the separable sum of ``f`` and ``h``
(:class:`~convexnn.solvers._lagrangian_parts.AugmentedLagrangianTerm`). It is
solved by the shared :func:`~convexnn.solvers.fista` loop, warm-started, to a
relative duality gap that tightens from step to step, without the
certificate's polishing (``fista(polish=False)``): on the stacked operator the
outputs of an active block span all ``n·2P`` constraint rows, so polishing
would form a dense ``n · 2P × n_active`` array (gigabytes at ``n = 20 000``,
``P = 500``). Without it the certificate is still valid: the inner problems
have no intercept and no unpenalised blocks, so the scaled gradient is a
feasible dual point as it stands; only the gap closes more slowly. Then

* the multipliers take the textbook signed step
  :math:`\Lambda \leftarrow (\Lambda - \rho KW)_+`, which is
  :math:`-\nabla h(KW)`: the new pair satisfies stationarity exactly as far
  as the inner problem was solved;
* ``ρ`` grows by ``config.augmented_lagrangian_rho_growth`` when the
  constraint violation, still above ``tol``, did not fall below
  ``config.augmented_lagrangian_violation_decrease`` times the previous one
  (Bertsekas, 1982, §2.2);
* once the residuals are small, the active-set finish of
  :mod:`~convexnn.solvers.active_set` is tried (each failed try lowers the
  residual level of the next one by three);
* the loop stops when the KKT residuals
  (:func:`~convexnn.solvers.polish.polished_kkt`) — relative stationarity,
  relative violation and relative complementary slackness — are all
  ``≤ tol``, or after the step during which ``config.deadline`` passed (its
  inner solve stops at that point too); it returns the measured point whose
  largest residual is smallest.

An unpenalised intercept is minimised out of the data loss
(:class:`~convexnn.solvers._lagrangian_parts.ProfiledInterceptLoss`), so the
inner problems have none.
"""

from __future__ import annotations

import torch

from ..problems import Problem
from ..problems.constrained import ConstrainedProblem
from ._lagrangian_parts import (
    AugmentedLagrangianTerm,
    ProfiledInterceptLoss,
    SeparableLoss,
    StackedOperator,
)
from .config import SolverConfig
from .finish_schedule import FinishSchedule
from .fista import fista
from .phases import Phase
from .polish import polished_kkt
from .progress import report_kkt, timed
from .results import ConstrainedResult


class AugmentedLagrangian(Phase):
    """The augmented Lagrangian method (the module docstring): needs nothing
    beyond a constrained problem, and stores nothing beyond its iterates."""

    name = "augmented Lagrangian"


@timed
def augmented_lagrangian(
    problem: ConstrainedProblem,
    x0: torch.Tensor | None = None,
    multipliers0: torch.Tensor | None = None,
    *,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    rho: float | None = None,
    verbose: int = 0,
    config: SolverConfig = SolverConfig(),
) -> ConstrainedResult:
    """Solve ``problem`` to KKT residuals ``≤ tol``.

    Parameters
    ----------
    problem : ConstrainedProblem
    x0 : tensor, optional
        Warm start in the layout of ``problem.problem.shape`` (default zeros).
        The solve ends there when it, or the active-set finish from it, meets
        ``tol`` (:mod:`~convexnn.solvers.finish_schedule`),
        and starts from it otherwise.
    multipliers0 : tensor, optional
        Initial multipliers (default zeros).
    tol : float
        Target for the three relative KKT residuals.
    max_iter : int
        Budget of inner proximal-gradient iterations, all steps together.
    rho : float, optional
        Initial penalty; by default the Lipschitz constant of ``∇f``, which
        balances the curvature of the two terms.
    verbose : int
        Print a progress line (:func:`~convexnn.solvers.progress.report`)
        after each step when positive; ``iter`` counts inner iterations.
    config : SolverConfig
        Tuning of the penalty and inner-tolerance updates, of the inner
        solves and of the active-set finish. The inner gaps start at
        ``config.augmented_lagrangian_initial_inner_tol`` and shrink by
        ``config.augmented_lagrangian_inner_tol_decrease`` per step, down to
        ``min(tol², tol/10)`` (the stationarity of an inner solution scales as
        the square root of its gap), never below ``1e-15``.

    Returns
    -------
    ConstrainedResult
    """
    objective = problem.problem
    data_loss = objective.loss
    if objective.fit_intercept:
        data_loss = ProfiledInterceptLoss(data_loss)
    operator = StackedOperator([objective.operator, problem.constraint])
    coef = objective.split(objective.zeros() if x0 is None else x0)[0].clone()
    multipliers = (
        problem.multipliers_like() if multipliers0 is None else multipliers0.clone()
    )
    rho = data_loss.lipschitz() if rho is None else float(rho)
    schedule = FinishSchedule(problem, tol, config, verbose)
    warm = schedule.warm_start(x0, multipliers0, rho)
    if warm is not None:
        return warm
    # the stationarity of a proximal-gradient point scales as the square root
    # of its duality gap: the inner gaps go down to tol², floored by rounding
    smallest_inner_tol = max(min(tol**2, tol / 10), 1e-15)
    inner_tol = max(config.augmented_lagrangian_initial_inner_tol, smallest_inner_tol)
    lipschitz = None
    previous_violation = float("inf")
    n_iter = n_outer = 0
    kkt = polished_kkt(
        problem, _with_intercept(objective, data_loss, coef), multipliers
    )
    best = kkt, multipliers
    while kkt.largest > tol and n_iter < max_iter and not config.out_of_time():
        term = AugmentedLagrangianTerm(multipliers, rho)
        loss = SeparableLoss([data_loss, term])
        inner = Problem(operator, loss, objective.penalty, objective.alpha, False)
        result = fista(
            inner,
            coef,
            tol=inner_tol,
            max_iter=max_iter - n_iter,
            lipschitz=lipschitz,
            polish=False,
            config=config,
        )
        coef, lipschitz = result.x, result.lipschitz
        n_iter += result.n_iter
        n_outer += 1
        # the textbook signed step Λ ← (Λ − ρKW)₊, the term's negative gradient
        multipliers = -term.gradient(problem.constraint.matvec(coef))
        kkt = polished_kkt(
            problem, _with_intercept(objective, data_loss, coef), multipliers
        )
        if verbose:
            report_kkt(AugmentedLagrangian.name, n_iter, kkt, step=n_outer, rho=rho)
        if kkt.largest < best[0].largest:
            best = kkt, multipliers
        finished = schedule.attempt(kkt, multipliers, n_iter=n_iter)
        if finished is not None:
            best = finished
            break
        decrease = config.augmented_lagrangian_violation_decrease
        if kkt.violation > max(tol, decrease * previous_violation):
            rho *= config.augmented_lagrangian_rho_growth
            lipschitz *= config.augmented_lagrangian_rho_growth
        previous_violation = kkt.violation
        shrink = config.augmented_lagrangian_inner_tol_decrease
        inner_tol = max(inner_tol * shrink, smallest_inner_tol)
    kkt, multipliers = best
    converged = kkt.largest <= tol
    return ConstrainedResult(kkt.x, multipliers, kkt, n_iter, n_outer, converged, rho)


def _with_intercept(objective: Problem, data_loss, coef: torch.Tensor) -> torch.Tensor:
    if not objective.fit_intercept:
        return coef
    intercept = data_loss.intercept(objective.operator.matvec(coef))
    return objective.pack(coef, intercept.to(coef.dtype))
