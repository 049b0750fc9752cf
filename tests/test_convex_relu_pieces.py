"""The building blocks of the convex ReLU program, each against its definition.

Operators are exact adjoints and their block outputs add up to their
products; losses' gradients match autograd and their conjugates satisfy the
Fenchel–Young equality at gradients; the penalty's prox is optimal; pattern
enumeration finds the number of cells of a hyperplane arrangement in general
position. (Pruning is checked through the estimators, in
test_convex_relu_properties.py. The Nyström preconditioner is tested with the
rest of the solvers' linear algebra, in test_linalg.py.)
"""

import math

import numpy as np
import pytest
import torch

from convexnn.patterns import activation_patterns, enumerate_patterns, lift
from convexnn.problems import GatedOperator, GroupLasso, LogisticLoss, SquaredLoss
from convexnn.problems.composite import DifferenceOperator, OutputwiseGroupLasso
from convexnn.problems.cone import ConeOperator, convex_relu_problem
from convexnn.solvers._lagrangian_parts import (
    AugmentedLagrangianTerm,
    ProfiledInterceptLoss,
    SeparableLoss,
    StackedOperator,
)

N_SAMPLES, N_FEATURES, N_PATTERNS = 23, 4, 6


def data(seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(N_SAMPLES, N_FEATURES, generator=generator, dtype=torch.float64)
    gates = torch.randn(
        N_PATTERNS, N_FEATURES, generator=generator, dtype=torch.float64
    )
    return X, (X @ gates.T > 0).to(X.dtype), generator


def operators():
    X, masks, _ = data()
    cone = ConeOperator(X, 2 * masks - 1)
    difference = DifferenceOperator(GatedOperator(X, masks))
    return {
        "cone": cone,
        "difference": difference,
        "stacked": StackedOperator(
            [difference, ConeOperator(X, torch.cat([masks, masks], 1) * 2 - 1)]
        ),
    }


@pytest.mark.parametrize("name", ["cone", "difference", "stacked"])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_operators_are_exact_adjoints(name, n_outputs):
    operator = operators()[name]
    generator = torch.Generator().manual_seed(1)
    W = torch.randn(
        operator.n_coefs, n_outputs, generator=generator, dtype=torch.float64
    )
    Theta = torch.randn(
        operator.n_samples, n_outputs, generator=generator, dtype=torch.float64
    )
    left = torch.vdot(operator.matvec(W).reshape(-1), Theta.reshape(-1))
    right = torch.vdot(W.reshape(-1), operator.rmatvec(Theta).reshape(-1))
    assert float(left) == pytest.approx(float(right), rel=1e-12)


@pytest.mark.parametrize("name", ["cone", "difference", "stacked"])
def test_block_outputs_add_up_to_the_product(name):
    operator = operators()[name]
    W = torch.randn(operator.n_coefs, 2, dtype=torch.float64)
    blocks = torch.arange(operator.n_coefs // N_FEATURES)
    outputs = operator.block_outputs(W, N_FEATURES, blocks)
    torch.testing.assert_close(
        outputs.sum(1), operator.matvec(W), rtol=1e-12, atol=1e-12
    )
    one = operator.block_outputs(W, N_FEATURES, blocks[3:4])[:, 0]
    alone = torch.zeros_like(W)
    alone[3 * N_FEATURES : 4 * N_FEATURES] = W[3 * N_FEATURES : 4 * N_FEATURES]
    torch.testing.assert_close(one, operator.matvec(alone), rtol=1e-12, atol=1e-12)


def test_cone_operator_gram_is_block_diagonal():
    cone = operators()["cone"]
    dense = cone.matvec(torch.eye(cone.n_coefs, dtype=torch.float64))
    gram = dense.T @ dense
    expected = torch.block_diag(*[cone.block_gram()] * cone.n_blocks)
    torch.testing.assert_close(gram, expected, rtol=1e-12, atol=1e-10)


def test_cone_problem_constraints_are_the_sign_conditions():
    X, masks, _ = data()
    problem = convex_relu_problem(X, masks, SquaredLoss(torch.zeros(N_SAMPLES, 1)), 0.1)
    coef = torch.randn(problem.problem.operator.n_coefs, 1, dtype=torch.float64)
    blocks = problem.constraint.per_block(problem.constraint.matvec(coef))  # (2P, n, 1)
    v, w = coef.view(2, N_PATTERNS, N_FEATURES)
    signs = (2 * masks - 1).T
    torch.testing.assert_close(blocks[:N_PATTERNS, :, 0], signs * (v @ X.T))
    torch.testing.assert_close(blocks[N_PATTERNS:, :, 0], signs * (w @ X.T))
    outputs = problem.problem.operator.matvec(coef)[:, 0]
    torch.testing.assert_close(outputs, (masks * (X @ (v - w).T)).sum(1))


def losses():
    generator = torch.Generator().manual_seed(2)
    n = N_SAMPLES
    labels = (torch.rand(n, 1, generator=generator) > 0.5).to(torch.float64)
    targets = torch.randn(n, 1, generator=generator, dtype=torch.float64)
    multipliers = torch.rand(2 * n, 1, generator=generator, dtype=torch.float64)
    return {
        "profiled squared": ProfiledInterceptLoss(SquaredLoss(targets)),
        "profiled logistic": ProfiledInterceptLoss(LogisticLoss(labels)),
        "augmented": AugmentedLagrangianTerm(multipliers, 3.0),
        "separable": SeparableLoss(
            [
                ProfiledInterceptLoss(LogisticLoss(labels)),
                AugmentedLagrangianTerm(multipliers, 3.0),
            ]
        ),
    }


def rows_for(name):
    return (
        2 * N_SAMPLES
        if name == "augmented"
        else 3 * N_SAMPLES
        if name == "separable"
        else N_SAMPLES
    )


@pytest.mark.parametrize(
    "name", ["profiled squared", "profiled logistic", "augmented", "separable"]
)
def test_losses_gradient_hessian_and_conjugate(name):
    Z = torch.randn(rows_for(name), 1, dtype=torch.float64)
    loss = losses()[name]
    Z_grad = Z.clone().requires_grad_(True)
    loss(Z_grad).backward()
    torch.testing.assert_close(loss.gradient(Z), Z_grad.grad, rtol=1e-9, atol=1e-12)
    assert loss.value(Z) == pytest.approx(float(loss(Z)), rel=1e-12)
    # Fenchel–Young equality at the gradient: f(Z) + f*(∇f(Z)) = <∇f(Z), Z>
    Theta = loss.gradient(Z)
    inner = float((Theta * Z).sum())
    assert loss.value(Z) + loss.conjugate(Theta) == pytest.approx(inner, abs=1e-10)
    # Hessian products against a finite difference of the gradient
    V = torch.randn(Z.shape[0], 2, 1, dtype=torch.float64)
    step = 1e-6
    for j in range(2):
        difference = (
            loss.gradient(Z + step * V[:, j]) - loss.gradient(Z - step * V[:, j])
        ) / (2 * step)
        torch.testing.assert_close(
            loss.hessian_product(Z, V)[:, j], difference, rtol=1e-5, atol=1e-8
        )


def test_profiled_intercept_is_optimal():
    loss = losses()["profiled logistic"]
    Z = torch.randn(N_SAMPLES, 1, dtype=torch.float64)
    intercept = loss.intercept(Z)
    assert float(loss.loss.gradient(Z + intercept).sum()) == pytest.approx(0, abs=1e-13)
    for shift in (-1e-3, 1e-3):
        assert loss.loss.value(Z + intercept + shift) > loss.value(Z)


def test_augmented_term_update_is_the_textbook_signed_step():
    # the augmented Lagrangian updates its multipliers by this gradient
    multipliers = torch.tensor([[0.0], [1.0], [2.0], [0.5]], dtype=torch.float64)
    S = torch.tensor([[1.0], [-1.0], [0.5], [1.0]], dtype=torch.float64)
    term = AugmentedLagrangianTerm(multipliers, 2.0)
    torch.testing.assert_close(-term.gradient(S), (multipliers - 2.0 * S).clamp(min=0))


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_outputwise_group_lasso(n_outputs):
    penalty = OutputwiseGroupLasso(N_FEATURES)
    W = torch.randn(5 * N_FEATURES, n_outputs, dtype=torch.float64)
    W[N_FEATURES : 2 * N_FEATURES] *= 1e-3
    norms = torch.linalg.vector_norm(W.view(5, N_FEATURES, n_outputs), dim=1)
    assert penalty.value(W) == pytest.approx(float(norms.sum()))
    assert penalty.dual_norm(W) == pytest.approx(float(norms.max()))
    if n_outputs == 1:
        torch.testing.assert_close(
            penalty.prox(W, 0.3), GroupLasso(N_FEATURES).prox(W, 0.3)
        )
    # prox optimality: (V − prox) ∈ t ∂Ω(prox), i.e. subgradient distance 0
    proximal = penalty.prox(W, 0.3)
    assert penalty.subgradient_distance(proximal, W - proximal, 0.3) < 1e-12
    assert penalty.subgradient_distance(W, W, 0.3) > 0.1


@pytest.mark.parametrize("n_samples", [4, 7, 10])
def test_enumeration_finds_every_cell_of_the_arrangement(n_samples):
    rng = np.random.default_rng(n_samples)
    X = lift(rng.standard_normal((n_samples, 2)), hidden_bias=True)
    gates = enumerate_patterns(X)
    # cells of n central hyperplanes in general position in R^3, minus the empty one
    assert len(gates) == 2 * sum(math.comb(n_samples - 1, k) for k in range(3)) - 1
    patterns = activation_patterns(X, gates).T
    assert len(np.unique(patterns, axis=0)) == len(gates) and patterns.any(axis=1).all()
    sampled = activation_patterns(X, rng.standard_normal((20_000, 3))).T
    assert set(map(bytes, np.unique(sampled[sampled.any(1)], axis=0))) <= set(
        map(bytes, patterns)
    )


def test_enumeration_rejects_degenerate_and_huge_inputs():
    with pytest.raises(ValueError, match="rank"):
        enumerate_patterns(np.ones((5, 2)))
    with pytest.raises(ValueError, match="max_candidates"):
        enumerate_patterns(
            np.random.default_rng(0).standard_normal((60, 5)), max_candidates=1000
        )


def test_augmented_lagrangian_never_expands_the_constraint_rows(monkeypatch):
    # the per-block outputs of the cone operator are n·2P × blocks: polishing
    # the inner problems would build them (out of memory at n = 20 000)
    from convexnn.solvers import augmented_lagrangian

    def refuse(*args):
        raise AssertionError("ConeOperator.block_outputs was called")

    monkeypatch.setattr(ConeOperator, "block_outputs", refuse)
    X, masks, generator = data()
    y = torch.randn(N_SAMPLES, 1, generator=generator, dtype=torch.float64)
    problem = convex_relu_problem(X, masks, SquaredLoss(y), 0.1)
    result = augmented_lagrangian(problem, tol=1e-5, max_iter=20_000)
    assert result.converged
    assert result.kkt.largest <= 1e-5
    assert result.kkt.relative_gap <= 1e-4


@pytest.mark.parametrize("name", ["difference", "gated"])
def test_closed_form_block_kernel(name):
    # the exact ADMM step diagonalises A M Aᵀ, M the same block on every block
    X, masks, _ = data()
    operator = {
        "difference": operators()["difference"],
        "gated": GatedOperator(X, masks),
    }[name]
    generator = torch.Generator().manual_seed(5)
    root = torch.randn(N_FEATURES, N_FEATURES, generator=generator, dtype=torch.float64)
    metric = root @ root.T
    dense = operator.matvec(torch.eye(operator.n_coefs, dtype=torch.float64))
    blocks = torch.block_diag(*[metric] * (operator.n_coefs // N_FEATURES))
    expected = dense @ blocks @ dense.T
    torch.testing.assert_close(
        operator.block_kernel(metric), expected, rtol=1e-12, atol=1e-10
    )
    assert operators()["cone"].block_kernel(metric) is None
