r"""Building blocks that combine operators, losses and penalties.

They let a new formulation be written as an ordinary
:class:`~convexnn.problems.Problem` and solved by the shared solver loop:

* :class:`StackedOperator` stacks the outputs of several operators acting on
  the same coefficients, :math:`x \mapsto (A_1 x, A_2 x, \dots)`;
* :class:`DifferenceOperator` applies one operator to the difference of two
  coefficient halves, :math:`(v, w) \mapsto B(v - w)`;
* :class:`SeparableLoss` sums losses acting on consecutive row blocks of the
  outputs, the loss that matches a :class:`StackedOperator`;
* :class:`ProfiledInterceptLoss` minimises a loss over an unpenalised
  intercept, so the intercept need not be a variable of the solver;
* :class:`OutputwiseGroupLasso` is a group lasso whose groups are single
  output columns of a block (one network per output).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._problem import _newton
from .losses import Loss, SquaredLoss
from .operators import LinearOperator
from .penalties import GroupLasso, Penalty


class StackedOperator(LinearOperator):
    r"""Operators sharing their coefficients, outputs stacked by rows.

    .. math::
        \mathcal A x = \begin{pmatrix} A_1 x \\ \vdots \\ A_k x \end{pmatrix},
        \qquad \mathcal A^\top \Theta = \sum_j A_j^\top \Theta_j,

    with :math:`\Theta_j` the rows of :math:`\Theta` that belong to :math:`A_j`.
    """

    def __init__(self, operators: Sequence[LinearOperator]):
        self.operators = list(operators)
        n_coefs = {operator.n_coefs for operator in self.operators}
        if len(n_coefs) != 1:
            raise ValueError(f"stacked operators must share n_coefs; got {n_coefs}.")
        self.n_coefs = n_coefs.pop()
        self.row_sizes = [operator.n_samples for operator in self.operators]
        self.n_samples = sum(self.row_sizes)

    @property
    def device(self) -> torch.device:
        return self.operators[0].device

    @property
    def dtype(self) -> torch.dtype:
        return self.operators[0].dtype

    def matvec(self, coef: torch.Tensor) -> torch.Tensor:
        return torch.cat([operator.matvec(coef) for operator in self.operators])

    def rmatvec(self, residual: torch.Tensor) -> torch.Tensor:
        parts = residual.split(self.row_sizes)
        result = self.operators[0].rmatvec(parts[0])
        for operator, part in zip(self.operators[1:], parts[1:], strict=True):
            result = result + operator.rmatvec(part)
        return result

    def block_outputs(self, coef, group_size, blocks):
        return torch.cat(
            [op.block_outputs(coef, group_size, blocks) for op in self.operators]
        )


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

    def matvec(self, coef: torch.Tensor) -> torch.Tensor:
        positive, negative = coef.chunk(2)
        return self.base.matvec(positive - negative)

    def rmatvec(self, residual: torch.Tensor) -> torch.Tensor:
        half = self.base.rmatvec(residual)
        return torch.cat([half, -half])

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


class SeparableLoss(Loss):
    r"""Sum of losses on consecutive row blocks: :math:`f(Z) = \sum_j f_j(Z_j)`.

    Gradient, Hessian and conjugate separate the same way,
    :math:`f^*(\Theta) = \sum_j f_j^*(\Theta_j)`, and the gradient's Lipschitz
    constant is the largest of the parts'. ``Y`` (the parts' targets stacked)
    is materialised only when read.
    """

    def __init__(self, parts: Sequence[Loss]):
        self.parts = list(parts)
        self.row_sizes = [part.n_samples for part in self.parts]
        self.n_samples = sum(self.row_sizes)

    @property
    def Y(self) -> torch.Tensor:
        return torch.cat([part.Y for part in self.parts])

    def _split(self, Z):
        return zip(self.parts, Z.split(self.row_sizes), strict=True)

    def __call__(self, Z):
        return sum(part(block) for part, block in self._split(Z))

    def value(self, Z):
        return sum(part.value(block) for part, block in self._split(Z))

    def gradient(self, Z):
        return torch.cat([part.gradient(block) for part, block in self._split(Z)])

    def hessian_product(self, Z, V):
        return torch.cat(
            [
                part.hessian_product(block, directions)
                for (part, block), directions in zip(
                    self._split(Z), V.split(self.row_sizes), strict=True
                )
            ]
        )

    def conjugate(self, Theta):
        return sum(part.conjugate(block) for part, block in self._split(Theta))

    def lipschitz(self):
        return max(part.lipschitz() for part in self.parts)


def _intercept_directions(loss: Loss, dtype=torch.float64) -> torch.Tensor:
    """The intercept's output directions ``(n, c, c)``: one per output column."""
    n_outputs = loss.Y.shape[1]
    eye = torch.eye(n_outputs, dtype=dtype, device=loss.Y.device)
    return eye.expand(loss.n_samples, -1, -1)


