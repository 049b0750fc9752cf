r"""Penalties :math:`\Omega(W)` on a coefficient matrix of shape ``(n_coefs, c)``.

Every penalty here is a sum of positively homogeneous terms over *blocks* of
``group_size`` consecutive rows (all outputs included),
:math:`\Omega(W) = \sum_g w_g\,\omega(W_g)` with weights :math:`w_g \ge 0`: one
row per block for the :math:`\ell_1` norm, the gated ReLU coefficients
``U_i ∈ R^{d̃×c}`` for the group norms. Each penalty provides

* :meth:`~Penalty.block_values`, the terms :math:`w_g\,\omega(W_g)` (their sum
  is the penalty; scaling a block by :math:`s \ge 0` scales its term by ``s``,
  which the polishing of certified points relies on);
* :meth:`~Penalty.prox`, the proximal operator
  :math:`\operatorname{prox}_{t\Omega}(V)
  = \arg\min_W \frac12\|W - V\|_F^2 + t\Omega(W)`;
* :meth:`~Penalty.block_dual_norms`, :math:`\omega^*(V_g)/w_g` per block, whose
  maximum is the dual norm :math:`\Omega^*(V)`: it scales a residual into a
  dual-feasible point for the duality gap, and ranks blocks for working sets
  and screening. Unpenalised blocks (:math:`w_g = 0`) do not enter it: their
  dual constraint is an equation, :math:`A_g^\top\Theta = 0`, which the
  certificate meets by fitting them exactly (polishing);
* :meth:`~Penalty.restrict`, the same penalty on a subset of the blocks.
"""

from __future__ import annotations

import copy
import math

import torch


def _check_weights(weights):
    if weights is not None and bool((weights < 0).any()):
        raise ValueError("penalty weights must be nonnegative.")
    return weights


class Penalty:
    """Base class: a weighted sum of one norm ``ω`` over row blocks.

    Subclasses set ``group_size`` and implement :meth:`_norms`,
    :meth:`_dual_norms` and :meth:`prox`.
    """

    #: Number of consecutive rows of the coefficients forming one block.
    group_size: int = 1
    #: Nonnegative block weights, or ``None`` for all ones.
    weights: torch.Tensor | None = None

    def _norms(self, coef: torch.Tensor) -> torch.Tensor:
        """``ω(W_g)`` for every block."""
        raise NotImplementedError

    def _dual_norms(self, coef: torch.Tensor) -> torch.Tensor:
        """``ω*(V_g)`` for every block."""
        raise NotImplementedError

    def prox(self, coef: torch.Tensor, threshold: float) -> torch.Tensor:
        raise NotImplementedError

    def restrict(self, blocks: torch.Tensor) -> Penalty:
        """The penalty on the blocks ``blocks`` only."""
        raise NotImplementedError

    def astype(self, dtype: torch.dtype) -> Penalty:
        """The same penalty with its weights in ``dtype``."""
        converted = copy.copy(self)
        if self.weights is not None:
            converted.weights = self.weights.to(dtype)
        return converted

    def is_euclidean(self, n_outputs: int) -> bool:
        r"""Whether each term is :math:`w_g\|W_g\|_F`, smooth at a nonzero block
        with Hessian :math:`\frac{w_g}{\|W_g\|_F}(I - \hat w_g\hat w_g^\top)`,
        :math:`\hat w_g = W_g/\|W_g\|_F` (what the active-set Newton step of
        :mod:`convexnn.solvers.newton` needs)."""
        return False

    def capabilities(self, n_outputs: int) -> frozenset[str]:
        """What this penalty offers solvers with ``n_outputs`` outputs:
        ``"euclidean"`` when it is Euclidean (:meth:`is_euclidean`) with
        positive, finite weights, smooth wherever a block is nonzero (what the
        Newton methods need); ``"l1"`` for :class:`L1` (exact Gram-form
        subproblems)."""
        weights = self.weights
        positive = weights is None or bool(((weights > 0) & (weights < math.inf)).all())
        return frozenset(
            {"euclidean"} if self.is_euclidean(n_outputs) and positive else ()
        )

    def block_values(self, coef: torch.Tensor) -> torch.Tensor:
        """The penalty term of each block, shape ``(n_coefs // group_size,)``."""
        norms = self._norms(coef)
        if self.weights is None:
            return norms
        return torch.where(norms > 0, norms * self.weights, norms)  # inf · 0 = 0

    def value(self, coef: torch.Tensor) -> float:
        """Return :math:`\\Omega(W)`, accumulated in float64."""
        return float(self.block_values(coef).to(torch.float64).sum())

    def block_dual_norms(self, coef: torch.Tensor) -> torch.Tensor:
        """``ω*(V_g) / w_g`` for every block (``0`` where ``w_g = 0``)."""
        norms = self._dual_norms(coef)
        if self.weights is None:
            return norms
        return torch.where(self.weights > 0, norms / self.weights, 0.0)

    def dual_norm(self, coef: torch.Tensor) -> float:
        """Return :math:`\\Omega^*(V)`, the largest of :meth:`block_dual_norms`."""
        norms = self.block_dual_norms(coef)
        return float(norms.max()) if norms.numel() else 0.0

    def _threshold(self, threshold: float):
        """The prox threshold of each block, shaped to broadcast over its rows."""
        if self.weights is None:
            return threshold
        return threshold * self.weights.unsqueeze(1)


