"""Exact working-set subproblems along paths: the Gram form's path-long cache
(convexnn.solvers.gram), proximal Newton for the other losses
(convexnn.solvers.prox_newton), the growing Cholesky factor of feature-sign
search, and which of them a problem gets (exact_subproblems). Every solution is
checked against an independent solver at a gap of 1e-9."""

from dataclasses import replace

import cvxpy as cp
import numpy as np
import pytest
from reference import l1_logistic_regression, solve_reference
from sklearn.linear_model import lasso_path
from test_solvers import sparse_regression as data
from test_solvers import tensor

from convexnn.problems import (
    L1,
    GroupLasso,
    LogisticLoss,
    MatrixOperator,
    MultinomialLoss,
    Problem,
    SquaredLoss,
)
from convexnn.solvers import SolverConfig, alpha_grid, alpha_max, solve, solve_path
from convexnn.solvers.driver import exact_subproblems
from convexnn.solvers.feature_sign import GrowingFactor, feature_sign
from convexnn.solvers.gram import GramLasso
from convexnn.solvers.prox_newton import NewtonLasso

CONFIG = SolverConfig()


def problem(X, Y, loss, weights=None, fit_intercept=True, sample_weight=None):
    penalty = L1(None if weights is None else tensor(weights))
    targets = loss(tensor(Y), sample_weight)
    return Problem(MatrixOperator(tensor(X)), targets, penalty, 1.0, fit_intercept)


def path(problem_, n_alphas=12, min_ratio=1e-2):
    return alpha_grid(alpha_max(problem_), n_alphas, min_ratio)


@pytest.mark.parametrize("shape", [(40, 120), (120, 15)])
def test_gram_path_matches_scikit_learn_lasso_path(shape):
    """The cache serves every alpha (and is compacted on the way): p > n and
    p < n, with penalty factors (a Lasso on rescaled columns)."""
    X, y = data(*shape)
    factors = np.random.default_rng(1).uniform(0.5, 2.0, shape[1])
    lasso = problem(X, y[:, None], SquaredLoss, factors)
    alphas = path(lasso)
    assert isinstance(exact_subproblems(lasso, exact=True), GramLasso)
    results = solve_path(lasso, alphas, tol=1e-9)
    scaled = (X - X.mean(0)) / factors
    _, coefs, _ = lasso_path(scaled, y - y.mean(), alphas=alphas, tol=1e-14)
    for result, reference in zip(results, coefs.T, strict=True):
        assert result.converged and result.certificate.relative_gap <= 1e-9
        coef = result.x[:-1, 0].numpy()
        np.testing.assert_allclose(coef, reference / factors, atol=1e-6)


def test_gram_path_agrees_with_the_proximal_gradient_path():
    """Same objectives as working sets solved by FISTA (exact=False), from the
    first alpha to the last, with an unpenalised column (polished) and no
    intercept."""
    X, y = data(50, 200, seed=2)
    factors = np.ones(200)
    factors[7] = 0.0
    lasso = problem(X, y[:, None], SquaredLoss, factors, fit_intercept=False)
    alphas = path(lasso)
    exact = solve_path(lasso, alphas, tol=1e-9)
    for alpha, result in zip(alphas, exact, strict=True):
        plain = solve(lasso.with_alpha(alpha), tol=1e-11, exact=False)
        assert result.certificate.relative_gap <= 1e-9
        assert result.certificate.primal == pytest.approx(
            plain.certificate.primal, rel=1e-9
        )


def test_newton_path_matches_scikit_learn_logistic_regression():
    X, y = data(80, 30, seed=3)
    labels = (y > np.median(y)).astype(float)
    logistic = problem(X, labels[:, None], LogisticLoss)
    assert isinstance(exact_subproblems(logistic, exact=True), NewtonLasso)
    alphas = path(logistic, n_alphas=6, min_ratio=0.05)
    results = solve_path(logistic, alphas, tol=1e-9)
    for alpha, result in zip(alphas, results, strict=True):
        assert result.converged and result.certificate.relative_gap <= 1e-9
        reference = l1_logistic_regression(
            C=1 / (len(y) * alpha), solver="saga", tol=1e-12, max_iter=200_000
        ).fit(X, labels)
        coef = result.x[:-1, 0].numpy()
        np.testing.assert_allclose(coef, reference.coef_[0], atol=1e-5)


