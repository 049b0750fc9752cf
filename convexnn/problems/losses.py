r"""Smooth data-fitting terms :math:`f(Z) = \sum_i w_i\,\ell(z_i, y_i)`.

The weights :math:`w_i = s_i / \sum_j s_j` come from the per-sample weights
``sample_weight`` :math:`s` (:math:`w_i = 1/n` without them: the mean loss).
This is scikit-learn's convention for the :class:`~sklearn.linear_model.Lasso`:
the weights are rescaled to sum to ``n`` and the data term stays a (weighted)
mean, so ``alpha`` keeps its meaning; an integer weight counts as that many
copies of the sample, and a weight of zero as no sample at all.

Each loss holds its targets ``Y`` of shape ``(n_samples, n_outputs)`` and its
weights, and provides its value, gradient, Hessian-vector products (for the
small Newton solves that polish certificates), convex conjugate (for the dual
objective) and a bound on its curvature (for step sizes). Scalar results are
computed in float64 whatever the working dtype, so certificates stay accurate
in float32.

A loss built with ``shards`` (:class:`~convexnn.problems.distributed.Shards`)
holds one process's rows of data split over several processes: its weights
are normalised over every process's samples, and its value, conjugate,
:meth:`~Loss.average` and :meth:`~Loss.reduce` sum over them all
(:mod:`convexnn.problems.distributed`).

The dual problem of :math:`\min_W f(AW) + \alpha\Omega(W)` is
:math:`\max_\Theta -f^*(\Theta)` subject to
:math:`\Omega^*(A^\top\Theta)\le\alpha`, and the optimal :math:`\Theta` is
:math:`\nabla f(AW^\star)`. With weights,
:math:`f^*(\Theta) = \sum_i w_i\,\ell^*(\theta_i / w_i)` (a row of weight
zero must have :math:`\theta_i = 0`, as every gradient has there).
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .distributed import Shards


def _float64_sum(values: torch.Tensor) -> float:
    return float(values.to(torch.float64).sum())


def _weights_error(weights: torch.Tensor, n: int) -> str | None:
    """What is wrong with the weights of ``n`` samples, or ``None``."""
    if weights.shape != (n,):
        return (
            f"sample_weight must have shape ({n},), one weight per sample; got "
            f"shape {tuple(weights.shape)}."
        )
    if not (bool(torch.isfinite(weights).all()) and bool((weights >= 0).all())):
        return "sample_weight must be finite and nonnegative."
    return None


def _normalised_weights(sample_weight, Y: torch.Tensor) -> torch.Tensor | None:
    """``sample_weight`` rescaled to sum to ``n`` (float64), or ``None`` when
    it is ``None`` or the same for every sample."""
    if sample_weight is None:
        return None
    n = Y.shape[0]
    weights = torch.as_tensor(sample_weight, dtype=torch.float64, device=Y.device)
    error = _weights_error(weights, n)
    if error is not None:
        raise ValueError(error)
    total = float(weights.sum())
    if not total > 0:
        raise ValueError("sample_weight must not be all zero.")
    if bool((weights == weights[0]).all()):
        return None
    return weights * (n / total)


def _sharded_weights(sample_weight, Y: torch.Tensor, shards: Shards):
    """As :func:`_normalised_weights` over the samples of every process:
    ``(n, weights, (smallest, largest))`` with ``n`` the number of samples
    of all processes, this process's weights rescaled so that all of them
    sum to ``n`` (``None`` when every weight of every process is the same),
    and the extreme rescaled weights. Every process raises, or none does."""
    n = Y.shape[0]
    weights = torch.ones(n, dtype=torch.float64, device=Y.device)
    error = None
    if sample_weight is not None:
        weights = torch.as_tensor(sample_weight, dtype=torch.float64, device=Y.device)
        error = _weights_error(weights, n)
    if shards.any(error is not None):
        raise ValueError(error or "sample_weight is invalid on another process.")
    counts = shards.sum(torch.stack([weights.new_tensor(n), weights.sum()]))
    if not float(counts[1]) > 0:
        raise ValueError("sample_weight must not be all zero.")
    ends = counts.new_full((2,), -math.inf)  # no sample here: nothing to compare
    if n:
        ends = torch.stack([weights.max(), -weights.min()])
    largest, smallest = shards.maximum(ends).tolist()
    n_total, scale = int(counts[0]), float(counts[0] / counts[1])
    smallest, largest = -smallest * scale, largest * scale
    if smallest == largest:
        return n_total, None, (1.0, 1.0)
    return n_total, weights * scale, (smallest, largest)


class Loss:
    """Base class of the losses; ``Y`` has shape ``(n_samples, n_outputs)``.

    ``sample_weight`` (shape ``(n_samples,)``, nonnegative, not all zero) is
    kept rescaled to sum to ``n_samples``; equal weights are dropped (``None``),
    since they give the plain mean. With ``shards``, ``Y`` and
    ``sample_weight`` are this process's rows, the weights are rescaled so
    that those of every process sum to :attr:`total_samples`, and sums over
    the samples are summed over the processes.
    """

    #: Upper bound on the largest eigenvalue of the Hessian of one sample's
    #: loss :math:`\ell(\cdot, y_i)` (of ``n · f`` without weights).
    curvature: float
    #: Whether the Hessian is the same everywhere (a quadratic loss).
    quadratic: bool = False
    #: Whether the Hessian acts entrywise, :math:`\nabla^2 f(Z)[V] = H \odot V`
    #: (:meth:`hessian_diagonal` returns ``H``).
    diagonal_hessian: bool = False
    #: Whether that diagonal is positive and the same for every output (the
    #: capability also needs every sample weight positive).
    shared_curvature: bool = False
    #: The weights rescaled to sum to ``n_samples`` (those of every process to
    #: :attr:`total_samples`; float64), or ``None``: every sample weighs the
    #: same.
    sample_weight: torch.Tensor | None = None
    #: The processes holding the other samples, or ``None``: all are here.
    shards: Shards | None = None

    @property
    def capabilities(self) -> frozenset[str]:
        """The names of this loss's structural properties that hold:
        ``"quadratic"``, ``"diagonal_hessian"``, ``"shared_curvature"`` (not
        with a weight of zero, whose sample has no curvature),
        ``"unweighted"`` (no ``sample_weight``: the plain mean) and
        ``"all_samples"`` (no ``shards``: every sample is in this process)."""
        names = ("quadratic", "diagonal_hessian", "shared_curvature")
        present = {name for name in names if getattr(self, name)}
        if self.shards is None:
            present.add("all_samples")
        if self.sample_weight is None:
            present.add("unweighted")
        elif not self._weight_range()[0] > 0:
            present.discard("shared_curvature")
        return frozenset(present)

    def __init__(
        self, Y: torch.Tensor, sample_weight=None, shards: Shards | None = None
    ):
        self.Y = Y
        self.n_samples = Y.shape[0]
        if shards is None:
            self.sample_weight = _normalised_weights(sample_weight, Y)
            return
        self.shards = shards
        self._total_samples, self.sample_weight, self._sharded_range = _sharded_weights(
            sample_weight, Y, shards
        )

    @property
    def total_samples(self) -> int:
        """The number of samples of the mean: ``n_samples``, or those of every
        process with ``shards``."""
        return self.n_samples if self.shards is None else self._total_samples

    def _weight_range(self) -> tuple[float, float]:
        """The smallest and the largest of the rescaled weights (of every
        process)."""
        if self.shards is not None:
            return self._sharded_range
        return float(self.sample_weight.min()), float(self.sample_weight.max())

    def reduce(self, partial: torch.Tensor) -> torch.Tensor:
        """``partial``, a sum over this process's samples, summed over the
        processes of ``shards`` (``partial`` itself without them)."""
        return partial if self.shards is None else self.shards.sum(partial)

    def norm(self, values: torch.Tensor) -> torch.Tensor:
        """The Euclidean norm of ``values`` (samples along the first axis)
        over the samples of every process."""
        if self.shards is None:
            return torch.linalg.vector_norm(values)
        return self.reduce(values.square().sum()).sqrt()

    def _sum(self, values: torch.Tensor) -> float:
        """The sum of ``values`` over the samples of every process, in float64."""
        return float(self.reduce(values.to(torch.float64).sum()))

    def astype(self, dtype: torch.dtype) -> Loss:
        """The same loss (and weights) with its targets in ``dtype``."""
        loss = copy.copy(self)
        loss.Y = self.Y.to(dtype)
        return loss

    def weigh(self, values: torch.Tensor) -> torch.Tensor:
        r"""``values`` (samples along the first axis) times the weights
        :math:`w_i` (which sum to one: ``1/n`` without ``sample_weight``)."""
        if self.sample_weight is None:
            return values / self.total_samples
        weights = self.sample_weight.to(values.dtype) / self.total_samples
        return values * weights.view(-1, *(1,) * (values.dim() - 1))

    def average(self, values: torch.Tensor) -> torch.Tensor:
        """The weighted mean of ``values`` over the samples (the first axis)."""
        if self.sample_weight is None and self.shards is None:
            return values.mean(0)
        return self.reduce(self.weigh(values).sum(0))

    def _unweigh(self, Theta: torch.Tensor) -> torch.Tensor:
        r""":math:`\theta_i / w_i` (float64), ``0`` on the rows of weight zero."""
        Theta = Theta.to(torch.float64)
        if self.sample_weight is None:
            return self.total_samples * Theta
        weights = (self.sample_weight / self.total_samples).view(-1, 1)
        return torch.where(weights > 0, Theta / weights, torch.zeros_like(Theta))

    def output(self, k: int) -> Loss:
        """The loss of output column ``k`` alone: for a loss that is a sum over
        the entries of ``Z`` (``diagonal_hessian``), the data term is the sum
        of these over the columns. The sample weights are kept."""
        loss = copy.copy(self)
        loss.Y = self.Y[:, k : k + 1]
        return loss

    def __call__(self, Z: torch.Tensor) -> torch.Tensor:
        """Return :math:`f(Z)` as a differentiable tensor in ``Z``'s dtype."""
        return self.average(self.sample_losses(Z, self.Y.to(Z.dtype)))

    def value(self, Z: torch.Tensor) -> float:
        """Return :math:`f(Z)`, accumulated in float64."""
        Y = self.Y.to(torch.float64)
        return float(self.average(self.sample_losses(Z.to(torch.float64), Y)))

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
        r"""Lipschitz constant of :math:`\nabla f`: ``curvature`` times the
        largest weight :math:`w_i` (``curvature / n`` without weights)."""
        if self.sample_weight is None:
            return self.curvature / self.total_samples
        return self.curvature * self._weight_range()[1] / self.total_samples


