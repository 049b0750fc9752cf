r"""The convex ReLU program: gated outputs under cone constraints.

.. math::
    \min_{v, w, b}\; f\Bigl(\sum_{i=1}^P D_i\tilde X(v_i - w_i) + \mathbf 1 b^\top\Bigr)
    + \alpha\sum_{i=1}^P \|v_i\| + \|w_i\|
    \quad\text{s.t.}\quad (2D_i - I)\tilde Xv_i \ge 0,\; (2D_i - I)\tilde Xw_i \ge 0.

It is assembled from the core: the output map is a
:class:`~convexnn.problems.GatedOperator` applied to ``v − w``
(:class:`~convexnn.problems.composite.DifferenceOperator`), the penalty a
group lasso over the ``2P`` blocks (one group per output column, one network
per output), and the constraints the :class:`ConeOperator` below.
"""

from __future__ import annotations

import torch

from ._problem import Problem
from .composite import DifferenceOperator, OutputwiseGroupLasso
from .constrained import ConstrainedProblem
from .gated import GatedOperator
from .losses import Loss
from .operators import LinearOperator


class ConeOperator(LinearOperator):
    r"""The cone constraint map :math:`U \mapsto \bigl((2D_i - I)\tilde X U_i\bigr)_i`.

    The coefficients are ``B`` stacked blocks ``U_i`` of shape ``(d̃, c)``; the
    output holds :math:`s_{ni}\,\tilde x_n^\top U_i` for every sample ``n``
    and block ``i``, with signs :math:`s_{ni} = \pm 1`, as rows ``n·B + i``
    of an ``(n_samples · B, c)`` matrix. Since :math:`s_{ni}^2 = 1`, the Gram
    matrix :math:`K^\top K` is block diagonal with every block equal to
    :math:`\tilde X^\top\tilde X` (:meth:`block_gram`).

    Parameters
    ----------
    X : tensor of shape (n_samples, d̃)
        The lifted data ``X̃``.
    signs : tensor of shape (n_samples, n_blocks)
        :math:`2D_i - I` for each block, entries ``±1`` in ``X``'s dtype.
    interior : tensor of shape (n_blocks, d̃), optional
        A point strictly inside each block's cone,
        :math:`(2D_i - I)\tilde X u_i > 0` on every row with
        :math:`\tilde x_n \ne 0`: the gate :math:`g_i` whose pattern
        :math:`D_i = 1[\tilde X g_i > 0]` is, wherever no sample lies on its
        hyperplane. Interior-point methods start there (``"interior"``).
    """

    def __init__(
        self, X: torch.Tensor, signs: torch.Tensor, interior: torch.Tensor | None = None
    ):
        self.X = X
        self.signs = signs
        self.interior = interior
        self.n_data, self.n_features = X.shape
        self.n_blocks = signs.shape[1]
        self.n_samples = self.n_data * self.n_blocks
        self.n_coefs = self.n_blocks * self.n_features

    def capabilities(self, group_size: int) -> frozenset[str]:
        if self.interior is None:
            return frozenset({"block_gram"})
        return frozenset({"block_gram", "interior"})

    @property
    def device(self) -> torch.device:
        return self.X.device

    @property
    def dtype(self) -> torch.dtype:
        return self.X.dtype

    def matvec(self, coef: torch.Tensor) -> torch.Tensor:
        n_outputs = coef.shape[1]
        blocks = coef.reshape(self.n_blocks, self.n_features, n_outputs)
        stacked = blocks.permute(1, 0, 2).reshape(self.n_features, -1)
        features = (self.X @ stacked).view(self.n_data, self.n_blocks, n_outputs)
        return (features * self.signs.unsqueeze(2)).view(self.n_samples, n_outputs)

    def rmatvec(self, residual: torch.Tensor) -> torch.Tensor:
        n_outputs = residual.shape[1]
        signed = residual.view(self.n_data, self.n_blocks, n_outputs) * (
            self.signs.unsqueeze(2)
        )
        blocks = self.X.T @ signed.view(self.n_data, -1)
        blocks = blocks.view(self.n_features, self.n_blocks, n_outputs)
        return blocks.permute(1, 0, 2).reshape(self.n_coefs, n_outputs)

    def block_outputs(self, coef, group_size, blocks):
        """Each block's constraint values on its own rows, zero elsewhere.

        The contract asks for ``(n·B, len(blocks), c)``, mostly zeros: no
        solver calls this on the cone rows (the augmented Lagrangian's inner
        problems skip polishing, the active-set finish uses
        :meth:`block_rows`); it is here for completeness and small problems.
        """
        n_outputs = coef.shape[1]
        if group_size != self.n_features:
            return super().block_outputs(coef, group_size, blocks)
        selected = coef.view(self.n_blocks, self.n_features, n_outputs)[blocks]
        hidden = torch.einsum("nd,kdc->nkc", self.X, selected)
        hidden = hidden * self.signs[:, blocks].unsqueeze(2)
        outputs = coef.new_zeros(self.n_data, self.n_blocks, len(blocks), n_outputs)
        position = torch.arange(len(blocks), device=coef.device)
        outputs[:, blocks, position] = hidden
        return outputs.view(self.n_samples, len(blocks), n_outputs)

    def per_block(self, values: torch.Tensor) -> torch.Tensor:
        """View constraint-space ``values`` ``(n·B, c)`` as ``(B, n, c)``, block
        first (block ``i``'s constraints are the rows ``n·B + i``)."""
        return values.view(self.n_data, self.n_blocks, -1).transpose(0, 1)

    def from_blocks(self, values: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`per_block`: ``(B, n, c)`` block-first values
        as constraint-space rows ``(n·B, c)``."""
        return values.transpose(0, 1).reshape(self.n_samples, -1)

    def block_rows(self, blocks: torch.Tensor) -> torch.Tensor:
        r"""The constraint matrices :math:`(2D_i - I)\tilde X` of ``blocks``,
        shape ``(len(blocks), n_data, d̃)``."""
        return self.signs[:, blocks].T.unsqueeze(2) * self.X

    def block_gram(self) -> torch.Tensor:
        r"""The diagonal block :math:`\tilde X^\top\tilde X` shared by all blocks of
        :math:`K^\top K`."""
        return self.X.T @ self.X


def convex_relu_problem(
    X: torch.Tensor,
    masks: torch.Tensor,
    loss: Loss,
    alpha: float,
    fit_intercept: bool = True,
    gates: torch.Tensor | None = None,
) -> ConstrainedProblem:
    """Assemble the convex ReLU program over the given activation patterns.

    Parameters
    ----------
    X : tensor of shape (n_samples, d̃)
        The lifted data ``X̃``.
    masks : tensor of shape (n_samples, P)
        The patterns ``diag(D_i)`` as 0/1 entries in ``X``'s dtype.
    loss : Loss
        The data loss, holding the targets ``(n_samples, n_outputs)``.
    alpha : float
        Regularisation strength.
    fit_intercept : bool
        Whether an unpenalised output intercept is fitted.
    gates : tensor of shape (P, d̃), optional
        The gates of the patterns, ``masks = 1[X̃ gᵢ > 0]``: where they are
        strictly inside their cones (no sample on a gate's hyperplane) the
        constraint offers them as an interior point.

    Returns
    -------
    ConstrainedProblem
        Its coefficients are ``[v_1 … v_P, w_1 … w_P]`` stacked by rows, shape
        ``(2 P d̃, n_outputs)``.
    """
    signs = 2 * masks - 1
    objective = Problem(
        DifferenceOperator(GatedOperator(X, masks)),
        loss,
        OutputwiseGroupLasso(X.shape[1]),
        alpha,
        fit_intercept,
    )
    signs = torch.cat([signs, signs], 1)
    interior = None
    if gates is not None:
        interior = torch.cat([gates, gates]).to(X)
        slack = (X @ interior.T) * signs
        if not bool((slack[X.abs().sum(1) > 0] > 0).all()):
            interior = None  # a sample on a gate's hyperplane: not interior
    return ConstrainedProblem(objective, ConeOperator(X, signs, interior))
