r"""An exact Newton finish on the active blocks of a group-lasso problem.

Proximal gradient identifies which blocks are nonzero long before it pins
down their values: on ill-conditioned problems (more coefficients than
samples, strongly correlated blocks, as with gated ReLU) most of its
iterations are spent on the last digits. Once the nonzero blocks ``S`` are
known, the objective restricted to them,

.. math::
    F(u, b) = f(A_S u + \mathbf 1 b) + \alpha \sum_{g\in S} w_g \|u_g\|,

is smooth around the iterate, and Newton's method finishes the job in a few
steps. Its Hessian in ``u`` is

.. math::
    H = A_S^\top Q A_S + \sum_g c_g (I - \hat u_g \hat u_g^\top), \qquad
    c_g = \frac{\alpha w_g}{\|u_g\|},\quad \hat u_g = \frac{u_g}{\|u_g\|},

with :math:`Q = \nabla^2 f` diagonal (``Loss.hessian_diagonal``). ``H`` has
``m = |S| · d`` rows. When ``m`` is smaller than the number of samples ``n``
(or ``n`` is too large for an ``n × n`` matrix), ``H`` is formed from the
dense columns of :math:`A_S` and factorised as it is
(:func:`system_kind`). Otherwise the solve goes through sample space by the
Woodbury identity. With
:math:`\Lambda = \operatorname{blockdiag}(c_g I)`, the unit directions ``R``
(one column :math:`\hat u_g` per block) and :math:`C = \operatorname{diag}(c_g)`,
:math:`H = B - R C R^\top` where :math:`B = \Lambda + A_S^\top Q A_S`, and

.. math::
    B^{-1} = \Lambda^{-1} - \Lambda^{-1} A_S^\top Q^{1/2} K^{-1} Q^{1/2}
    A_S \Lambda^{-1}, \qquad K = I + Q^{1/2} A_S \Lambda^{-1} A_S^\top Q^{1/2},

    H^{-1} = B^{-1} + B^{-1} R\, S^{-1} R^\top B^{-1}, \qquad
    S = C^{-1} - R^\top B^{-1} R = F^\top K^{-1} F, \quad
    F = Q^{1/2} A_S \Lambda^{-1} R,

since :math:`R^\top \Lambda^{-1} R = C^{-1}`. One step costs the
``n × n`` matrix :math:`A_S \Lambda^{-1} A_S^\top`
(:meth:`~convexnn.problems.LinearOperator.sample_gram`), its Cholesky
factor, the outputs of the ``|S|`` blocks and one product with each of
:math:`A_S` and :math:`A_S^\top` per right-hand side. An unpenalised
intercept is eliminated by its Schur complement (a second right-hand side).

Each Newton step is damped by a backtracking line search on the true
objective and followed by one proximal-gradient step on the whole problem,
which lets blocks leave or enter the support. The result is only a candidate:
the caller certifies it with the duality gap of the whole problem, so a
Newton step can speed up a solve but never weaken its certificate.
"""

from __future__ import annotations

import math

import torch

from ..problems import Problem

#: Newton (+ proximal-gradient) steps in one finish.
MAX_STEPS = 8
#: Floating-point operations that a proximal-gradient iteration costs at the
#: least: on small problems its time is mostly the overhead of its small
#: tensor operations (measured on CPU: about as long as 5e6 flops of the
#: factorisation).
ITERATION_FLOPS = 5e6
#: The work of a step (gradient, solve, line search, proximal-gradient step)
#: in proximal-gradient iterations.
STEP_COST = 4
#: A factorised Hessian is refreshed once a step with it shrinks the
#: decrement by less than this factor.
REFRESH = 0.25
#: Largest number of samples of a sample-space system (``n × n``).
MAX_SAMPLES = 4096
#: Largest number of unknowns of a coefficient-space system (``|S|d × |S|d``).
MAX_COEFFICIENTS = 4096
#: Largest number of entries of the dense columns :math:`A_S` it forms.
MAX_COLUMNS = 2**24


def system_kind(problem: Problem, n_blocks: int) -> str | None:
    """The Newton system for a support of ``n_blocks`` blocks: ``"samples"``
    (``n × n``, by the Woodbury identity) or ``"coefficients"`` (``m × m`` with
    ``m = n_blocks · group_size``), the smaller one within its limits; ``None``
    when neither fits."""
    n = problem.operator.n_samples
    m = n_blocks * problem.penalty.group_size
    coefficients = m <= MAX_COEFFICIENTS and n * m <= MAX_COLUMNS
    if n <= MAX_SAMPLES and not (coefficients and m < n):
        return "samples"
    return "coefficients" if coefficients else None


