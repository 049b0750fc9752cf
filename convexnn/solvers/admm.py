r"""ADMM with a Nyström-preconditioned linear solve (the CRONOS scheme).

The problem :math:`\min_u f(Au + \mathbf 1b^\top) + \alpha\Omega(u)` subject to
:math:`Ku \ge 0` is split as in CRONOS (Feng, Frangella & Pilanci, 2024)

.. math::
    \min\; f(Au + \mathbf 1b^\top) + \alpha\Omega(y) + \iota_{\ge 0}(s)
    \quad\text{s.t.}\quad u = y,\; Ku = s .

One step, with scaled multipliers :math:`\mu_y, \mu_s` and penalty
:math:`\rho`, is

1. a linear system for :math:`(u, b)`: the loss is replaced by its quadratic
   upper bound :math:`\frac L2\|Au + \mathbf 1b^\top - T\|^2` at the current
   outputs :math:`Z_k`, :math:`T = Z_k - \nabla f(Z_k)/L` (exact for the
   unweighted squared loss, a majorised ADMM step otherwise, with ``L`` the
   Lipschitz constant of :math:`\nabla f`), and the intercept is
   eliminated by the centring :math:`C = I - \mathbf 1\mathbf 1^\top/n`:

   .. math::
       \Bigl(I + K^\top K + \tfrac L\rho A^\top CA\Bigr)u =
       \tfrac L\rho A^\top CT + (y - \mu_y) + K^\top(s - \mu_s);

2. the group soft-threshold :math:`y = \operatorname{prox}_{\alpha\Omega/\rho}
   (u + \mu_y)` and the projection :math:`s = (Ku + \mu_s)_+`;
3. the multiplier steps :math:`\mu_y \mathrel{+}= u - y`,
   :math:`\mu_s \mathrel{+}= Ku - s`.

The constraint map exposes the block-diagonal structure of its Gram matrix,
:math:`K^\top K = I \otimes G` (``constraint.block_gram()`` returns ``G``;
true of the convex ReLU cone constraints, whose signs square to one). So
:math:`H = I + K^\top K` is inverted exactly block by block and, in
:math:`v = H^{1/2}u`, the system reads
:math:`(I + \tfrac L\rho B^\top B)\,v = H^{-1/2}r` with
:math:`B = CAH^{-1/2}`, of rank at most ``n``. Conjugate gradients solve it,
warm-started, preconditioned by a randomized Nyström approximation of
:math:`B^\top B` (:class:`~convexnn.solvers.linalg.NystromPreconditioner`)
that is sketched once and re-targeted when :math:`\rho` changes; once the
sketch is as large as ``n`` it is exact and CG needs a single step.

The steps are over-relaxed by ``config.admm_relaxation``. Every
``config.admm_check_every`` steps the penalty is balanced (residual
balancing, Boyd et al., 2011, §3.4.1): when the relative primal residual
exceeds ``config.admm_balance`` times the relative dual residual, or the
reverse, :math:`\rho`
is multiplied by the square root of their ratio (clipped to
:math:`[1/5, 5]`) and the scaled multipliers are divided by the same
factor. The KKT residuals (:func:`~convexnn.solvers.polish.polished_kkt`)
are measured at :math:`(y, b)` with the multipliers
:math:`\Lambda = -\rho\mu_s \ge 0`; the loop stops when all three are
``≤ tol`` (or at the first check past ``config.deadline``) and returns the
checked point whose largest residual is smallest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..problems.constrained import ConstrainedProblem
from .config import SolverConfig
from .finish_schedule import FinishSchedule
from .linalg import NystromPreconditioner, conjugate_gradients
from .phases import Phase, dense_bytes
from .polish import polished_kkt
from .progress import report_kkt, timed
from .results import ConstrainedResult

#: Largest number of samples for which the linear step is solved exactly.
EXACT_LIMIT = 2000


class Admm(Phase):
    """ADMM with a Nyström-preconditioned linear step (the module docstring).

    Needs a constraint map with a block-diagonal Gram matrix
    (``"constraint_block_gram"``); applies up to ``config.admm_max_samples``
    samples, where its ``n × n`` eigendecomposition or Nyström sketch pays for
    itself. Its workspace is that ``n × n`` matrix up to ``EXACT_LIMIT``
    samples, the sketch of ``min(n, 100)`` columns of the coefficients'
    length beyond.
    """

    name = "ADMM"
    needs = frozenset({"constraint_block_gram"})

    def applies(self, problem, config: SolverConfig) -> bool:
        return problem.problem.operator.n_samples <= config.admm_max_samples

    def memory(self, problem, config: SolverConfig) -> float:
        operator = problem.problem.operator
        n = operator.n_samples
        if n <= EXACT_LIMIT:
            return 2.0 * 8 * n * n  # the matrix and its eigenvectors
        return dense_bytes(problem.problem, operator.n_coefs, min(n, 100))


class _StepSystem:
    r"""The u-step matrix :math:`I + K^\top K + cA^\top CA`, solved in
    :math:`v = H^{1/2}u`, where it reads :math:`I + cB^\top B`.

    With ``n`` small (``≤ exact_limit``) the ``n × n`` matrix :math:`BB^\top`
    is formed and diagonalised once, :math:`BB^\top = Q\Lambda Q^\top`, and
    every solve is exact by the Woodbury identity,
    :math:`v = r - B^\top Q\,\mathrm{diag}\bigl(c/(1 + c\lambda)\bigr)Q^\top Br`
    (the Nyström approximation whose test matrix spans the range of
    :math:`B^\top`, hence exact). Otherwise conjugate gradients run with the
    randomized Nyström preconditioner of :math:`B^\top B` of size ``rank``,
    sketched in products of at most ``config.admm_sketch_budget`` entries.
    """

    def __init__(
        self,
        problem: ConstrainedProblem,
        rank: int,
        exact_limit: int,
        seed: int,
        config: SolverConfig,
    ):
        objective = problem.problem
        self.operator = objective.operator
        self.centred = objective.fit_intercept
        gram = problem.constraint.block_gram().to(torch.float64)
        self.group_size = gram.shape[0]
        eigenvalues, vectors = torch.linalg.eigh(gram)
        shifted = 1 + eigenvalues.clamp(min=0)
        dtype = self.operator.dtype
        self.root = ((vectors * shifted**0.5) @ vectors.T).to(dtype)
        self.inverse_root = ((vectors * shifted**-0.5) @ vectors.T).to(dtype)
        n_samples, n_coefs = self.operator.n_samples, self.operator.n_coefs
        per_column = n_samples * n_coefs // self.group_size
        self.chunk = max(1, config.admm_sketch_budget // max(per_column, 1))
        self.weight = 1.0
        like = torch.empty(0, dtype=dtype, device=self.operator.device)
        self.exact = n_samples <= exact_limit
        if self.exact:
            metric = self.inverse_root @ self.inverse_root  # the block of H⁻¹
            if "block_kernel" in self.operator.capabilities(self.group_size):
                kernel = self.operator.block_kernel(metric)
                kernel = self.centre(self.centre(kernel).T)
            else:  # from products with the operator, a chunk of columns at a time
                identity = torch.eye(n_samples, dtype=dtype, device=like.device)
                kernel = torch.cat(
                    [self._kernel(part) for part in identity.split(self.chunk, 1)], 1
                )
            self.kernel_values, self.kernel_vectors = torch.linalg.eigh(
                0.5 * (kernel + kernel.T)
            )
            self.kernel_values.clamp_(min=0)
        else:
            self.preconditioner = NystromPreconditioner(
                self._sketch, n_coefs, rank, 1.0, like, seed
            )

    def set_weight(self, weight: float):
        """Set ``c`` in :math:`I + K^\top K + cA^\top CA`."""
        self.weight = float(weight)
        if not self.exact:
            self.preconditioner.mu = 1.0 / self.weight

    def blockwise(self, matrix: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
        """``matrix`` applied to every block of ``coef``, as one product (a
        batched product of many small matrices costs several times more)."""
        n_outputs = coef.shape[1]
        blocks = coef.reshape(-1, self.group_size, n_outputs).transpose(1, 2)
        product = blocks.reshape(-1, self.group_size) @ matrix.T
        product = product.view(-1, n_outputs, self.group_size).transpose(1, 2)
        return product.reshape(coef.shape)

    def centre(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs - outputs.mean(0) if self.centred else outputs

    def _B(self, V: torch.Tensor) -> torch.Tensor:
        return self.centre(self.operator.matvec(self.blockwise(self.inverse_root, V)))

    def _B_adjoint(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.blockwise(
            self.inverse_root, self.operator.rmatvec(self.centre(outputs))
        )

    def _kernel(self, outputs: torch.Tensor) -> torch.Tensor:
        return self._B(self._B_adjoint(outputs))

    def _sketch(self, V: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self._B_adjoint(self._B(part)) for part in V.split(self.chunk, 1)], 1
        )

    def _apply(self, V: torch.Tensor) -> torch.Tensor:
        return V + self.weight * self._B_adjoint(self._B(V))

    def solve(self, rhs, u0, tol: float, max_iter: int) -> torch.Tensor:
        """``u`` solving the system for right-hand side ``rhs``, from ``u0``."""
        scaled = self.blockwise(self.inverse_root, rhs)
        if self.exact:
            Q = self.kernel_vectors
            shrink = self.weight / (1 + self.weight * self.kernel_values)
            correction = Q @ (shrink.unsqueeze(1) * (Q.T @ self._B(scaled)))
            v = scaled - self._B_adjoint(correction)
        else:
            v, _ = conjugate_gradients(
                self._apply,
                scaled,
                self.preconditioner,
                x0=self.blockwise(self.root, u0),
                tol=tol,
                max_iter=max_iter,
            )
        return self.blockwise(self.inverse_root, v)


@dataclass
class _Iterates:
    """The ADMM iterates: ``u`` (and its constraint values ``Ku``), the
    split copies ``y`` and ``s`` with their scaled multipliers, the outputs
    and the intercept, and the previous ``y``, ``s`` (the dual residual)."""

    u: torch.Tensor
    Ku: torch.Tensor
    y: torch.Tensor
    s: torch.Tensor
    mu_y: torch.Tensor
    mu_s: torch.Tensor
    Z: torch.Tensor
    intercept: torch.Tensor
    y_old: torch.Tensor
    s_old: torch.Tensor

    @classmethod
    def start(
        cls,
        problem: ConstrainedProblem,
        x0: torch.Tensor | None,
        multipliers0: torch.Tensor | None,
        rho: float,
    ) -> _Iterates:
        """The iterates at ``x0`` (default zeros) with the multipliers
        ``multipliers0`` (default zeros); ``rho`` scales them."""
        objective, K = problem.problem, problem.constraint
        A = objective.operator
        coef, intercept = objective.split(objective.zeros() if x0 is None else x0)
        u = coef.clone()
        intercept = torch.zeros_like(u[0]) if intercept is None else intercept.clone()
        Ku = K.matvec(u)
        s, Z = Ku.clamp(min=0), A.matvec(u) + intercept
        if multipliers0 is None:
            mu_y, mu_s = torch.zeros_like(u), torch.zeros_like(s)
        else:
            # at a fixed point the u-step's stationarity reads
            # ρ μ_y = Kᵀ Λ − Aᵀ ∇f(Z), and Λ = −ρ μ_s
            mu_s = -multipliers0 / rho
            gradient = A.rmatvec(objective.loss.gradient(Z))
            mu_y = (K.rmatvec(multipliers0) - gradient) / rho
        return cls(u, Ku, u.clone(), s, mu_y, mu_s, Z, intercept, u, s)

    def step(self, problem, system, rho, lipschitz, inner_tol, max_cg, config):
        """One over-relaxed ADMM step (the module docstring)."""
        objective, K = problem.problem, problem.constraint
        A, loss = objective.operator, objective.loss
        target = self.Z - loss.gradient(self.Z) / lipschitz
        rhs = (
            system.weight * A.rmatvec(system.centre(target))
            + (self.y - self.mu_y)
            + K.rmatvec(self.s - self.mu_s)
        )
        self.u = system.solve(rhs, self.u, inner_tol, max_cg)
        Au = A.matvec(self.u)
        if objective.fit_intercept:
            self.intercept = (target - Au).mean(0)
        self.Ku = K.matvec(self.u)
        u_hat = torch.lerp(self.y, self.u, config.admm_relaxation)
        Ku_hat = torch.lerp(self.s, self.Ku, config.admm_relaxation)
        y = objective.penalty.prox(u_hat + self.mu_y, objective.alpha / rho)
        s = (Ku_hat + self.mu_s).clamp(min=0)
        self.y_old, self.s_old = self.y, self.s
        self.mu_y = self.mu_y + (u_hat - y)
        self.mu_s = self.mu_s + (Ku_hat - s)
        self.y, self.s, self.Z = y, s, Au + self.intercept

    def residuals(self, K) -> tuple[float, float]:
        """The relative primal and dual residuals of the last step."""
        u, y, s, Ku = self.u, self.y, self.s, self.Ku
        primal = math.hypot(_norm(u - y), _norm(Ku - s)) / max(
            math.hypot(_norm(u), _norm(Ku)), math.hypot(_norm(y), _norm(s)), 1e-300
        )
        dual = _norm((y - self.y_old) + K.rmatvec(s - self.s_old)) / max(
            _norm(self.mu_y + K.rmatvec(self.mu_s)), 1e-300
        )
        return primal, dual


def _norm(tensor: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(tensor))


@timed
def admm(
    problem: ConstrainedProblem,
    x0: torch.Tensor | None = None,
    multipliers0: torch.Tensor | None = None,
    *,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    rho: float | None = None,
    exact_limit: int = EXACT_LIMIT,
    rank: int | None = None,
    cg_tol: float = 1e-10,
    max_cg: int = 50,
    seed: int = 0,
    verbose: int = 0,
    config: SolverConfig = SolverConfig(),
) -> ConstrainedResult:
    """Solve ``problem`` by ADMM to KKT residuals ``≤ tol``.

    Parameters
    ----------
    problem : ConstrainedProblem
        Its constraint operator must provide ``block_gram()``.
    x0, multipliers0 : tensor, optional
        A warm start: the point in the layout of ``problem.problem.shape`` and
        the constraints' multipliers (default zeros). The solve ends there
        when it, or the active-set finish from it, meets ``tol``
        (:mod:`~convexnn.solvers.finish_schedule`);
        otherwise the iterates start from it, with the scaled multipliers
        that make it a fixed point of the steps when it is a solution.
    tol : float
        Target for the three relative KKT residuals.
    max_iter : int
        Maximum number of ADMM steps.
    rho : float, optional
        Initial penalty; default ``alpha``.
    exact_limit : int
        Largest ``n_samples`` for which the linear step is solved exactly.
    rank : int, optional
        Nyström sketch size beyond ``exact_limit``; default
        ``min(n_samples, 100)``: the sketch costs ``rank`` products with
        ``A`` and ``Aᵀ`` (at ``n = 20 000`` with 500 gates, rank 500 took most of
        the time of ten steps); conjugate gradients make up the rest.
    cg_tol, max_cg : float, int
        Tightest relative residual and iteration cap of each CG solve. The
        solves are inexact early: their tolerance is
        ``config.admm_cg_tol_ratio ·`` the largest KKT residual at the last
        check, at most ``config.admm_cg_loosest_tol`` and at least
        ``cg_tol``, so the ADMM steps' errors shrink with the residuals they
        are meant to reduce.
    seed : int
        Seed of the sketch.
    verbose : int
        Print a progress line (:func:`~convexnn.solvers.progress.report`) at
        each check of the residuals when positive.
    config : SolverConfig
        Tuning of the steps, of the penalty updates and of the active-set
        finish.

    Returns
    -------
    ConstrainedResult
    """
    objective = problem.problem
    A, K, loss = objective.operator, problem.constraint, objective.loss
    rank = min(A.n_samples, 100) if rank is None else rank
    system = _StepSystem(problem, rank, exact_limit, seed, config)
    lipschitz = loss.lipschitz()
    rho = objective.alpha if rho is None else float(rho)
    rho_range = (rho / config.admm_rho_spread, rho * config.admm_rho_spread)
    system.set_weight(lipschitz / rho)

    schedule = FinishSchedule(problem, tol, config, verbose)
    warm = schedule.warm_start(x0, multipliers0, rho)
    if warm is not None:
        return warm
    state = _Iterates.start(problem, x0, multipliers0, rho)
    point = objective.pack(state.y, state.intercept)
    kkt = polished_kkt(problem, point, (-rho * state.mu_s).clamp(min=0))
    inner_tol = config.admm_cg_loosest_tol
    n_iter = 0
    best = kkt, (-rho * state.mu_s).clamp(min=0)
    while kkt.largest > tol and n_iter < max_iter and not config.out_of_time():
        for _ in range(min(config.admm_check_every, max_iter - n_iter)):
            n_iter += 1
            state.step(problem, system, rho, lipschitz, inner_tol, max_cg, config)
        multipliers = (-rho * state.mu_s).clamp(min=0)
        kkt = polished_kkt(
            problem, objective.pack(state.y, state.intercept), multipliers
        )
        if kkt.largest < best[0].largest:
            best = kkt, multipliers
        primal, dual = state.residuals(K)
        inner_tol = max(
            cg_tol,
            min(config.admm_cg_loosest_tol, config.admm_cg_tol_ratio * kkt.largest),
        )
        if verbose:
            report_kkt(Admm.name, n_iter, kkt, rho=rho)
        finished = schedule.attempt(kkt, multipliers, n_iter=n_iter)
        if finished is not None:
            best = finished
            break
        balance = config.admm_balance
        if primal > balance * dual or dual > balance * primal:
            factor = min(max(math.sqrt(primal / max(dual, 1e-300)), 0.2), 5.0)
            if rho_range[0] <= rho * factor <= rho_range[1]:
                rho *= factor
                state.mu_y, state.mu_s = state.mu_y / factor, state.mu_s / factor
                system.set_weight(lipschitz / rho)
    kkt, multipliers = best
    converged = kkt.largest <= tol
    return ConstrainedResult(kkt.x, multipliers, kkt, n_iter, n_iter, converged, rho)
