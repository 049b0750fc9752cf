r"""A second-order finish for cone-constrained group lassos, on the active set.

First-order methods identify the structure of a solution of

.. math::
    \min_W f(AW) + \alpha\sum_i \|W_i\| \quad\text{s.t.}\quad K_iW_i \ge 0

long before they pin down its last digits: which blocks :math:`W_i` are
nonzero, and which constraints are tight (:math:`T_i`, the rows with
:math:`K_iW_i \approx 0` or, by complementary slackness, a clearly positive
multiplier). Given that structure the problem is small and
smooth:

1. each nonzero block lives in the null space of its tight rows,
   :math:`W_i = N_iz_i` with :math:`N_i` an orthonormal basis of
   :math:`\ker K_{T_i}`, and the remaining constraints are inactive, so
   :math:`\min_z f(\sum_i AN_iz_i) + \alpha\sum_i\|z_i\|` is a group lasso over
   a dense ``n × Σ dim N_i`` matrix, solved to machine precision by the
   shared proximal-gradient solver and its Newton finish
   (:mod:`convexnn.solvers.newton`);
2. the multipliers follow block by block from the stationarity condition
   :math:`K_i^\top\lambda_i = (A^\top\nabla f)_i + \alpha W_i/\|W_i\|`, by
   nonnegative least squares on the tight rows (on every row for a zero block,
   whose condition is :math:`\|K_i^\top\lambda_i - (A^\top\nabla f)_i\| \le
   \alpha`).

The guessed structure is then corrected: the rows a reduced solution
violates all become tight (with the multipliers' first guess, a few rounds
settle the structure where the one-row-at-a-time steps of a primal
active-set method took a round per row); a block whose least-squares
residual is too large releases the tight rows that the residual direction
leaves (moving along it lowers the objective and keeps the other tight rows
feasible). Blocks the reduced solve sets to zero leave the active set; a
zero block whose multipliers cannot bring its gradient within
:math:`\alpha` enters it, tight on the rows that carry them (moving from
zero along its least-squares residual lowers the objective).
:func:`refine` returns the new pair, or ``None`` when the rounds run out
with rows violated or a reduced solve does not settle; the caller measures
its KKT residuals and keeps whichever pair is better. It needs the constraint
to expose its per-block matrices (``block_rows``, as
:class:`~convexnn.problems.cone.ConeOperator` does).

**Several outputs.** With an outputwise penalty each block has one group per
output column, :math:`W_{ik}`, with its own norm, tight rows and multipliers
(the rows :math:`K_i` are shared): the steps above run over these groups,
group ``i·c + k`` for block ``i`` and output ``k``. Only the reduced problem
couples them, through a loss such as the softmax that does not split by
output; it is solved by Newton's method
(:mod:`~convexnn.solvers._outputwise_newton`), since the shared solver's
Newton finish needs one output. The groups' layout and step 2 live in
:mod:`~convexnn.solvers._active_set_groups`.
"""

from __future__ import annotations

import torch

from ..problems import GroupLasso, MatrixOperator, Problem
from ..problems.constrained import ConstrainedProblem, KKTResiduals
from ._active_set_groups import (
    coefficients,
    group_rows,
    groups_of,
    nnls_multipliers,
)
from ._outputwise_newton import reduced_newton
from .config import SolverConfig
from .fista import fista
from .polish import polished_kkt


def finish(
    problem: ConstrainedProblem,
    x: torch.Tensor,
    multipliers: torch.Tensor,
    tol: float,
    config: SolverConfig,
    tight: torch.Tensor | None = None,
    max_rounds: int = 40,
) -> tuple[KKTResiduals, torch.Tensor] | None:
    """:func:`refine` from ``x`` (with the ``tight`` rows, when known, and at
    most ``max_rounds`` reduced solves): its KKT residuals (holding the new
    point) and multipliers when the residuals are ``≤ tol``, else ``None``
    (at once when ``tol`` is below ``config.active_set_smallest_tol``)."""
    if tol < config.active_set_smallest_tol:
        return None
    refined = refine(
        problem,
        x,
        multipliers,
        tol=tol,
        config=config,
        tight=tight,
        max_rounds=max_rounds,
    )
    if refined is None:
        return None
    kkt = polished_kkt(problem, *refined)
    return (kkt, refined[1]) if kkt.largest <= tol else None


