"""Regularisation paths: one problem solved along a decreasing ``alpha`` grid,
each solve warm-started from the solution at the alpha before."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..problems import Problem
from ..problems.constrained import ConstrainedProblem
from .active_set import finish
from .config import SolverConfig
from .driver import exact_subproblems, solve, solve_constrained
from .polish import polish, polished_kkt
from .progress import report, timed
from .results import ConstrainedResult, SolverResult


def alpha_max(
    problem: Problem | ConstrainedProblem,
    *,
    tol: float = 1e-10,
    config: SolverConfig = SolverConfig(),
) -> float:
    r"""The smallest ``alpha`` at which every penalised block is zero.

    With the intercept and the unpenalised blocks (weight 0) fitted alone —
    outputs :math:`Z_0` — the penalised blocks are zero exactly when
    :math:`\Omega^*(A^\top\nabla f(Z_0)) \le \alpha` (glmnet's
    :math:`\lambda_{\max}`). Without unpenalised blocks :math:`Z_0` is the
    intercept-only fit; with them it is the solution at an ``alpha`` so large
    that every penalised block vanishes, solved to ``tol`` with ``config``.

    For a :class:`~convexnn.problems.constrained.ConstrainedProblem` this is
    the same quantity for its objective alone, an upper bound: zero blocks
    are optimal where some multipliers :math:`\Lambda \ge 0` bring every
    :math:`\|(K^\top\Lambda - A^\top\nabla f(Z_0))_j\|` within
    :math:`\alpha`, and :math:`\Lambda = 0` is one choice.
    """
    if isinstance(problem, ConstrainedProblem):
        problem = problem.problem
    weights = problem.penalty.weights
    if weights is not None and bool((weights == 0).any()):
        Z = solve(problem.with_alpha(1e300), tol=tol, config=config).certificate.Z
    else:
        x = problem.zeros()
        _, Z, _ = polish(problem, x, problem.matvec(x))
    return problem.penalty.dual_norm(problem.operator.rmatvec(problem.loss.gradient(Z)))


def alpha_grid(alpha_max: float, n_alphas: int = 100, min_ratio: float = 1e-2):
    """``n_alphas`` values from ``alpha_max`` down to ``min_ratio · alpha_max``,
    evenly spaced on a log scale (glmnet's and scikit-learn's grid)."""
    if not alpha_max > 0:
        raise ValueError(
            "alpha_max must be positive: the targets are fitted by the intercept "
            "alone at every alpha; give explicit alphas instead."
        )
    return np.geomspace(alpha_max, alpha_max * min_ratio, n_alphas)


@timed
def solve_path(
    problem: Problem,
    alphas: Sequence[float],
    *,
    x0: torch.Tensor | None = None,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    verbose: int = 0,
    config: SolverConfig = SolverConfig(),
) -> list[SolverResult]:
    """Solve ``problem`` at each of ``alphas`` in turn, each warm-started from
    the solution at the previous one.

    Parameters
    ----------
    problem : Problem
        The problem; its own ``alpha`` is ignored.
    alphas : sequence of float
        Regularisation strengths, best given in decreasing order (solutions
        then change little from one to the next).
    x0 : tensor, optional
        Starting point for the first alpha (default zeros).
    tol, max_iter, config
        As in :func:`~convexnn.solvers.solve`, for each alpha.
    verbose : int
        When positive, print a progress line
        (:func:`~convexnn.solvers.progress.report`) for each alpha solved,
        and pass ``verbose − 1`` to each solve (above 1, their own lines).

    Returns
    -------
    results : list of SolverResult
        One per alpha, in the order given.
    """
    results, x, lipschitz, hint = [], x0, None, None
    # along a path each solve starts from the last solution, and only a few
    # coefficients enter or leave: exact subproblems settle them in a few
    # steps where FISTA iterates (one object for every alpha: its Gram
    # matrices do not change); a first solve from zeros takes the default
    warm = exact_subproblems(problem, exact=True, config=config)
    cold = warm if x0 is not None else None
    for index, alpha in enumerate(alphas):
        result = solve(
            problem.with_alpha(alpha),
            x,
            tol=tol,
            max_iter=max_iter,
            lipschitz=lipschitz,
            hint=hint,
            subproblems=warm if index else cold,
            verbose=max(verbose - 1, 0),
            config=config,
        )
        results.append(result)
        if verbose:
            certificate = result.certificate
            step = f"{index + 1}/{len(alphas)}"
            report(
                "path",
                result.n_iter,
                certificate.primal,
                certificate.relative_gap,
                alpha=float(alpha),
                step=step,
            )
        # the solution's dual-constraint values rank the next alpha's blocks
        # (a change of alpha rescales them all alike)
        x, lipschitz = result.x, result.lipschitz or None
        hint = result.certificate.violations
    return results


def solve_constrained_path(
    problem: ConstrainedProblem,
    alphas: Sequence[float],
    *,
    method: str = "auto",
    tol: float = 1e-6,
    max_iter: int = 10_000,
    verbose: int = 0,
    config: SolverConfig = SolverConfig(),
) -> list[tuple[str, ConstrainedResult]]:
    """Solve the constrained ``problem`` at each of ``alphas`` in turn.

    From the second alpha on, each solve starts from the structure of the
    solution at the previous one: the active-set finish
    (:func:`~convexnn.solvers.active_set.finish`) re-solves the reduced
    problem of its nonzero blocks and tight rows, starting from its point and
    multipliers, and corrects that structure where it has changed.
    Neighbouring alphas mostly share a structure, and the reduced solve then
    certifies the new solution at a fraction of a full solve's cost. Where it
    fails (a structure that changed too much, a zero solution, several output
    columns, ``tol`` below ``config.active_set_smallest_tol``),
    :func:`~convexnn.solvers.solve_constrained` solves from scratch: the
    barrier method must start inside the cones, not on their boundary where
    the previous solution lies. Past ``config.deadline`` the remaining alphas
    keep the last solution, measured (not solved) at their own alpha.

    Parameters
    ----------
    problem : ConstrainedProblem
        The problem; its own ``alpha`` is ignored.
    alphas : sequence of float
        Regularisation strengths, best given in decreasing order.
    method, tol, max_iter, verbose, config
        As in :func:`~convexnn.solvers.solve_constrained`, for each alpha.

    Returns
    -------
    results : list of (str, ConstrainedResult)
        One per alpha, in the order given: the method that solved it
        (``"active_set"`` for the finish, ``"carried"`` past the deadline) and
        its result. ``n_iter`` counts the iterations of the method alone (0
        for the finish and a carried solution).
    """
    results, previous = [], None
    for alpha in alphas:
        current = problem.with_alpha(alpha)
        solved = None
        if previous is not None:
            solved = _from_previous(current, previous, tol, config)
        if solved is None:
            solved = solve_constrained(
                current,
                method=method,
                tol=tol,
                max_iter=max_iter,
                verbose=verbose,
                config=config,
            )
        results.append(solved)
        previous = solved[1]
    return results


def _from_previous(
    problem: ConstrainedProblem,
    previous: ConstrainedResult,
    tol: float,
    config: SolverConfig,
) -> tuple[str, ConstrainedResult] | None:
    """The solution at ``problem``'s alpha from the ``previous`` one: by the
    active-set finish on its structure, or, past the deadline, the previous
    point itself, measured here; ``None`` when the finish fails."""
    if config.out_of_time():
        kkt = polished_kkt(problem, previous.x, previous.multipliers)
        multipliers, name = previous.multipliers, "carried"
    else:
        finished = finish(problem, previous.x, previous.multipliers, tol, config)
        if finished is None:
            return None
        (kkt, multipliers), name = finished, "active_set"
    converged = kkt.largest <= tol
    return name, ConstrainedResult(kkt.x, multipliers, kkt, 0, 0, converged, 0.0)
