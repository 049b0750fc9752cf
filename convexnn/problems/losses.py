r"""Smooth data-fitting terms :math:`f(Z) = \frac1n \sum_i \ell(z_i, y_i)`.

Each loss holds its targets ``Y`` of shape ``(n_samples, n_outputs)`` and
provides its value, gradient, Hessian-vector products (for the small Newton
solves that polish certificates), convex conjugate (for the dual objective)
and a bound on its curvature (for step sizes). Scalar results are computed in
float64 whatever the working dtype, so certificates stay accurate in float32.

The dual problem of :math:`\min_W f(AW) + \alpha\Omega(W)` is
:math:`\max_\Theta -f^*(\Theta)` subject to
:math:`\Omega^*(A^\top\Theta)\le\alpha`, and the optimal :math:`\Theta` is
:math:`\nabla f(AW^\star)`.
"""

from __future__ import annotations

import torch


def _float64_sum(values: torch.Tensor) -> float:
    return float(values.to(torch.float64).sum())


class Loss:
    """Base class of the losses; ``Y`` has shape ``(n_samples, n_outputs)``."""

    #: Upper bound on the largest eigenvalue of the Hessian of ``n · f``.
    curvature: float
    #: Whether the Hessian is the same everywhere (a quadratic loss).
    quadratic: bool = False
    #: Whether the Hessian acts entrywise, :math:`\nabla^2 f(Z)[V] = H \odot V`
    #: (:meth:`hessian_diagonal` returns ``H``).
    diagonal_hessian: bool = False
    #: Whether that diagonal is positive and the same for every output.
    shared_curvature: bool = False

    @property
    def capabilities(self) -> frozenset[str]:
        """The names of this loss's structural properties set to true:
        ``"quadratic"``, ``"diagonal_hessian"``, ``"shared_curvature"``."""
        names = ("quadratic", "diagonal_hessian", "shared_curvature")
        return frozenset(name for name in names if getattr(self, name))

    def __init__(self, Y: torch.Tensor):
        self.Y = Y
        self.n_samples = Y.shape[0]

    def astype(self, dtype: torch.dtype) -> Loss:
        """The same loss with its targets in ``dtype``."""
        return type(self)(self.Y.to(dtype))

    def output(self, k: int) -> Loss:
        """The loss of output column ``k`` alone: for a loss that is a sum over
        the entries of ``Z`` (``diagonal_hessian``), the data term is the sum
        of these over the columns."""
        return type(self)(self.Y[:, k : k + 1])

    def __call__(self, Z: torch.Tensor) -> torch.Tensor:
        """Return :math:`f(Z)` as a differentiable tensor in ``Z``'s dtype."""
        return self.sample_losses(Z, self.Y.to(Z.dtype)).mean()

    def value(self, Z: torch.Tensor) -> float:
        """Return :math:`f(Z)`, accumulated in float64."""
        return float(
            self.sample_losses(Z.to(torch.float64), self.Y.to(torch.float64)).mean()
        )

    def sample_losses(self, Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        r"""Per-sample losses :math:`\ell(z_i, y_i)`, shape ``(n_samples,)``."""
        raise NotImplementedError

    def gradient(self, Z: torch.Tensor) -> torch.Tensor:
        r"""Return :math:`\nabla f(Z)`, the dual variable associated with ``Z``."""
        raise NotImplementedError

    def hessian_product(self, Z: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        r"""Return :math:`\nabla^2 f(Z)[V_j]` for a batch of directions.

        ``V`` has shape ``(n_samples, m, n_outputs)`` (``m`` directions); so
        has the result.
        """
        raise NotImplementedError

    def hessian_diagonal(self, Z: torch.Tensor) -> torch.Tensor | None:
        r"""Return ``H`` of ``Z``'s shape with :math:`\nabla^2 f(Z)[V] = H \odot V`
        when the loss is a sum over entries of ``Z``, ``None`` otherwise."""
        return None

    def conjugate(self, Theta: torch.Tensor) -> float:
        r"""Return :math:`f^*(\Theta)`; ``Θ`` must be a scaled gradient
        :math:`s\nabla f(Z)` with ``0 ≤ s ≤ 1`` (always in the conjugate's domain)."""
        raise NotImplementedError

    def lipschitz(self) -> float:
        r"""Lipschitz constant of :math:`\nabla f` (so ``curvature / n``)."""
        return self.curvature / self.n_samples


class SquaredLoss(Loss):
    r"""Squared loss :math:`f(Z) = \frac{1}{2n}\|Z - Y\|_F^2`.

    Conjugate: :math:`f^*(\Theta) = \frac n2\|\Theta\|_F^2 + \langle\Theta, Y\rangle`.
    """

    curvature = 1.0
    quadratic = True
    diagonal_hessian = True
    shared_curvature = True

    def sample_losses(self, Z, Y):
        return 0.5 * ((Z - Y) ** 2).sum(1)

    def gradient(self, Z):
        return (Z - self.Y) / self.n_samples

    def hessian_product(self, Z, V):
        return V / self.n_samples

    def hessian_diagonal(self, Z):
        return torch.full_like(Z, 1.0 / self.n_samples)

    def conjugate(self, Theta):
        return 0.5 * self.n_samples * _float64_sum(Theta**2) + _float64_sum(
            Theta * self.Y
        )


class LogisticLoss(Loss):
    r"""Binary cross-entropy with labels :math:`y_i \in \{0, 1\}` and logits ``Z``.

    :math:`f(z) = \frac1n\sum_i \log(1 + e^{z_i}) - y_i z_i`. Its conjugate is the
    negative binary entropy,
    :math:`f^*(\theta) = \frac1n\sum_i h(n\theta_i + y_i)` with
    :math:`h(p) = p\log p + (1-p)\log(1-p)` on :math:`[0, 1]`.
    """

    curvature = 0.25
    diagonal_hessian = True

    def sample_losses(self, Z, Y):
        # log(1 + e^z) = max(z, 0) + log(1 + e^{-|z|}) exactly; torch's softplus
        # returns z itself above z = 20, an error of up to e^{-20} ≈ 2e-9 per
        # sample that put float64 primal objectives below their dual bounds
        softplus = Z.clamp(min=0) + torch.log1p(torch.exp(-Z.abs()))
        return (softplus - Y * Z).sum(1)

    def gradient(self, Z):
        return (torch.sigmoid(Z) - self.Y) / self.n_samples

    def hessian_product(self, Z, V):
        return self.hessian_diagonal(Z).unsqueeze(1) * V

    def hessian_diagonal(self, Z):
        p = torch.sigmoid(Z)
        return p * (1 - p) / self.n_samples

    def conjugate(self, Theta):
        p = (self.n_samples * Theta + self.Y).to(torch.float64).clamp(0.0, 1.0)
        return float((torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum()) / (
            self.n_samples
        )


class MultinomialLoss(Loss):
    r"""Multinomial cross-entropy with one-hot targets ``Y`` and logits ``Z``.

    :math:`f(Z) = \frac1n\sum_i \operatorname{logsumexp}(z_i) - y_i^\top z_i`. Its
    Hessian at one sample is :math:`\operatorname{diag}(p) - pp^\top` with
    :math:`p = \operatorname{softmax}(z_i)`, and its conjugate is the negative
    entropy, :math:`f^*(\Theta) = \frac1n\sum_{i,k} q_{ik}\log q_{ik}` with
    :math:`Q = n\Theta + Y` (rows in the probability simplex).
    """

    curvature = 0.5

    def sample_losses(self, Z, Y):
        return torch.logsumexp(Z, dim=1) - (Y * Z).sum(1)

    def gradient(self, Z):
        return (torch.softmax(Z, dim=1) - self.Y) / self.n_samples

    def hessian_product(self, Z, V):
        P = torch.softmax(Z, dim=1).unsqueeze(1)
        PV = P * V
        return (PV - P * PV.sum(2, keepdim=True)) / self.n_samples

    def conjugate(self, Theta):
        Q = (self.n_samples * Theta + self.Y).to(torch.float64).clamp(0.0, 1.0)
        return float(torch.xlogy(Q, Q).sum()) / self.n_samples


LOSSES = {
    "squared": SquaredLoss,
    "logistic": LogisticLoss,
    "multinomial": MultinomialLoss,
}
