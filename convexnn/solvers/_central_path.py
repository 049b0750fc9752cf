r"""The central path of the barrier method (:mod:`~convexnn.solvers.interior_point`):
its data, its Newton steps and what a centre tells about the optimum."""

from __future__ import annotations

import math
from functools import partial

import torch

from ..problems._problem import TINY
from ..problems.constrained import ConstrainedProblem
from .linalg import conjugate_gradients, shifted_cholesky
from .polish import optimal_intercept

#: Largest :math:`\tau\alpha\|u_j\|` of a block taken for zero at a centre.
ZERO_BLOCK = 1e4
#: Relative rounding of :math:`F_\tau`'s terms: a Newton decrement below it
#: times their size is noise, and the centring stops.
ROUNDING = 1e-14
#: Largest factor by which the loss's curvature may move, at any sample,
#: before :math:`B^\top QB` is formed anew (:meth:`CentralPath._solve`).
HESSIAN_DRIFT = 2.0
#: Relative residual and iterations at most of the conjugate gradients on
#: the Newton system between two formations of :math:`B^\top QB`.
SYSTEM_RESIDUAL = 1e-12
SYSTEM_CG_STEPS = 30
#: Largest slack of a tight row relative to its block's largest: rows still
#: falling towards a positive limit are not counted tight on their way down.
SMALL_SLACK = 1e-3


