r"""The Newton systems of the active-set finish (:mod:`convexnn.solvers.newton`):
which one a support gets, what it costs, and the factorised Hessian itself.

The Hessian in ``u`` of the objective ``F`` restricted to the support ``S`` is

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
"""

from __future__ import annotations

import math

import torch

from ..problems import Problem
from .config import SolverConfig
from .linalg import cholesky_solve, cholesky_with_fallback, conjugate_gradients
from .phases import iteration_flops


def system_kind(problem: Problem, n_blocks: int, config: SolverConfig) -> str | None:
    """The Newton system for a support of ``n_blocks`` blocks: ``"samples"``
    (``n × n``, by the Woodbury identity) or ``"coefficients"`` (``m × m`` with
    ``m = n_blocks · group_size``), the smaller one within the limits of
    ``config``; ``None`` when neither fits."""
    n = problem.operator.n_samples
    m = n_blocks * problem.penalty.group_size
    coefficients = (
        m <= config.newton_max_coefficients and n * m <= config.newton_max_columns
    )
    if n <= config.sample_system_max_samples and not (coefficients and m < n):
        return "samples"
    return "coefficients" if coefficients else None


def newton_cost(problem: Problem, n_blocks: int, config: SolverConfig) -> float:
    """The cost of forming and factorising a Newton system on ``n_blocks``
    blocks, in proximal-gradient iterations (two products with ``A`` and
    their overhead); infinite when :func:`system_kind` finds none."""
    kind = system_kind(problem, n_blocks, config)
    if kind is None:
        return math.inf
    n = problem.operator.n_samples
    m = n_blocks * problem.penalty.group_size
    if kind == "samples":
        gram = problem.operator.sample_gram_flops(problem.penalty.group_size, n_blocks)
        factorisation = gram + n**3 / 3
    else:
        factorisation = m * m * (n + m / 3)
    return factorisation / iteration_flops(problem, config)


def block_weights(problem: Problem, x: torch.Tensor, blocks: torch.Tensor):
    """``‖U_g‖ / (α w_g)`` for ``blocks``: the inverse curvatures ``Λ⁻¹`` of
    the penalty here, the weights ``μ`` of :mod:`convexnn.solvers.kernel_newton`
    (Frobenius norms over the outputs)."""
    coef, _ = problem.split(x)
    u = coef[problem.rows(blocks)].reshape(len(blocks), -1)
    weights = problem.penalty.weights
    weights = 1.0 if weights is None else weights[blocks].to(coef)
    return torch.linalg.vector_norm(u, dim=1) / (problem.alpha * weights)


def sample_factor(
    problem: Problem,
    blocks: torch.Tensor,
    weights: torch.Tensor,
    root: torch.Tensor,
    precision: torch.dtype,
) -> torch.Tensor:
    r"""The lower Cholesky factor of :math:`K = I + R\,(\sum_j \lambda_j
    A_{g_j}A_{g_j}^\top)\,R` with :math:`R = \operatorname{diag}(` ``root``
    :math:`)`, over ``blocks`` with weights ``λ = weights``, formed in
    ``precision``. :math:`K \succeq I`, so its factor exists short of huge
    entries, which rounding breaks: it is then formed again in float64
    (:func:`~convexnn.solvers.linalg.cholesky_with_fallback`).
    The operator must provide ``"sample_gram"``."""

    def form(precision: torch.dtype) -> torch.Tensor:
        gram = problem.operator.sample_gram(
            problem.penalty.group_size, blocks, weights, precision
        )
        scaling = root.to(precision)
        K = gram.mul_(scaling).mul_(scaling.T)
        K.diagonal().add_(1.0)
        return K

    return cholesky_with_fallback(form, precision)