def refine(
    problem: ConstrainedProblem,
    x: torch.Tensor,
    multipliers: torch.Tensor,
    *,
    tol: float,
    config: SolverConfig,
    reduced_tol: float = 1e-13,
    max_rounds: int = 40,
    tight: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Re-solve ``problem`` on the structure of ``x``.

    Rows that the reduced solution violates are made tight, tight rows that
    a block's nonnegative least-squares residual leaves are released, and
    blocks leave and enter the active set; the reduced problem is then
    solved again, up to ``max_rounds`` times, until the
    multipliers need no release or the KKT residuals meet ``tol``.

    Parameters
    ----------
    problem : ConstrainedProblem
        The constraint provides ``block_rows(blocks)``.
    x : tensor
        The current point, in the layout of ``problem.problem.shape``.
    multipliers : tensor
        The current multipliers: rows where they exceed
        ``config.active_set_carried`` times the largest start tight, and
        blocks that need no new ones keep them.
    tol : float
        The KKT target: a block whose stationarity residual (relative to
        ``alpha``) is below it keeps its tight rows.
    config : SolverConfig
        A constraint value ``≤ config.active_set_tight · max|K_iW_i|`` (over
        the block's own rows) counts as tight; a reduced solve has
        ``config.active_set_reduced_max_iter`` iterations.
    reduced_tol : float
        Relative duality gap of the reduced solve (the shared solver's Newton
        finish makes the last digits cheap).
    max_rounds : int
        Reduced solves at most.
    tight : tensor of bool, optional
        The rows known to be tight, in the layout of ``multipliers`` (an
        interior-point method tells them apart by how their slacks shrink);
        by default they are guessed from ``x`` and ``multipliers``.

    Returns
    -------
    (x, multipliers) or None
    """
    objective, constraint = problem.problem, problem.constraint
    if not hasattr(constraint, "block_rows"):
        return None
    c = objective.n_outputs
    blocks = groups_of(objective, x)
    active = (_norms(objective, x) > 0).nonzero().squeeze(1)
    if len(active) == 0:
        return None
    rows = constraint.block_rows(active // c)  # (m, n, d)
    values = (rows @ blocks[active].unsqueeze(2)).squeeze(2)  # (m, n)
    # relative to each block's own scale, so small blocks keep their structure
    if tight is None:
        threshold = config.active_set_tight * values.abs().amax(1, keepdim=True)
        # complementary slackness: rows whose multiplier is clearly positive
        # are tight at the optimum (a first guess several rounds better than
        # values alone)
        carried = group_rows(constraint, multipliers, c)[active]
        tight_rows = (values <= threshold) | (
            carried > config.active_set_carried * carried.max()
        )
    else:
        tight_rows = group_rows(constraint, tight, c)[active]
    for _ in range(max_rounds):
        structure = blocks, active, rows, tight_rows
        resolved = tight is not None
        new_x = _reduced_solve(objective, *structure, x, reduced_tol, config, resolved)
        if new_x is None:
            return None
        # blocks the reduced solve drops leave the active set (they may enter
        # again through their multipliers)
        kept = _norms(objective, new_x)[active] > 0
        active, rows, tight_rows = active[kept], rows[kept], tight_rows[kept]
        if len(active) == 0:
            return None
        new_values = _values(objective, rows, active, new_x)
        # the KKT violation is relative to the largest constraint value
        violated = new_values < -0.5 * tol * float(new_values.abs().max())
        if bool(violated.any()):  # constraints believed inactive: make them tight
            tight_rows |= violated
            x = new_x
            continue
        new_multipliers, released, entering = nnls_multipliers(
            problem, new_x, multipliers, active, rows, tight_rows, tol
        )
        if entering:
            added = torch.tensor(list(entering), device=active.device)
            active = torch.cat([active, added])
            rows = torch.cat([rows, constraint.block_rows(added // c)])
            tight_rows = torch.cat([tight_rows, torch.stack(list(entering.values()))])
            released = True
        if not released or polished_kkt(problem, new_x, new_multipliers).largest <= tol:
            return new_x, new_multipliers
        # blocks whose multipliers already fit are not solved for again
        x, multipliers = new_x, new_multipliers
    if bool(violated.any()):
        return None  # the last round left the constraints violated
    return new_x, new_multipliers


def _norms(objective, x):
    """The norms of the groups of ``x``."""
    return torch.linalg.vector_norm(groups_of(objective, x), dim=1)


def _values(objective, rows, active, x):
    """Constraint values ``(m, n)`` of the ``active`` groups of ``x``."""
    groups = groups_of(objective, x)[active]
    return (rows @ groups.unsqueeze(2)).squeeze(2)


def _reduced_solve(
    objective, blocks, active, rows, tight_rows, x, tol, config, resolved=False
):
    """Step 1: the group lasso in the null spaces of the tight rows (``None``
    when it does not converge within ``config.active_set_reduced_max_iter``
    iterations): by the shared solver with one output, by Newton's method
    (:mod:`~convexnn.solvers._outputwise_newton`) with several."""
    bases, free = _null_spaces(blocks, active, rows, tight_rows, resolved)
    if objective.n_outputs > 1:
        return _reduced_outputs(objective, blocks, active, bases, free, x)
    group_size = blocks.shape[1]
    padded = blocks.new_zeros(blocks.shape[0], group_size, group_size)
    padded[active] = bases
    columns = objective.operator.block_outputs(
        padded.view(-1, group_size), group_size, active
    )  # (n, m, d): A_i N_i
    reduced = Problem(
        MatrixOperator(columns.reshape(columns.shape[0], -1)),
        objective.loss,
        GroupLasso(group_size),
        objective.alpha,
        objective.fit_intercept,
    )
    coef, intercept = objective.split(x)
    current = coef.view(-1, group_size)[active].unsqueeze(2)
    start = (bases.transpose(1, 2) @ current).reshape(-1, 1)
    if intercept is not None:
        start = torch.cat([start, intercept.view(1, 1)])
    result = fista(
        reduced,
        start,
        tol=tol,
        max_iter=config.active_set_reduced_max_iter,
        config=config,
    )
    if not result.converged:
        return None
    solution = result.x
    z, intercept = reduced.split(solution)
    new_blocks = torch.zeros_like(blocks)
    new_blocks[active] = (bases @ z.view(-1, group_size, 1)).squeeze(2)
    return objective.pack(new_blocks.view(-1, 1), intercept)


def _null_spaces(blocks, active, rows, tight_rows, resolved):
    """Orthonormal bases ``(m, d, d)`` of the null spaces of the ``active``
    groups' tight rows, in their first columns (zero beyond), and their
    dimensions ``(m,)``. With ``resolved`` (``x`` solves its tight rows to
    rounding, as an interior-point centre does), directions the group's own
    residual cannot resolve stay in the null space."""
    group_size = blocks.shape[1]
    bases = blocks.new_zeros(len(active), group_size, group_size)
    free = torch.full((len(active),), group_size, device=blocks.device)
    directions = blocks[active] / blocks[active].norm(dim=1, keepdim=True)
    for position in range(len(active)):
        selected = rows[position][tight_rows[position]]
        if len(selected) == 0:
            bases[position] = torch.eye(
                group_size, dtype=blocks.dtype, device=blocks.device
            )
            continue
        # the null space needs the full Vh only when there are fewer rows
        wide = len(selected) < group_size
        _, singular, Vh = torch.linalg.svd(selected, full_matrices=wide)
        largest = float(singular[0])
        floor = 1e-10 * largest
        if resolved:
            # nearly dependent tight rows leave singular values at the level
            # of the block's own residual on them: those directions stay free,
            # so that the block keeps its direction (an empty null space would
            # zero it); rows it clearly violates still bind
            residual = float((selected @ directions[position]).norm())
            floor = max(floor, min(10 * residual, 1e-3 * largest))
        rank = int((singular > floor).sum())
        bases[position, :, : group_size - rank] = Vh[rank:].T
        free[position] = group_size - rank
    return bases, free


def _reduced_outputs(objective, groups, active, bases, free, x):
    """Step 1 with several outputs: the reduced problem over the free
    directions of every active group, each feeding its own output, solved by
    :func:`~convexnn.solvers._outputwise_newton.reduced_newton` in float64."""
    n_outputs, group_size = objective.n_outputs, groups.shape[1]
    blocks, position = torch.unique(active // n_outputs, return_inverse=True)
    n_blocks = groups.shape[0] // n_outputs
    identity = torch.eye(group_size, dtype=groups.dtype, device=groups.device)
    block_columns = objective.operator.block_outputs(
        identity.repeat(n_blocks, 1), group_size, blocks
    )  # (n, blocks, d): each block's A_i
    columns = torch.einsum("nmd,mde->nme", block_columns[:, position], bases)
    used = torch.arange(group_size, device=free.device) < free.unsqueeze(1)
    start = (bases.transpose(1, 2) @ groups[active].unsqueeze(2)).squeeze(2)
    _, intercept = objective.split(x)
    solved = reduced_newton(
        objective.loss.astype(torch.float64),
        columns[:, used].to(torch.float64),
        torch.arange(len(active), device=free.device).repeat_interleave(free),
        active % n_outputs,
        start[used].to(torch.float64),
        None if intercept is None else intercept.to(torch.float64),
        objective.alpha,
    )
    if solved is None:
        return None
    z, intercept = solved
    padded = torch.zeros_like(start)
    padded[used] = z.to(padded.dtype)
    new_groups = torch.zeros_like(groups)
    new_groups[active] = (bases @ padded.unsqueeze(2)).squeeze(2)
    if intercept is not None:
        intercept = intercept.to(groups.dtype)
    return objective.pack(coefficients(new_groups, n_outputs), intercept)
