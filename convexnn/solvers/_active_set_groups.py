"""The groups of the active-set finish (:mod:`~convexnn.solvers.active_set`):
their layout, and step 2, the multipliers by nonnegative least squares.

With ``c`` outputs and an outputwise penalty each block ``i`` has one group
per output, ``i·c + k`` for output ``k``, with its own norm, tight rows and
multipliers; with one output the groups are the blocks.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import nnls


def groups_of(objective, x):
    """The groups of ``x``'s coefficients (:func:`as_groups`)."""
    return as_groups(objective, objective.split(x)[0])


def as_groups(objective, coef):
    """Coefficients ``(B·d, c)`` by group, ``(B·c, d)``: group ``i·c + k`` is
    block ``i``'s column for output ``k`` (with one output, the blocks)."""
    group_size, c = objective.penalty.group_size, objective.n_outputs
    return coef.view(-1, group_size, c).transpose(1, 2).reshape(-1, group_size)


def coefficients(groups, n_outputs):
    """The inverse of :func:`groups_of` on the coefficients, ``(B·d, c)``."""
    group_size = groups.shape[1]
    blocks = groups.view(-1, n_outputs, group_size).transpose(1, 2)
    return blocks.reshape(-1, n_outputs)


def group_rows(constraint, values, n_outputs):
    """Constraint-space ``values`` ``(n·B, c)`` by group, ``(B·c, n)``: the
    rows of block ``i`` in output ``k`` are group ``i·c + k``'s."""
    per_block = constraint.per_block(values)  # (B, n, c)
    return per_block.transpose(1, 2).reshape(-1, per_block.shape[1])


def nnls_multipliers(problem, x, multipliers, active, rows, tight_rows, tol):
    """Step 2: multipliers by nonnegative least squares, group by group.

    Returns them and whether a tight row of an active block was released
    (unmarked in ``tight_rows``) because its multiplier wants to be negative.
    """
    constraint, alpha = problem.constraint, problem.problem.alpha
    c = problem.problem.n_outputs
    targets, nonzero, order = _stationarity_targets(
        problem, x, multipliers, active, tol
    )
    per_group = group_rows(constraint, multipliers, c).clone()  # (B·c, n)
    position_of = {int(block): position for position, block in enumerate(active)}
    released, entering = False, {}
    for block in order:
        position = position_of.get(block)
        if released and position is None:
            break
        if position is None:
            matrix = constraint.block_rows(torch.tensor([block // c]))[0]  # (n, d)
        else:
            matrix = rows[position]
        target = targets[block].double().cpu().numpy()
        if bool(nonzero[block]):  # stationarity on the tight rows, exactly
            support, allowed = tight_rows[position], 0.5 * tol * alpha
        else:  # a zero block: within alpha, with every row
            support = torch.ones(len(matrix), dtype=torch.bool, device=matrix.device)
            allowed = alpha * (1 + 0.5 * tol)
            # an NNLS over every row costs tens of times one over the rows its
            # current multipliers use, which usually suffice
            carried = per_group[block] > 0
            if bool(carried.any()):
                weights, residual = _nnls(matrix, carried, target)
                if residual <= allowed:
                    per_group[block] = torch.from_numpy(weights).to(per_group)
                    continue
        weights = np.zeros(len(support))
        if bool(support.any()):
            weights, residual = _nnls(matrix, support, target)
            if position is not None and residual > allowed:
                # along r = K_Tᵀλ − target the objective decreases and the
                # rows of the support stay feasible (K_T r ≥ 0 at the NNLS
                # optimum): release the tight rows it leaves, K_T r > 0
                system = matrix[support].T.double().cpu().numpy()
                chosen = support.cpu().numpy()
                leaving = system.T @ (system @ weights[chosen] - target)
                if leaving.max() > 0:
                    indices = support.nonzero().squeeze(1)
                    freed = torch.from_numpy(leaving > 1e-3 * leaving.max())
                    tight_rows[position, indices[freed.to(indices.device)]] = False
                    released = True
            elif position is None and residual > allowed:
                # moving along r from zero lowers the objective: the block
                # enters, tight on the rows that carry its multipliers
                entering[block] = torch.from_numpy(weights > 0).to(matrix.device)
        per_group[block] = torch.from_numpy(weights).to(per_group)
    per_block = per_group.view(-1, c, per_group.shape[1]).transpose(1, 2)
    multipliers = constraint.from_blocks(per_block)
    return multipliers, released, entering


def _stationarity_targets(problem, x, multipliers, active, tol):
    r"""What the multipliers of each block must reach, which blocks are
    nonzero, and the blocks whose multipliers miss it, in the order step 2
    updates them.

    A nonzero block's stationarity asks :math:`K_g^\top\lambda_g` to equal
    :math:`\nabla_g + \alpha u_g/\|u_g\|`; a zero block's, to lie within
    :math:`\alpha` of :math:`\nabla_g`. The active set's blocks come first:
    when one of them releases rows the structure changes, and the other
    blocks' multipliers (an NNLS over every row each, the bulk of the cost)
    would be for a point about to be replaced.
    """
    objective, constraint = problem.problem, problem.constraint
    alpha = objective.alpha
    blocks = groups_of(objective, x)
    Theta = objective.loss.gradient(objective.matvec(x))
    gradient = as_groups(objective, objective.operator.rmatvec(Theta))
    norms = torch.linalg.vector_norm(blocks, dim=1, keepdim=True)
    targets = gradient + alpha * blocks / norms.clamp(min=torch.finfo(norms.dtype).tiny)
    current = as_groups(objective, constraint.rmatvec(multipliers))
    nonzero = norms.squeeze(1) > 0
    missing = torch.where(
        nonzero,
        torch.linalg.vector_norm(current - targets, dim=1) > 0.1 * tol * alpha,
        torch.linalg.vector_norm(current - gradient, dim=1) > alpha,
    )
    in_active = torch.zeros_like(missing)
    in_active[active] = True
    first, then = (missing & in_active).nonzero(), (missing & ~in_active).nonzero()
    return targets, nonzero, torch.cat([first, then]).squeeze(1).tolist()


def _nnls(matrix, support, target):
    """Nonnegative least squares ``min_{λ ≥ 0} ‖K_Sᵀλ − target‖`` over the rows
    ``support`` of ``matrix`` (λ zero elsewhere): ``(λ, residual norm)``."""
    weights = np.zeros(len(support))
    system = matrix[support].T.double().cpu().numpy()
    weights[support.cpu().numpy()], residual = nnls(system, target)
    return weights, residual
