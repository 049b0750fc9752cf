r"""The linear algebra every solver method shares: Cholesky factors and the
solves with them, preconditioned conjugate gradients and the randomized
Nyström preconditioner.

Matrices are dense tensors; operators known only through their products are
callables ``V ↦ M V``. Several right-hand sides are the columns of a matrix,
solved together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch

Apply = Callable[[torch.Tensor], torch.Tensor]

RIDGE = 1e-12
"""Ridge added to the unit diagonal of a Jacobi-scaled matrix, so that a
matrix singular through dependent columns (duplicate blocks, collinear
features) still has a Cholesky factor."""


def cholesky(matrix: torch.Tensor) -> torch.Tensor | None:
    """The lower Cholesky factor of ``matrix``; ``None`` when it is not
    positive definite to rounding."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    return None if int(info) else factor


def shifted_cholesky(matrices: torch.Tensor) -> torch.Tensor:
    r"""Lower Cholesky factors of a batch of symmetric positive definite
    ``matrices`` ``(m, k, k)``, each whose factorisation rounding breaks
    shifted by its largest diagonal entry times :math:`k\varepsilon`.

    A matrix whose eigenvalues span more than the precision resolves (a
    barrier's Hessian late on its path) can come out indefinite by rounding;
    the shift is of the size of that rounding, so the factor is that of a
    matrix as close to the true one as the one formed."""
    factor, info = torch.linalg.cholesky_ex(matrices)
    broken = info > 0
    if not bool(broken.any()):
        return factor
    size = matrices.shape[-1]
    largest = matrices.diagonal(dim1=1, dim2=2).amax(1)
    shift = torch.where(broken, size * torch.finfo(matrices.dtype).eps * largest, 0.0)
    eye = torch.eye(size, dtype=matrices.dtype, device=matrices.device)
    return torch.linalg.cholesky(matrices + shift[:, None, None] * eye)


def cholesky_with_fallback(
    form: Callable[[torch.dtype], torch.Tensor], precision: torch.dtype
) -> torch.Tensor:
    r"""The lower Cholesky factor of ``form(precision)``, formed again in
    float64 when rounding in ``precision`` breaks the factorisation.

    For a matrix :math:`K \succeq I` the factor exists, but rounding of large
    entries in float32 can exceed the unit eigenvalues it relies on.

    Parameters
    ----------
    form : callable
        ``dtype ↦`` the symmetric matrix formed in ``dtype``.
    precision : dtype
        The precision to try first.

    Returns
    -------
    tensor
        The factor :math:`L` with :math:`LL^\top = K` (in float64 when the
        first precision failed; as ``torch.linalg.cholesky_ex`` leaves it
        when float64 fails too).
    """
    factor, info = torch.linalg.cholesky_ex(form(precision))
    if int(info) and precision != torch.float64:  # rounding broke K ⪰ I
        return cholesky_with_fallback(form, torch.float64)
    return factor


