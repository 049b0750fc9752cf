r"""The central path of the barrier method for several outputs coupled by the
loss (the multinomial loss): :class:`CoupledPath`.

The groups are (block, output) pairs: each output ``k`` has its own blocks
:math:`u_{jk}`, its own cones :math:`K_ju_{jk} \ge 0` and its own penalty,
so the barrier terms, and the elimination of :math:`\delta v` output by
output, are those of one output (:mod:`~convexnn.solvers._central_path`)
batched over the outputs. The loss couples them: at sample ``s`` its Hessian
is the ``c × c`` matrix :math:`H_s = w_s(\operatorname{diag}(p_s) -
p_sp_s^\top)`, and the reduced Newton system in :math:`\delta u =
(\delta u_1, …, \delta u_c)` and the intercepts is

.. math::
    M = (I_c\otimes B)^\top H\,(I_c\otimes B) +
    \operatorname{block\,diag}_k(C_k^{-1}),

``c P d̃`` unknowns, too many to factorise for ten classes. It is solved by
conjugate gradients with a two-level preconditioner. The first level is
block Jacobi over the outputs: output ``k``'s own system
:math:`B^\top\operatorname{diag}(H_{s,kk})B + C_k^{-1}`, factorised. Alone
it leaves the system nearly singular along a common shift of every output
(:math:`\delta u_k = \delta` for all ``k``), which the softmax does not see
(:math:`H_s\mathbf 1 = 0`): only the barrier gives it curvature. The second
level corrects that subspace exactly: with :math:`R_0` the sum over the
outputs, the coarse matrix :math:`R_0MR_0^\top = \sum_k C_k^{-1}` (the
loss's blocks sum to zero) is block diagonal, of one output's size. The two
are combined by balancing (Mandel, 1993),

.. math::
    P^{-1} = Q_0 + (I - Q_0M)\,J^{-1}(I - MQ_0),\qquad
    Q_0 = R_0^\top(R_0MR_0^\top)^{-1}R_0,

symmetric positive definite, with the common shift solved exactly at every
iteration. The intercepts' common shift has no curvature at all (it does not
change the loss): the system adds :math:`\bar q\,\mathbf 1\mathbf 1^\top`
on them, which leaves the step unchanged but for that shift, now zero.
"""

from __future__ import annotations

import torch

from ..problems.constrained import ConstrainedProblem
from ._central_path import CentralPath, _apply, _drift, eliminate, recover
from .linalg import conjugate_gradients, shifted_cholesky

#: Relative residual and iterations at most of the conjugate gradients on
#: the joint Newton system.
SYSTEM_RESIDUAL = 1e-10
SYSTEM_CG_STEPS = 200


