r"""The pieces of the augmented Lagrangian's inner problems.

:func:`~convexnn.solvers.augmented_lagrangian` writes each inner problem as an
ordinary :class:`~convexnn.problems.Problem` solved by the shared loop:

* :class:`StackedOperator` stacks the outputs of several operators acting on
  the same coefficients, :math:`x \mapsto (A_1 x, A_2 x, \dots)`;
* :class:`SeparableLoss` sums losses acting on consecutive row blocks of the
  outputs, the loss that matches a :class:`StackedOperator`;
* :class:`ProfiledInterceptLoss` minimises a loss over an unpenalised
  intercept, so the intercept need not be a variable of the solver;
* :class:`AugmentedLagrangianTerm` is the smooth loss the augmented Lagrangian
  adds on the constraint outputs :math:`S = KW`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..problems import LinearOperator, Loss
from ..problems.losses import _float64_sum
from .polish import intercept_directions, optimal_intercept


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

    @property
    def capabilities(self) -> frozenset[str]:
        """What every part provides."""
        return frozenset.intersection(*(part.capabilities for part in self.parts))

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
    the last one: the loss keeps that intercept, solver state that makes each
    evaluation depend (to rounding) on the ones before. It is a solver's
    device, not a loss of :mod:`convexnn.problems`: one instance serves one
    augmented-Lagrangian run.
    """

    def __init__(self, loss: Loss):
        self.loss = loss
        self.Y = loss.Y
        self.n_samples = loss.n_samples
        self.sample_weight = loss.sample_weight
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
            shifted, intercept_directions(self.loss, Z.dtype)
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


class AugmentedLagrangianTerm(Loss):
    r"""The augmented-Lagrangian term of constraints :math:`S \ge 0`.

    .. math::
        h(S) = \frac\rho2 \bigl\|(\Lambda/\rho - S)_+\bigr\|_F^2, \qquad
        \nabla h(S) = -(\Lambda - \rho S)_+,

    so that :math:`f(AW) + \alpha\Omega(W) + h(KW)` is, up to a constant, the
    augmented Lagrangian of :math:`KW \ge 0` with multipliers :math:`\Lambda`
    (Rockafellar's form for inequalities), and the textbook multiplier update
    :math:`\Lambda \leftarrow (\Lambda - \rho KW)_+` is :math:`-\nabla h(KW)`.
    ``h`` is convex with a ``ρ``-Lipschitz gradient; its conjugate is

    .. math::
        h^*(\Theta) = \langle \Theta, \Lambda\rangle/\rho + \|\Theta\|_F^2/(2\rho)
        \quad (\Theta \le 0), \qquad +\infty \text{ otherwise}.

    The multipliers play the part of the targets ``Y``. Unlike the data
    losses, ``h`` is a sum over constraints, not a mean.
    """

    def __init__(self, multipliers: torch.Tensor, rho: float):
        super().__init__(multipliers)
        self.rho = float(rho)

    def _shortfall(self, S):
        return (self.Y.to(S.dtype) - self.rho * S).clamp(min=0)

    def __call__(self, S):
        return 0.5 / self.rho * (self._shortfall(S) ** 2).sum()

    def value(self, S):
        return 0.5 / self.rho * _float64_sum(self._shortfall(S) ** 2)

    def gradient(self, S):
        return -self._shortfall(S)

    def conjugate(self, Theta):
        if bool((Theta > 0).any()):
            return float("inf")
        return (_float64_sum(Theta * self.Y) + 0.5 * _float64_sum(Theta**2)) / self.rho

    def hessian_product(self, S, V):
        return self.rho * (self._shortfall(S) > 0).unsqueeze(1) * V

    def lipschitz(self):
        return self.rho
