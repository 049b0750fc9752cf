r"""Polishing: re-optimise block scales and free coordinates before certifying.

A certificate's dual point is the scaled gradient :math:`\Theta = \nabla f(Z)`
(:meth:`~convexnn.problems.Problem.certificate`); it is feasible only when the
free coordinates — the intercept and the unpenalised blocks — are optimal, and
its gap closes at the speed of the primal objective only when each active
block's scale is optimal too. :func:`polish` fits both exactly by damped
Newton (:func:`damped_newton`) on a small smooth problem, and
:func:`polished_certificate` certifies the polished point. For constrained
problems :func:`polished_kkt` re-optimises the intercept
(:func:`optimal_intercept`) before measuring the KKT residuals.

A lower-precision (float32) problem is polished and certified on its float64
copy (:meth:`~convexnn.problems.Problem.certifying_problem`): the iterate is
converted, its outputs are computed anew with float64 products, and the
certificate's objective is the float64 objective of the point it returns, in
the problem's precision.
"""

from __future__ import annotations

import math

import torch

from ..problems import Certificate, Loss, Problem, SquaredLoss
from ..problems._problem import TINY
from ..problems.constrained import ConstrainedProblem, KKTResiduals
from ._directions import KEPT_BYTES, ChunkedDirections, DenseDirections, Directions


