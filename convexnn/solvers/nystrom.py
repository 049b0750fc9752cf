r"""Randomized Nyström preconditioning and conjugate gradients.

For a positive semidefinite operator :math:`M` given only through products,
a sketch :math:`Y = M\Omega` with a random orthonormal :math:`\Omega` of
``rank`` columns gives the low-rank approximation
:math:`\hat M = U\operatorname{diag}(\hat\lambda)U^\top` (Tropp, Yurtsever,
Udell & Cevher, 2017, with the shift that makes it numerically stable). For
the system :math:`(M + \mu I)x = r`,

.. math::
    P^{-1} = U\operatorname{diag}\Bigl(\frac{\hat\lambda_\ell + \mu}
    {\hat\lambda + \mu}\Bigr)U^\top + (I - UU^\top)

is the Nyström preconditioner of Frangella, Tropp & Udell (2023): it maps
the top of the spectrum onto :math:`\hat\lambda_\ell + \mu` so conjugate
gradients converge at a rate set by the *tail* of the spectrum. When
``rank`` reaches the rank of ``M`` the preconditioner is exact.

Vectors are matrices of shape ``(dim, c)``: the ``c`` columns are independent
systems with the same matrix, solved together.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Apply = Callable[[torch.Tensor], torch.Tensor]


class NystromPreconditioner:
    """The preconditioner :math:`P^{-1}` of ``M + μI`` from a rank-``rank`` sketch.

    Parameters
    ----------
    apply : callable
        ``V ↦ M V`` for ``V`` of shape ``(dim, k)``.
    dim : int
        Size of ``M``.
    rank : int
        Sketch size (clipped to ``dim``).
    mu : float
        The shift ``μ > 0`` of the system.
    like : tensor
        Any tensor with the dtype and device to work in.
    seed : int
        Seed of the random test matrix.
    """

    def __init__(
        self, apply: Apply, dim: int, rank: int, mu: float, like: torch.Tensor, seed=0
    ):
        rank = min(rank, dim)
        generator = torch.Generator().manual_seed(seed)
        test = torch.randn(dim, rank, generator=generator, dtype=torch.float64)
        test = torch.linalg.qr(test.to(like)).Q
        sketch = apply(test)
        shift = torch.finfo(like.dtype).eps * float(torch.linalg.matrix_norm(sketch))
        sketch = sketch + shift * test
        core = test.T @ sketch
        factor = torch.linalg.cholesky(0.5 * (core + core.T))
        B = torch.linalg.solve_triangular(factor, sketch.T, upper=False).T
        U, singular, _ = torch.linalg.svd(B, full_matrices=False)
        self.U = U
        self.eigenvalues = (singular**2 - shift).clamp(min=0)
        self.mu = mu

    @property
    def mu(self) -> float:
        """The shift ``μ``; setting it re-targets the preconditioner (cheap)."""
        return self._mu

    @mu.setter
    def mu(self, value: float):
        self._mu = float(value)
        smallest = float(self.eigenvalues[-1]) if len(self.eigenvalues) else 0.0
        self._scales = (smallest + self._mu) / (self.eigenvalues + self._mu)

    def __call__(self, residual: torch.Tensor) -> torch.Tensor:
        projected = self.U.T @ residual
        return residual + self.U @ ((self._scales.unsqueeze(1) - 1) * projected)


def pcg(
    apply: Apply,
    rhs: torch.Tensor,
    x0: torch.Tensor,
    preconditioner: Callable[[torch.Tensor], torch.Tensor],
    *,
    tol: float,
    max_iter: int,
) -> tuple[torch.Tensor, int]:
    """Preconditioned conjugate gradients for ``M X = R``, column by column.

    Stops when every column's residual norm is ``≤ tol ·`` its right-hand
    side's norm, or after ``max_iter`` iterations.

    Returns
    -------
    x : tensor of shape (dim, c)
    n_iter : int
    """
    x = x0.clone()
    residual = rhs - apply(x)
    target = tol * torch.linalg.vector_norm(rhs, dim=0)
    z = preconditioner(residual)
    direction = z
    rz = (residual * z).sum(0)
    for n_iter in range(max_iter):
        if bool((torch.linalg.vector_norm(residual, dim=0) <= target).all()):
            return x, n_iter
        product = apply(direction)
        curvature = (direction * product).sum(0)
        step = torch.where(curvature > 0, rz / curvature, 0.0)
        x = x + step * direction
        residual = residual - step * product
        z = preconditioner(residual)
        rz_new = (residual * z).sum(0)
        direction = z + torch.where(rz > 0, rz_new / rz, 0.0) * direction
        rz = rz_new
    return x, max_iter
