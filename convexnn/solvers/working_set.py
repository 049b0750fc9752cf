r"""Working sets and gap-safe screening around the subproblem solvers.

Sparse problems have few nonzero blocks at the optimum. :func:`solve` solves
the problem restricted to a *working set* of blocks — the nonzero ones and
those whose dual constraint is closest to active — and grows the set until the
certificate of the whole problem closes (Johnson & Guestrin's Blitz,
Massias, Gramfort & Salmon's celer, skglm):

1. certify the current point on the whole problem (:meth:`Problem.certificate`);
2. keep out of working sets, for good, every block that gap-safe screening
   proves zero at the optimum (Ndiaye, Fercoq, Gramfort & Salmon, 2017): the
   dual optimum lies within :math:`r = \sqrt{2\,\mathrm{gap}\,\kappa/n}` of
   any dual-feasible point, since the dual objective is
   :math:`n/\kappa`-strongly concave for a loss of curvature :math:`\kappa`,
   so block ``g`` is zero when
   :math:`\omega^*(A_g^\top\theta) + r\|A_g\|_2 < \alpha w_g`;
3. solve the problem restricted to the working set.

Subproblems are solved in one of two ways:

* a squared loss with an :math:`\ell_1` penalty can be solved *exactly* in
  Gram form (:mod:`~convexnn.solvers.gram`: feature-sign search on
  :math:`A_W^\top PA_W/n`), which needs no iteration count to separate
  nearly parallel columns; this is the default when the operator says its
  blocks are such neighbours (``exact``);
* otherwise :func:`~convexnn.solvers.fista` runs to a fraction of the
  current gap.

The working set holds the nonzero blocks and at least as many others; it
doubles from one round to the next, except when the operator's blocks lie on
grid lines (:meth:`~convexnn.problems.LinearOperator.lines`: dictionaries of
features at neighbouring data points, nearly equal to each other) and
subproblems are exact: then it takes one block per violated region — the
*peaks* of the dual constraint's violations along every line — which is all
an exact solve needs, and grows only when no new block would enter.

Every round's certificate is a certificate of the whole problem, so the
returned gap is as honest as plain FISTA's. (Screened blocks stay in the
certificate's products: copying the operator without them would cost more
than the products it saves. Peaks make screening redundant, so it is skipped
there.) Other problems with few blocks (at most
``config.working_set_min_blocks``), or whose
operator cannot be restricted, are handed to FISTA directly: there the rounds
cost more than they save.
"""

from __future__ import annotations

import math

import torch

from ..problems import Certificate, Problem
from .config import SolverConfig
from .fista import SolverResult, fista
from .gram import gram_form
from .polish import polished_certificate