class _NewtonSystem:
    r"""The factorised Hessian of ``F`` at one point, on the blocks ``blocks``
    (and the intercept); subclasses factorise the coefficient part ``H`` and
    solve with it (:meth:`solve`), the intercept is eliminated here. ``scale``
    holds :math:`\|u_g\|/(\alpha w_g)` and ``factor`` the Cholesky factor of
    the sample-space matrix :math:`K` (:func:`sample_factor`) where the system
    needs it."""

    #: Whether a solve with the factors is the Newton step to the problem's
    #: precision; otherwise they only precondition conjugate gradients, at the
    #: point they were formed at too.
    exact = True

    def __init__(self, problem: Problem, x, Z, blocks, scale, factor=None):
        self.problem, self.blocks, self.scale = problem, blocks, scale
        self.point = x
        group_size = problem.penalty.group_size
        coef, _ = problem.split(x)
        self.operator = problem.operator.restrict(group_size, blocks)
        self.rows = problem.rows(blocks)
        u = coef[self.rows].view(len(blocks), group_size)
        self.units = u / torch.linalg.vector_norm(u, dim=1, keepdim=True)  # R
        curvature = problem.loss.hessian_diagonal(Z)  # diagonal of Q, (n, 1)
        self._factorise(curvature, factor)
        if problem.fit_intercept:
            # the intercept couples to u through a = A_Sᵀ q and has curvature Σ q
            self.coupling = self.operator.rmatvec(curvature).view(-1)
            self.coupled = self.solve(self.coupling.view(*u.shape, 1)).view(-1)
            self.total_curvature = float(curvature.sum())
            self.intercept_curvature = self.total_curvature - float(
                self.coupling @ self.coupled
            )

    @property
    def factorised(self) -> _NewtonSystem:
        """The system whose factorisation this one solves with (itself, unless
        it extends another)."""
        return self

    def _factorise(self, curvature: torch.Tensor, factor: torch.Tensor | None):
        """Factorise ``H`` given the loss curvatures ``Q`` (``(n, 1)``) and the
        factor of :math:`K` where the system needs it."""
        raise NotImplementedError

    def solve(self, V: torch.Tensor) -> torch.Tensor:
        """``H⁻¹ V`` for right-hand sides ``V`` of shape ``(k, group_size, r)``."""
        raise NotImplementedError

    def precondition(self, v: torch.Tensor) -> torch.Tensor:
        r"""The factorised inverse Hessian of ``F`` times ``v``, a flat vector of
        the blocks' coefficients followed by the intercept if there is one.

        With the coupling :math:`a = A_S^\top q` and :math:`s = \sum_i q_i`, the
        system :math:`\begin{pmatrix}H & a\\ a^\top & s\end{pmatrix}
        \begin{pmatrix}\delta\\ \beta\end{pmatrix} = \begin{pmatrix}v_u\\
        v_b\end{pmatrix}` has :math:`\beta = (v_b - a^\top H^{-1}v_u) /
        (s - a^\top H^{-1} a)` and :math:`\delta = H^{-1}v_u - \beta H^{-1}a`."""
        size = self.rows.numel()
        delta = self.solve(v[:size].view(*self.units.shape, 1)).view(-1)
        if not self.problem.fit_intercept:
            return delta
        intercept = (v[size:] - self.coupling @ delta) / self.intercept_curvature
        return torch.cat([delta - intercept * self.coupled, intercept])

    def step(
        self, x, Z, config: SolverConfig, enough: float = 0.0
    ) -> tuple[torch.Tensor, float, int]:
        r"""The Newton step :math:`\nabla^2F(x)^{-1}\nabla F(x)` (zero off the
        blocks) in the layout of ``x``, the decrement
        :math:`\nabla F^\top \nabla^2F^{-1}\nabla F`, and the conjugate-gradient
        iterations it took; a zero step and decrement when conjugate gradients
        find the decrement with the factorised Hessian :math:`M`,
        :math:`\nabla F^\top M^{-1}\nabla F`, at most ``enough``.

        At the point the Hessian was factorised at, the step is a solve with
        the factors where these are :attr:`exact`. Elsewhere (``x`` may differ
        from that point, but not in its nonzero blocks), or with factors of
        lower precision, the factorised Hessian preconditions conjugate gradients
        on the Hessian at ``x``
        (:func:`~convexnn.solvers.linalg.conjugate_gradients`, to the relative
        preconditioned residual ``config.newton_forcing``, in at most
        ``config.newton_max_cg`` iterations), whose products cost one product
        with each of :math:`A_S` and :math:`A_S^\top`:

        .. math::
            \nabla^2F \begin{pmatrix}v\\ \beta\end{pmatrix} =
            \begin{pmatrix}A_S^\top r + \big(c_g (v_g - \hat u_g\hat u_g^\top
            v_g)\big)_g\\ \mathbf 1^\top r\end{pmatrix},
            \qquad r = Q (A_S v + \mathbf 1 \beta).
        """
        problem = self.problem
        coef, _ = problem.split(x)
        u = coef[self.rows].view(*self.units.shape)
        dual = problem.loss.gradient(Z)
        # the gradient of α w_g ‖u_g‖ is c_g u_g with c_g = α w_g / ‖u_g‖
        curvatures = 1.0 / block_weights(problem, x, self.blocks).unsqueeze(1)
        gradient = (self.operator.rmatvec(dual).view_as(u) + curvatures * u).view(-1)
        if problem.fit_intercept:
            # eliminating the intercept needs a positive Schur complement, which
            # fails when the blocks' outputs span the constants to rounding
            if not self.intercept_curvature > 1e-12 * self.total_curvature:
                return problem.zeros(), math.nan, 0
            gradient = torch.cat([gradient, dual.sum(0)])
        if x is self.point and self.exact:
            delta, iterations = self.precondition(gradient), 0
        else:
            units = u / torch.linalg.vector_norm(u, dim=1, keepdim=True)
            curvature = problem.loss.hessian_diagonal(Z)

            def hessian_product(v):
                size = u.numel()
                V = v[:size].view_as(u)
                outputs = self.operator.matvec(v[:size].view(-1, 1))
                if problem.fit_intercept:
                    outputs = outputs + v[size]
                residual = curvature * outputs
                along = units * (units * V).sum(1, keepdim=True)
                product = self.operator.rmatvec(residual).view_as(u)
                product = (product + curvatures * (V - along)).view(-1)
                if not problem.fit_intercept:
                    return product
                return torch.cat([product, residual.sum(0)])

            delta, iterations = conjugate_gradients(
                hessian_product,
                gradient,
                self.precondition,
                tol=config.newton_forcing,
                max_iter=config.newton_max_cg,
                stop="preconditioned",
                enough=enough,
            )
        decrement = float(gradient @ delta)
        step = coef.new_zeros(coef.shape)
        step[self.rows] = delta[: u.numel()].view(-1, 1)
        if problem.fit_intercept:
            step = problem.pack(step, delta[u.numel() :])
        return step, decrement, iterations


