"""The parts of a problem: losses, penalties and operators, each against its math."""

import cvxpy as cp
import numpy as np
import pytest
import torch
from reference import solve_reference

from convexnn.problems import (
    L1,
    LOSSES,
    GatedOperator,
    GroupLasso,
    LinearOperator,
    MatrixOperator,
    NuclearGroupLasso,
    Problem,
    SquaredLoss,
)
from convexnn.solvers import fista
from convexnn.solvers.polish import polish, polished_certificate

RNG = np.random.default_rng(0)


def tensor(array):
    return torch.as_tensor(np.asarray(array, dtype=np.float64))


def targets(loss, n, c):
    if loss == "squared":
        return RNG.standard_normal((n, c))
    if loss == "logistic":
        return (RNG.random((n, 1)) > 0.5).astype(float)
    return np.eye(c)[RNG.integers(c, size=n)]


LOSS_SHAPES = [("squared", 1), ("squared", 3), ("logistic", 1), ("multinomial", 4)]


@pytest.mark.parametrize("name, c", LOSS_SHAPES)
def test_loss_gradient_and_hessian_match_autograd(name, c):
    n = 7
    loss = LOSSES[name](tensor(targets(name, n, c)))
    Z = tensor(RNG.standard_normal((n, c))).requires_grad_()
    (gradient,) = torch.autograd.grad(loss(Z), Z, create_graph=True)
    torch.testing.assert_close(loss.gradient(Z.detach()), gradient.detach())

    directions = tensor(RNG.standard_normal((n, 3, c)))
    expected = torch.stack(
        [
            torch.autograd.grad(gradient, Z, directions[:, j], retain_graph=True)[0]
            for j in range(3)
        ],
        dim=1,
    )
    torch.testing.assert_close(loss.hessian_product(Z.detach(), directions), expected)


@pytest.mark.parametrize("name, c", LOSS_SHAPES)
def test_loss_conjugate_satisfies_fenchel_young_equality(name, c):
    # f(Z) + f*(∇f(Z)) = <Z, ∇f(Z)>, and f*(Θ) ≥ <Z', Θ> − f(Z') for any Z'.
    n = 9
    loss = LOSSES[name](tensor(targets(name, n, c)))
    Z = tensor(RNG.standard_normal((n, c)))
    Theta = loss.gradient(Z)
    assert loss.value(Z) + loss.conjugate(Theta) == pytest.approx(
        float((Z * Theta).sum()), abs=1e-12
    )
    for scale in (0.0, 0.3, 1.0):
        other = tensor(RNG.standard_normal((n, c)))
        bound = float((other * scale * Theta).sum()) - loss.value(other)
        assert loss.conjugate(scale * Theta) >= bound - 1e-12


def cvxpy_prox(penalty_expression, V, threshold):
    W = cp.Variable(V.shape)
    objective = 0.5 * cp.sum_squares(W - V) + threshold * penalty_expression(W)
    solve_reference(cp.Problem(cp.Minimize(objective)))
    return W.value


PENALTIES = {
    "l1": (
        lambda: L1(tensor([1.0, 0.5, 2.0, 0.0, 1.0, 3.0])),
        lambda W: cp.sum(
            cp.multiply(np.array([1, 0.5, 2, 0, 1, 3])[:, None], cp.abs(W))
        ),
        2,
    ),
    "group": (
        lambda: GroupLasso(2, tensor([1.0, 0.5, 2.0])),
        lambda W: sum(
            w * cp.norm(W[2 * g : 2 * g + 2], "fro") for g, w in enumerate([1, 0.5, 2])
        ),
        2,
    ),
    "nuclear": (
        lambda: NuclearGroupLasso(3),
        lambda W: cp.normNuc(W[:3]) + cp.normNuc(W[3:]),
        3,
    ),
}


@pytest.mark.parametrize("name", PENALTIES)
def test_penalty_prox_value_and_dual_norm_against_cvxpy(name):
    make, expression, c = PENALTIES[name]
    penalty = make()
    V = RNG.standard_normal((6, c))
    W = penalty.prox(tensor(V), 0.7).numpy()
    np.testing.assert_allclose(W, cvxpy_prox(expression, V, 0.7), atol=1e-6)
    assert penalty.value(tensor(V)) == pytest.approx(expression(V).value)

    # Ω*(V) = max <V, W> over Ω(W) ≤ 1 (over the penalised blocks)
    W = cp.Variable(V.shape)
    constraints = [expression(W) <= 1]
    if name == "l1":  # the unpenalised row is left out of the dual norm
        constraints.append(W[3] == 0)
    best = cp.Problem(cp.Maximize(cp.sum(cp.multiply(V, W))), constraints)
    assert penalty.dual_norm(tensor(V)) == pytest.approx(
        solve_reference(best), rel=1e-6
    )


def test_l1_excluded_rows_are_zero_and_do_not_enter_the_value():
    penalty = L1(tensor([1.0, np.inf]))
    W = penalty.prox(tensor([[3.0], [5.0]]), 1.0)
    np.testing.assert_array_equal(W.numpy(), [[2.0], [0.0]])
    assert penalty.value(W) == 2.0


def test_negative_penalty_weights_are_rejected():
    with pytest.raises(ValueError, match="nonnegative"):
        L1(tensor([1.0, -1.0]))


