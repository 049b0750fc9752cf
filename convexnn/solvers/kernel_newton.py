r"""Group lasso with a quadratic loss as multiple kernel learning: Newton's
method on one weight per block.

Each Euclidean penalty term has the variational form

.. math::
    \lambda_g \|U_g\| = \min_{\mu_g \ge 0}\; \frac{\|U_g\|^2}{2\mu_g}
    + \frac{\lambda_g^2 \mu_g}{2}, \qquad \lambda_g = \alpha w_g,

attained at :math:`\mu_g = \|U_g\| / \lambda_g`. For a quadratic loss with
a diagonal Hessian, :math:`f(Z) = f(T) + \tfrac12\|Q^{1/2}(Z - T)\|^2` (the
same ``Q`` for every output), the coefficients then come out in closed form:
with the weights fixed, the minimum over ``U`` (and the intercept ``b``) is
a kernel ridge regression, so that

.. math::
    \min_{U, b} P(U, b) = \min_{\mu \ge 0} \varphi(\mu), \qquad
    \varphi(\mu) = f(T) + \tfrac12 \langle t, \theta \rangle
    + \tfrac12 \sum_g \lambda_g^2 \mu_g,

    K(\mu) = I + Q^{1/2}\Bigl(\sum_g \mu_g A_g A_g^\top\Bigr) Q^{1/2},
    \qquad t = Q^{1/2} T, \qquad \theta = K^{-1}(t - s b^\top),

with :math:`s = Q^{1/2}\mathbf 1` and the intercept
:math:`b = t^\top K^{-1}s / s^\top K^{-1}s` (absent without one). This
:math:`\varphi` is convex and smooth (a matrix-fractional function of the
kernel weights: the group lasso is multiple kernel learning, Bach, Lanckriet &
Jordan 2004). With the residual :math:`r = Q^{1/2}\theta = -\nabla f(Z)`,

.. math::
    U_g = \mu_g A_g^\top r, \qquad
    \frac{\partial\varphi}{\partial\mu_g} = \tfrac12\bigl(\lambda_g^2
    - \|A_g^\top r\|^2\bigr), \qquad
    \frac{\partial^2\varphi}{\partial\mu_g\,\partial\mu_h}
    = \langle V_g, \tilde K^{-1} V_h\rangle, \quad V_g = Q^{1/2}A_gA_g^\top r,

where :math:`\tilde K^{-1} = K^{-1} - K^{-1}ss^\top K^{-1} / s^\top K^{-1}s`
with an intercept and :math:`K^{-1}` without (inner products summed over the
outputs). The optimality conditions of :math:`\varphi` on :math:`\mu \ge 0`,
:math:`\|A_g^\top r\| \le \lambda_g` with equality where :math:`\mu_g > 0`,
are those of the group lasso, and the certificate comes for free: the
primal objective is :math:`f(T) + \tfrac12\|\theta\|^2 + \sum_g \lambda_g
\mu_g \|A_g^\top r\|` and :math:`-r`, scaled into the dual-feasible set,
gives the dual bound.

There are only as many unknowns as blocks, and a block enters or leaves the
support when its bound stops or starts being active. The projected Newton
method of Bertsekas (1982) therefore converges in a handful of steps from a
rough start, where the Newton finish on the coefficients
(:mod:`convexnn.solvers.newton`) needs the support first: on the gated
breast-cancer benchmark, 7 or 8 factorisations after 10 proximal-gradient
iterations over twelve gate draws, against 120 to 220 iterations before.
Each step costs the ``n × n`` matrix :math:`K`
(:meth:`~convexnn.problems.LinearOperator.sample_gram`), its Cholesky factor,
one product with each of :math:`A` and :math:`A^\top`, and the triangular
solves of the free blocks' :math:`V_g`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..problems import Problem
from ..problems._problem import TINY
from .config import SolverConfig
from .linalg import cholesky_solve, ridge_solve
from .newton_systems import block_weights, sample_factor
from .phases import LoopPhase, iteration_flops

#: Relative changes of :math:`\varphi` at the level of its float64 rounding
#: errors: a step whose decrease falls short of the Armijo test by no more than
#: this times :math:`|\varphi|` is accepted.
ROUNDING = 1e-14


class KernelNewton(LoopPhase):
    """Newton's method on the block weights, from an early checkpoint.

    Needs a quadratic loss whose Hessian is diagonal, positive and the same
    for every output, a Euclidean group penalty with positive finite weights,
    and an operator that forms its sample-space Gram matrix, every sample in
    this process; applies up to
    ``config.sample_system_max_samples`` samples (its ``n × n`` matrix). At the
    first checkpoint where ``config.kernel_newton_expected_steps`` of its steps
    cost fewer iterations than the budget the loop offers (the iterations the
    gap's observed rate predicts are still needed, or those done so far,
    within what ``max_iter`` leaves), :func:`kernel_newton` takes over from
    the iterate certified there, with that budget. The result is certified
    like any iterate, and where it falls short the iterations go on from it.
    It is tried once.
    """

    name = "kernel Newton"
    needs = frozenset(
        {
            "quadratic",
            "diagonal_hessian",
            "shared_curvature",
            "euclidean",
            "sample_gram",
            "all_samples",
        }
    )

    def applies(self, problem: Problem, config: SolverConfig) -> bool:
        return problem.operator.n_samples <= config.sample_system_max_samples

    def memory(self, problem: Problem, config: SolverConfig) -> float:
        n = problem.operator.n_samples
        return 2.0 * n * n * 8  # K and its factor, in float64 at worst

    def cost(self, problem: Problem, config: SolverConfig) -> float:
        return kernel_step_cost(problem, config)

    def start(self, run) -> None:
        self.tried = False

    def at_checkpoint(self, run, progress) -> None:
        problem, config = run.problem, run.config
        expected = config.kernel_newton_expected_steps * self.cost(problem, config)
        if self.tried or expected > progress.budget:
            return
        self.tried = True  # where it fails, proximal gradient goes on
        x, Z, spent = kernel_newton(
            problem,
            run.best.x,
            run.tol * config.kernel_newton_tol_factor,
            config,
            budget=progress.budget,
        )
        run.spent += spent
        run.restart(x, Z)
        run.certify_iterate()


def kernel_step_cost(problem: Problem, config: SolverConfig) -> float:
    """The work of one Newton step, in proximal-gradient iterations (two
    products with ``A`` and their overhead): the ``n × n`` matrix
    (:meth:`~convexnn.problems.LinearOperator.sample_gram_flops`) and its
    factorisation, and at most triangular solves and inner products for every
    block."""
    operator, blocks = problem.operator, problem.n_blocks
    n, columns = operator.n_samples, blocks * problem.n_outputs
    gram = operator.sample_gram_flops(problem.penalty.group_size, blocks)
    flops = gram + n * n * (n / 3 + columns) + n * blocks * columns
    return flops / iteration_flops(problem, config)


@dataclass
class _Point:
    """The weights ``mu`` and what :meth:`_Kernel.evaluate` derives from them."""

    mu: torch.Tensor  # (n_blocks,), float64
    factor: torch.Tensor  # Cholesky factor of K (newton_systems.sample_factor)
    intercept: torch.Tensor | None  # (c,)
    scores: torch.Tensor  # A_gᵀ r, (n_blocks, group_size, c)
    gradient: torch.Tensor  # ∂φ/∂μ_g = (λ_g² − ‖A_gᵀ r‖²) / 2
    value: float  # φ(μ)
    primal: float
    dual: float

    @property
    def relative_gap(self) -> float:
        return (self.primal - self.dual) / max(abs(self.primal), TINY)


class _Kernel:
    """The fixed data of :func:`kernel_newton` (``Q^½``, ``t``, ``s``, the
    bounds ``λ``, the ``config``) and the evaluation of :math:`\\varphi` and
    its Hessian."""

    def __init__(self, problem: Problem, config: SolverConfig):
        self.problem, self.config = problem, config
        loss, operator = problem.loss, problem.operator
        self.dtype = torch.float64
        zero = torch.zeros_like(loss.Y, dtype=self.dtype)
        curvature = loss.hessian_diagonal(zero)[:, :1]  # Q, (n, 1)
        self.root = curvature.sqrt()  # s
        targets = -loss.gradient(zero) / curvature  # T: ∇f(Z) = Q(Z − T)
        self.offset = loss.value(targets)  # f(T)
        self.targets = self.root * targets  # t
        # the right-hand sides of K: t, and s for the intercept
        self.sides = self.targets
        if problem.fit_intercept:
            self.sides = torch.cat([self.targets, self.root], 1)
        weights = problem.penalty.weights
        ones = torch.ones(problem.n_blocks, dtype=self.dtype, device=operator.device)
        self.bounds = problem.alpha * (ones if weights is None else weights.to(ones))
        self.group_size = problem.penalty.group_size

    def _solve(self, mu, factor, sides):
        """:math:`K(\\mu)^{-1}` ``sides`` to the problem's precision: the
        factor's solution, refined with products by the exact :math:`K` (one
        with each of :math:`A` and :math:`A^\\top`) while they shrink the
        residual fast enough, at most ``config.kernel_newton_max_refinements``
        times and until it is below ``config.kernel_newton_refinement_tol``
        times ``sides``."""
        config = self.config
        operator = self.problem.operator
        rows = mu.to(operator.dtype).repeat_interleave(self.group_size).unsqueeze(1)

        def product(V):  # K V = V + Q^½ A M Aᵀ Q^½ V
            weighted = rows * operator.rmatvec((self.root * V).to(operator.dtype))
            return V + self.root * operator.matvec(weighted).to(self.dtype)

        solution = cholesky_solve(factor, sides.to(factor.dtype)).to(self.dtype)
        size = float(torch.linalg.vector_norm(sides))
        previous = math.inf
        for _ in range(config.kernel_newton_max_refinements):
            residual = sides - product(solution)
            norm = float(torch.linalg.vector_norm(residual))
            if (
                not norm < config.kernel_newton_refinement_rate * previous
                or norm <= config.kernel_newton_refinement_tol * size
            ):
                break
            solution += cholesky_solve(factor, residual.to(factor.dtype)).to(self.dtype)
            previous = norm
        return solution

    def evaluate(self, mu: torch.Tensor) -> _Point:
        """:math:`\\varphi(\\mu)` and everything its derivatives need."""
        problem, operator = self.problem, self.problem.operator
        support = (mu > 0).nonzero().squeeze(1)
        precision = self.config.sample_system_precision
        factor = sample_factor(problem, support, mu[support], self.root, precision)
        solution = self._solve(mu, factor, self.sides)
        theta, intercept = solution[:, : problem.n_outputs], None
        if problem.fit_intercept:  # eliminate b so that sᵀθ = 0
            along = solution[:, -1:]  # K⁻¹ s
            intercept = (self.root.T @ theta) / (self.root.T @ along)
            theta = theta - along * intercept
            intercept = intercept[0]
        residual = self.root * theta  # r = −∇f(Z)
        residual = residual.to(operator.dtype)
        adjoint = operator.rmatvec(residual)  # Aᵀr
        scores = adjoint.to(self.dtype).view(problem.n_blocks, self.group_size, -1)
        norms = torch.linalg.vector_norm(scores.flatten(1), dim=1)
        fit = 0.5 * float((theta**2).sum())
        value = self.offset + 0.5 * float((self.targets * theta).sum())
        return _Point(
            mu=mu,
            factor=factor,
            intercept=intercept,
            scores=scores,
            gradient=0.5 * (self.bounds**2 - norms**2),
            value=value + 0.5 * float(self.bounds**2 @ mu),
            primal=self.offset + fit + float(self.bounds * mu @ norms),
            dual=problem.scaled_dual(-residual, adjoint)[0],  # Θ = ∇f(Z) = −r
        )

    def hessian(self, point: _Point, free: torch.Tensor) -> torch.Tensor:
        """:math:`\\langle V_g, \\tilde K^{-1} V_h\\rangle` over the ``free``
        blocks, with the factor of :math:`K` (in its precision: the Newton
        step only needs to be close)."""
        problem, factor = self.problem, point.factor
        coef = point.scores.reshape(-1, point.scores.shape[2])
        outputs = problem.operator.block_outputs(
            coef.to(problem.operator.dtype), self.group_size, free
        )
        V = (self.root.unsqueeze(2) * outputs).flatten(1).to(factor.dtype)
        solved = torch.linalg.solve_triangular(factor, V, upper=False)  # L⁻¹V
        if problem.fit_intercept:  # K̃⁻¹ = L⁻ᵀ(I − ŝŝᵀ)L⁻¹ with ŝ ∝ L⁻¹s
            unit = torch.linalg.solve_triangular(
                factor, self.root.to(factor.dtype), upper=False
            )
            unit = unit / torch.linalg.vector_norm(unit)
            solved = solved - unit @ (unit.T @ solved)
        c = outputs.shape[2]
        solved = solved.to(self.dtype)  # a Gram matrix positive to rounding
        products = (solved.T @ solved).view(len(free), c, len(free), c)
        return products.diagonal(dim1=1, dim2=3).sum(2)

    def point(self, point: _Point) -> tuple[torch.Tensor, torch.Tensor]:
        """The coefficients :math:`U_g = \\mu_g A_g^\\top r` (and the
        intercept) of ``point`` in the solver's layout, and their outputs."""
        problem = self.problem
        dtype = problem.operator.dtype
        coef = (point.mu.view(-1, 1, 1) * point.scores).to(dtype)
        coef = coef.reshape(problem.operator.n_coefs, -1)
        intercept = None if point.intercept is None else point.intercept.to(dtype)
        x = problem.pack(coef, intercept)
        return x, problem.matvec(x)


