r"""The gated ReLU operator, with its products computed by chunks of samples.

The operator :math:`W \mapsto \sum_i D_i\tilde XU_i` needs the data
:math:`\tilde X` (``n × d̃``) and the 0/1 activation patterns
:math:`M = [\operatorname{diag}(D_1), …, \operatorname{diag}(D_P)]`
(``n × P``). Both products form ``n × P c`` intermediates (the hidden
outputs :math:`\tilde XU_i` side by side, the masks as floats), which at a
million samples and a few hundred patterns take gigabytes. So
:class:`GatedOperator`

* stores the masks *dense*, as floats in the data's dtype, only while they
  take at most ``chunk_bytes`` (:data:`CHUNK_BYTES` by default); larger ones
  are *bit-packed* (:class:`PackedMasks`, one bit per sample and pattern,
  ``P · ⌈n/8⌉`` bytes, 32 to 64 times less than floats);
* computes every product by chunks of consecutive samples
  (:meth:`~GatedOperator.sample_slices`), so that each intermediate takes at
  most about ``chunk_bytes``, whatever ``n``; a problem whose intermediates fit
  in one chunk runs exactly as one unchunked product.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import torch

from .operators import LinearOperator

CHUNK_BYTES = 2**23
"""Default bound, in bytes, on each intermediate of one product of
:class:`GatedOperator` (8 MiB), and the largest masks :meth:`GatedOperator.from_gates`
stores dense. Chunks of a few MiB stay in the cache and reuse their memory: on
a single core they made the products of ``200 000 × 200`` float32 masks
faster than one unchunked product (``doc/benchmarks.rst``)."""


def _bit_values(device: torch.device) -> torch.Tensor:
    """The values of the eight bits of a byte, lowest first."""
    return torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8, device=device)


@functools.cache
def _unpacking_table(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The bits of every byte, lowest first, as 0/1 in ``dtype``: ``(256, 8)``."""
    values = torch.arange(256, device=device).unsqueeze(1)
    return ((values >> torch.arange(8, device=device)) & 1).to(dtype)


def sample_slices(n_samples: int, row_bytes: int, chunk_bytes: int) -> list[slice]:
    """Ranges of consecutive samples of at most ``chunk_bytes / row_bytes`` rows
    each (a whole number of bytes of packed masks: a multiple of 8, at least
    8), or one range of all ``n_samples`` when that many fit."""
    size = chunk_bytes // max(row_bytes, 1)
    if size >= n_samples:
        return [slice(0, n_samples)]
    size = max(8, size - size % 8)
    return [
        slice(start, min(start + size, n_samples))
        for start in range(0, n_samples, size)
    ]