def optimal_intercept(loss: Loss, Z: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    r"""The intercept ``b`` minimising :math:`f(Z + \mathbf 1 b^\top)` (float64):
    the mean residual for the squared loss, Newton's method from ``start``
    otherwise."""
    if isinstance(loss, SquaredLoss):
        return (loss.Y - Z).to(torch.float64).mean(0)
    start = start.to(torch.float64)
    # a descent step even when Newton stops early: the intercept only improves
    step, _ = _newton(
        loss, Z.to(torch.float64) + start, _intercept_directions(loss), start * 0
    )
    return start + step


class ProfiledInterceptLoss(Loss):
    r"""A loss with its unpenalised intercept minimised out.

    .. math::
        g(Z) = \min_b f(Z + \mathbf 1 b^\top), \qquad
        \nabla g(Z) = \nabla f(Z + \mathbf 1 b^{\star\top}),\qquad
        g^*(\Theta) = f^*(\Theta) + \iota\{\mathbf 1^\top\Theta = 0\}.

    ``g`` is convex and as smooth as ``f`` (its conjugate is ``f*`` restricted
    to a subspace), and its gradients have zero column sums, so the conjugate
    is evaluated without the indicator. Its Hessian is the Schur complement
    :math:`H - HE(E^\top HE)^{+}E^\top H` of the intercept directions ``E``.
    The optimal intercept comes from a few Newton steps, warm-started from
    the last one.
    """

    def __init__(self, loss: Loss):
        self.loss = loss
        self.Y = loss.Y
        self.n_samples = loss.n_samples
        self._intercept = loss.Y.new_zeros(loss.Y.shape[1], dtype=torch.float64)

    def intercept(self, Z: torch.Tensor) -> torch.Tensor:
        """The minimising intercept ``b*`` for outputs ``Z`` (float64)."""
        self._intercept = optimal_intercept(self.loss, Z, self._intercept)
        return self._intercept

    def _shifted(self, Z):
        return Z + self.intercept(Z.detach()).to(Z.dtype)

    def __call__(self, Z):
        return self.loss(self._shifted(Z))

    def value(self, Z):
        return self.loss.value(self._shifted(Z))

    def gradient(self, Z):
        return self.loss.gradient(self._shifted(Z))

    def hessian_product(self, Z, V):
        shifted = self._shifted(Z)
        HV = self.loss.hessian_product(shifted, V)
        HE = self.loss.hessian_product(
            shifted, _intercept_directions(self.loss, Z.dtype)
        )
        # the intercept block EᵀHE is singular for the softmax (shift
        # invariance) or saturated probabilities: its pseudo-inverse
        inverse = torch.linalg.pinv(HE.sum(0), hermitian=True)
        coupling = inverse @ HV.sum(0).T  # (c, m)
        return HV - torch.einsum("nkc,km->nmc", HE, coupling)

    def conjugate(self, Theta):
        return self.loss.conjugate(Theta)

    def lipschitz(self):
        return self.loss.lipschitz()


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