def newton_cost(problem: Problem, n_blocks: int) -> float:
    """The cost of forming and factorising a Newton system on ``n_blocks``
    blocks, in proximal-gradient iterations (two products with ``A`` and
    their overhead); infinite when :func:`system_kind` finds none."""
    kind = system_kind(problem, n_blocks)
    if kind is None:
        return math.inf
    n = problem.operator.n_samples
    m = n_blocks * problem.penalty.group_size
    if kind == "samples":
        factorisation = n * n * (n / 3 + n_blocks)
    else:
        factorisation = m * m * (n + m / 3)
    iteration = 4 * n * problem.operator.n_coefs * problem.n_outputs
    return factorisation / max(iteration, ITERATION_FLOPS)


def supports_newton(problem: Problem) -> bool:
    """Whether :func:`newton_finish` applies to ``problem``: one output, a
    Euclidean group penalty with positive weights, a loss with a diagonal
    Hessian, and an operator that can be restricted to blocks. (Whether a
    support is small enough for a Newton system is :func:`system_kind`'s
    call, and whether the operator can form its sample-space Gram matrix shows
    at the first finish that needs it, see :func:`newton_finish`.)"""
    weights = problem.penalty.weights
    operator = problem.operator
    first = torch.arange(min(problem.n_blocks, 1), device=operator.device)
    return (
        problem.n_outputs == 1
        and problem.penalty.is_euclidean(1)
        and (weights is None or bool(((weights > 0) & (weights < math.inf)).all()))
        and problem.loss.hessian_diagonal(problem.loss.Y[:1]) is not None
        and operator.restrict(problem.penalty.group_size, first) is not None
    )


