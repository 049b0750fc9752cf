r"""A factorised Newton system (:mod:`convexnn.solvers.newton_systems`)
extended, as a preconditioner, by blocks that have entered the support since
it was factorised: an entering block is small, its curvature huge, and only
its direction along :math:`\hat u_g` couples to the rest."""

from __future__ import annotations

import math

import torch

from .config import SolverConfig
from .linalg import cholesky, cholesky_solve
from .newton_systems import _NewtonSystem, block_weights, newton_cost


def _extend(system, x, Z, blocks, config: SolverConfig):
    """``system`` extended to ``blocks`` (:class:`_ExtendedSystem`) when these
    are its blocks and more (each one more costs a solve with ``system``, about
    a conjugate-gradient iteration, and they must cost less than a fresh
    factorisation), and the curvatures :math:`c_g` of the blocks it
    factorised have changed by at most a factor
    ``config.newton_stale_curvature`` since; ``None`` otherwise or when the
    extension's Schur complement is not positive definite (to rounding)."""
    entering = len(blocks) - len(system.blocks)
    if entering <= 0:
        return None
    if config.newton_cg_cost * entering > newton_cost(
        system.problem, len(blocks), config
    ):
        return None
    if not bool(torch.isin(system.blocks, blocks).all()):
        return None
    factorised = system.factorised
    change = block_weights(system.problem, x, factorised.blocks) / factorised.scale
    stale = math.log(config.newton_stale_curvature)
    if not bool((change.log().abs() <= stale).all()):
        return None
    extended = _ExtendedSystem(system, x, Z, blocks)
    return extended if extended.schur_factor is not None else None


class _ExtendedSystem(_NewtonSystem):
    r"""A factorised system ``base`` on blocks ``S`` extended, as a
    preconditioner only, by blocks ``E`` that have entered the support since.

    A block enters small, so its curvature :math:`c_g` is huge: across its
    unit :math:`\hat u_g` the Hessian is :math:`c_g I` plus terms smaller by
    :math:`\|A_g\|^2 / c_g`, which are dropped (couplings included). Along
    :math:`\hat u_g` the Hessian has no :math:`c_g`, and the directions
    :math:`\hat u_g` join ``base``'s matrix :math:`M` exactly, as a border:
    with :math:`O = [A_g \hat u_g]_{g\in E}` (``n × |E|``), the couplings
    :math:`B = (A_S, \mathbf 1)^\top Q O` and :math:`D = O^\top Q O`,

    .. math::
        \begin{pmatrix} M & B\\ B^\top & D\end{pmatrix}^{-1}
        \begin{pmatrix} v\\ a\end{pmatrix} =
        \begin{pmatrix} M^{-1}v - M^{-1}B z\\ z\end{pmatrix}, \qquad
        z = (D - B^\top M^{-1} B)^{-1}(a - B^\top M^{-1} v).

    Forming it costs ``|E|`` products with :math:`A_S^\top` and solves with
    ``base``, against an ``n × n`` factorisation for a fresh system, and
    conjugate gradients on the exact system then converge about as fast as
    with ``base`` on its own blocks. ``schur_factor`` is ``None`` when the
    Schur complement :math:`D - B^\top M^{-1}B` is not positive definite."""

    @property
    def factorised(self) -> _NewtonSystem:
        return self.base.factorised

    def __init__(self, base: _NewtonSystem, x, Z, blocks):
        problem = base.problem
        self.problem, self.blocks, self.base, self.point = problem, blocks, base, None
        group_size = problem.penalty.group_size
        self.operator = problem.operator.restrict(group_size, blocks)
        self.rows = problem.rows(blocks)
        coef, _ = problem.split(x)
        u = coef[self.rows].view(len(blocks), group_size)
        self.units = u / torch.linalg.vector_norm(u, dim=1, keepdim=True)
        old = torch.isin(blocks, base.blocks)
        self.kept, self.entering = old.nonzero()[:, 0], (~old).nonzero()[:, 0]
        self.entering_units = self.units[self.entering]
        self.inverse_curvatures = block_weights(problem, x, blocks[self.entering])
        outputs = self.operator.block_outputs(
            self.units.view(-1, 1), group_size, self.entering
        )[:, :, 0]  # O
        weighted = problem.loss.hessian_diagonal(Z) * outputs  # Q O
        coupling = base.operator.rmatvec(weighted)  # A_Sᵀ Q O
        if problem.fit_intercept:
            coupling = torch.cat([coupling, weighted.sum(0, keepdim=True)])
            self.intercept_curvature = base.intercept_curvature
            self.total_curvature = base.total_curvature
        self.coupled = torch.stack(
            [base.precondition(column) for column in coupling.T], dim=1
        )  # M⁻¹ B
        schur = outputs.T @ weighted - coupling.T @ self.coupled
        self.coupling = coupling
        self.schur_factor = cholesky(schur.to(torch.float64))

    def precondition(self, v):
        """The bordered inverse above on ``base``'s blocks, the intercept and
        the entering blocks along their units, :math:`1/c_g` across them."""
        size = self.rows.numel()
        V = v[:size].view(self.units.shape)
        E, units = V[self.entering], self.entering_units
        along = (units * E).sum(1)  # a
        base_v = self.base.precondition(torch.cat([V[self.kept].view(-1), v[size:]]))
        z = along - self.coupling.T @ base_v
        z = cholesky_solve(self.schur_factor, z.to(torch.float64).unsqueeze(1))
        z = z.squeeze(1).to(v.dtype)
        base_v = base_v - self.coupled @ z
        result = torch.empty_like(v)
        out = result[:size].view(self.units.shape)
        old_size = base_v.numel() - (v.numel() - size)
        out[self.kept] = base_v[:old_size].view(-1, V.shape[1])
        result[size:] = base_v[old_size:]
        across = (E - along.unsqueeze(1) * units) * self.inverse_curvatures[:, None]
        out[self.entering] = across + units * z.unsqueeze(1)
        return result