def polish(
    problem: Problem, x: torch.Tensor, Z: torch.Tensor, *, rescale: bool = True
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    r"""Re-optimise block scales and the unpenalised coordinates exactly.

    Keeping each nonzero penalised block's direction and letting only its
    scale :math:`s_g > 0` move, together with the free coordinates — the
    intercept :math:`b` and the coefficients :math:`V` of unpenalised
    blocks (weight 0) — leaves the small smooth problem

    .. math::
        \min_{s, V, b}\; f\Bigl(\textstyle\sum_g s_g F_g + A_0 V
        + \mathbf 1 b^\top\Bigr) + \alpha \sum_g s_g\, \omega_g(W_g),

    with :math:`F_g = A W_g` the outputs of block ``g`` alone, which damped
    Newton solves to machine precision. This can only lower the objective,
    and at its solution the residual satisfies the optimality conditions
    exactly along each block's direction and along every free coordinate:
    :math:`\mathbf 1^\top\nabla f = 0` and :math:`A_0^\top\nabla f = 0`,
    the dual constraints of unpenalised variables, which any dual point
    must meet. The violation of the remaining dual constraints then shrinks
    with the *square* of the distance to the optimum, so the duality gap of
    the certificate closes at the speed of the primal objective instead of
    its square root. When Newton does not converge or a scale would turn
    nonpositive (far from the optimum), only the free coordinates are
    re-optimised, as they are when ``rescale`` is false.

    Parameters
    ----------
    problem : Problem
        The problem ``x`` is a point of.
    x, Z : tensor
        The point and its outputs ``problem.matvec(x)``.
    rescale : bool
        Whether the block scales are re-optimised too.

    Returns
    -------
    x, Z : tensor
        The polished point and its outputs.
    exact : bool
        Whether the free coordinates are optimal (trivially so when there
        are none), which a dual point needs to be feasible.
    """
    certifying = problem.certifying_problem()
    if certifying is problem:
        return _polish(problem, x, Z, rescale)
    x_full = x.to(certifying.operator.dtype)
    x_full, Z_full, exact = _polish(
        certifying, x_full, certifying.matvec(x_full), rescale
    )
    return x_full.to(x.dtype), Z_full.to(Z.dtype), exact


def _polish(problem: Problem, x: torch.Tensor, Z: torch.Tensor, rescale: bool):
    """:func:`polish` in ``problem``'s own precision."""
    coef, intercept = problem.split(x)
    group_size, n_outputs = problem.penalty.group_size, problem.n_outputs
    free = problem.free_blocks()
    free_rows = problem.rows(free.nonzero().squeeze(1))
    n_free = len(free_rows) * n_outputs
    unscaled = free_rows[:0]  # no block rescaled: the free coordinates alone
    candidates = (unscaled,)
    if rescale:
        scaled = (problem.active_blocks(x) & ~free).nonzero().squeeze(1)
        candidates = (scaled, unscaled)
    for candidate in candidates:
        if len(candidate) == 0 and n_free == 0 and not problem.fit_intercept:
            break
        directions, penalties = _directions(problem, coef, candidate, free_rows)
        step, converged = damped_newton(
            problem.loss, Z.to(torch.float64), directions, penalties
        )
        scales = 1.0 + step[: len(candidate)]
        if converged and bool((scales > 0).all()):
            step_ = step.to(coef.dtype)
            coef = coef.clone()
            blocked = coef.view(-1, group_size, n_outputs)
            blocked[candidate] *= scales.to(coef.dtype).view(-1, 1, 1)
            moved = step_[len(candidate) : len(candidate) + n_free]
            coef[free_rows] += moved.view(-1, n_outputs)
            Z = (Z + directions.along(step)).to(Z.dtype)
            if not problem.fit_intercept:
                return coef, Z, True
            intercept = intercept + step_[len(candidate) + n_free :]
            return problem.pack(coef, intercept), Z, True
    return x, Z, n_free == 0 and not problem.fit_intercept


def _directions(
    problem: Problem, coef: torch.Tensor, blocks: torch.Tensor, free_rows: torch.Tensor
) -> tuple[Directions, torch.Tensor]:
    """Output directions (``m`` of them) and penalty weights ``(m,)`` of the
    polishing problem: the outputs of ``blocks``, of each coordinate of the
    ``free_rows`` (one direction per row and output), then the intercepts.

    They are held dense, ``n · m · c`` float64 entries, unless the operator
    splits that much work by samples
    (:meth:`~convexnn.problems.LinearOperator.sample_slices`) and the loss's
    Hessian is diagonal: then they are formed by chunks
    (:class:`~convexnn.solvers._directions.ChunkedDirections`), kept while
    they take at most :data:`~convexnn.solvers._directions.KEPT_BYTES` and
    formed again at every product beyond."""
    n_outputs = problem.n_outputs
    weights = [problem.alpha * problem.penalty.block_values(coef)[blocks]]
    weights.append(weights[0].new_zeros(len(free_rows) * n_outputs))
    if problem.fit_intercept:
        weights.append(weights[0].new_zeros(n_outputs))
    weights = torch.cat(weights).to(torch.float64)
    operator = problem.operator
    slices = operator.sample_slices(8 * len(weights) * n_outputs)
    if len(slices) == 1 or not problem.loss.diagonal_hessian:
        dense = _outputs(problem, operator, coef, blocks, free_rows)
        return DenseDirections(dense), weights

    def rows(chunk):
        part = operator.on_samples(chunk)
        return _outputs(problem, part, coef, blocks, free_rows)

    keep = 8 * operator.n_samples * len(weights) * n_outputs <= KEPT_BYTES
    return ChunkedDirections(slices, rows, len(weights), n_outputs, keep), weights


def _outputs(problem, operator, coef, blocks, free_rows) -> torch.Tensor:
    """The directions of :func:`_directions` on ``operator``'s samples,
    ``(n, m, c)`` in float64."""
    n_outputs = problem.n_outputs
    directions = []
    if len(blocks):  # an empty selection of blocks has no outputs to form
        group_size = problem.penalty.group_size
        directions.append(operator.block_outputs(coef, group_size, blocks))
    eye = torch.eye(n_outputs, dtype=coef.dtype, device=coef.device)
    if len(free_rows):
        units = torch.ones_like(coef)
        columns = operator.block_outputs(units, 1, free_rows)[:, :, :1]
        directions.append((columns.unsqueeze(2) * eye).flatten(1, 2))
    if problem.fit_intercept:
        directions.append(eye.expand(operator.n_samples, -1, -1))
    return torch.cat(directions, dim=1).to(torch.float64)


def polished_certificate(
    problem: Problem, x: torch.Tensor, Z: torch.Tensor, *, rescale: bool = True
) -> Certificate:
    r"""The certificate (:meth:`Problem.certificate`) of :func:`polish` ``(x)``.

    ``rescale=False`` skips re-optimising the block scales, the costly part
    of polishing, for an ``x`` whose scales are optimal already: the output
    of :func:`polish` on a restriction of ``problem`` that keeps its nonzero
    blocks. The free coordinates are re-optimised regardless, so the bound
    stays valid whatever ``x`` is.

    A lower-precision problem is certified on its float64 copy
    :math:`\hat P` (:meth:`~convexnn.problems.Problem.certifying_problem`,
    built once per problem): ``x`` is converted and polished there, and the
    dual point :math:`\Theta = \nabla f(\hat Z)` of the polished float64
    point :math:`\hat x` gives the lower bound, free of float32 rounding in
    its products. The point returned must be in the problem's precision, so
    it is :math:`\hat x` rounded to it — or ``x`` itself when rounding loses
    more than polishing gained — and ``primal`` is the float64 objective
    :math:`\hat P` of exactly that point, outputs recomputed in float64. Any
    dual-feasible point bounds the optimum, so the bound of :math:`\hat x`
    stays valid for the rounded point; near the optimum rounding raises the
    objective only to second order, by about
    :math:`\varepsilon_{32}^2\|x\|^2 L`.
    """
    certifying = problem.certifying_problem()
    if certifying is problem:
        x, Z, exact = _polish(problem, x, Z, rescale)
        return problem.certificate(x, Z, exact=exact)
    x_full = x.to(certifying.operator.dtype)
    Z_full = certifying.matvec(x_full)
    polished, polished_Z, exact = _polish(certifying, x_full, Z_full, rescale)
    bound = certifying.certificate(polished, polished_Z, exact=exact)
    # the candidates in the problem's precision, with their float64 outputs
    candidates = [(x, Z_full, certifying.objective(x_full, Z_full))]
    if polished is not x_full:
        rounded = polished.to(x.dtype)
        rounded_full = rounded.to(certifying.operator.dtype)
        rounded_Z = certifying.matvec(rounded_full)
        objective = certifying.objective(rounded_full, rounded_Z)
        candidates.append((rounded, rounded_Z, objective))
    point, point_Z, primal = min(candidates, key=lambda candidate: candidate[2])
    return Certificate(
        point, point_Z.to(Z.dtype), primal, bound.dual, bound.violations.to(x.dtype)
    )


def intercept_directions(
    loss: Loss, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """The intercept's output directions ``(n, c, c)``: one per output column."""
    n_outputs = loss.Y.shape[1]
    eye = torch.eye(n_outputs, dtype=dtype, device=loss.Y.device)
    return eye.expand(loss.n_samples, -1, -1)


def optimal_intercept(loss: Loss, Z: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    r"""The intercept ``b`` minimising :math:`f(Z + \mathbf 1 b^\top)` (float64):
    the (weighted) mean residual for the squared loss, Newton's method from
    ``start`` otherwise."""
    if isinstance(loss, SquaredLoss):
        return loss.average((loss.Y - Z).to(torch.float64))
    start = start.to(torch.float64)
    # a descent step even when Newton stops early: the intercept only improves
    directions = DenseDirections(intercept_directions(loss))
    step, _ = damped_newton(loss, Z.to(torch.float64) + start, directions, start * 0)
    return start + step


def polished_kkt(
    problem: ConstrainedProblem, x: torch.Tensor, multipliers: torch.Tensor
) -> KKTResiduals:
    """The KKT residuals (:meth:`ConstrainedProblem.kkt`) at ``x`` with its
    intercept re-optimised exactly, which the dual bound needs; the residuals
    hold that point."""
    objective = problem.problem
    coef, intercept = objective.split(x)
    if intercept is None:
        return problem.kkt(x, multipliers)
    Z = objective.operator.matvec(coef)
    intercept = optimal_intercept(objective.loss, Z, intercept).to(Z.dtype)
    x = torch.cat([coef, intercept[None]])
    return problem.kkt(x, multipliers, Z=Z + intercept)


def damped_newton(
    loss: Loss,
    Z: torch.Tensor,
    directions: Directions,
    weights: torch.Tensor,
    max_iter: int = 20,
) -> tuple[torch.Tensor, bool]:
    r"""Minimise :math:`\varphi(\delta) = f(Z + \sum_j \delta_j F_j) + w^\top\delta`
    over :math:`\delta \in \mathbb R^m` by Newton's method with backtracking.

    ``directions`` holds the :math:`F_j`
    (:class:`~convexnn.solvers._directions.Directions`, dense or formed by
    chunks of samples); everything is float64; sums over the samples cover
    every process of a loss with ``shards`` (:meth:`Loss.reduce`). The
    Hessian may be singular (collinear directions, the softmax's invariance
    to a common shift), which a tiny ridge, relative to each direction's
    curvature, absorbs. Each Hessian is reused until a step with it no longer
    decreases the Newton decrement enough, so a quadratic loss costs one
    Hessian. Returns the step and whether it converged: the decrement,
    measured with a current Hessian, reached the level of rounding errors (a
    last step is then taken).
    """
    n_directions = directions.n_directions
    delta = weights.new_zeros(n_directions)
    if n_directions == 0:
        return delta, True
    linear, value = 0.0, loss.value(Z)  # w·δ and φ(δ)
    factor, previous = None, math.inf
    for _ in range(max_iter):
        gradient = loss.reduce(directions.inner(loss.gradient(Z))) + weights
        fresh = factor is None
        if fresh:
            hessian = loss.reduce(directions.curvature(loss, Z))
            # Jacobi scaling, so that the ridge is relative to each direction's
            # curvature (a block that just entered has a tiny scale)
            jacobi = hessian.diagonal().clamp(min=TINY).rsqrt()
            hessian = hessian * jacobi.unsqueeze(1) * jacobi
            hessian.diagonal().add_(1e-13)
            factor = torch.linalg.cholesky_ex(hessian).L
        step = torch.cholesky_solve((gradient * jacobi)[:, None], factor)[:, 0]
        step = step * jacobi
        decrement = float(gradient @ step)
        if not decrement < math.inf:  # a singular factor: give up polishing
            return delta, False
        if decrement <= 1e-15 * max(abs(value), TINY):
            if fresh or loss.quadratic:
                return delta - step, True  # a last step, at the level of rounding
            factor = None  # confirm with a current Hessian
            continue
        if decrement > 0.1 * previous:
            factor = None  # this Hessian no longer pays: refresh it next time
        previous = decrement
        moved, size = directions.along(step), 1.0
        while size > 1e-10:
            candidate_Z = Z - size * moved
            candidate_linear = linear - size * float(weights @ step)
            candidate = loss.value(candidate_Z) + candidate_linear
            if candidate <= value - 0.25 * size * decrement:
                break
            size *= 0.5
        else:
            return delta, False
        delta = delta - size * step
        Z, linear, value = candidate_Z, candidate_linear, candidate
    return delta, False