def newton_finish(
    problem: Problem,
    x: torch.Tensor,
    Z: torch.Tensor,
    lipschitz: float,
    tol: float,
    max_steps: int = MAX_STEPS,
    budget: float = math.inf,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Improve ``x`` (outputs ``Z``) by damped Newton steps on its nonzero
    blocks, each followed by a proximal-gradient step of size ``1/lipschitz``.

    A factorised Hessian is reused while the steps it gives keep shrinking the
    decrement fast (a step with it costs two products, against an ``n × n``
    factorisation for a fresh one). Stops when the Newton decrement (about
    twice the remaining decrease) falls below ``tol`` times the objective.
    ``problem`` must satisfy :func:`supports_newton`. Returns the new point
    (never worse than ``x``), its outputs, and the work done in
    proximal-gradient iterations: :func:`newton_cost` per factorisation and
    ``STEP_COST`` per step; infinite work when a sample-space system is due
    and the operator cannot form the Gram matrix
    :meth:`~convexnn.problems.LinearOperator.sample_gram`, so that a caller
    comparing work never tries again. The finish stops early when the support
    outgrows both kinds of system (:func:`system_kind`).
    """
    value = problem.objective(x, Z)
    system, previous, spent = None, math.inf, 0.0
    for _ in range(max_steps):
        blocks = problem.active_blocks(x).nonzero().squeeze(1)
        if len(blocks) == 0:
            break
        if system is None or not torch.equal(blocks, system.blocks):
            kind = system_kind(problem, len(blocks))
            cost = newton_cost(problem, len(blocks))
            if kind is None or (spent > 0 and spent + cost > budget):
                break
            spent += cost
            scale = _block_norms(problem, x, blocks)
            if kind == "coefficients":
                system = _CoefficientSystem(problem, x, Z, blocks, scale)
            else:
                gram = problem.operator.sample_gram(
                    problem.penalty.group_size, blocks, scale
                )
                if gram is None:
                    return x, Z, math.inf
                system = _SampleSystem(problem, x, Z, blocks, scale, gram)
            previous = math.inf
        spent += STEP_COST
        step, decrement = system.step(x, Z)
        if not decrement > tol * abs(value):
            break  # also when the decrement is not finite
        if decrement > REFRESH * previous:
            system = None  # this Hessian no longer pays: refresh it next time
        previous = decrement
        x, Z, value = _line_search(problem, x, Z, value, step, decrement)
        # one proximal-gradient step: blocks may leave or enter the support
        gradient = problem.rmatvec(problem.loss.gradient(Z))
        moved = problem.prox(x - gradient / lipschitz, 1.0 / lipschitz)
        moved_Z = problem.matvec(moved)
        moved_value = problem.objective(moved, moved_Z)
        if moved_value <= value:
            x, Z, value = moved, moved_Z, moved_value
    return x, Z, spent


def _line_search(problem, x, Z, value, step, decrement):
    """Backtracking along ``-step`` with an Armijo test; returns ``x`` itself
    when no step size lowers the objective.

    A block that the step would carry through zero (its direction reversed)
    wants to leave the support, which the smooth model cannot express: such
    blocks are set to zero instead."""
    size = 1.0
    group_size = problem.penalty.group_size
    before = problem.split(x)[0].view(-1, group_size)
    while size > 1e-8:
        candidate = x - size * step
        after = problem.split(candidate)[0].view(-1, group_size)
        after[(before * after).sum(1) < 0] = 0
        candidate_Z = problem.matvec(candidate)
        candidate_value = problem.objective(candidate, candidate_Z)
        if candidate_value <= value - 1e-4 * size * decrement:
            return candidate, candidate_Z, candidate_value
        size *= 0.5
    return x, Z, value


def _cholesky_solve(factor, B):
    r""":math:`(LL^\top)^{-1} B = L^{-\top}(L^{-1}B)` for the lower Cholesky factor
    ``L``, by two triangular solves: ``torch.cholesky_solve`` costs about four
    times as much on CPU (it copies the factor)."""
    lower = torch.linalg.solve_triangular(factor, B, upper=False)
    return torch.linalg.solve_triangular(factor.mT, lower, upper=True)


def _block_norms(problem, x, blocks):
    """``‖u_g‖ / (α w_g)`` for ``blocks``: the inverse curvatures ``Λ⁻¹``."""
    coef, _ = problem.split(x)
    rows = problem.rows(blocks)
    u = coef[rows].view(len(blocks), problem.penalty.group_size)
    weights = problem.penalty.weights
    weights = 1.0 if weights is None else weights[blocks].to(coef)
    return torch.linalg.vector_norm(u, dim=1) / (problem.alpha * weights)


class _NewtonSystem:
    r"""The factorised Hessian of ``F`` at one point, on the blocks ``blocks``
    (and the intercept); subclasses factorise the coefficient part ``H`` and
    solve with it (:meth:`solve`), the intercept is eliminated here. ``scale``
    holds :math:`\|u_g\|/(\alpha w_g)` and ``gram`` the sample-space matrix
    :math:`A_S \Lambda^{-1} A_S^\top` where the system needs it (ours to
    overwrite)."""

    def __init__(self, problem: Problem, x, Z, blocks, scale, gram=None):
        self.problem, self.blocks, self.scale = problem, blocks, scale
        group_size = problem.penalty.group_size
        coef, _ = problem.split(x)
        self.operator = problem.operator.restrict(group_size, blocks)
        self.rows = problem.rows(blocks)
        u = coef[self.rows].view(len(blocks), group_size)
        self.units = u / torch.linalg.vector_norm(u, dim=1, keepdim=True)  # R
        curvature = problem.loss.hessian_diagonal(Z)  # diagonal of Q, (n, 1)
        self._factorise(curvature, gram)
        if problem.fit_intercept:
            # the intercept couples to u through a = A_Sᵀ q and has curvature Σ q
            self.coupling = self.operator.rmatvec(curvature).view_as(u)
            self.coupled = self.solve(self.coupling.unsqueeze(2))[:, :, 0]
            self.total_curvature = float(curvature.sum())
            self.intercept_curvature = self.total_curvature - float(
                (self.coupling * self.coupled).sum()
            )

    def _factorise(self, curvature: torch.Tensor, gram: torch.Tensor | None):
        """Factorise ``H`` given the loss curvatures ``Q`` (``(n, 1)``)."""
        raise NotImplementedError

    def solve(self, V: torch.Tensor) -> torch.Tensor:
        """``H⁻¹ V`` for right-hand sides ``V`` of shape ``(k, group_size, r)``."""
        raise NotImplementedError

    def step(self, x, Z) -> tuple[torch.Tensor, float]:
        """The step ``H⁻¹ ∇F(x)`` (zero off the blocks) in the layout of ``x``,
        and the decrement ``∇Fᵀ H⁻¹ ∇F``; ``x`` may differ from the point the
        Hessian was formed at, but not in its nonzero blocks."""
        problem = self.problem
        coef, _ = problem.split(x)
        u = coef[self.rows].view(len(self.blocks), -1)
        dual = problem.loss.gradient(Z)
        # the gradient of α w_g ‖u_g‖ is α w_g u_g / ‖u_g‖ at the current u
        scale = _block_norms(problem, x, self.blocks).unsqueeze(1)
        gradient = self.operator.rmatvec(dual).view_as(u) + u / scale
        delta = self.solve(gradient.unsqueeze(2))[:, :, 0]
        decrement = float((gradient * delta).sum())
        step = coef.new_zeros(coef.shape)
        if not problem.fit_intercept:
            step[self.rows] = delta.reshape(-1, 1)
            return step, decrement
        # eliminate the intercept by its Schur complement, positive unless the
        # blocks' outputs span the constants to rounding (then give up)
        if not self.intercept_curvature > 1e-12 * self.total_curvature:
            return step, math.nan
        intercept_gradient = float(dual.sum())
        intercept_step = (
            intercept_gradient - float((self.coupling * delta).sum())
        ) / self.intercept_curvature
        delta = delta - intercept_step * self.coupled
        step[self.rows] = delta.reshape(-1, 1)
        decrement = float((gradient * delta).sum())
        decrement += intercept_gradient * intercept_step
        return problem.pack(step, step.new_full((1,), intercept_step)), decrement


class _SampleSystem(_NewtonSystem):
    """``H`` solved in sample space by the Woodbury identity of the module."""

    def _factorise(self, curvature, gram):
        self.directions = self.units * self.scale.unsqueeze(1)  # Λ⁻¹ R
        self.root = curvature.sqrt()
        root = self.root.to(torch.float64)
        K = gram.to(torch.float64).mul_(root).mul_(root.T)
        K.diagonal().add_(1.0)
        self.factor = torch.linalg.cholesky_ex(K).L
        everything = torch.arange(len(self.blocks), device=self.blocks.device)
        outputs = self.operator.block_outputs(
            self.directions.view(-1, 1), self.problem.penalty.group_size, everything
        )
        self.F = (self.root * outputs[:, :, 0]).to(torch.float64)  # Q^½ A Λ⁻¹ R
        self.LF = torch.linalg.solve_triangular(self.factor, self.F, upper=False)
        self.schur_factor = torch.linalg.cholesky_ex(self.LF.T @ self.LF).L

    def solve(self, V):
        r = V.shape[2]
        scale = self.scale.view(-1, 1, 1)
        scaled = scale * V  # Λ⁻¹ V
        AV = (self.root * self.operator.matvec(scaled.reshape(-1, r))).to(torch.float64)
        LAV = torch.linalg.solve_triangular(self.factor, AV, upper=False)
        projected = torch.einsum("kg,kgr->kr", self.directions, V).to(torch.float64)
        W = _cholesky_solve(self.schur_factor, projected - self.LF.T @ LAV)
        # K⁻¹(AV + F W) = L⁻ᵀ(L⁻¹AV + L⁻¹F W), where L⁻¹AV and L⁻¹F are at hand
        upper = self.factor.mT
        inner = torch.linalg.solve_triangular(upper, LAV + self.LF @ W, upper=True)
        inner = inner.to(V.dtype)
        back = self.operator.rmatvec(self.root * inner).view(V.shape)
        along = self.directions.unsqueeze(2) * W.to(V.dtype).unsqueeze(1)
        return scaled + along - scale * back


class _CoefficientSystem(_NewtonSystem):
    r"""``H`` formed and factorised directly, ``|S|·d`` unknowns: the dense
    columns :math:`A_S` give :math:`A_S^\top QA_S` (``n·(|S|d)²`` work), to which
    each block adds :math:`c_g(I - \hat u_g\hat u_g^\top)`, all in float64."""

    def _factorise(self, curvature, gram):
        n_blocks, group_size = self.units.shape
        size = n_blocks * group_size
        columns = self.operator.columns(
            torch.arange(size, device=self.blocks.device)
        ).to(torch.float64)
        H = columns.T @ (curvature.to(torch.float64) * columns)
        units = self.units.to(torch.float64)
        penalty = torch.eye(group_size, dtype=torch.float64, device=units.device)
        penalty = penalty - units.unsqueeze(2) * units.unsqueeze(1)
        penalty = penalty / self.scale.to(torch.float64).view(-1, 1, 1)  # c_g
        blocks = H.view(n_blocks, group_size, n_blocks, group_size)
        position = torch.arange(n_blocks, device=units.device)
        blocks[position, :, position, :] += penalty
        self.factor = torch.linalg.cholesky_ex(H).L

    def solve(self, V):
        flat = V.reshape(-1, V.shape[2]).to(torch.float64)
        return _cholesky_solve(self.factor, flat).to(V.dtype).view(V.shape)