def solve(
    problem: Problem,
    x0: torch.Tensor | None = None,
    *,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    lipschitz: float | None = None,
    working_sets: bool = True,
    hint: torch.Tensor | None = None,
    exact: bool | None = None,
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
        Target relative duality gap of the whole problem.
    max_iter : int
        Maximum number of proximal-gradient iterations, all rounds together.
    lipschitz : float, optional
        Initial step-size estimate, as in :func:`fista`.
    working_sets : bool
        Use working sets and screening when the problem has more than
        ``config.working_set_min_blocks`` blocks and its operator can be
        restricted; ``False`` runs FISTA on the whole problem.
    hint : tensor of shape (n_blocks,), optional
        Values of the blocks' dual constraints at ``x0`` for a nearby problem
        (a previous regularisation strength along a path), as in
        ``Certificate.violations``: the first working set is ranked by them,
        which saves the first round's certificate of the whole problem. The
        stopping test is unchanged.
    exact : bool, optional
        Solve the working-set subproblems of a squared-loss
        :class:`~convexnn.problems.L1` problem exactly in Gram form
        (:mod:`~convexnn.solvers.gram`) instead of by FISTA. The default
        (``None``) does so when the operator's blocks lie on grid lines
        (:meth:`~convexnn.problems.LinearOperator.lines`: nearly parallel
        neighbours, where FISTA needs many iterations), and runs FISTA
        otherwise: on well-conditioned designs its cheaper iterations win
        (on the path of ``benchmarks/bench_lasso_path.py``, Gram-form
        subproblems take about twice as long).
    verbose : int
        Print each round's gap when positive (and FISTA's when above 1).
    config : SolverConfig
        Tuning of the working sets (at least ``config.working_set_min_size``
        blocks, Gram form up to ``config.working_set_max_gram_size``, each
        solved to ``config.working_set_inner_fraction`` of the current gap)
        and of the subproblem solvers.

    Returns
    -------
    SolverResult
        The best point found in the layout of ``problem.shape``, and its
        certificate for the whole problem (with the point's ``violations``).
    """
    everything = torch.arange(problem.n_blocks, device=problem.operator.device)
    lines = problem.operator.lines(problem.penalty.group_size)
    if exact is None:
        exact = bool(lines)
    gram = gram_form(problem, config) if working_sets and exact else None
    whole = not working_sets or problem.n_blocks <= config.working_set_min_blocks
    if gram is None and (whole or problem.restrict(everything[:1]) is None):
        return fista(
            problem,
            x0,
            tol=tol,
            max_iter=max_iter,
            lipschitz=lipschitz,
            verbose=verbose,
            config=config,
        )
    # exact subproblems take the peaks of the violations, which screening
    # would not change: its norms are not worth their cost there
    norms = None
    if gram is None or not lines:
        norms = problem.operator.block_norms(problem.penalty.group_size)
    weights = problem.penalty.weights
    if weights is None:
        weights = torch.ones(problem.n_blocks, dtype=problem.operator.dtype)
    weights = weights.to(problem.operator.device)
    radius_factor = 2 * problem.loss.curvature / problem.operator.n_samples
    screened = torch.zeros_like(everything, dtype=torch.bool)

    x = problem.zeros() if x0 is None else x0.clone()
    Z = _outputs(problem, x, problem.active_blocks(x).nonzero().squeeze(1))
    best = Certificate(x, Z, math.inf, -math.inf)  # nothing certified yet
    n_iter, size, violations, working = 0, 0, hint, everything[:0]
    rescale = True  # whether the block scales of x may be suboptimal
    min_size = config.working_set_min_size
    while True:
        if violations is None:  # certify the whole problem at the current point
            certificate = polished_certificate(problem, x, Z, rescale=rescale)
            x, Z, violations = certificate.x, certificate.Z, certificate.violations
            best = best.improve(certificate)
            if verbose:
                print(
                    f"round: {int(screened.sum()):6d} blocks screened, {size:6d} in "
                    f"the working set, {n_iter:6d} iterations, relative gap "
                    f"{best.relative_gap:.3e}"
                )
            if best.relative_gap <= tol or n_iter >= max_iter:
                break
            if norms is not None:
                slack = max(best.primal - certificate.dual, 0)
                radius = math.sqrt(radius_factor * slack)
                screened |= violations + radius * norms / (problem.alpha * weights) < 1

        active = problem.active_blocks(x)
        priority = violations.masked_fill(screened, -math.inf)
        n_peaks = 0
        if lines:  # one block per violated region first
            # certificates scale the dual point into the feasible set, so
            # violating blocks are those above the active ones (at the bound)
            level = float(violations[active].max()) if bool(active.any()) else 0.0
            peaks = _peaks(violations, level, lines) & ~screened
            priority = torch.where(peaks, priority + float(violations.max()), priority)
            n_peaks = int(peaks.sum())
        priority[active | (weights == 0)] = math.inf
        n_active = int((priority == math.inf).sum())
        candidates = problem.n_blocks - int(screened.sum())
        previous = working
        if gram is not None and lines:  # exact solves: the support and the peaks
            size = min(max(n_active + 2 * n_peaks, min_size), candidates)
            working = torch.topk(priority, size).indices
            if bool(torch.isin(working, previous).all()):  # nothing new: grow
                size = min(2 * len(previous), candidates)
                working = torch.topk(priority, size).indices
        else:
            size = min(max(2 * n_active, 2 * size, min_size), candidates)
            working = torch.topk(priority, size).indices
        working = working.sort().values
        if gram is not None and torch.equal(working, previous):
            gram = None  # solved exactly already: rounding limits it, FISTA takes over
        if gram is not None and size <= config.working_set_max_gram_size:
            x, Z, steps = gram.solve(x, working)
            n_iter += max(steps, 1)  # a round counts, so max_iter bounds them
            violations, rescale = None, True
            continue
        gap = best.relative_gap  # inf (or nan) before a valid bound
        fraction = config.working_set_inner_fraction
        inner_tol = max(fraction * gap, tol / 2) if gap < math.inf else tol / 2
        restricted = None if size == problem.n_blocks else problem.restrict(working)
        if restricted is None:  # the whole problem: no copy of the operator
            result = fista(
                problem,
                x,
                tol=inner_tol,
                max_iter=max_iter - n_iter,
                lipschitz=lipschitz,
                verbose=max(verbose - 1, 0),
                config=config,
            )
            x = result.x
            best = best.improve(result.certificate)
        else:
            result = fista(
                restricted,
                problem.take(x, working),
                tol=inner_tol,
                max_iter=max_iter - n_iter,
                lipschitz=lipschitz,
                verbose=max(verbose - 1, 0),
                config=config,
            )
            x = problem.put(result.x, working)
        Z, lipschitz = result.certificate.Z, result.lipschitz
        n_iter += result.n_iter
        # a converged solve returns a polished point: the working set holds its
        # nonzero blocks, so polishing it on the whole problem would repeat that
        violations, rescale = None, not result.converged

    converged = best.relative_gap <= tol
    return SolverResult(best.x, best, n_iter, converged, lipschitz or 0.0)


def _peaks(violations: torch.Tensor, level: float, lines) -> torch.Tensor:
    """Blocks that violate their dual constraint (``violations > level``) and
    are the largest of their run of consecutive violating blocks along every
    grid line through them: about one block per violated region."""
    violating = violations > level
    peaks = violating.clone()
    for order, starts in lines:
        values, inside = violations[order], violating[order]
        # a run starts at a line's start or after a block that does not violate
        previous = torch.cat([inside.new_zeros(1), inside[:-1]])
        run = torch.cumsum(starts | ~previous, 0) - 1
        largest = torch.full(
            (int(run[-1]) + 1,), -math.inf, dtype=values.dtype, device=values.device
        )
        largest.scatter_reduce_(0, run, values, reduce="amax")
        peaks[order] &= values >= largest[run]
    return peaks


def _outputs(problem: Problem, x: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
    """``problem.matvec(x)`` for ``x`` zero off ``blocks``, through the
    restricted operator when there is one."""
    restricted = problem.restrict(blocks)
    if restricted is None:
        return problem.matvec(x)
    return restricted.matvec(problem.take(x, blocks))