class CoupledPath(CentralPath):
    r"""The path of :class:`~convexnn.solvers._central_path.CentralPath` with
    ``c`` outputs: ``u`` holds the ``(c, 2P, d̃)`` blocks of every output and
    ``b`` the ``c`` intercepts."""

    def __init__(self, problem: ConstrainedProblem):
        super().__init__(problem)
        c = self.loss.Y.shape[1]
        self.n_outputs = c
        self.u = self.u.expand(c, *self.u.shape).clone()
        self.n_rows = c * self.signs.numel()
        #: conjugate-gradient iterations of every Newton step so far
        self.cg_iterations: list[int] = []

    def outputs(self, u: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        net = (u[:, : self.half] - u[:, self.half :]).reshape(self.n_outputs, -1)
        return self.B @ net.T + b

    def _newton_step(self, tau: float):
        r"""The Newton direction of :math:`F_\tau` (the module docstring) and
        the decrement :math:`-\nabla F^\top\delta`."""
        half, c = self.half, self.n_outputs
        Z = self.outputs(self.u, self.b)
        G = tau * self.loss.gradient(Z)  # (n, c)
        gradient, hessian = self._block_terms(tau)
        loss_gradient = (self.B.T @ G).T.reshape(c, half, -1)
        rv = -(gradient[:, :half] + loss_gradient)
        rw = -(gradient[:, half:] - loss_gradient)
        Bv, Bw = hessian[:, :half], hessian[:, half:]
        factor, C_inverse, rhs = eliminate(Bv, Bw, rv, rw)
        du, db = self._solve_joint(tau, Z, C_inverse, rhs, -G.sum(0))
        step = recover(factor, Bw, rv, rw, du)
        decrement = float((torch.cat([rv, rw], 1) * step).sum())
        decrement -= float(G.sum(0) @ db)
        return step, db, decrement

    def _solve_joint(self, tau, Z, C_inverse, rhs, rhs_b):
        r"""The solution of the joint system by conjugate gradients with the
        two-level preconditioner (the module docstring): ``du`` ``(c, P,
        d̃)`` and ``db`` ``(c,)``, zero without an intercept."""
        system = JointSystem(self, tau, Z, C_inverse)
        right = system.pack(rhs, rhs_b if self.fit_intercept else None)
        solution, n_iter = conjugate_gradients(
            system.apply,
            right,
            system.precondition,
            tol=SYSTEM_RESIDUAL,
            max_iter=SYSTEM_CG_STEPS,
            x0=system.start(right),
        )
        self.cg_iterations.append(n_iter)
        return system.unpack(solution)

    def own_loss_part(self, unit: torch.Tensor) -> torch.Tensor:
        r"""Each output's loss part :math:`B^\top\operatorname{diag}(q_k)B`
        (with the intercept's row and column) ``(c, m [+ 1], m [+ 1])`` for
        the curvatures ``unit`` ``(n, c)`` over :math:`\tau`: formed anew only
        where they moved by more than ``HESSIAN_DRIFT`` since the last
        formation, as in :meth:`CentralPath._solve` (the preconditioner
        needs no exact one). A copy, to add the barrier's part to."""
        stale = self._unit_curvature is None or _drift(unit, self._unit_curvature)
        if stale:
            B = self.B
            if self.fit_intercept:
                B = torch.cat([B, torch.ones_like(B[:, :1])], 1)
            self._unit_hessian = torch.stack(
                [B.T @ (q.unsqueeze(1) * B) for q in unit.T]
            )
            self._unit_curvature = unit
        return self._unit_hessian.clone()

    def points(self, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        r"""As :meth:`CentralPath.points`, one column per output."""
        active = self.active(tau).unsqueeze(-1)
        c = self.n_outputs
        coefs = self.u, torch.where(active, self.u, 0.0)
        coefs = tuple(coef.reshape(c, -1).T for coef in coefs)
        if self.fit_intercept:
            coefs = tuple(torch.cat([coef, self.b.view(1, c)]) for coef in coefs)
        return tuple(coef.to(self.dtype) for coef in coefs)

    def layout(self, values: torch.Tensor) -> torch.Tensor:
        """``(c, 2P, n')`` values in the constraint's row layout, one column
        per output."""
        c = self.n_outputs
        full = values.new_zeros(c, self.n_blocks, len(self.data_rows))
        full[:, :, self.data_rows] = values
        full = full.permute(2, 1, 0).reshape(-1, c)
        return full if full.dtype == torch.bool else full.to(self.dtype)


class JointSystem:
    r"""The joint reduced Newton system of :class:`CoupledPath`, its products
    and its two-level preconditioner. Vectors are columns of ``c·P d̃``
    entries (output by output) and, with an intercept, the ``c`` intercepts."""

    def __init__(self, path: CoupledPath, tau: float, Z, C_inverse):
        self.path, self.C_inverse = path, C_inverse
        c, B = path.n_outputs, path.B
        self.c, self.m = c, B.shape[1]
        self.p = torch.softmax(Z, dim=1)
        self.weights = tau * path.loss.weigh(torch.ones_like(Z[:, :1]))
        diagonal = self.weights * self.p * (1 - self.p)  # (n, c): H_s,kk
        self.shift = float(diagonal.sum()) / c  # the intercepts' common shift
        own = tau * path.own_loss_part(diagonal / tau)
        blocks = torch.stack([torch.block_diag(*blocks) for blocks in C_inverse])
        own[:, : self.m, : self.m] += blocks
        if path.fit_intercept:
            own[:, self.m, self.m] += self.shift
        self.own = _cholesky(own)
        # the coarse matrix: sum_k C_k^{-1}, and c² times the shift for b
        self.coarse = _cholesky(C_inverse.sum(0))
        self.coarse_b = c * c * self.shift

    def pack(self, du: torch.Tensor, db: torch.Tensor | None) -> torch.Tensor:
        columns = du.reshape(self.c, -1)
        if db is not None:
            columns = torch.cat([columns, db.view(self.c, 1)], 1)
        return columns.reshape(-1, 1)

    def unpack(self, x: torch.Tensor):
        columns = x.view(self.c, -1)
        du = columns[:, : self.m].reshape(self.c, self.path.half, -1)
        db = columns[:, self.m] if self.path.fit_intercept else self.path.b * 0
        return du, db

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`Mx`."""
        path, c = self.path, self.c
        columns = x.view(c, -1)
        V = path.B @ columns[:, : self.m].T  # (n, c)
        if path.fit_intercept:
            V = V + columns[:, self.m]
        PV = self.p * V
        HV = self.weights * (PV - self.p * PV.sum(1, keepdim=True))
        du = columns[:, : self.m].reshape(c, path.half, -1)
        out = (path.B.T @ HV).T + _apply(self.C_inverse, du).reshape(c, -1)
        if path.fit_intercept:
            shift = self.shift * columns[:, self.m].sum()
            out = torch.cat([out, (HV.sum(0) + shift).view(c, 1)], 1)
        return out.reshape(-1, 1)

    def _jacobi(self, r: torch.Tensor) -> torch.Tensor:
        """Each output's own system solved: :math:`J^{-1}r`."""
        columns = r.view(self.c, -1, 1)
        # two triangular solves: far faster than cholesky_solve on a batch
        half = torch.linalg.solve_triangular(self.own, columns, upper=False)
        return torch.linalg.solve_triangular(self.own.mT, half, upper=True).reshape(
            -1, 1
        )

    def _coarse(self, r: torch.Tensor) -> torch.Tensor:
        r""":math:`Q_0r`: the common shift's exact correction."""
        columns = r.view(self.c, -1)
        total = columns.sum(0)  # R_0 r
        du = total[: self.m].view(self.path.half, -1, 1)
        shift = torch.cholesky_solve(du, self.coarse).reshape(-1)
        if self.path.fit_intercept:
            shift = torch.cat([shift, total[self.m :] / self.coarse_b])
        return shift.expand(self.c, -1).reshape(-1, 1)

    def start(self, rhs: torch.Tensor) -> torch.Tensor:
        r"""The start :math:`x_0 = Q_0b`, whose residual has no component in
        the common shift (:math:`R_0r_0 = 0`), nor has any later one."""
        return self._coarse(rhs)

    def precondition(self, r: torch.Tensor) -> torch.Tensor:
        r"""The balancing preconditioner for a residual with
        :math:`R_0r = 0`: :math:`(I - Q_0M)J^{-1}r + Q_0r`, the last term
        zero but for rounding, which it keeps from growing."""
        fine = self._jacobi(r)
        return fine - self._coarse(self.apply(fine) - r)


def _cholesky(matrices: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factors of a batch of positive definite matrices."""
    size = matrices.shape[-1]
    return shifted_cholesky(matrices.reshape(-1, size, size)).view(matrices.shape)