class SquaredLoss(Loss):
    r"""Squared loss :math:`f(Z) = \frac12\sum_i w_i\|z_i - y_i\|^2`
    (:math:`\frac{1}{2n}\|Z - Y\|_F^2` without weights).

    Conjugate: :math:`f^*(\Theta) = \sum_i \frac{\|\theta_i\|^2}{2w_i}
    + \langle\Theta, Y\rangle` (:math:`\frac n2\|\Theta\|_F^2 +
    \langle\Theta, Y\rangle` without weights).
    """

    curvature = 1.0
    quadratic = True
    diagonal_hessian = True
    shared_curvature = True

    def sample_losses(self, Z, Y):
        return 0.5 * ((Z - Y) ** 2).sum(1)

    def gradient(self, Z):
        return self.weigh(Z - self.Y)

    def hessian_product(self, Z, V):
        return self.weigh(V)

    def hessian_diagonal(self, Z):
        return self.weigh(torch.ones_like(Z))

    def conjugate(self, Theta):
        Theta = Theta.to(torch.float64)
        return 0.5 * self._sum(Theta * self._unweigh(Theta)) + self._sum(Theta * self.Y)


class LogisticLoss(Loss):
    r"""Binary cross-entropy with labels :math:`y_i \in \{0, 1\}` and logits ``Z``.

    :math:`f(z) = \sum_i w_i\bigl(\log(1 + e^{z_i}) - y_i z_i\bigr)`. Its
    conjugate is the negative binary entropy,
    :math:`f^*(\theta) = \sum_i w_i\,h(\theta_i / w_i + y_i)` with
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
        return self.weigh(torch.sigmoid(Z) - self.Y)

    def hessian_product(self, Z, V):
        return self.hessian_diagonal(Z).unsqueeze(1) * V

    def hessian_diagonal(self, Z):
        p = torch.sigmoid(Z)
        return self.weigh(p * (1 - p))

    def conjugate(self, Theta):
        p = (self._unweigh(Theta) + self.Y).clamp(0.0, 1.0)
        entropies = (torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum(1)
        return float(self.average(entropies))


class MultinomialLoss(Loss):
    r"""Multinomial cross-entropy with one-hot targets ``Y`` and logits ``Z``.

    :math:`f(Z) = \sum_i w_i\bigl(\operatorname{logsumexp}(z_i) -
    y_i^\top z_i\bigr)`. Its Hessian at one sample is :math:`w_i
    (\operatorname{diag}(p) - pp^\top)` with
    :math:`p = \operatorname{softmax}(z_i)`, and its conjugate is the negative
    entropy, :math:`f^*(\Theta) = \sum_i w_i \sum_k q_{ik}\log q_{ik}` with
    :math:`q_i = \theta_i / w_i + y_i` (rows in the probability simplex).
    """

    curvature = 0.5

    def sample_losses(self, Z, Y):
        return torch.logsumexp(Z, dim=1) - (Y * Z).sum(1)

    def gradient(self, Z):
        return self.weigh(torch.softmax(Z, dim=1) - self.Y)

    def hessian_product(self, Z, V):
        P = torch.softmax(Z, dim=1).unsqueeze(1)
        PV = P * V
        return self.weigh(PV - P * PV.sum(2, keepdim=True))

    def conjugate(self, Theta):
        Q = (self._unweigh(Theta) + self.Y).clamp(0.0, 1.0)
        return float(self.average(torch.xlogy(Q, Q).sum(1)))


LOSSES = {
    "squared": SquaredLoss,
    "logistic": LogisticLoss,
    "multinomial": MultinomialLoss,
}
