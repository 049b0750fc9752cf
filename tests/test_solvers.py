"""The shared solvers against independent ones; the honesty of their certificates."""

import math
import warnings

import cvxpy as cp
import numpy as np
import pytest
import torch
from reference import l1_logistic_regression, solve_reference
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, lasso_path

from convexnn.patterns import lift, sample_gates
from convexnn.problems import (
    L1,
    GatedOperator,
    GroupLasso,
    LogisticLoss,
    MatrixOperator,
    Problem,
    SquaredLoss,
)
from convexnn.solvers import alpha_grid, alpha_max, fista, solve, solve_path
from convexnn.solvers.polish import polished_certificate


def tensor(array):
    return torch.as_tensor(np.asarray(array, dtype=np.float64))


def sparse_regression(n=60, p=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    coef = np.zeros(p)
    coef[:5] = rng.standard_normal(5) * 2
    return X, X @ coef + 0.3 * rng.standard_normal(n) + 1.5


def lasso_problem(X, y, alpha, weights=None):
    penalty = L1(None if weights is None else tensor(weights))
    return Problem(
        MatrixOperator(tensor(X)), SquaredLoss(tensor(y[:, None])), penalty, alpha
    )


@pytest.mark.parametrize("solver", [fista, solve])
@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.5])
def test_lasso_matches_scikit_learn(solver, alpha):
    X, y = sparse_regression(p=150)
    result = solver(lasso_problem(X, y, alpha), tol=1e-10)
    reference = Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X, y)
    coef, intercept = result.x[:-1, 0].numpy(), float(result.x[-1, 0])
    np.testing.assert_allclose(coef, reference.coef_, atol=1e-7)
    assert intercept == pytest.approx(reference.intercept_, abs=1e-7)
    assert result.converged and result.certificate.relative_gap <= 1e-10


def test_weighted_lasso_equals_a_lasso_on_rescaled_columns():
    X, y = sparse_regression(p=150)
    weights = np.random.default_rng(1).uniform(0.5, 3.0, size=X.shape[1])
    result = solve(lasso_problem(X, y, 0.05, weights), tol=1e-10)
    reference = Lasso(alpha=0.05, tol=1e-12, max_iter=100_000).fit(X / weights, y)
    np.testing.assert_allclose(
        result.x[:-1, 0].numpy(), reference.coef_ / weights, atol=1e-7
    )


def test_l1_logistic_matches_scikit_learn():
    X, y = sparse_regression(n=80, p=20)
    labels = (y > np.median(y)).astype(float)
    alpha = 0.02
    problem = Problem(
        MatrixOperator(tensor(X)), LogisticLoss(tensor(labels[:, None])), L1(), alpha
    )
    result = solve(problem, tol=1e-10)
    reference = l1_logistic_regression(
        C=1 / (len(y) * alpha), solver="saga", tol=1e-12, max_iter=200_000
    ).fit(X, labels)
    np.testing.assert_allclose(result.x[:-1, 0].numpy(), reference.coef_[0], atol=1e-5)


def gated_problem(n_patterns, alpha, loss="squared", seed=0):
    rng = np.random.default_rng(seed)
    X = lift(rng.standard_normal((40, 3)), hidden_bias=True)
    y = np.abs(X[:, 0]) - X[:, 1] + 0.1 * rng.standard_normal(40)
    gates = sample_gates(X, n_patterns, seed)
    operator = GatedOperator.from_gates(tensor(X), tensor(gates))
    Y = y[:, None] if loss == "squared" else (y > 0)[:, None].astype(float)
    loss = SquaredLoss(tensor(Y)) if loss == "squared" else LogisticLoss(tensor(Y))
    return Problem(operator, loss, GroupLasso(4), alpha), X, gates, Y