def gated_operator(n=30, d=4, P=6):
    X = tensor(RNG.standard_normal((n, d)))
    return GatedOperator.from_gates(X, tensor(RNG.standard_normal((P, d))))


OPERATORS = {
    "matrix": (lambda: MatrixOperator(tensor(RNG.standard_normal((20, 12)))), 3),
    "gated": (gated_operator, 4),
}


@pytest.mark.parametrize("name", OPERATORS)
@pytest.mark.parametrize("c", [1, 3])
def test_operator_adjoint_blocks_and_restriction(name, c):
    make, group_size = OPERATORS[name]
    operator = make()
    W = tensor(RNG.standard_normal((operator.n_coefs, c)))
    R = tensor(RNG.standard_normal((operator.n_samples, c)))
    assert float((operator.matvec(W) * R).sum()) == pytest.approx(
        float((W * operator.rmatvec(R)).sum()), rel=1e-12
    )

    blocks = torch.tensor([0, 2])
    outputs = operator.block_outputs(W, group_size, blocks)
    generic = LinearOperator.block_outputs(operator, W, group_size, blocks)
    torch.testing.assert_close(outputs, generic)
    everything = torch.arange(operator.n_coefs // group_size)
    torch.testing.assert_close(
        operator.block_outputs(W, group_size, everything).sum(1), operator.matvec(W)
    )

    restricted = operator.restrict(group_size, blocks)
    rows = (blocks[:, None] * group_size + torch.arange(group_size)).view(-1)
    zeroed = torch.zeros_like(W)
    zeroed[rows] = W[rows]
    torch.testing.assert_close(restricted.matvec(W[rows]), operator.matvec(zeroed))


@pytest.mark.parametrize("name", OPERATORS)
def test_block_norms_bound_each_block_operator(name):
    make, group_size = OPERATORS[name]
    operator = make()
    norms = operator.block_norms(group_size)
    for block in range(operator.n_coefs // group_size):
        columns = torch.zeros(operator.n_coefs, group_size, dtype=torch.float64)
        columns[
            block * group_size + torch.arange(group_size), torch.arange(group_size)
        ] = 1
        exact = torch.linalg.matrix_norm(operator.matvec(columns), ord=2)
        assert float(norms[block]) >= float(exact) - 1e-12


def gated_problem(name, c):
    """A 40-sample gated group-lasso problem with an intercept, and its loss."""
    loss = LOSSES[name](tensor(targets(name, 40, c)))
    return Problem(gated_operator(n=40), loss, NuclearGroupLasso(4), alpha=0.05), loss


@pytest.mark.parametrize("name, c", LOSS_SHAPES)
def test_polish_lowers_the_objective_and_zeroes_the_intercept_gradient(name, c):
    problem, loss = gated_problem(name, c)
    x = tensor(RNG.standard_normal(problem.shape))
    Z = problem.matvec(x)
    polished, polished_Z, exact = polish(problem, x, Z)
    assert exact
    torch.testing.assert_close(polished_Z, problem.matvec(polished))
    assert problem.objective(polished, polished_Z) <= problem.objective(x, Z)
    gradient = loss.gradient(polished_Z).sum(0)
    np.testing.assert_allclose(gradient.numpy(), 0, atol=1e-12)
    # each block keeps its direction: only its scale changed
    before = x[:-1].view(6, -1)
    after = polished[:-1].view(6, -1)
    cosine = (before * after).sum(1) / (before.norm(dim=1) * after.norm(dim=1))
    np.testing.assert_allclose(cosine.numpy(), 1, atol=1e-12)


def test_polish_solves_a_lasso_exactly_once_support_and_signs_are_right():
    X = RNG.standard_normal((50, 8))
    y = X[:, :3] @ [2.0, -1.0, 1.5] + 0.01 * RNG.standard_normal(50)
    problem = Problem(
        MatrixOperator(tensor(X)), SquaredLoss(tensor(y[:, None])), L1(), alpha=0.1
    )
    guess = problem.zeros()
    guess[:3, 0] = tensor([1.0, -1.0, 1.0])  # right support and signs only
    certificate = polished_certificate(problem, guess, problem.matvec(guess))
    assert certificate.relative_gap < 1e-12


@pytest.mark.parametrize("name, c", LOSS_SHAPES)
def test_certificate_without_rescaling_still_bounds_the_optimum(name, c):
    problem, loss = gated_problem(name, c)
    x = tensor(RNG.standard_normal(problem.shape))
    Z = problem.matvec(x)
    # on a rough point the intercept is still re-optimised, so the bound holds
    rough = polished_certificate(problem, x, Z, rescale=False)
    assert np.isfinite(rough.dual)
    np.testing.assert_allclose(loss.gradient(rough.Z).sum(0).numpy(), 0, atol=1e-12)
    optimum = fista(problem, tol=1e-10, max_iter=20_000).certificate.primal
    assert rough.dual <= optimum * (1 + 1e-9)
    # on a polished point, skipping the rescaling changes nothing
    polished, polished_Z, _ = polish(problem, x, Z)
    again = polished_certificate(problem, polished, polished_Z, rescale=False)
    full = polished_certificate(problem, polished, polished_Z)
    np.testing.assert_allclose(again.primal, full.primal, rtol=1e-12)
    np.testing.assert_allclose(again.dual, full.dual, rtol=1e-10)