def test_newton_solves_the_multinomial_lasso_with_sample_weights():
    """Per-coefficient penalties over three classes, weighted samples: the
    optimum of CVXPY's model, which the duality gap brackets."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, 6))
    labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    Y = np.eye(3)[labels]
    weights = rng.uniform(0.5, 2.0, 60)
    alpha = 0.02
    multinomial = problem(X, Y, MultinomialLoss, sample_weight=weights)
    result = solve(multinomial.with_alpha(alpha), tol=1e-9, exact=True)
    assert result.converged and result.certificate.relative_gap <= 1e-9
    W, b = cp.Variable((6, 3)), cp.Variable(3)
    Z = X @ W + np.ones((60, 1)) @ b[None, :]
    losses = cp.log_sum_exp(Z, axis=1) - cp.sum(cp.multiply(Y, Z), axis=1)
    objective = losses @ (weights / weights.sum()) + alpha * cp.sum(cp.abs(W))
    solve_reference(cp.Problem(cp.Minimize(objective)))
    certificate = result.certificate
    assert certificate.dual - 1e-7 <= objective.value <= certificate.primal + 1e-7
    np.testing.assert_allclose(result.x[:-1].numpy(), W.value, atol=1e-3)


def test_newton_falls_back_to_proximal_gradient_beyond_its_size():
    """A Hessian larger than ``prox_newton_max_size`` is never formed: the
    working sets are solved by FISTA, to the same certified optimum."""
    X, y = data(60, 40, seed=5)
    labels = (y > np.median(y)).astype(float)
    logistic = problem(X, labels[:, None], LogisticLoss).with_alpha(0.01)
    small = replace(CONFIG, prox_newton_max_size=3)
    subproblems = exact_subproblems(logistic, exact=True, config=small)
    assert not subproblems.fits(3)
    fallback = solve(logistic, tol=1e-9, subproblems=subproblems, config=small)
    newton = solve(logistic, tol=1e-9, exact=True)
    assert fallback.converged and newton.converged
    assert fallback.certificate.primal == pytest.approx(
        newton.certificate.primal, rel=1e-8
    )


def test_which_problems_get_exact_subproblems():
    X, y = data(30, 12)
    squared = problem(X, y[:, None], SquaredLoss)
    weighted = problem(X, y[:, None], SquaredLoss, sample_weight=np.arange(1, 31))
    group = Problem(
        MatrixOperator(tensor(X)), SquaredLoss(tensor(y[:, None])), GroupLasso(3), 1.0
    )
    assert exact_subproblems(squared) is None  # from scratch: FISTA
    assert isinstance(exact_subproblems(squared, exact=True), GramLasso)
    # the Gram form needs the plain mean; Newton takes the weights
    assert isinstance(exact_subproblems(weighted, exact=True), NewtonLasso)
    assert exact_subproblems(group, exact=True) is None  # not an l1 penalty
    assert exact_subproblems(squared, exact=False) is None


def test_a_reused_factor_gives_the_search_of_a_fresh_one():
    """Feature-sign search from a factor left by a search at another threshold
    (as along a path) ends at the same solution as from a new factor."""
    rng = np.random.default_rng(6)
    A = rng.standard_normal((50, 30))
    G, b = A.T @ A / 50 + 1e-12 * np.eye(30), A.T @ rng.standard_normal(50) / 50
    factor = GrowingFactor(G)
    u, _ = feature_sign(G, b, np.full(30, 0.05), np.zeros(30), CONFIG, factor=factor)
    assert len(factor.order) == np.count_nonzero(u)
    warm, _ = feature_sign(G, b, np.full(30, 0.02), u, CONFIG, factor=factor)
    cold, _ = feature_sign(G, b, np.full(30, 0.02), np.zeros(30), CONFIG)
    np.testing.assert_allclose(warm, cold, atol=1e-12)


def test_a_singular_support_stops_the_factor():
    """Duplicate columns without a ridge: the factor reports the singular
    block instead of returning a meaningless solve."""
    column = np.ones((4, 1))
    G = np.hstack([column, column]).T @ np.hstack([column, column])
    factor = GrowingFactor(G)
    assert factor.solve(np.array([0]), np.ones(1)) is not None
    assert factor.solve(np.array([0, 1]), np.ones(2)) is None