class _SampleSystem(_NewtonSystem):
    """``H`` solved in sample space by the Woodbury identity of the module."""

    def _factorise(self, curvature, factor):
        self.directions = self.units * self.scale.unsqueeze(1)  # Λ⁻¹ R
        self.root = curvature.sqrt()
        self.factor = factor
        # the factors solve to the problem's precision, or precondition only
        self.exact = factor.dtype.itemsize >= curvature.dtype.itemsize
        everything = torch.arange(len(self.blocks), device=self.blocks.device)
        outputs = self.operator.block_outputs(
            self.directions.view(-1, 1), self.problem.penalty.group_size, everything
        )
        self.F = (self.root * outputs[:, :, 0]).to(factor.dtype)  # Q^½ A Λ⁻¹ R
        self.LF = torch.linalg.solve_triangular(factor, self.F, upper=False)
        LF = self.LF.to(torch.float64)  # S is small and can be ill-conditioned
        self.schur_factor = torch.linalg.cholesky_ex(LF.T @ LF).L

    def solve(self, V):
        r = V.shape[2]
        precision = self.factor.dtype
        scale = self.scale.view(-1, 1, 1)
        scaled = scale * V  # Λ⁻¹ V
        AV = (self.root * self.operator.matvec(scaled.reshape(-1, r))).to(precision)
        LAV = torch.linalg.solve_triangular(self.factor, AV, upper=False)
        projected = torch.einsum("kg,kgr->kr", self.directions, V).to(precision)
        W = (projected - self.LF.T @ LAV).to(torch.float64)
        W = cholesky_solve(self.schur_factor, W).to(precision)
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

    def _factorise(self, curvature, factor):
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
        return cholesky_solve(self.factor, flat).to(V.dtype).view(V.shape)
