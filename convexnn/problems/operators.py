r"""Linear operators: the data side of a problem.

An operator maps a coefficient matrix ``W`` of shape ``(n_coefs, n_outputs)``
to predictions ``A W`` of shape ``(n_samples, n_outputs)`` (:meth:`matvec`),
and back with its adjoint ``Aᵀ Θ`` (:meth:`rmatvec`). It acts on each output
column alike. Solvers only ever call these methods, so a formulation is free to
apply its operator without forming it.

Beyond the two products an operator may provide optional methods, which it
declares in :meth:`LinearOperator.capabilities` (solvers read the
declaration, never probe a method for ``None``):

* ``"restrict"``: :meth:`~LinearOperator.restrict`, the operator on a subset
  of the row blocks (working sets, Newton systems on a support);
* ``"astype"``: :meth:`~LinearOperator.astype`, the operator in another dtype
  (a single-precision phase);
* ``"sample_gram"``: :meth:`~LinearOperator.sample_gram`, the weighted
  ``n × n`` matrix of a set of blocks (Newton systems in sample space);
* ``"block_kernel"``: :meth:`~LinearOperator.block_kernel`, the ``n × n``
  matrix :math:`AMA^\top` in closed form;
* ``"block_norms"``: :meth:`~LinearOperator.block_norms`, bounds on the norm
  of each block (gap-safe screening);
* ``"difference"``: an operator :math:`[B, -B]` on two stacked copies of
  the coefficients of its ``base`` operator :math:`B`;
* ``"interior"``: a constraint map :math:`K` that knows a point strictly
  inside each block's cone (its ``interior``);
* ``"block_gram"``: a constraint map :math:`K` whose Gram matrix
  :math:`K^\top K` is block diagonal with one shared block, returned by its
  ``block_gram()`` (ADMM's exact block inverse).
"""

from __future__ import annotations

import torch