def cholesky_solve(factor: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    r""":math:`(LL^\top)^{-1} B = L^{-\top}(L^{-1}B)` for the lower Cholesky
    factor ``L``, by two triangular solves (``torch.cholesky_solve`` costs
    about four times as much on CPU: it copies the factor).

    Parameters
    ----------
    factor : tensor of shape (n, n)
        Lower triangular ``L``.
    B : tensor of shape (n, k)
        Right-hand sides.

    Returns
    -------
    tensor of shape (n, k)
    """
    lower = torch.linalg.solve_triangular(factor, B, upper=False)
    return torch.linalg.solve_triangular(factor.mT, lower, upper=True)


def ridge_solve(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    r"""``matrix⁻¹ rhs`` for a symmetric positive semidefinite ``matrix``, by
    Cholesky after Jacobi scaling, with a ridge where it is singular.

    With :math:`J = \operatorname{diag}(H)^{-1/2}` the scaled matrix
    :math:`JHJ` has a unit diagonal, and

    .. math::
        x = J\,(JHJ + \rho I)^{-1} J\,g,

    with :math:`\rho =` ``RIDGE``, multiplied by 100 while the factorisation
    fails (dependent columns, rounding). When even :math:`\rho = 1` fails
    (entries that are not finite), the Jacobi step :math:`J^2 g`.

    Parameters
    ----------
    matrix : tensor of shape (k, k)
        ``H``.
    rhs : tensor of shape (k,)
        ``g``.

    Returns
    -------
    tensor of shape (k,)
    """
    jacobi = matrix.diagonal().clamp(min=torch.finfo(matrix.dtype).tiny).rsqrt()
    scaled = matrix * jacobi.unsqueeze(1) * jacobi
    identity = torch.eye(len(scaled), dtype=scaled.dtype, device=scaled.device)
    ridge = RIDGE
    while ridge <= 1.0:
        factor = cholesky(scaled + ridge * identity)
        if factor is not None:
            step = torch.cholesky_solve((jacobi * rhs).unsqueeze(1), factor)
            return jacobi * step[:, 0]
        ridge *= 100
    return jacobi**2 * rhs


def _identity(residual: torch.Tensor) -> torch.Tensor:
    return residual


def _inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Inner products of corresponding columns; one for vectors."""
    return a @ b if a.ndim == 1 else (a * b).sum(0)


def conjugate_gradients(
    apply: Apply,
    rhs: torch.Tensor,
    precondition: Apply | None = None,
    *,
    tol: float,
    max_iter: int,
    x0: torch.Tensor | None = None,
    stop: Literal["residual", "preconditioned"] = "residual",
    enough: float | None = None,
) -> tuple[torch.Tensor, int]:
    r"""Preconditioned conjugate gradients for :math:`Mx = b`, column by column.

    ``apply`` is :math:`v \mapsto Mv` and ``precondition``
    :math:`r \mapsto P^{-1}r`, both symmetric positive definite. From
    :math:`x_0` (zero by default), with residual :math:`r = b - Mx`,
    :math:`z = P^{-1}r` and directions :math:`p` (first :math:`z`),

    .. math::
        x \leftarrow x + \tau p,\quad r \leftarrow r - \tau Mp,\quad
        \tau = \frac{r^\top z}{p^\top Mp},\qquad
        p \leftarrow z_+ + \frac{r_+^\top z_+}{r^\top z}\,p,

    with a zero step for a column whose curvature :math:`p^\top Mp` is not
    positive (its direction vanished: the column has converged) and a zero
    :math:`\beta` where :math:`r^\top z` is not positive.

    Stops when, for every column,

    * ``stop="residual"``: :math:`\|r\| \le` ``tol`` :math:`\cdot\|b\|`,
      tested before every iteration;
    * ``stop="preconditioned"``: :math:`r^\top P^{-1}r \le`
      ``tol``:math:`^2\, r_0^\top P^{-1}r_0`, tested after every iteration;
      from :math:`x_0 = 0` every iterate is then a descent direction,
      :math:`b^\top x` growing towards :math:`b^\top M^{-1}b`;

    when no column has a positive curvature (a breakdown, :math:`M` not
    positive definite to rounding), or after ``max_iter`` iterations. It
    returns at once, with no iterations, when
    :math:`r_0^\top P^{-1}r_0 \le` ``enough`` in every column (an estimate
    of :math:`r_0^\top M^{-1} r_0` that is small enough for the caller).

    Parameters
    ----------
    apply : callable
        ``V ↦ M V`` for ``V`` shaped like ``rhs``.
    rhs : tensor of shape (dim,) or (dim, c)
        ``b``; the ``c`` columns are independent systems.
    precondition : callable, optional
        ``R ↦ P⁻¹ R``; none by default.
    tol : float
        Relative tolerance of the stopping rule ``stop``.
    max_iter : int
        Largest number of iterations.
    x0 : tensor, optional
        Starting point, shaped like ``rhs``; zero by default.
    stop : {"residual", "preconditioned"}
        Which residual norm ``tol`` applies to.
    enough : float, optional
        Threshold of :math:`r_0^\top P^{-1}r_0` at or below which no
        iteration is done; none by default.

    Returns
    -------
    x : tensor shaped like ``rhs``
    n_iter : int
        Iterations done; ``max_iter`` when the method stopped without
        converging or broke down.
    """
    precondition = _identity if precondition is None else precondition
    if x0 is None:
        x, residual = torch.zeros_like(rhs), rhs
    else:
        x = x0.clone()
        residual = rhs - apply(x)
    z = precondition(residual)
    direction = z
    rz = _inner(residual, z)
    if enough is not None and bool((rz <= enough).all()):
        return x, 0
    if stop == "residual":
        target = tol * torch.linalg.vector_norm(rhs, dim=0)
    else:
        target = tol**2 * rz
    for n_iter in range(max_iter):
        if stop == "residual":
            done = bool((torch.linalg.vector_norm(residual, dim=0) <= target).all())
        else:  # tested after every iteration, none before the first
            done = n_iter > 0 and bool((rz <= target).all())
        if done:
            return x, n_iter
        product = apply(direction)
        curvature = _inner(direction, product)
        if not bool((curvature > 0).any()):
            return x, max_iter
        step = torch.where(curvature > 0, rz / curvature, 0.0)
        x = x + step * direction
        residual = residual - step * product
        z = precondition(residual)
        rz_new = _inner(residual, z)
        direction = z + torch.where(rz > 0, rz_new / rz, 0.0) * direction
        rz = rz_new
    return x, max_iter


class NystromPreconditioner:
    r"""The randomized Nyström preconditioner of :math:`M + \mu I` from a
    rank-``rank`` sketch of :math:`M`.

    For a positive semidefinite :math:`M` given only through products, a
    sketch :math:`Y = M\Omega` with a random orthonormal :math:`\Omega` of
    ``rank`` columns gives the low-rank approximation
    :math:`\hat M = U\operatorname{diag}(\hat\lambda)U^\top` (Tropp,
    Yurtsever, Udell & Cevher, 2017, with the shift that makes it numerically
    stable). For the system :math:`(M + \mu I)x = r`,

    .. math::
        P^{-1} = U\operatorname{diag}\Bigl(\frac{\hat\lambda_\ell + \mu}
        {\hat\lambda + \mu}\Bigr)U^\top + (I - UU^\top)

    is the Nyström preconditioner of Frangella, Tropp & Udell (2023): it maps
    the top of the spectrum onto :math:`\hat\lambda_\ell + \mu`, so that
    conjugate gradients converge at a rate set by the *tail* of the spectrum.
    When ``rank`` reaches the rank of :math:`M` the preconditioner is exact.

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
        self,
        apply: Apply,
        dim: int,
        rank: int,
        mu: float,
        like: torch.Tensor,
        seed: int = 0,
    ):
        rank = min(rank, dim)
        generator = torch.Generator().manual_seed(seed)
        test = torch.randn(dim, rank, generator=generator, dtype=torch.float64)
        test = torch.linalg.qr(test.to(like)).Q
        sketch = apply(test)
        shift = torch.finfo(like.dtype).eps * float(torch.linalg.matrix_norm(sketch))
        sketch = sketch + shift * test
        core = test.T @ sketch
        core = 0.5 * (core + core.T)
        factor = cholesky(core)
        if factor is None:  # M is rank-deficient beyond what the shift covers
            B = _pseudo_root(sketch, core)
        else:
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
        """:math:`P^{-1}` ``residual``, for ``residual`` of shape ``(dim, c)``."""
        projected = self.U.T @ residual
        return residual + self.U @ ((self._scales.unsqueeze(1) - 1) * projected)


def _pseudo_root(sketch: torch.Tensor, core: torch.Tensor) -> torch.Tensor:
    r""":math:`Y C^{+1/2}` for the sketch :math:`Y` and the core
    :math:`C = \Omega^\top Y`, over the eigenvalues of :math:`C` above its
    rounding level: the Nyström factor :math:`B` with :math:`BB^\top =
    YC^{+}Y^\top` when :math:`M` is rank-deficient (repeated rows, binary or
    integer features) and rounding leaves :math:`C` indefinite, so that its
    Cholesky factor does not exist. The directions dropped are those the
    sketch cannot see; the preconditioner is the identity on them."""
    values, vectors = torch.linalg.eigh(core)
    rounding = len(values) * torch.finfo(values.dtype).eps * values[-1].clamp(min=0)
    kept = values > rounding
    return sketch @ (vectors[:, kept] * values[kept].rsqrt())