class CentralPath:
    r"""The barrier problem's data and its current point, in float64 whatever
    the problem's precision (the barrier's terms span more than float32
    resolves); the points and multipliers it hands back are in the problem's.

    ``u`` holds the ``(2P, d̃)`` blocks ``[v; w]`` and ``b`` the intercept;
    ``B`` the dense ``(n, P d̃)`` matrix of the base operator; ``X`` the
    ``n'`` nonzero data rows (the constraints of a zero row always hold) and
    ``signs`` the ``(2P, n')`` signs of the cones, whose rows are
    :math:`K_j = \operatorname{diag}(\mathrm{signs}_j)\tilde X`.
    """

    def __init__(self, problem: ConstrainedProblem):
        objective, cone = problem.problem, problem.constraint
        self.problem, self.alpha = problem, objective.alpha
        self.dtype = objective.operator.dtype  # of what the path hands back
        self.loss = objective.loss.astype(torch.float64)
        self.fit_intercept = objective.fit_intercept
        base = objective.operator.base
        B = base.columns(torch.arange(base.n_coefs, device=base.device))
        self.B = B.to(torch.float64)
        self.data_rows = cone.X.abs().sum(1) > 0
        # K_j u_j = s_j ⊙ (X̃ u_j): the rows are never formed, block by block
        self.X = cone.X[self.data_rows].to(torch.float64)
        self.signs = cone.signs[self.data_rows].T.to(torch.float64)  # (2P, n')
        self.n_blocks, self.n_features = cone.n_blocks, cone.n_features
        self.n_rows = self.signs.numel()
        self.half = self.n_blocks // 2
        interior = cone.interior.to(torch.float64)
        scale = self.slacks(interior).median(1).values
        self.u = interior / scale.unsqueeze(1)  # v = w: zero outputs
        self.b = torch.zeros_like(self.loss.Y[0])
        if self.fit_intercept:
            self.b = optimal_intercept(self.loss, torch.zeros_like(self.loss.Y), self.b)
        # B^T Q B / tau, last formed where Q / tau was _unit_curvature
        self._unit_hessian = self._unit_curvature = None
        self._previous_slacks = None  # at the last centre

    def outputs(self, u: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        net = (u[: self.half] - u[self.half :]).reshape(-1, 1)
        return self.B @ net + b

    def slacks(self, u: torch.Tensor) -> torch.Tensor:
        r""":math:`K_ju_j` for every block, ``(2P, n')``."""
        return (u @ self.X.T).mul_(self.signs)

    def _row_sums(self, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r""":math:`K_j^\top w_j` and :math:`K_j^\top\operatorname{diag}(w_j^2)K_j`
        for the weights ``w`` ``(2P, n')`` of every block's rows (the signs
        square to one). The second is one matrix product,
        :math:`w^2` times the rows' outer products
        :math:`\tilde x\tilde x^\top` (formed over chunks of rows)."""
        sums = (weights * self.signs) @ self.X
        d = self.n_features
        chunk = max(1, 2**22 // (d * d))
        grams = 0
        parts = zip(self.X.split(chunk), (weights**2).split(chunk, -1), strict=True)
        for rows, squares in parts:
            outer = (rows.unsqueeze(2) * rows.unsqueeze(1)).reshape(len(rows), -1)
            grams = grams + squares @ outer
        return sums, grams.view(*weights.shape[:-1], d, d)

    def initial_tau(self) -> float:
        r""":math:`\tau` at which the objective's weight balances the
        barrier's: the number of rows over the objective at the start."""
        Z = self.outputs(self.u, self.b)
        value = self.loss.value(Z) + self.alpha * float(self.u.norm(dim=-1).sum())
        return self.n_rows / max(value, 1e-300)

    def _psi(self, tau: float, u: torch.Tensor) -> torch.Tensor:
        r""":math:`\psi_\tau(\|u_j\|)` for every block."""
        ta, r = tau * self.alpha, u.norm(dim=-1)
        t = _epigraph(ta, r)
        return ta * t - torch.log(t**2 - r**2)

    def change(self, tau: float, du: torch.Tensor, db: torch.Tensor) -> float:
        r""":math:`F_\tau(u + \delta u, b + \delta b) - F_\tau(u, b)`, summed
        term by term, infinite when the step leaves the cones."""
        s, ds = self.slacks(self.u), self.slacks(du)
        if not bool((s + ds > 0).all()):
            return math.inf
        u, Y = self.u + du, self.loss.Y
        before = self.loss.sample_losses(self.outputs(self.u, self.b), Y)
        after = self.loss.sample_losses(self.outputs(u, self.b + db), Y)
        data = tau * float(self.loss.average(after - before))
        cone = float((self._psi(tau, u) - self._psi(tau, self.u)).sum())
        return data + cone - float(torch.log1p(ds / s).sum())

    def centre(self, tau: float, budget: int) -> int:
        r"""Damped Newton steps on :math:`F_\tau` until the Newton decrement
        is at rounding level or the line search finds no decrease; returns
        the steps taken."""
        # F's rounding level: its terms are about tau f and one per row
        rows = self.n_rows
        level = 1e-9 + ROUNDING * (
            tau * self.loss.value(self.outputs(self.u, self.b)) + rows
        )
        for step in range(1, budget + 1):
            du, db, decrement = self._newton_step(tau)
            if decrement <= level:
                return step
            size = self._largest_step(du)
            while size > 1e-10:
                if self.change(tau, size * du, size * db) <= -0.25 * size * decrement:
                    self.u, self.b = self.u + size * du, self.b + size * db
                    break
                size *= 0.5
            else:
                return step
        return budget

    def _largest_step(self, du: torch.Tensor) -> float:
        """``0.99`` times the step to the cones' boundary, at most one."""
        ds = self.slacks(du)
        leaving = ds < 0
        if not bool(leaving.any()):
            return 1.0
        s = self.slacks(self.u)
        return min(1.0, 0.99 * float((-s[leaving] / ds[leaving]).min()))

    def _block_terms(self, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Gradient ``(2P, d̃)`` and Hessian ``(2P, d̃, d̃)`` of each block's
        barrier terms, :math:`\psi_\tau` and the logarithms of its rows."""
        u, s = self.u, self.slacks(self.u)
        ta, r = tau * self.alpha, u.norm(dim=-1, keepdim=True)
        t = _epigraph(ta, r)
        sums, hessian = self._row_sums(1 / s)
        gradient = ta * u / t - sums
        hessian += torch.eye(self.n_features).to(u) * (ta / t).unsqueeze(-1)
        outer = (ta**2 / (t**2 * (ta * t - 1))).unsqueeze(-1)
        hessian -= outer * u.unsqueeze(-1) * u.unsqueeze(-2)
        return gradient, hessian

    def _newton_step(self, tau: float):
        r"""The Newton direction of :math:`F_\tau` at the current point (the
        module docstring) and the decrement :math:`-\nabla F^\top\delta`."""
        half = self.half
        Z = self.outputs(self.u, self.b)
        G = tau * self.loss.gradient(Z)  # (n, 1)
        q = tau * self.loss.hessian_diagonal(Z)
        gradient, hessian = self._block_terms(tau)
        loss_gradient = (self.B.T @ G).view(half, -1)
        rv = -(gradient[:half] + loss_gradient)
        rw = -(gradient[half:] - loss_gradient)
        Bv, Bw = hessian[:half], hessian[half:]
        factor, C_inverse, rhs = eliminate(Bv, Bw, rv, rw)
        solution = self._solve(q, tau, C_inverse, rhs.reshape(-1, 1), G)
        du = solution[: half * self.n_features].view(half, -1)
        db = solution[half * self.n_features :, 0]
        if not self.fit_intercept:
            db = torch.zeros_like(self.b)
        step = recover(factor, Bw, rv, rw, du)
        decrement = float((torch.cat([rv, rw]) * step).sum())
        if self.fit_intercept:
            decrement -= float(G.sum() * db.sum())
        return step, db, decrement

    def _solve(self, q, tau, C_inverse, rhs, G) -> torch.Tensor:
        r"""The Newton system's solution ``(P d̃ [+ 1], 1)`` for the loss
        curvature ``q`` and the blocks ``C_inverse`` of :math:`C^{-1}`, the
        intercept's row (its right-hand side :math:`-\mathbf 1^\top G`)
        appended.

        :math:`B^\top QB` costs ``n (P d̃)²`` to form, far more than the
        rest of a step: it is formed anew only where ``q`` has moved by more
        than a factor ``HESSIAN_DRIFT`` from where it was last formed (for a
        quadratic loss, once). In between, the system with the current ``q``
        is solved by conjugate gradients preconditioned by the one with the
        last formed :math:`B^\top QB`: their ratio has its eigenvalues within
        ``HESSIAN_DRIFT``\ :sup:`±1`, so a few iterations, each two products
        with ``B``, reach the rounding of a direct solve."""
        if self.fit_intercept:
            rhs = torch.cat([rhs, -G.sum().view(1, 1)])
        unit = q / tau
        stale = self._unit_curvature is not None and _drift(unit, self._unit_curvature)
        if self._unit_hessian is None or (stale and not self.loss.quadratic):
            self._unit_hessian = self.B.T @ (unit * self.B)
            self._unit_curvature = unit
        reference = tau * self._unit_curvature
        M = tau * self._unit_hessian + torch.block_diag(*C_inverse)
        if self.fit_intercept:
            Bq = self.B.T @ reference
            corner = reference.sum().view(1, 1)
            M = torch.cat([torch.cat([M, Bq], 1), torch.cat([Bq.T, corner], 1)])
        factor, info = torch.linalg.cholesky_ex(M)
        if int(info) == 0:
            solve = partial(torch.cholesky_solve, input2=factor)
        else:  # positive definite, but beyond what rounding lets Cholesky see
            solve = partial(torch.linalg.solve, M)
        if self._unit_curvature is unit or self.loss.quadratic:
            return solve(rhs)

        def apply(x):
            du = x[: len(self._unit_hessian)]
            V = self.B @ du
            if self.fit_intercept:
                V = V + x[-1]
            QV = q * V
            blocks = _apply(C_inverse, du.view(self.half, -1)).reshape(-1, 1)
            out = self.B.T @ QV + blocks
            return torch.cat([out, QV.sum().view(1, 1)]) if self.fit_intercept else out

        solution, n_iter = conjugate_gradients(
            apply, rhs, solve, tol=SYSTEM_RESIDUAL, max_iter=SYSTEM_CG_STEPS
        )
        if n_iter < SYSTEM_CG_STEPS:
            return solution
        n_unknowns = len(self._unit_hessian)  # rhs without the intercept's row
        self._unit_hessian = None  # not reached: form it anew
        return self._solve(q, tau, C_inverse, rhs[:n_unknowns], G)

    def active(self, tau: float) -> torch.Tensor:
        r"""The blocks the barrier does not only hold off zero:
        :math:`\tau\alpha\|u_j\| >` ``ZERO_BLOCK``."""
        return tau * self.alpha * self.u.norm(dim=-1) > ZERO_BLOCK

    def points(self, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The current point in the layout of the objective's coefficients,
        as it is and with the blocks the barrier only holds off zero set to
        zero (early on the path, when no block is yet near its limit, the
        first is the better fit; later the second)."""
        active = self.active(tau).unsqueeze(1)
        coefs = self.u.reshape(-1, 1), torch.where(active, self.u, 0.0).reshape(-1, 1)
        if self.fit_intercept:
            coefs = tuple(torch.cat([coef, self.b.view(1, 1)]) for coef in coefs)
        return tuple(coef.to(self.dtype) for coef in coefs)

    def multipliers(self, tau: float) -> torch.Tensor:
        r""":math:`\Lambda = 1/(\tau Ku)` in the constraint's layout (row
        ``n·B + j`` for sample ``n`` of block ``j``), zero on the zero data
        rows."""
        return self.layout(1 / (tau * self.slacks(self.u)))

    def tight_rows(self, growth: float) -> torch.Tensor:
        r"""The rows ``(2P, n')`` whose slack fell by at least the fourth root
        of the growth factor :math:`\mu` of :math:`\tau` since the last
        centre (none at the first): a tight row's falls by :math:`\mu`, a
        degenerate one's (its multiplier tends to zero too) by
        :math:`\sqrt\mu`, another's by a factor tending to one."""
        slacks = self.slacks(self.u)
        tight = torch.zeros_like(slacks, dtype=torch.bool)
        if self._previous_slacks is not None:
            falling = slacks <= growth**-0.25 * self._previous_slacks
            # a row still falling towards a positive limit is not small yet
            small = slacks <= SMALL_SLACK * slacks.amax(-1, keepdim=True)
            tight = falling & small
        self._previous_slacks = slacks
        return tight

    def layout(self, values: torch.Tensor) -> torch.Tensor:
        """``(2P, n')`` block-major values in the constraint's row layout."""
        full = values.new_zeros(self.n_blocks, len(self.data_rows))
        full[:, self.data_rows] = values
        full = full.T.reshape(-1, 1)
        return full if full.dtype == torch.bool else full.to(self.dtype)


def _drift(curvature: torch.Tensor, reference: torch.Tensor) -> bool:
    """Whether ``curvature`` is off ``reference`` by more than ``HESSIAN_DRIFT``
    at some sample."""
    ratio = curvature.clamp_min(TINY) / reference.clamp_min(TINY)
    return bool((ratio > HESSIAN_DRIFT).any() or (ratio < 1 / HESSIAN_DRIFT).any())


def _epigraph(ta: float, r: torch.Tensor) -> torch.Tensor:
    r"""The minimiser :math:`t(r) = (1 + \sqrt{1 + \tau^2\alpha^2r^2})/(\tau\alpha)`
    of :math:`\tau\alpha t - \log(t^2 - r^2)` (``ta`` is :math:`\tau\alpha`)."""
    return (1 + torch.sqrt(1 + (ta * r) ** 2)) / ta


def _apply(matrices: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """``matrices[j] @ vectors[j]`` for every block ``j`` (and leading axis)."""
    return (matrices @ vectors.unsqueeze(-1)).squeeze(-1)


def eliminate(Bv, Bw, rv, rw):
    r"""The elimination of :math:`\delta v` (the module docstring of
    :mod:`~convexnn.solvers.interior_point`) for the blocks ``(..., P, d̃, d̃)``
    of :math:`B_v, B_w` and the residuals ``(..., P, d̃)``: the factor of
    :math:`S`, the blocks of :math:`C^{-1} = B_vS^{-1}B_w` and the reduced
    right-hand side :math:`B_wS^{-1}r_v - B_vS^{-1}r_w` ``(..., P, d̃)``."""
    d = Bv.shape[-1]
    factor = shifted_cholesky((Bv + Bw).reshape(-1, d, d)).view(Bv.shape)
    C_inverse = Bv @ torch.cholesky_solve(Bw, factor)
    C_inverse = 0.5 * (C_inverse + C_inverse.transpose(-1, -2))
    S_rv = torch.cholesky_solve(rv.unsqueeze(-1), factor).squeeze(-1)
    S_rw = torch.cholesky_solve(rw.unsqueeze(-1), factor).squeeze(-1)
    return factor, C_inverse, _apply(Bw, S_rv) - _apply(Bv, S_rw)


def recover(factor, Bw, rv, rw, du) -> torch.Tensor:
    r"""The step of :math:`u = (v, w)` from that of :math:`v - w`:
    :math:`\delta v = S^{-1}(r_v + r_w + B_w\delta u)`,
    :math:`\delta w = \delta v - \delta u`, stacked along the blocks."""
    dv = torch.cholesky_solve((rv + rw + _apply(Bw, du)).unsqueeze(-1), factor)
    dv = dv.squeeze(-1)
    return torch.cat([dv, dv - du], -2)
