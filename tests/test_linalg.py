"""The solvers' linear algebra against dense solves: Cholesky factors (with
the float64 fallback), the ridge solve of singular matrices, conjugate
gradients with either stopping rule, and the Nyström preconditioner."""

import numpy as np
import pytest
import torch

from convexnn.solvers.linalg import (
    RIDGE,
    NystromPreconditioner,
    cholesky,
    cholesky_solve,
    cholesky_with_fallback,
    conjugate_gradients,
    ridge_solve,
    shifted_cholesky,
)


def tensor(array):
    return torch.as_tensor(np.asarray(array, dtype=np.float64))


def spd(size, low, high, seed):
    """A symmetric positive definite matrix with eigenvalues from ``low`` to
    ``high``, in a random basis."""
    rng = np.random.default_rng(seed)
    basis = torch.linalg.qr(tensor(rng.standard_normal((size, size))))[0]
    return basis @ torch.diag(tensor(np.geomspace(low, high, size))) @ basis.T


def test_cholesky_and_its_solve():
    H = spd(8, 0.1, 10.0, seed=1)
    B = tensor(np.random.default_rng(2).standard_normal((8, 3)))
    factor = cholesky(H)
    torch.testing.assert_close(factor @ factor.T, H)
    torch.testing.assert_close(cholesky_solve(factor, B), torch.linalg.solve(H, B))
    assert cholesky(tensor([[1.0, 2.0], [2.0, 1.0]])) is None  # indefinite


def test_a_float32_factorisation_that_fails_is_redone_in_float64():
    # positive definite (eigenvalues 2 − 1e-10 and 1e-10), but the off-diagonal
    # entry rounds to 1 in float32, which makes the matrix singular
    K = tensor([[1.0, 1.0 - 1e-10], [1.0 - 1e-10, 1.0]])
    assert torch.linalg.cholesky_ex(K.float()).info > 0
    formed = []

    def form(dtype):
        formed.append(dtype)
        return K.to(dtype)

    factor = cholesky_with_fallback(form, torch.float32)
    assert formed == [torch.float32, torch.float64]
    assert factor.dtype == torch.float64
    torch.testing.assert_close(factor @ factor.T, K, rtol=0, atol=1e-15)
    # a matrix that float32 factorises keeps its float32 factor
    formed.clear()
    K = spd(5, 1.0, 10.0, seed=3)
    assert cholesky_with_fallback(form, torch.float32).dtype == torch.float32
    assert formed == [torch.float32]


def test_blocks_that_rounding_makes_indefinite_are_factorised_shifted():
    # a rank-3 part of size 1e28 plus 1e11 times the identity, as a barrier's
    # Hessian late on its path: rounding the large part makes it indefinite
    rng = np.random.default_rng(0)
    V = tensor(rng.standard_normal((6, 3)))
    wide = 1e28 * V @ V.T + 1e11 * torch.eye(6, dtype=torch.float64)
    fine = spd(6, 1.0, 10.0, seed=5)
    blocks = torch.stack([fine, wide])
    info = torch.linalg.cholesky_ex(blocks).info
    assert info[0] == 0 and info[1] > 0
    factor = shifted_cholesky(blocks)
    # a block that factorises keeps its exact factor; the other is off by
    # rounding's size only
    torch.testing.assert_close(factor[0], torch.linalg.cholesky(fine), rtol=0, atol=0)
    error = torch.linalg.matrix_norm(factor[1] @ factor[1].T - wide, ord=2)
    assert error <= 1e-13 * 1e28


def test_ridge_solve_of_a_singular_matrix():
    # two equal columns: the ridge picks the solution that splits evenly
    H = tensor([[4.0, 4.0, 0.0], [4.0, 4.0, 0.0], [0.0, 0.0, 9.0]])
    g = tensor([2.0, 2.0, 3.0])
    x = ridge_solve(H, g)
    torch.testing.assert_close(x, tensor([0.25, 0.25, 1 / 3]), rtol=1e-10, atol=0)
    torch.testing.assert_close(H @ x, g, rtol=1e-10, atol=0)


def test_ridge_grows_while_the_factorisation_fails():
    # an eigenvalue of −1e-9 (rounding of a singular matrix, say): ridges of
    # RIDGE and 100·RIDGE fail, 1e4·RIDGE = 1e-8 succeeds
    H = tensor([[1.0, 1.0 + 1e-9], [1.0 + 1e-9, 1.0]])
    g = tensor([1.0, -3.0])
    ridge = 1e4 * RIDGE
    assert cholesky(H + 100 * RIDGE * torch.eye(2)) is None
    expected = torch.linalg.solve(H + ridge * torch.eye(2), g)
    # (H + ridge·I) has condition number 2e8: agreement to its rounding
    torch.testing.assert_close(ridge_solve(H, g), expected, rtol=1e-6, atol=0)


def test_ridge_solve_of_a_matrix_that_is_not_finite_takes_the_jacobi_step():
    H = tensor([[4.0, float("nan")], [float("nan"), 9.0]])
    torch.testing.assert_close(ridge_solve(H, tensor([2.0, 3.0])), tensor([0.5, 1 / 3]))