def kernel_newton(
    problem: Problem,
    x: torch.Tensor,
    tol: float,
    config: SolverConfig,
    budget: float = math.inf,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Minimise ``problem`` from ``x`` by projected Newton steps on the block
    weights of the module, until the relative duality gap is at most ``tol``.

    ``problem`` must meet the needs of :class:`KernelNewton`. Each step solves
    for the weights that are free with the Hessian of :math:`\\varphi` and
    sends the others towards zero (:func:`_direction`), then backtracks along
    the projection onto :math:`\\mu \\ge 0` until :math:`\\varphi` decreases
    enough (Bertsekas, 1982), a decrease at the level of rounding errors
    included: near the optimum the gap, not :math:`\\varphi`, still moves. A
    point whose gap is at most ``tol`` ends the solve wherever it is met.
    Stops after ``config.kernel_newton_max_steps`` steps, before an evaluation
    would take the work beyond ``budget``, or when
    ``config.kernel_newton_max_halvings`` halvings find no decrease (a step
    is accepted at ``config.kernel_newton_sufficient_decrease`` of the
    decrease it predicts).

    A lower-precision problem is solved on its float64 copy
    (:meth:`~convexnn.problems.Problem.certifying_problem`, the copy its
    certificates use), from ``x`` converted, and the point returned is
    rounded to ``x``'s precision: the refined solves with :math:`K` need
    products as exact as the float64 rounding they refine to, and float32
    products leave :math:`\varphi` too coarse for the line search to find
    its decrease near the optimum.

    Returns
    -------
    x, Z : tensor
        The point with the smallest objective met and its outputs, in ``x``'s
        precision.
    spent : float
        The work done in proximal-gradient iterations
        (:func:`kernel_step_cost` per evaluation of :math:`\\varphi`).
    """
    certifying = problem.certifying_problem()
    if certifying is not problem:
        x_full, _, spent = kernel_newton(
            certifying, x.to(certifying.operator.dtype), tol, config, budget
        )
        x = x_full.to(x.dtype)
        return x, problem.matvec(x), spent
    kernel = _Kernel(problem, config)
    cost = kernel_step_cost(problem, config)
    everything = torch.arange(problem.n_blocks, device=x.device)
    point = kernel.evaluate(block_weights(problem, x, everything).to(kernel.dtype))
    spent, best = cost, point
    for _ in range(config.kernel_newton_max_steps):
        if point.relative_gap <= tol:
            break
        direction, bounded, predicted_free = _direction(kernel, point)
        gradient = point.gradient
        accepted, size = None, 1.0
        for _ in range(config.kernel_newton_max_halvings):
            if spent + cost > budget:
                break
            mu = (point.mu + size * direction).clamp(min=0)
            candidate = kernel.evaluate(mu)
            spent += cost
            predicted = size * predicted_free + float(
                gradient[bounded] @ (point.mu - mu)[bounded]
            )
            decrease = point.value - candidate.value
            rounding = ROUNDING * abs(point.value)
            if (
                candidate.relative_gap <= tol
                or decrease
                >= config.kernel_newton_sufficient_decrease * predicted - rounding
            ):
                accepted = candidate
                break
            size *= 0.5
        if accepted is None:
            break
        point = accepted
        if point.primal < best.primal:
            best = point
    return (*kernel.point(best), spent)


def _direction(
    kernel: _Kernel, point: _Point
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The projected Newton direction at ``point``, the mask of its bounded
    weights and the decrease its free part predicts at a full step.

    Weights below ``config.kernel_newton_active_fraction`` of the largest
    whose derivative is positive are *bounded*: they move towards zero,
    reaching it at a full step (a gradient-projection step, scaled by
    :math:`\\mu_g / \\partial_g\\varphi`); the others are *free* and take
    the Newton step of their block of the Hessian."""
    mu, gradient = point.mu, point.gradient
    fraction = kernel.config.kernel_newton_active_fraction
    bounded = (mu <= fraction * float(mu.max())) & (gradient > 0)
    free = (~bounded).nonzero().squeeze(1)
    direction = -mu.clone()
    if len(free):
        # the Hessian is singular where blocks' V_g are dependent (duplicate
        # patterns, say): the ridge keeps the solve defined
        direction[free] = -ridge_solve(kernel.hessian(point, free), gradient[free])
    return direction, bounded, -float(gradient[free] @ direction[free])