def cvxpy_group_lasso(X, gates, Y, alpha, loss):
    masks = (X @ gates.T > 0).astype(float)
    U = cp.Variable((X.shape[1], len(gates)))
    b = cp.Variable()
    Z = cp.sum(cp.multiply(masks, X @ U), axis=1) + b
    y = Y[:, 0]
    n = len(y)
    if loss == "squared":
        data = cp.sum_squares(Z - y) / (2 * n)
    else:
        data = cp.sum(cp.logistic(Z) - cp.multiply(y, Z)) / n
    problem = cp.Problem(cp.Minimize(data + alpha * cp.sum(cp.norm(U, axis=0))))
    return solve_reference(problem, tol=1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("n_patterns", [8, 150])  # whole, and working sets
def test_gated_certificate_brackets_the_cvxpy_optimum(loss, n_patterns):
    problem, X, gates, Y = gated_problem(n_patterns, 0.01, loss)
    result = solve(problem, tol=1e-7)
    optimum = cvxpy_group_lasso(X, gates, Y, 0.01, loss)
    certificate = result.certificate
    assert certificate.dual <= optimum * (1 + 1e-8) + 1e-12
    assert optimum <= certificate.primal * (1 + 1e-8)
    assert certificate.primal - optimum <= 1e-7 * certificate.primal


def test_working_sets_and_screening_reach_the_plain_optimum():
    problem, *_ = gated_problem(300, 0.003)
    with_sets = solve(problem, tol=1e-9)
    without = solve(problem, tol=1e-9, working_sets=False)
    assert problem.n_blocks > 100  # large enough for working sets to engage
    assert with_sets.certificate.primal == pytest.approx(
        without.certificate.primal, rel=1e-8
    )


def test_solver_stops_at_max_iter_without_claiming_convergence():
    problem, *_ = gated_problem(8, 1e-4)
    result = fista(problem, tol=1e-14, max_iter=5)
    assert not result.converged and result.n_iter == 5
    assert result.certificate.relative_gap > 1e-14


def test_warm_start_from_the_solution_needs_no_iteration():
    problem, *_ = gated_problem(8, 0.01)
    first = solve(problem, tol=1e-8)
    again = solve(problem, first.x, tol=1e-8)
    assert again.n_iter == 0 and again.converged


def test_alpha_max_is_where_the_solution_becomes_zero():
    X, y = sparse_regression()
    weights = np.ones(X.shape[1])
    weights[:2] = 0  # two unpenalised features are fitted at every alpha
    problem = lasso_problem(X, y, 1.0, weights)
    largest = alpha_max(problem)
    at_max = solve(problem.with_alpha(largest), tol=1e-10)
    below = solve(problem.with_alpha(0.95 * largest), tol=1e-10)
    assert at_max.x[:2].all() and not at_max.x[2:-1].any()
    assert below.x[2:-1].any()


def test_path_matches_scikit_learn_lasso_path():
    X, y = sparse_regression(p=200)
    problem = lasso_problem(X, y, 1.0)
    alphas = alpha_grid(alpha_max(problem), n_alphas=15, min_ratio=1e-2)
    results = solve_path(problem, alphas, tol=1e-10)
    centred = X - X.mean(0)
    _, coefs, _ = lasso_path(centred, y - y.mean(), alphas=alphas, tol=1e-12)
    for result, reference in zip(results, coefs.T, strict=True):
        np.testing.assert_allclose(result.x[:-1, 0].numpy(), reference, atol=1e-7)


def test_a_problem_without_coefficients_fits_its_intercept():
    X, y = sparse_regression()
    problem = lasso_problem(X[:, :0], y, 1.0)
    result = solve(problem, tol=1e-12)
    assert result.converged
    assert float(result.x[-1, 0]) == pytest.approx(y.mean())
    assert alpha_max(problem) == 0.0


def test_alpha_grid_rejects_a_constant_fit():
    with pytest.raises(ValueError, match="alpha_max must be positive"):
        alpha_grid(0.0)


def test_float32_certificate_is_consistent_with_float64():
    X, y = sparse_regression()
    results = {}
    for dtype in (torch.float32, torch.float64):
        problem = Problem(
            MatrixOperator(tensor(X).to(dtype)),
            SquaredLoss(tensor(y[:, None]).to(dtype)),
            L1(),
            0.1,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            results[dtype] = solve(problem, tol=1e-5)
    assert results[torch.float32].certificate.primal == pytest.approx(
        results[torch.float64].certificate.primal, rel=1e-4
    )


class RecordingOperator(GatedOperator):
    """A gated operator recording the dtype of every product ``A x``, shared by
    its conversions; with ``fail_after``, its float32 products turn non-finite
    after that many."""

    def __init__(self, X, masks, dtypes=None, fail_after=None):
        super().__init__(X, masks)
        self.dtypes = [] if dtypes is None else dtypes
        self.fail_after = fail_after

    def astype(self, dtype):
        return RecordingOperator(
            self.X.to(dtype), self.masks.to(dtype), self.dtypes, self.fail_after
        )

    def matvec(self, coef):
        self.dtypes.append(coef.dtype)
        outputs = super().matvec(coef)
        if self.fail_after is not None and coef.dtype == torch.float32:
            if self.dtypes.count(torch.float32) > self.fail_after:
                return outputs * math.nan
        return outputs


def recording_problem(n_patterns=8, alpha=0.003, fail_after=None):
    problem, *_ = gated_problem(n_patterns, alpha)
    operator = RecordingOperator(
        problem.operator.X, problem.operator.masks, fail_after=fail_after
    )
    return Problem(operator, problem.loss, problem.penalty, alpha), operator.dtypes


@pytest.mark.parametrize("newton", [True, False])
def test_float64_problems_iterate_in_float32_first_and_certify_in_float64(newton):
    problem, dtypes = recording_problem()
    result = fista(problem, tol=1e-9, newton=newton)
    plain = fista(problem, tol=1e-9, newton=newton, single_precision=False)
    assert torch.float32 in dtypes and dtypes[-1] == torch.float64
    assert result.converged and result.x.dtype == torch.float64
    assert result.certificate.primal == pytest.approx(
        plain.certificate.primal, rel=1e-8
    )
    # the certificate is that of the returned float64 point
    assert problem.objective(result.x, problem.matvec(result.x)) == pytest.approx(
        result.certificate.primal, rel=1e-12
    )


@pytest.mark.parametrize("fail_after", [0, 15])  # the step-size estimate, a step
def test_a_failing_single_precision_phase_falls_back_to_float64(fail_after):
    problem, dtypes = recording_problem(fail_after=fail_after)
    result = fista(problem, tol=1e-9)
    plain = fista(problem, tol=1e-9, single_precision=False)
    assert dtypes.count(torch.float32) > fail_after and result.converged
    assert result.certificate.primal == pytest.approx(
        plain.certificate.primal, rel=1e-8
    )


def test_problems_convert_their_data_and_weights():
    problem, *_ = gated_problem(8, 0.01)
    weighted = Problem(
        problem.operator, problem.loss, GroupLasso(4, torch.rand(8).double()), 0.01
    )
    converted = weighted.astype(torch.float32)
    assert converted.operator.X.dtype == converted.operator.masks.dtype == torch.float32
    assert converted.loss.Y.dtype == converted.penalty.weights.dtype == torch.float32
    assert weighted.penalty.weights.dtype == torch.float64  # the original is kept
    X, y = sparse_regression()
    assert lasso_problem(X, y, 0.1).astype(torch.float32) is None  # no conversion


def test_unpenalised_features_keep_the_lower_bound_valid():
    # Unpenalised rows turn their dual constraints into equations; a
    # certificate at a point that does not fit them must still bound the optimum
    # from below (polishing fits them exactly before the dual point is formed).
    X, y = sparse_regression(p=30)
    weights = np.ones(30)
    weights[[3, 7]] = 0.0
    problem = lasso_problem(X, y, 0.2, weights)
    W = cp.Variable(30)
    b = cp.Variable()
    objective = cp.sum_squares(X @ W + b - y) / (2 * len(y)) + 0.2 * cp.sum(
        cp.multiply(weights, cp.abs(W))
    )
    optimum = solve_reference(cp.Problem(cp.Minimize(objective)))
    result = solve(problem, tol=1e-10)
    assert result.certificate.primal == pytest.approx(optimum, rel=1e-7)
    near = result.x.clone()
    near[[3, 7]] = 0.0  # optimal but for the unpenalised coordinates
    for point in (problem.zeros(), near):
        certificate = polished_certificate(problem, point, problem.matvec(point))
        assert certificate.dual <= optimum + 1e-9
