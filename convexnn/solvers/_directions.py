r"""The output directions of a small Newton problem, dense or by chunks of samples.

Polishing (:func:`~convexnn.solvers.polish.polish`) minimises
:math:`f(Z + \sum_j \delta_j F_j) + w^\top\delta` over a few coefficients
:math:`\delta`, one per direction :math:`F_j \in \mathbb R^{n\times c}`
(a block's outputs, a free coordinate's column, an intercept). Damped Newton
(:func:`~convexnn.solvers.polish.damped_newton`) needs three products with
them, all in float64:

* :meth:`Directions.inner`: :math:`(\langle F_j, G\rangle)_j`;
* :meth:`Directions.along`: :math:`\sum_j v_j F_j`;
* :meth:`Directions.curvature`: :math:`(\langle F_j, \nabla^2 f(Z)[F_k]\rangle)_{jk}`.

:class:`DenseDirections` holds the ``(n, m, c)`` array. At a million samples
and a few hundred directions that array takes gigabytes, so
:class:`ChunkedDirections` forms it by chunks of samples whenever it is needed
(:meth:`~convexnn.problems.LinearOperator.sample_slices`) and keeps them while
they take at most :data:`KEPT_BYTES`; larger ones it forms again at every
product, one chunk at a time (about one product with the active blocks each),
so that its workspace is one chunk whatever ``n``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ..problems import Loss

KEPT_BYTES = 2**30
"""Largest directions (``8 · n · m · c`` bytes) :class:`ChunkedDirections`
keeps once formed: 1 GiB, a quarter of the default
``SolverConfig.memory_budget``. Beyond it each product of damped Newton forms
them again, which costs about one product with the polished blocks."""


class Directions:
    """``m`` output directions of shape ``(n, c)``, seen through the products
    damped Newton needs (float64)."""

    n_directions: int

    def inner(self, G: torch.Tensor) -> torch.Tensor:
        r""":math:`\langle F_j, G\rangle` for every direction: shape ``(m,)``."""
        raise NotImplementedError

    def along(self, vector: torch.Tensor) -> torch.Tensor:
        r""":math:`\sum_j v_j F_j` for ``vector`` :math:`v` of shape ``(m,)``:
        shape ``(n, c)``."""
        raise NotImplementedError

    def curvature(self, loss: Loss, Z: torch.Tensor) -> torch.Tensor:
        r"""The Hessian :math:`\langle F_j, \nabla^2 f(Z)[F_k]\rangle` of
        ``loss`` at ``Z`` along the directions: shape ``(m, m)``."""
        raise NotImplementedError


class DenseDirections(Directions):
    """Directions held as one ``(n, m, c)`` float64 tensor."""

    def __init__(self, directions: torch.Tensor):
        self.directions = directions
        self.n_directions = directions.shape[1]
        self.flat = directions.transpose(1, 2).reshape(-1, self.n_directions)

    def inner(self, G):
        return self.flat.T @ G.reshape(-1)

    def along(self, vector):
        return torch.einsum("nmc,m->nc", self.directions, vector)

    def curvature(self, loss, Z):
        curved = loss.hessian_product(Z, self.directions)
        return self.flat.T @ curved.transpose(1, 2).reshape(-1, self.n_directions)


class ChunkedDirections(Directions):
    """Directions formed by chunks of samples, for a loss whose Hessian is
    diagonal (:meth:`~convexnn.problems.Loss.hessian_diagonal`).

    Parameters
    ----------
    slices : list of slice
        Ranges of consecutive samples covering ``0 … n − 1`` in order.
    rows : callable
        ``rows(chunk)`` returns the directions on the samples ``chunk``,
        shape ``(len(chunk), m, c)``, in float64.
    n_directions, n_outputs : int
        ``m`` and ``c``.
    keep : bool
        Keep the chunks once formed (``n · m · c`` float64 entries, in chunks,
        without the copies a dense Hessian product makes), or form them again
        at every product (one chunk at a time).
    """

    def __init__(
        self,
        slices: list[slice],
        rows: Callable[[slice], torch.Tensor],
        n_directions: int,
        n_outputs: int,
        keep: bool,
    ):
        self.slices, self.rows = slices, rows
        self.n_directions, self.n_outputs = n_directions, n_outputs
        self.kept = {} if keep else None

    def _chunks(self) -> Iterator[tuple[slice, torch.Tensor]]:
        """``(chunk, directions of the chunk as (len · c, m))`` in order."""
        for chunk in self.slices:
            if self.kept is not None and chunk.start in self.kept:
                flat = self.kept[chunk.start]
            else:
                flat = self.rows(chunk).transpose(1, 2).reshape(-1, self.n_directions)
                if self.kept is not None:
                    self.kept[chunk.start] = flat
            yield chunk, flat

    def inner(self, G):
        return sum(flat.T @ G[chunk].reshape(-1) for chunk, flat in self._chunks())

    def along(self, vector):
        parts = [flat @ vector for _, flat in self._chunks()]
        return torch.cat(parts).view(-1, self.n_outputs)

    def curvature(self, loss, Z):
        weights = loss.hessian_diagonal(Z).to(torch.float64)
        total = 0
        for chunk, flat in self._chunks():
            total = total + flat.T @ (weights[chunk].reshape(-1, 1) * flat)
        return total