class L1(Penalty):
    r"""Weighted :math:`\ell_1` norm :math:`\sum_{j,k} w_j |W_{jk}|`.

    ``weights`` (one per row, default all ones) may hold ``0`` (unpenalised
    rows) and ``inf`` (rows forced to zero). The dual norm of a row is
    :math:`\max_k |V_{jk}|`.
    """

    def __init__(self, weights: torch.Tensor | None = None):
        self.weights = _check_weights(weights)

    def _norms(self, coef):
        return coef.abs().sum(1)

    def _dual_norms(self, coef):
        return coef.abs().amax(1)

    def prox(self, coef, threshold):
        return coef.sign() * (coef.abs() - self._threshold(threshold)).clamp(min=0)

    def restrict(self, blocks):
        return L1(None if self.weights is None else self.weights[blocks])

    def capabilities(self, n_outputs):
        return frozenset({"l1"})


class GroupLasso(Penalty):
    r"""Sum of Frobenius norms of row blocks, :math:`\sum_g w_g \|W_g\|_F`.

    Parameters
    ----------
    group_size : int
        Number of consecutive rows per group.
    weights : tensor of shape (n_groups,), optional
        Nonnegative group weights (default ones); ``0`` leaves a group
        unpenalised.
    """

    def __init__(self, group_size: int, weights: torch.Tensor | None = None):
        self.group_size = group_size
        self.weights = _check_weights(weights)

    def _groups(self, coef):
        return coef.reshape(-1, self.group_size * coef.shape[1])

    def _norms(self, coef):
        return torch.linalg.vector_norm(self._groups(coef), dim=1)

    _dual_norms = _norms  # the Frobenius norm is self-dual

    def prox(self, coef, threshold):
        groups = self._groups(coef)
        norms = torch.linalg.vector_norm(groups, dim=1, keepdim=True)
        shrink = (norms - self._threshold(threshold)).clamp_(min=0)  # new norms
        shrink = shrink.div_(norms.clamp_(min=torch.finfo(coef.dtype).tiny))
        return (groups * shrink).view(coef.shape)

    def restrict(self, blocks):
        weights = None if self.weights is None else self.weights[blocks]
        return GroupLasso(self.group_size, weights)

    def is_euclidean(self, n_outputs):
        return True


class NuclearGroupLasso(Penalty):
    r"""Sum of nuclear norms of row blocks, :math:`\sum_g \|W_g\|_*`.

    With one output it equals :class:`GroupLasso`. The prox soft-thresholds the
    singular values of each block; the dual norm of a block is its spectral
    norm.
    """

    def __init__(self, group_size: int):
        self.group_size = group_size
        self._vector_case = GroupLasso(group_size)

    def _blocks(self, coef):
        return coef.reshape(-1, self.group_size, coef.shape[1])

    def _norms(self, coef):
        if coef.shape[1] == 1:
            return self._vector_case._norms(coef)
        return torch.linalg.matrix_norm(self._blocks(coef), ord="nuc")

    def _dual_norms(self, coef):
        if coef.shape[1] == 1:
            return self._vector_case._norms(coef)
        return torch.linalg.matrix_norm(self._blocks(coef), ord=2)

    def prox(self, coef, threshold):
        if coef.shape[1] == 1:
            return self._vector_case.prox(coef, threshold)
        U, S, Vh = torch.linalg.svd(self._blocks(coef), full_matrices=False)
        S = (S - threshold).clamp(min=0)
        return ((U * S.unsqueeze(1)) @ Vh).reshape(coef.shape)

    def restrict(self, blocks):
        return NuclearGroupLasso(self.group_size)

    def is_euclidean(self, n_outputs):
        return n_outputs == 1