class LinearOperator:
    """Base class: a linear map from coefficients to predictions.

    Subclasses set ``n_samples``, ``n_coefs`` and implement :meth:`matvec`
    and :meth:`rmatvec`, which must be exact adjoints of each other:
    ``<A W, Θ> = <W, Aᵀ Θ>``, and apply the same map to every output column.
    """

    n_samples: int
    n_coefs: int

    def capabilities(self, group_size: int) -> frozenset[str]:
        """The optional methods (see the module docstring) this operator
        provides for row blocks of ``group_size`` rows; none by default."""
        return frozenset()

    def matvec(self, coef: torch.Tensor) -> torch.Tensor:
        """Return ``A W``: ``(n_coefs, c)`` → ``(n_samples, c)``."""
        raise NotImplementedError

    def rmatvec(self, residual: torch.Tensor) -> torch.Tensor:
        """Return ``Aᵀ Θ``: ``(n_samples, c)`` → ``(n_coefs, c)``."""
        raise NotImplementedError

    def block_outputs(
        self, coef: torch.Tensor, group_size: int, blocks: torch.Tensor
    ) -> torch.Tensor:
        """Outputs of selected row blocks of ``coef``, each on its own.

        Block ``g`` is rows ``g·group_size`` to ``(g+1)·group_size − 1``; the
        result ``F`` of shape ``(n_samples, len(blocks), c)`` has
        ``F[:, j] = A W_{(blocks[j])}``, the product with ``coef`` restricted
        to block ``blocks[j]``, so that summing over all blocks gives
        :meth:`matvec`. This generic version makes one product with
        ``len(blocks) · c`` columns; operators override it when they can do
        better.
        """
        n_outputs = coef.shape[1]
        blocked = coef.view(-1, group_size, n_outputs)
        expanded = coef.new_zeros(blocked.shape[0], group_size, len(blocks), n_outputs)
        position = torch.arange(len(blocks), device=coef.device)
        expanded[blocks, :, position, :] = blocked[blocks]
        outputs = self.matvec(expanded.view(self.n_coefs, -1))
        return outputs.view(self.n_samples, len(blocks), n_outputs)

    def restrict(self, group_size: int, blocks: torch.Tensor) -> LinearOperator | None:
        """The operator on the selected row blocks alone (for working sets), or
        ``None`` when this operator cannot be restricted."""
        return None

    def astype(self, dtype: torch.dtype) -> LinearOperator | None:
        """The same operator with its data converted to ``dtype`` (for a
        solver's single-precision phase), or ``None`` when it does not
        convert."""
        return None

    def in_float64(self) -> LinearOperator | None:
        """The same operator with its data in float64, on which certificates
        of a lower-precision problem are computed
        (:meth:`~convexnn.problems.Problem.certifying_problem`), or ``None``
        when it cannot convert. Unlike :meth:`astype`, which also enables a
        solver's single-precision phase, any operator whose data is a tensor
        should offer it."""
        return self.astype(torch.float64)

    def sample_gram(
        self,
        group_size: int,
        blocks: torch.Tensor,
        weights: torch.Tensor,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor | None:
        r"""The ``(n_samples, n_samples)`` matrix
        :math:`\sum_j \lambda_j A_{g_j} A_{g_j}^\top` over the row blocks
        ``g_j = blocks[j]`` with weights ``λ = weights``, formed in ``dtype``
        (default this operator's), or ``None`` when this operator has no cheap
        way to form it (the active-set Newton step of
        :mod:`convexnn.solvers.newton` is then skipped)."""
        return None

    def sample_gram_flops(self, group_size: int, n_blocks: int) -> float:
        """Floating-point operations of :meth:`sample_gram` over ``n_blocks``
        blocks (for solvers weighing its cost): by default the weighted
        product of their dense columns, ``n² · n_blocks · group_size``."""
        return self.n_samples**2 * n_blocks * group_size

    def columns(self, indices: torch.Tensor) -> torch.Tensor:
        """The columns ``indices`` of the matrix of this operator, dense:
        ``(n_samples, len(indices))``, from :meth:`block_outputs` (one product)."""
        ones = torch.ones(self.n_coefs, 1, dtype=self.dtype, device=self.device)
        return self.block_outputs(ones, 1, indices)[:, :, 0]

    def gram(
        self,
        indices: torch.Tensor,
        centred: bool,
        others: torch.Tensor | None = None,
    ) -> torch.Tensor:
        r"""Inner products of columns, :math:`A_I^\top P A_J`, in float64.

        ``I = indices``, ``J = others`` (default ``I``: the Gram matrix of the
        columns ``I``), and ``P`` the centring projection
        :math:`I - \mathbf 1\mathbf 1^\top/n` when ``centred`` (the identity
        otherwise). This generic version forms the columns densely
        (:meth:`columns`), :math:`O(n(|I| + |J|))` memory and
        :math:`O(n|I||J|)` work; operators with a closed form override it.
        """
        left = self.columns(indices).to(torch.float64)
        if centred:
            left = left - left.mean(0)
        if others is None:
            return left.T @ left
        # P is a projection: A_Iᵀ P A_J = (P A_I)ᵀ A_J
        return left.T @ self.columns(others).to(torch.float64)

    def column_norms(
        self, centred: bool, indices: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Euclidean norms of the columns ``indices`` (default all), centred
        first when ``centred``, in float64. This generic version forms the
        columns densely (:meth:`columns`); operators with a closed form
        override it."""
        if indices is None:
            indices = torch.arange(self.n_coefs, device=self.device)
        columns = self.columns(indices).to(torch.float64)
        if centred:
            columns = columns - columns.mean(0)
        return torch.linalg.vector_norm(columns, dim=0)

    def block_kernel(self, metric: torch.Tensor) -> torch.Tensor | None:
        r"""The ``(n_samples, n_samples)`` matrix :math:`AMA^\top` for the block
        diagonal :math:`M = I \otimes` ``metric``, the same symmetric ``(g, g)``
        matrix on every block of ``g`` rows, or ``None`` when this operator has
        no closed form for it (callers then form it from products)."""
        return None

    def block_norms(self, group_size: int) -> torch.Tensor | None:
        """Upper bounds on the spectral norm of each block's operator ``A_g``
        (for gap-safe screening), or ``None`` when none are available."""
        return None

    def sample_slices(self, row_bytes: int) -> list[slice]:
        """Ranges of consecutive samples over which a caller may split work that
        takes ``row_bytes`` bytes per sample, each range then served by
        :meth:`on_samples`. Operators that compute their own products by
        chunks of samples (:class:`~convexnn.problems.GatedOperator`) return
        their chunks, so that a caller's workspace stays as bounded as
        theirs; the default is one range of all samples (no split)."""
        return [slice(0, self.n_samples)]

    def on_samples(self, rows: slice) -> LinearOperator:
        """The operator on the samples ``rows`` alone (the rows ``rows`` of its
        matrix), for a range given by :meth:`sample_slices`; only operators
        that return several ranges there provide it."""
        raise NotImplementedError

    def lines(self, group_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Lines of neighbouring blocks, one ordering of the blocks per axis.

        Operators whose blocks discretise a continuous family (a feature per
        grid point, nearly equal to the next) return, per grid axis, a pair
        ``(order, starts)``: ``order`` lists the blocks line after line, each
        line in grid order, and the boolean ``starts`` marks where a line
        begins. Working sets then take one block per peak of the dual
        constraint's violations instead of many near-copies of the worst
        block. The default is no grid (an empty list).
        """
        return []

    @property
    def device(self) -> torch.device:
        raise NotImplementedError

    @property
    def dtype(self) -> torch.dtype:
        raise NotImplementedError


class MatrixOperator(LinearOperator):
    """A dense design matrix ``X`` of shape ``(n_samples, n_features)``.

    ``X`` is kept in column-major order (copied once if it is not): products
    cost the same either way, but working sets and polishing gather columns,
    which is two orders of magnitude faster from column-major storage.
    """

    def __init__(self, X: torch.Tensor):
        self.X = X if X.T.is_contiguous() else X.T.contiguous().T
        self.n_samples, self.n_coefs = X.shape
        self._block_norms: dict[int, torch.Tensor] = {}

    @property
    def device(self) -> torch.device:
        return self.X.device

    @property
    def dtype(self) -> torch.dtype:
        return self.X.dtype

    def matvec(self, coef: torch.Tensor) -> torch.Tensor:
        return self.X @ coef

    def rmatvec(self, residual: torch.Tensor) -> torch.Tensor:
        return self.X.T @ residual

    def _columns(self, group_size: int, blocks: torch.Tensor) -> torch.Tensor:
        """The columns of ``blocks``: ``(n_samples, len(blocks) · group_size)``."""
        offsets = torch.arange(group_size, device=blocks.device)
        rows = (blocks.unsqueeze(1) * group_size + offsets).view(-1)
        return self.X.T[rows].T  # a row gather of the contiguous transpose

    def capabilities(self, group_size):
        return frozenset({"restrict", "sample_gram", "block_norms"})

    def restrict(self, group_size, blocks):
        return MatrixOperator(self._columns(group_size, blocks))

    def in_float64(self):
        return MatrixOperator(self.X.to(torch.float64))

    def sample_gram(self, group_size, blocks, weights, dtype=None):
        columns = self._columns(group_size, blocks).to(dtype or self.dtype)
        weights = weights.to(columns.dtype).repeat_interleave(group_size)
        return (columns * weights) @ columns.T

    def block_norms(self, group_size):
        if group_size not in self._block_norms:  # computed once per operator
            if group_size == 1:
                norms = torch.linalg.vector_norm(self.X, dim=0)
            else:
                columns = self.X.T.reshape(-1, group_size, self.n_samples)
                grams = columns @ columns.transpose(1, 2)
                norms = torch.linalg.eigvalsh(grams)[:, -1].clamp(min=0).sqrt()
            self._block_norms[group_size] = norms
        return self._block_norms[group_size]

    def block_outputs(self, coef, group_size, blocks):
        columns = self._columns(group_size, blocks)
        columns = columns.reshape(self.n_samples, len(blocks), group_size)
        weights = coef.view(-1, group_size, coef.shape[1])[blocks]
        return torch.einsum("nkg,kgc->nkc", columns, weights)

    def columns(self, indices):
        return self._columns(1, indices)