class PackedMasks:
    """Activation patterns stored one bit per sample and pattern.

    Pattern ``p`` of sample ``i`` is bit ``i % 8`` (lowest first) of
    ``bits[p, i // 8]``: ``bits`` is a ``uint8`` tensor of shape
    ``(P, ⌈n/8⌉)``, ``P · ⌈n/8⌉`` bytes. Patterns are rows, so selecting
    patterns (a working set) gathers rows, and a range of samples starting
    at a multiple of 8 is a view.

    Parameters
    ----------
    bits : tensor of shape (n_patterns, ⌈n_samples / 8⌉), dtype uint8
        The packed patterns.
    n_samples : int
        Number of samples (the last byte may hold fewer than 8).
    """

    def __init__(self, bits: torch.Tensor, n_samples: int):
        self.bits = bits
        self.n_samples = n_samples

    @classmethod
    def pack(cls, masks: torch.Tensor) -> PackedMasks:
        """Pack the boolean (or 0/1) patterns ``masks`` of shape ``(n, P)``."""
        n_samples, n_patterns = masks.shape
        padded = masks.new_zeros(
            (n_patterns, -(-n_samples // 8) * 8), dtype=torch.uint8
        )
        padded[:, :n_samples] = masks.T != 0
        grouped = padded.view(n_patterns, -1, 8) * _bit_values(masks.device)
        return cls(grouped.sum(2, dtype=torch.uint8), n_samples)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_samples, n_patterns)``, the shape of the dense masks."""
        return (self.n_samples, self.bits.shape[0])

    def rows(self, rows: slice, dtype: torch.dtype) -> torch.Tensor:
        """The dense 0/1 masks of the samples ``rows`` (starting at a multiple
        of 8), shape ``(len, P)``, in ``dtype``: the transpose of a contiguous
        ``(P, len)`` tensor, formed in one table lookup per byte."""
        stop = min(rows.stop, self.n_samples)
        chunk = self.bits[:, rows.start // 8 : -(-stop // 8)]
        table = _unpacking_table(dtype, chunk.device)
        flags = torch.nn.functional.embedding(chunk.int(), table)  # (P, bytes, 8)
        flags = flags.view(chunk.shape[0], 8 * chunk.shape[1])
        return flags[:, : stop - rows.start].T

    def select(self, patterns: torch.Tensor) -> PackedMasks:
        """The patterns ``patterns`` alone (``len(patterns) · ⌈n/8⌉`` bytes)."""
        return PackedMasks(self.bits[patterns], self.n_samples)

    def samples(self, rows: slice) -> PackedMasks:
        """The patterns of the samples ``rows`` (starting at a multiple of 8),
        a view."""
        stop = min(rows.stop, self.n_samples)
        return PackedMasks(
            self.bits[:, rows.start // 8 : -(-stop // 8)], stop - rows.start
        )


class GatedOperator(LinearOperator):
    r"""The gated ReLU operator :math:`W \mapsto \sum_i D_i \tilde X U_i`.

    The coefficients are the stacked blocks ``U_i`` of shape ``(d̃, c)``, one
    per activation pattern, viewed as a ``(n_patterns · d̃, c)`` matrix. With
    the 0/1 masks ``M = [diag(D_1), …, diag(D_P)]`` of shape ``(n, P)``

    .. math::
        A W = \sum_i M_{:,i} \odot (\tilde X U_i), \qquad
        (A^\top Θ)_i = \tilde X^\top (M_{:,i} \odot Θ),

    so one product costs one ``(n × d̃) · (d̃ × P c)`` matrix product and a
    masked reduction; the ``n × P d̃`` expanded matrix is never formed. With
    packed masks, which are formed as floats chunk by chunk anyway, the
    product is :math:`(AW)_n = \tilde x_n^\top \sum_i M_{ni} U_i`: one
    ``(n × P) · (P × d̃ c)`` product with the masks, without the ``n × P c``
    hidden outputs.

    Storage and memory: ``X`` as given (``n × d̃`` in its dtype) and the
    masks either dense (``n × P`` in ``X``'s dtype, when given so) or
    bit-packed (:class:`PackedMasks`, ``P · ⌈n/8⌉`` bytes;
    :meth:`from_gates` packs masks larger than ``chunk_bytes``). Every
    product, restriction and norm runs over chunks of samples
    (:meth:`sample_slices`) whose intermediates take at most about
    ``chunk_bytes`` each (three or four at a time), so a product's workspace
    beyond its output is bounded by a small multiple of ``chunk_bytes``
    whatever ``n``. Only :meth:`sample_gram`, :meth:`block_kernel` and
    :attr:`masks` form ``n × P`` or ``n × n`` arrays (the solvers call the
    first two up to a few thousand samples).

    Parameters
    ----------
    X : tensor of shape (n_samples, d̃)
        The lifted data ``X̃`` (with a column of ones when ``hidden_bias``).
    masks : tensor of shape (n_samples, n_patterns) or PackedMasks
        The activation patterns ``1[X̃ g_i > 0]``, dense in ``X``'s dtype or
        bit-packed.
    chunk_bytes : int, optional
        Bound on each intermediate of a product, in bytes (default
        :data:`CHUNK_BYTES`).
    """

    def __init__(
        self,
        X: torch.Tensor,
        masks: torch.Tensor | PackedMasks,
        *,
        chunk_bytes: int | None = None,
    ):
        self.X = X
        self._masks = masks
        self.chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        self.n_samples, self.n_features = X.shape
        self.n_patterns = masks.shape[1]
        self.n_coefs = self.n_patterns * self.n_features
        self._data = {}  # products of X̃ alone, shared with restrictions

    @classmethod
    def from_gates(
        cls, X: torch.Tensor, gates: torch.Tensor, *, chunk_bytes: int | None = None
    ) -> GatedOperator:
        """Build the operator from gate vectors ``gates`` of shape ``(P, d̃)``:
        dense masks when they take at most ``chunk_bytes``, bit-packed ones,
        computed by chunks of samples, otherwise."""
        chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        n_samples, n_patterns = X.shape[0], gates.shape[0]
        if n_samples * n_patterns * X.dtype.itemsize <= chunk_bytes:
            return cls(X, (X @ gates.T > 0).to(X.dtype), chunk_bytes=chunk_bytes)
        row_bytes = n_patterns * X.dtype.itemsize
        # filled in place: pieces kept between the chunks' temporaries would
        # fragment the heap, which then holds several times their size
        bits = X.new_empty((n_patterns, -(-n_samples // 8)), dtype=torch.uint8)
        for rows in sample_slices(n_samples, row_bytes, chunk_bytes):
            packed = PackedMasks.pack(X[rows] @ gates.T > 0)
            bits[:, rows.start // 8 : rows.start // 8 + packed.bits.shape[1]] = (
                packed.bits
            )
        return cls(X, PackedMasks(bits, n_samples), chunk_bytes=chunk_bytes)

    @property
    def device(self) -> torch.device:
        return self.X.device

    @property
    def dtype(self) -> torch.dtype:
        return self.X.dtype

    @property
    def packed(self) -> bool:
        """Whether the masks are stored bit-packed."""
        return isinstance(self._masks, PackedMasks)

    @property
    def masks(self) -> torch.Tensor:
        """The masks as a dense ``(n, P)`` 0/1 tensor in ``X``'s dtype (formed
        from the bits when they are packed: ``n · P`` floats)."""
        return self._mask_rows(slice(0, self.n_samples))

    def _mask_rows(self, rows: slice) -> torch.Tensor:
        """The dense masks of the samples ``rows``."""
        if self.packed:
            return self._masks.rows(rows, self.dtype)
        return self._masks[rows]

    def _selected(self, patterns: torch.Tensor) -> torch.Tensor | PackedMasks:
        """The masks of ``patterns`` alone, stored as this operator's are."""
        return self._masks.select(patterns) if self.packed else self._masks[:, patterns]

    def _like(self, X: torch.Tensor, masks) -> GatedOperator:
        """An operator on other data or masks, with this one's chunks."""
        return GatedOperator(X, masks, chunk_bytes=self.chunk_bytes)

    def sample_slices(self, row_bytes):
        return sample_slices(self.n_samples, row_bytes, self.chunk_bytes)

    def on_samples(self, rows):
        masks = self._masks.samples(rows) if self.packed else self._masks[rows]
        return self._like(self.X[rows], masks)

    def _split(self, width: int) -> list[slice] | None:
        """The chunks of samples of work whose intermediates hold ``width``
        entries per sample, or ``None`` when it runs in one piece on dense
        masks (the unchunked product, without slicing)."""
        slices = self.sample_slices(width * self.dtype.itemsize)
        return None if len(slices) == 1 and not self.packed else slices

    def _stacked(self, parts: Iterable[tuple[slice, torch.Tensor]]) -> torch.Tensor:
        """The chunks' results ``(rows, part)`` stacked by samples into one
        output."""
        out = None
        for rows, part in parts:
            if out is None:
                out = part.new_empty((self.n_samples, *part.shape[1:]))
            out[rows] = part
        return out

    @staticmethod
    def _summed(parts: Iterable[torch.Tensor]) -> torch.Tensor:
        """The sum of the chunks' results, accumulated in place."""
        total = None
        for part in parts:
            total = part if total is None else total.add_(part)
        return total

    @staticmethod
    def _hidden(X: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
        """``X̃ U_i`` side by side for blocks ``U_i`` of shape ``(k, d̃, c)``."""
        n_blocks, n_features, n_outputs = blocks.shape
        stacked = blocks.permute(1, 0, 2).reshape(n_features, -1)
        return (X @ stacked).view(X.shape[0], n_blocks, n_outputs)

    def _product_width(self, n_outputs: int) -> int:
        """Entries per sample of the intermediates of a product with
        ``n_outputs`` columns: the masks and the data weighted by the outputs
        (``P + d̃ c``) with packed masks, the hidden outputs (``P c``) with
        dense ones."""
        if self.packed:
            return self.n_patterns + self.n_features * n_outputs
        return self.n_patterns * n_outputs

    def _matvec(self, X: torch.Tensor, masks: torch.Tensor, coef: torch.Tensor):
        """:meth:`matvec` on the samples of ``X`` and ``masks``."""
        n_outputs = coef.shape[1]
        if self.packed:  # masks formed anyway: Σ_i m_i (x̃ᵀU_i) = x̃ᵀ(Σ_i m_i U_i)
            summed = masks @ coef.view(self.n_patterns, self.n_features * n_outputs)
            return (summed.view(*X.shape, n_outputs) * X.unsqueeze(2)).sum(1)
        if n_outputs == 1:  # the common case, without reshuffling copies
            hidden = X @ coef.view(self.n_patterns, self.n_features).T
            return (hidden * masks).sum(1, keepdim=True)
        blocks = coef.view(self.n_patterns, self.n_features, n_outputs)
        return torch.einsum("np,npc->nc", masks, self._hidden(X, blocks))

    def _rmatvec(self, X: torch.Tensor, masks: torch.Tensor, theta: torch.Tensor):
        """:meth:`rmatvec` of the residual rows ``theta`` of the samples of
        ``X`` and ``masks``."""
        n_outputs, n_features = theta.shape[1], self.n_features
        n_patterns = self.n_patterns
        if n_outputs == 1:  # X̃ᵀ(M ⊙ r) = (X̃ ⊙ r)ᵀ M: the n × d̃ product is smaller
            return ((X * theta).T @ masks).T.reshape(self.n_coefs, 1)
        if self.packed:  # (X̃ ⊗ Θ)ᵀ M: masks formed anyway, one product with them
            weighted = (X.unsqueeze(2) * theta.unsqueeze(1)).view(len(X), -1)
            blocks = (weighted.T @ masks).view(n_features, n_outputs, n_patterns)
            return blocks.permute(2, 0, 1).reshape(self.n_coefs, n_outputs)
        gated = (masks.unsqueeze(2) * theta.unsqueeze(1)).view(len(X), -1)
        blocks = (X.T @ gated).view(n_features, n_patterns, n_outputs)
        return blocks.permute(1, 0, 2).reshape(self.n_coefs, n_outputs)

    def matvec(self, coef: torch.Tensor) -> torch.Tensor:
        slices = self._split(self._product_width(coef.shape[1]))
        if slices is None:
            return self._matvec(self.X, self._masks, coef)
        return self._stacked(
            (rows, self._matvec(self.X[rows], self._mask_rows(rows), coef))
            for rows in slices
        )

    def rmatvec(self, residual: torch.Tensor) -> torch.Tensor:
        slices = self._split(self._product_width(residual.shape[1]))
        if slices is None:
            return self._rmatvec(self.X, self._masks, residual)
        return self._summed(
            self._rmatvec(self.X[rows], self._mask_rows(rows), residual[rows])
            for rows in slices
        )

    def capabilities(self, group_size):
        if group_size != self.n_features:
            return frozenset({"astype"})
        return frozenset(
            {"astype", "restrict", "sample_gram", "block_kernel", "block_norms"}
        )

    def astype(self, dtype):
        masks = self._masks if self.packed else self._masks.to(dtype)
        return self._like(self.X.to(dtype), masks)

    def restrict(self, group_size, blocks):
        if group_size != self.n_features:
            return None
        restricted = self._like(self.X, self._selected(blocks))
        restricted._data = self._data
        return restricted

    def block_norms(self, group_size):
        r"""Frobenius norms :math:`\|D_i\tilde X\|_F`, which bound the spectral
        norms from above and cost one product."""
        if group_size != self.n_features:
            return None
        squared = (self.X**2).sum(1)
        slices = self._split(self.n_patterns) or [slice(0, self.n_samples)]
        norms = self._summed(squared[rows] @ self._mask_rows(rows) for rows in slices)
        return norms.clamp(min=0).sqrt()

    def block_kernel(self, metric):
        r""":math:`\sum_i D_i\tilde XM\tilde X^\top D_i
        = (\tilde XM\tilde X^\top) \odot (\mathrm{masks}\,\mathrm{masks}^\top)`:
        two ``n × n`` products instead of ``n`` products with ``A`` and ``Aᵀ``."""
        if metric.shape[0] != self.n_features:
            return None
        masks = self.masks
        return (self.X @ metric @ self.X.T) * (masks @ masks.T)

    def sample_gram(self, group_size, blocks, weights, dtype=None):
        r""":math:`\sum_j \lambda_j D_j\tilde X\tilde X^\top D_j
        = (\tilde X\tilde X^\top) \odot (M_S \operatorname{diag}(\lambda) M_S^\top)`:
        two ``n × n`` products, the first computed once per ``dtype``."""
        if group_size != self.n_features:
            return None
        dtype = dtype or self.dtype
        if ("gram", dtype) not in self._data:
            X = self.X.to(dtype)
            self._data["gram", dtype] = X @ X.T
        masks = self._like(self.X, self._selected(blocks)).masks.to(dtype)
        return ((masks * weights.to(dtype)) @ masks.T).mul_(self._data["gram", dtype])

    def sample_gram_flops(self, group_size, n_blocks):
        return self.n_samples**2 * n_blocks  # X̃X̃ᵀ is computed once

    def columns(self, indices):
        r"""Column ``i·d̃ + j`` is :math:`M_{:,i} \odot \tilde X_{:,j}`."""
        patterns, features = indices // self.n_features, indices % self.n_features
        slices = self._split(self.n_patterns + len(indices))
        if slices is None:
            return self._masks[:, patterns] * self.X[:, features]
        return self._stacked(
            (rows, self._mask_rows(rows)[:, patterns] * self.X[rows, features])
            for rows in slices
        )

    def block_outputs(self, coef, group_size, blocks):
        if group_size != self.n_features:
            return super().block_outputs(coef, group_size, blocks)
        patterns = coef.view(self.n_patterns, self.n_features, -1)[blocks]
        slices = self._split(max(self.n_patterns, blocks.numel() * coef.shape[1]))
        if slices is None:
            return self._hidden(self.X, patterns) * self._masks[:, blocks].unsqueeze(2)
        return self._stacked(
            (
                rows,
                self._hidden(self.X[rows], patterns)
                * self._mask_rows(rows)[:, blocks].unsqueeze(2),
            )
            for rows in slices
        )