@pytest.mark.parametrize("preconditioned", [False, True])
def test_conjugate_gradients_agree_with_a_direct_solve(preconditioned):
    # columns solved together from a warm start, one of them already solved
    # exactly (its direction vanishes: it takes zero steps); the Jacobi
    # preconditioner undoes the bad row scaling and saves most iterations
    scaling = torch.diag(tensor(np.geomspace(1.0, 30.0, 20)))
    H = scaling @ spd(20, 1.0, 5.0, seed=4) @ scaling
    rng = np.random.default_rng(5)
    x0 = tensor(rng.standard_normal((20, 3)))
    rhs = tensor(rng.standard_normal((20, 3)))
    rhs[:, 2] = H @ x0[:, 2]
    jacobi = 1 / H.diagonal().unsqueeze(1)
    x, n_iter = conjugate_gradients(
        lambda V: H @ V,
        rhs,
        (lambda R: jacobi * R) if preconditioned else None,
        x0=x0,
        tol=1e-12,
        max_iter=200,
    )
    torch.testing.assert_close(x, torch.linalg.solve(H, rhs), rtol=1e-9, atol=1e-12)
    residual = torch.linalg.vector_norm(rhs - H @ x, dim=0)
    assert bool((residual <= 1e-12 * torch.linalg.vector_norm(rhs, dim=0)).all())
    assert n_iter <= 20 if preconditioned else 20 < n_iter < 200


def test_conjugate_gradients_stop_where_the_matrix_is_not_positive_definite():
    H = tensor([[1.0, 0.0], [0.0, -1.0]])
    x, n_iter = conjugate_gradients(
        lambda v: H @ v, tensor([0.0, 1.0]), tol=1e-12, max_iter=10
    )
    assert n_iter == 10 and bool((x == 0).all())


def test_conjugate_gradients_with_a_poor_preconditioner():
    # a preconditioner off by up to 100x in some directions: within the
    # iterations it converges to the solution, short of them it reports that it
    # stopped, and every iterate is a descent direction (bᵀx > 0)
    rng = np.random.default_rng(7)
    basis = torch.linalg.qr(tensor(rng.standard_normal((30, 30))))[0]
    H = basis @ torch.diag(tensor(np.geomspace(1.0, 100.0, 30))) @ basis.T
    b = tensor(rng.standard_normal(30))
    x, iterations = conjugate_gradients(
        lambda v: H @ v,
        b,
        lambda v: v,
        tol=1e-12,
        max_iter=60,
        stop="preconditioned",
    )
    assert iterations < 60
    torch.testing.assert_close(x, torch.linalg.solve(H, b), rtol=1e-9, atol=1e-12)
    short, stopped = conjugate_gradients(
        lambda v: H @ v, b, lambda v: v, tol=1e-12, max_iter=3, stop="preconditioned"
    )
    assert stopped == 3 and float(b @ short) > 0
    assert float(b @ short) < float(b @ x)


def test_conjugate_gradients_skip_a_small_enough_estimate():
    # bᵀM⁻¹b (M = I here) at most `enough`: no iterations, a zero solution
    H = tensor(np.diag([1.0, 2.0, 4.0]))
    b = tensor([1.0, -2.0, 0.5])

    def solve(enough):
        return conjugate_gradients(
            lambda v: H @ v,
            b,
            lambda v: v,
            tol=1e-12,
            max_iter=8,
            stop="preconditioned",
            enough=enough,
        )

    x, iterations = solve(float(b @ b))
    assert iterations == 0 and bool((x == 0).all())
    x, iterations = solve(0.99 * float(b @ b))
    assert iterations > 0
    torch.testing.assert_close(x, torch.linalg.solve(H, b))


def test_nystrom_preconditioned_cg_converges_at_once_at_full_rank():
    generator = torch.Generator().manual_seed(3)
    B = torch.randn(7, 12, generator=generator, dtype=torch.float64)
    M = B.T @ B  # rank 7

    preconditioner = NystromPreconditioner(lambda V: M @ V, 12, 7, 0.5, B)
    rhs = torch.randn(12, 2, generator=generator, dtype=torch.float64)
    exact = torch.linalg.solve(M + 0.5 * torch.eye(12, dtype=torch.float64), rhs)
    # with the range of M captured, P⁻¹(M + μI) has two eigenvalues: CG takes
    # at most two steps
    solution, n_iter = conjugate_gradients(
        lambda V: M @ V + 0.5 * V,
        rhs,
        preconditioner,
        x0=torch.zeros_like(rhs),
        tol=1e-12,
        max_iter=50,
    )
    torch.testing.assert_close(solution, exact, rtol=1e-9, atol=1e-10)
    assert n_iter <= 2


def test_nystrom_survives_a_sketch_that_rounding_makes_indefinite():
    # rank 3, plus rounding-sized negative curvature on 20 other directions
    # (repeated rows, binary features): the sketch's core matrix has no
    # Cholesky factor, and the preconditioner keeps the directions it sees
    generator = torch.Generator().manual_seed(4)
    basis = torch.linalg.qr(torch.randn(60, 23, generator=generator).double()).Q
    seen = basis[:, :3] * torch.tensor([10.0, 5.0, 2.0], dtype=torch.float64)
    rounding = basis[:, 3:]
    M = seen @ seen.T - 1e-8 * rounding @ rounding.T
    preconditioner = NystromPreconditioner(lambda V: M @ V, 60, 30, 1e-2, M)
    assert len(preconditioner.eigenvalues) == 3
    torch.testing.assert_close(
        preconditioner.eigenvalues, torch.tensor([100.0, 25.0, 4.0]).double()
    )
    system = M + 1e-2 * torch.eye(60, dtype=torch.float64)
    rhs = torch.randn(60, 2, generator=generator, dtype=torch.float64)
    solution, n_iter = conjugate_gradients(
        lambda V: system @ V,
        rhs,
        preconditioner,
        x0=torch.zeros_like(rhs),
        tol=1e-12,
        max_iter=50,
    )
    torch.testing.assert_close(solution, torch.linalg.solve(system, rhs))
    # P⁻¹(M + μI) has three eigenvalues (4 + μ, and μ up to rounding)
    assert n_iter <= 4
