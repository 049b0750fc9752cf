r"""Building blocks that combine operators and penalties.

They let a new formulation be written as an ordinary
:class:`~convexnn.problems.Problem`:

* :class:`DifferenceOperator` applies one operator to the difference of two
  coefficient halves, :math:`(v, w) \mapsto B(v - w)`;
* :class:`OutputwiseGroupLasso` is a group lasso whose groups are single
  output columns of a block (one network per output).
"""

from __future__ import annotations

import torch

from .operators import LinearOperator
from .penalties import GroupLasso, Penalty


class DifferenceOperator(LinearOperator):
    r"""One operator applied to the difference of two coefficient halves.

    With coefficients :math:`x = (v, w)` stacked by rows,

    .. math::
        \mathcal A x = B(v - w), \qquad
        \mathcal A^\top \Theta = \begin{pmatrix} B^\top\Theta \\ -B^\top\Theta
        \end{pmatrix},

    at the cost of one product with ``B`` (or ``Bᵀ``) each way.
    """

    def __init__(self, base: LinearOperator):
        self.base = base
        self.n_samples = base.n_samples
        self.n_coefs = 2 * base.n_coefs

    @property
    def device(self) -> torch.device:
        return self.base.device

    @property
    def dtype(self) -> torch.dtype:
        return self.base.dtype

    def in_float64(self):
        base = self.base.in_float64()
        return None if base is None else DifferenceOperator(base)

    def matvec(self, coef: torch.Tensor) -> torch.Tensor:
        positive, negative = coef.chunk(2)
        return self.base.matvec(positive - negative)

    def rmatvec(self, residual: torch.Tensor) -> torch.Tensor:
        half = self.base.rmatvec(residual)
        return torch.cat([half, -half])

    def capabilities(self, group_size):
        return {"difference"} | (self.base.capabilities(group_size) & {"block_kernel"})

    def block_kernel(self, metric):
        r""":math:`B M B^\top + (-B) M (-B)^\top = 2\,BMB^\top`."""
        half = self.base.block_kernel(metric)
        return None if half is None else 2 * half

    def block_outputs(self, coef, group_size, blocks):
        # block g of the second half is block g − n_half of the base, negated
        n_half = self.base.n_coefs // group_size
        second = blocks >= n_half
        signs = 1.0 - 2.0 * second.to(coef.dtype)
        base_coef = torch.cat(coef.view(2, -1, coef.shape[1]).unbind(0), dim=1)
        # base_coef holds v | w side by side; pick the half of each block
        n_outputs = coef.shape[1]
        outputs = self.base.block_outputs(base_coef, group_size, blocks % n_half)
        outputs = outputs.view(self.n_samples, len(blocks), 2, n_outputs)
        outputs = torch.where(second.view(1, -1, 1), outputs[:, :, 1], outputs[:, :, 0])
        return outputs * signs.view(1, -1, 1)


class OutputwiseGroupLasso(Penalty):
    r"""Group lasso with one group per row block *and* output column.

    .. math::
        \Omega(W) = \sum_{g} \sum_{k} \|W_{g, :, k}\|_2

    for ``W`` viewed as blocks of ``group_size`` rows. Each output column is
    then penalised on its own (one network per output); with one output it
    equals :class:`~convexnn.problems.GroupLasso`. The dual norm of a block
    is its largest column norm.
    """

    def __init__(self, group_size: int):
        self.group_size = group_size
        self._columns = GroupLasso(group_size)

    def capabilities(self, n_outputs: int) -> frozenset[str]:
        """Those of :class:`Penalty`, and ``"outputwise"``: a sum over the
        output columns."""
        return super().capabilities(n_outputs) | {"outputwise"}

    def _flat(self, coef):
        # (G·s, c) → (G·c·s, 1): consecutive runs of s entries are the groups
        blocks = coef.reshape(-1, self.group_size, coef.shape[1]).transpose(1, 2)
        return blocks.reshape(-1, 1)

    def column_norms(self, coef: torch.Tensor) -> torch.Tensor:
        """Norms of the groups, shape ``(n_blocks, n_outputs)``."""
        blocks = coef.reshape(-1, self.group_size, coef.shape[1])
        return torch.linalg.vector_norm(blocks, dim=1)

    def _norms(self, coef):
        return self.column_norms(coef).sum(1)

    def _dual_norms(self, coef):
        return self.column_norms(coef).amax(1)

    def prox(self, coef, threshold):
        if coef.shape[1] == 1:
            return self._columns.prox(coef, threshold)
        flat = self._columns.prox(self._flat(coef), threshold)
        blocks = flat.reshape(-1, coef.shape[1], self.group_size).transpose(1, 2)
        return blocks.reshape(coef.shape)

    def restrict(self, blocks):
        return OutputwiseGroupLasso(self.group_size)

    def subgradient_distance(
        self, coef: torch.Tensor, direction: torch.Tensor, alpha: float
    ) -> float:
        r"""Largest distance of a group of ``direction`` to its subdifferential.

        The distance to :math:`\alpha\partial\|W_g\|` is
        :math:`\|D_g - \alpha W_g/\|W_g\|\|` on nonzero groups and
        :math:`(\|D_g\| - \alpha)_+` on zero ones; ``0`` everywhere means that
        ``direction`` is a subgradient of :math:`\alpha\Omega` at ``coef``.
        """
        shape = (-1, self.group_size, coef.shape[1])
        blocks, directions = coef.reshape(shape), direction.reshape(shape)
        norms = torch.linalg.vector_norm(blocks, dim=1, keepdim=True)
        active = norms > 0
        aligned = alpha * blocks / torch.where(active, norms, 1.0)
        distance = torch.where(
            active.squeeze(1),
            torch.linalg.vector_norm(directions - aligned, dim=1),
            (torch.linalg.vector_norm(directions, dim=1) - alpha).clamp(min=0),
        )
        return float(distance.max()) if distance.numel() else 0.0
