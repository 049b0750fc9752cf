r"""A working-set loop around :func:`~convexnn.solvers.fista` for large Lassos.

Lasso solutions over big dictionaries are sparse. The loop keeps a small
*working set* ``W`` of columns, solves the problem restricted to ``W`` with
FISTA — in Gram form (:mod:`._restricted`), so each inner iteration costs
:math:`O(|W|^2)` whatever the number of samples — and then checks the full
problem: one product with :math:`A` and one with :math:`A^\top` give the
duality gap of :meth:`Problem.certificate` and the dual correlations
:math:`|A_j^\top\Theta|/(\alpha w_j)`. It stops when the full relative gap is
at most ``tol``; otherwise the working set becomes the current support plus
the columns that violate the dual constraint the most, at least twice the
support and never smaller than before (Massias, Gramfort & Salmon, 2018,
"Celer"; Johnson & Guestrin, 2015, "Blitz").

Only the squared loss with an :class:`~convexnn.problems.L1` penalty is
supported; the operator must be restrictable to a subset of its columns.
"""

from __future__ import annotations

import math

import torch

from ..problems import L1, Problem, SquaredLoss
from ._restricted import RestrictedLasso
from .fista import SolverResult, fista


def dual_scores(problem: Problem, Z: torch.Tensor) -> torch.Tensor:
    r"""``max_k |A_jᵀ∇f(Z)|_k / (α w_j)`` for every column: above 1 violates."""
    correlation = problem.operator.rmatvec(problem.loss.gradient(Z)).abs().amax(1)
    weights = problem.penalty.weights
    if weights is None:
        return correlation / problem.alpha
    return torch.where(weights > 0, correlation / (problem.alpha * weights), math.inf)


def working_set(
    problem: Problem,
    x0: torch.Tensor | None = None,
    *,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    initial_size: int = 64,
    max_size: int = 2048,
    max_outer: int = 50,
    warm_iter: int = 50,
    verbose: int = 0,
) -> SolverResult:
    """Minimise a squared-loss L1 ``problem`` to relative duality gap ``tol``.

    Parameters
    ----------
    problem : Problem
        Squared loss, :class:`~convexnn.problems.L1` penalty.
    x0 : tensor, optional
        Warm start in the layout of ``problem.shape``.
    tol : float
        Target relative duality gap of the full problem.
    max_iter : int
        Budget of FISTA iterations, summed over the inner solves.
    initial_size : int
        Size of the first working set.
    max_size : int
        Largest working set solved in Gram form; beyond it FISTA runs on the
        full problem.
    max_outer : int
        Maximum number of working-set updates.
    warm_iter : int
        FISTA iterations on each restricted problem before its exact
        active-set finish (:meth:`RestrictedLasso.finish`).
    verbose : int
        Print the full gap at every update when positive.

    Returns
    -------
    SolverResult
        ``n_iter`` counts the inner FISTA iterations; ``lipschitz`` is NaN.
    """
    if not isinstance(problem.loss, SquaredLoss) or not isinstance(problem.penalty, L1):
        raise TypeError("working_set supports the squared loss with an L1 penalty.")
    x = problem.zeros() if x0 is None else x0.clone()
    n_coefs = problem.operator.n_coefs
    neighbours = getattr(problem.operator, "neighbours", None)
    size = min(initial_size, n_coefs)
    n_iter = 0
    for outer in range(max_outer + 1):
        certificate = problem.certificate(x, problem.matvec(x))
        x = certificate.x
        if verbose:
            print(
                f"working set {outer:3d}  size {size:6d}  objective "
                f"{certificate.primal:.10e}  "
                f"relative gap {certificate.relative_gap:.3e}"
            )
        if certificate.relative_gap <= tol:
            return SolverResult(x, certificate, n_iter, True, math.nan)
        if n_iter >= max_iter or outer == max_outer or n_coefs == 0:
            break
        coef, intercept = problem.split(x)
        support = coef.abs().amax(1) > 0
        size = min(n_coefs, max(size, 2 * int(support.sum())))
        if size > max_size:
            result = fista(
                problem, x, tol=tol, max_iter=max_iter - n_iter, verbose=verbose
            )
            result.n_iter += n_iter
            return result
        scores = dual_scores(problem, certificate.Z)
        columns = _select(scores, support, size, neighbours)
        restricted = RestrictedLasso.from_problem(problem, columns)
        U = restricted.from_coefficients(coef[columns])
        if warm_iter:
            inner = fista(restricted.problem(), U, tol=tol, max_iter=warm_iter)
            U, n_iter = inner.x, n_iter + inner.n_iter
        U, steps = restricted.finish(U)
        n_iter += steps
        coef = torch.zeros_like(coef)
        coef[columns] = restricted.to_coefficients(U).to(coef.dtype)
        x = problem.pack(coef, intercept)
    return SolverResult(x, certificate, n_iter, False, math.nan)


def _select(scores, support, size, neighbours):
    """The next working set: the support, then peaks, then the best violators.

    A *peak* is a violating column (score above 1) whose score is at least
    that of each of its ``neighbours`` (columns one grid step away): taking
    the peaks first spreads the working set over every violated region of the
    dictionary instead of filling it with near-copies of the worst column.
    """
    priority = scores.clone()
    if neighbours is not None and neighbours.shape[1] > 0:
        around = torch.where(
            neighbours >= 0, scores[neighbours.clamp(min=0)], -math.inf
        )
        peak = (scores >= around.amax(1)) & (scores > 1)
        priority = torch.where(peak, priority + scores.max() + 1, priority)
    priority[support] = math.inf
    return torch.topk(priority, size).indices.sort().values
