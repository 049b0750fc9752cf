r"""The implicit operator of a 1-D dictionary (:mod:`convexnn.dictionaries`).

Each column :math:`\varphi_j` of the dictionary is a short expansion in ramps
(or steps) at a few knots; products with the dictionary are cumulative sums
over the sorted data, and Gram matrices and column norms come in closed form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from .operators import LinearOperator

if TYPE_CHECKING:
    from ..dictionaries import Features


class BasisOperator(LinearOperator):
    r"""The dictionary :math:`A_{ij} = \varphi_j(x_i)` applied through its expansion.

    With :math:`\varphi_j(x) = a_j x + b_j + \sum_k \beta_{jk}\psi(x - t_{jk})`
    and the knots merged into one sorted array :math:`t_1 < … < t_K`,

    .. math::
        A z = x\,(a^\top z) + \mathbf 1\,(b^\top z) + \Psi B z,

        A^\top\theta = a\,(x^\top\theta) + b\,(\mathbf 1^\top\theta)
        + B^\top\Psi^\top\theta,

    where ``B`` scatters the knot weights and :math:`\Psi_{ik} = \psi(x_i - t_k)`.
    For ramps :math:`(\Psi w)_i = x_i W^0_i - W^1_i` with prefix sums
    :math:`W^0, W^1` of :math:`w_k, w_k t_k` over the knots left of
    :math:`x_i`, and :math:`(\Psi^\top\theta)_k = T^1_k - t_k T^0_k` with suffix
    sums :math:`T^0, T^1` of :math:`\theta_i, \theta_i x_i` over the data right
    of :math:`t_k`; steps use :math:`W^0` and :math:`T^0` alone. A product costs
    :math:`O(N + K + \text{nnz}(B))` after one sort. The data are shifted by
    their midrange inside the operator for accuracy.

    Parameters
    ----------
    features : Features
        The columns.
    x : tensor of shape (n_samples,)
        The training inputs, sorted in increasing order.
    """

    def __init__(self, features: Features, x: torch.Tensor):
        self.features = features
        self.basis = features.basis
        self.n_samples = len(x)
        self.n_coefs = len(features)
        options = {"dtype": x.dtype, "device": x.device}
        centre = 0.5 * float(x[0] + x[-1]) if len(x) else 0.0
        self.centre = centre
        self.inputs = x  # as given: x - centre + centre may round differently
        self.x = x - centre
        knots, inverse = np.unique(features.knots, return_inverse=True)
        self.knots = torch.as_tensor(knots - centre, **options)
        self.knot_index = torch.as_tensor(
            inverse.reshape(features.knots.shape), device=x.device
        )
        self.weights = torch.as_tensor(features.weights, **options)
        self.slope = torch.as_tensor(features.slope, **options)
        self.constant = torch.as_tensor(
            features.constant + features.slope * centre, **options
        )
        # knots strictly left of x_i (ramps) or at most x_i (steps); data
        # strictly right of t_k (ramps) or at least t_k (steps)
        ramp = self.basis == "ramp"
        self.data_position = torch.searchsorted(self.knots, self.x, right=not ramp)
        self.knot_position = torch.searchsorted(self.x, self.knots, right=ramp)
        self._norms: torch.Tensor | None = None
        self._lines: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    @property
    def device(self) -> torch.device:
        return self.x.device

    @property
    def dtype(self) -> torch.dtype:
        return self.x.dtype

    def lines(self, group_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The grid lines of the dictionary (:meth:`Features.lines`), as tensors."""
        if group_size != 1:
            return []
        if self._lines is None:  # computed once per operator
            self._lines = [
                (
                    torch.as_tensor(order, device=self.device),
                    torch.as_tensor(starts, device=self.device),
                )
                for order, starts in self.features.lines()
            ]
        return self._lines

    def subset(self, indices) -> BasisOperator:
        """The operator of the columns ``indices``."""
        indices = np.asarray(torch.as_tensor(indices).cpu())
        return BasisOperator(self.features.take(indices), self.inputs)

    def capabilities(self, group_size: int) -> frozenset[str]:
        if group_size != 1:
            return frozenset()
        return frozenset({"restrict", "block_norms"})

    def restrict(self, group_size: int, blocks: torch.Tensor) -> BasisOperator | None:
        """The columns ``blocks`` (working sets of the core solver), still implicit."""
        return self.subset(blocks) if group_size == 1 else None

    def block_norms(self, group_size: int) -> torch.Tensor | None:
        """Euclidean norms of the columns (gap-safe screening), in closed form."""
        if group_size != 1:
            return None
        if self._norms is None:
            self._norms = self.column_norms(centred=False).to(self.dtype)
        return self._norms

    def block_outputs(
        self, coef: torch.Tensor, group_size: int, blocks: torch.Tensor
    ) -> torch.Tensor:
        """Each selected column times its coefficients: ``(n_samples, k, c)``."""
        if group_size != 1:
            return super().block_outputs(coef, group_size, blocks)
        sub = self.subset(blocks)
        identity = torch.eye(len(blocks), dtype=self.dtype, device=self.device)
        return sub.matvec(identity).unsqueeze(2) * coef[blocks].unsqueeze(0)

    def matvec(self, coef: torch.Tensor) -> torch.Tensor:
        n_outputs = coef.shape[1]
        knot_weights = coef.new_zeros(len(self.knots), n_outputs)
        knot_weights.index_add_(
            0,
            self.knot_index.reshape(-1),
            (self.weights.unsqueeze(2) * coef.unsqueeze(1)).reshape(
                self.knot_index.numel(), n_outputs
            ),
        )
        out = self._basis_matvec(knot_weights)
        out += self.x[:, None] * (self.slope @ coef) + self.constant @ coef
        return out

    def rmatvec(self, residual: torch.Tensor) -> torch.Tensor:
        knot_values = self._basis_rmatvec(residual)
        out = (self.weights.unsqueeze(2) * knot_values[self.knot_index]).sum(1)
        out += self.slope[:, None] * (self.x @ residual) + self.constant[
            :, None
        ] * residual.sum(0)
        return out

    def gram(
        self,
        indices: torch.Tensor,
        centred: bool,
        others: torch.Tensor | None = None,
    ) -> torch.Tensor:
        r"""Inner products of columns :math:`A_I^\top PA_J`, in closed form (float64).

        As :meth:`LinearOperator.gram`, from the Gram matrix of the columns
        ``I ∪ J`` (:meth:`full_gram`): the cost depends on the number of
        columns and of their knots, not on the number of samples.
        """
        if others is None:
            return self.subset(indices).full_gram(centred)
        union = torch.cat([torch.as_tensor(indices), torch.as_tensor(others)])
        G = self.subset(union).full_gram(centred)
        return G[: len(indices), len(indices) :]

    def full_gram(self, centred: bool, block_size: int = 4_000_000) -> torch.Tensor:
        r"""The Gram matrix :math:`A^\top PA` in float64, in closed form.

        The columns are combinations :math:`A = \Phi C` of the ``K + 2`` basis
        functions ``x``, ``1`` and :math:`\psi(x - t_k)` (:meth:`_basis_inner`),
        with ``C`` sparse, so :math:`A^\top PA = C^\top (E C)` where
        :math:`E = (P\Phi)^\top P\Phi` is built in blocks of about
        ``block_size`` entries: :math:`O(K^2 + K\,\mathrm{nnz}(C) + s\,
        \mathrm{nnz}(C))` work for ``s`` columns, independently of the number
        of samples.
        """
        index = self._extended_index()
        coefficients = self._extended_coefficients()
        size = len(self.knots) + 2
        columns = torch.arange(self.n_coefs, device=self.device)[:, None].expand_as(
            index
        )
        transposed = torch.sparse_coo_tensor(
            torch.stack([columns.reshape(-1), index.reshape(-1)]),
            coefficients.reshape(-1),
            (self.n_coefs, size),
            check_invariants=False,
        ).coalesce()
        extended = torch.arange(size, device=self.device)
        EC = coefficients.new_empty(size, self.n_coefs)
        rows = max(1, block_size // size)
        for start in range(0, size, rows):
            block = extended[start : start + rows]
            E = self._basis_inner(block[:, None], extended[None, :], centred)
            EC[start : start + rows] = torch.sparse.mm(transposed, E.T).T
        G = torch.sparse.mm(transposed, EC)
        return 0.5 * (G + G.T)

    def column_norms(
        self, centred: bool, indices: torch.Tensor | None = None
    ) -> torch.Tensor:
        """As :meth:`LinearOperator.column_norms`, in closed form: the cost
        depends on the columns' knots, not on the number of samples."""
        if indices is not None:
            return self.subset(indices).column_norms(centred)
        index = self._extended_index()
        coefficients = self._extended_coefficients()
        inner = self._basis_inner(index[:, :, None], index[:, None, :], centred)
        squares = (coefficients[:, :, None] * inner * coefficients[:, None, :]).sum(
            (1, 2)
        )
        return squares.clamp(min=0).sqrt()

    def _extended_index(self) -> torch.Tensor:
        """Per column, the basis functions it combines: ``x``, ``1``, its knots."""
        m = self.n_coefs
        fixed = torch.arange(2, device=self.device).expand(m, 2)
        return torch.cat([fixed, self.knot_index + 2], dim=1)

    def _extended_coefficients(self) -> torch.Tensor:
        """Per column, the coefficients of :meth:`_extended_index`, float64."""
        return torch.cat(
            [self.slope[:, None], self.constant[:, None], self.weights], dim=1
        ).to(torch.float64)

    def _basis_inner(self, a, b, centred: bool) -> torch.Tensor:
        r"""Inner products on the data of the basis functions ``a`` and ``b``.

        Index 0 is ``x``, 1 is the constant and ``2 + k`` is
        :math:`\psi(x - t_k)`. With suffix sums :math:`S_p` of :math:`x^p`
        over the data right of a knot,
        :math:`\langle (x - s)_+, (x - t)_+\rangle = S_2 - (s + t)S_1 + st\,S_0`
        at :math:`\max(s, t)`, :math:`\langle x, (x - t)_+\rangle = S_2 - tS_1`,
        :math:`\langle 1, (x - t)_+\rangle = S_1 - tS_0`; steps need
        :math:`S_0, S_1` only. ``centred`` subtracts the product of the means.
        """
        x = self.x.to(torch.float64)
        t = self.knots.to(torch.float64)
        moments = [_suffix_sums(x[:, None] ** p)[:, 0] for p in range(3)]
        S0, S1, S2 = (m[self.knot_position] for m in moments)
        n = float(self.n_samples)
        totals = torch.stack([moments[2][0], moments[1][0], x.new_tensor(n)])
        low, high = torch.minimum(a, b), torch.maximum(a, b)
        knot_high = (high - 2).clamp(min=0)
        knot_low = (low - 2).clamp(min=0)
        t_high, t_low = t[knot_high], t[knot_low]
        # both of x and 1: Σx², Σx or n
        plain = totals[(low + high).clamp(max=2)]
        if self.basis == "step":
            mixed = torch.where(low == 0, S1[knot_high], S0[knot_high])
            knots = S0[knot_high]
        else:
            mixed = torch.where(
                low == 0,
                S2[knot_high] - t_high * S1[knot_high],
                S1[knot_high] - t_high * S0[knot_high],
            )
            knots = (
                S2[knot_high]
                - (t_low + t_high) * S1[knot_high]
                + t_low * t_high * S0[knot_high]
            )
        inner = torch.where(high <= 1, plain, torch.where(low <= 1, mixed, knots))
        if centred:
            inner = inner - self._basis_sum(a) * self._basis_sum(b) / n
        return inner

    def _basis_sum(self, a) -> torch.Tensor:
        """``Σ_i φ_a(x_i)``: the inner product with the constant."""
        return self._basis_inner(a, torch.ones_like(a), centred=False)

    def _basis_matvec(self, knot_weights):
        prefix = _prefix_sums(knot_weights)[self.data_position]
        if self.basis == "step":
            return prefix
        moment = _prefix_sums(knot_weights * self.knots[:, None])[self.data_position]
        return self.x[:, None] * prefix - moment

    def _basis_rmatvec(self, residual):
        suffix = _suffix_sums(residual)[self.knot_position]
        if self.basis == "step":
            return suffix
        moment = _suffix_sums(residual * self.x[:, None])[self.knot_position]
        return moment - self.knots[:, None] * suffix


def _prefix_sums(values: torch.Tensor) -> torch.Tensor:
    """``S[p] = Σ_{k<p} values[k]``, shape ``(len + 1, c)``."""
    zero = values.new_zeros(1, values.shape[1])
    return torch.cat([zero, values.cumsum(0)])


def _suffix_sums(values: torch.Tensor) -> torch.Tensor:
    """``S[q] = Σ_{i≥q} values[i]``, shape ``(len + 1, c)``."""
    zero = values.new_zeros(1, values.shape[1])
    return torch.cat([values.flip(0).cumsum(0).flip(0), zero])
