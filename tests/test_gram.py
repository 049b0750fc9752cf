"""Gram-form Lasso subproblems (convexnn.solvers.gram) and the operator hooks
they use: exact solutions against scikit-learn and CVXPY, Gram matrices against
dense products, and working sets of one column per violated region."""

import cvxpy as cp
import numpy as np
import pytest
import torch
from reference import solve_reference
from sklearn.linear_model import Lasso

from convexnn.dictionaries import BasisOperator, build_dictionary
from convexnn.problems import L1, LinearOperator, MatrixOperator, Problem, SquaredLoss
from convexnn.solvers import SolverConfig, solve
from convexnn.solvers.feature_sign import feature_sign
from convexnn.solvers.working_set import _peaks

CONFIG = SolverConfig()


def _ramps(n, seed=0):
    """Depth-2 ramp columns at sorted points: nearly parallel neighbours."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2, 2, n))
    y = np.sin(3 * x) + 0.3 * rng.normal(size=n)
    return x, y, build_dictionary(x, 2, "relu")


class _Plain(LinearOperator):
    """A matrix seen only through matvec and rmatvec: the generic hooks."""

    def __init__(self, X):
        self.X = X
        self.n_samples, self.n_coefs = X.shape

    device = property(lambda self: self.X.device)
    dtype = property(lambda self: self.X.dtype)

    def matvec(self, coef):
        return self.X @ coef

    def rmatvec(self, residual):
        return self.X.T @ residual


def _kkt_residual(G, b, thresholds, u):
    """Largest violation of the optimality conditions of the Gram-form Lasso."""
    gradient = G @ u - b
    active = u != 0
    on_support = np.abs(gradient[active] + thresholds[active] * np.sign(u[active]))
    off_support = np.abs(gradient[~active]) - thresholds[~active]
    return max(on_support.max(initial=0.0), off_support.max(initial=0.0))


@pytest.mark.parametrize("start", ["zeros", "random"])
def test_feature_sign_solves_the_lasso_exactly(start):
    """More ramps than samples, in the scaled form the solver uses (unit
    diagonal plus a tiny ridge, so that ``G`` is positive definite)."""
    x, y, features = _ramps(60)
    A = features.evaluate(x)
    A, y = A - A.mean(0), y - y.mean()
    n, alpha = len(y), 1e-3
    scale = 1 / np.sqrt((A**2).mean(0))
    G = (A * scale).T @ (A * scale) / n + 1e-12 * np.eye(len(scale))
    b, thresholds = (A * scale).T @ y / n, alpha * scale
    u0 = np.zeros(len(b))
    if start == "random":
        u0 = np.random.default_rng(1).normal(size=len(b)) * 0.1
    u, steps = feature_sign(G, b, thresholds, u0, CONFIG)
    assert 0 < steps < 4 * len(b) + 10
    assert _kkt_residual(G, b, thresholds, u) <= 1e-10 * alpha
    reference = Lasso(alpha, fit_intercept=False, tol=1e-14, max_iter=10**6).fit(A, y)
    w = u * scale
    value = 0.5 * np.mean((A @ w - y) ** 2) + alpha * np.abs(w).sum()
    expected = (
        0.5 * np.mean((A @ reference.coef_ - y) ** 2)
        + alpha * np.abs(reference.coef_).sum()
    )
    assert value <= expected * (1 + 1e-10)


def test_feature_sign_with_free_and_excluded_coordinates():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(40, 12))
    y = A[:, :4] @ np.array([1.0, -2.0, 0.5, 1.5]) + 0.1 * rng.normal(size=40)
    thresholds = np.full(12, 0.3)
    thresholds[0], thresholds[1] = 0.0, np.inf  # free, excluded
    G, b = A.T @ A / 40, A.T @ y / 40
    u, _ = feature_sign(G, b, thresholds, np.zeros(12), CONFIG)
    assert u[1] == 0 and u[0] != 0
    z = cp.Variable(12)
    objective = 0.5 * cp.quad_form(z, cp.psd_wrap(G)) - b @ z
    penalty = cp.norm1(cp.multiply(thresholds[2:], z[2:]))
    solve_reference(cp.Problem(cp.Minimize(objective + penalty), [z[1] == 0]))
    np.testing.assert_allclose(u, z.value, atol=1e-6)
    kept = np.arange(12) != 1
    assert (
        _kkt_residual(G[np.ix_(kept, kept)], b[kept], thresholds[kept], u[kept]) < 1e-12
    )


@pytest.mark.parametrize("centred", [True, False])
def test_gram_hooks_equal_dense_products(centred):
    x, _, features = _ramps(15)
    A = features.evaluate(x)
    P = A - A.mean(0) if centred else A
    rows, columns = torch.tensor([0, 3, 7, 20]), torch.tensor([1, 3, 5, 8, 21, 24])
    dense = P[:, rows].T @ A[:, columns]
    operators = [
        BasisOperator(features, torch.from_numpy(x)),
        MatrixOperator(torch.from_numpy(A)),
        _Plain(torch.from_numpy(A)),
    ]
    for operator in operators:
        G = operator.gram(rows, centred, columns).numpy()
        np.testing.assert_allclose(G, dense, atol=1e-12 * np.abs(dense).max())
        square = operator.gram(rows, centred).numpy()
        expected = P[:, rows].T @ P[:, rows]
        np.testing.assert_allclose(
            square, expected, atol=1e-12 * np.abs(expected).max()
        )


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_exact_subproblems_reach_the_lasso_optimum_on_any_operator(fit_intercept):
    """Nearly parallel ramps, through the closed-form and the generic Gram."""
    x, y, features = _ramps(80)
    A = features.evaluate(x)
    alpha = 1e-3
    reference = Lasso(alpha, fit_intercept=fit_intercept, tol=1e-14, max_iter=10**6)
    reference.fit(A, y)
    residual = y - reference.predict(A)
    expected = 0.5 * np.mean(residual**2) + alpha * np.abs(reference.coef_).sum()
    targets = torch.from_numpy(y)[:, None]
    for operator in (
        BasisOperator(features, torch.from_numpy(x)),
        _Plain(torch.from_numpy(A)),
    ):
        problem = Problem(operator, SquaredLoss(targets), L1(), alpha, fit_intercept)
        result = solve(problem, tol=1e-10, max_iter=2000, exact=True)
        assert result.converged and result.certificate.relative_gap <= 1e-10
        assert result.certificate.primal == pytest.approx(expected, rel=1e-8)


def test_peaks_take_one_block_per_violated_run():
    violations = torch.tensor([0.1, 1.2, 1.5, 1.3, 0.9, 1.1, 1.05, 2.0, 0.5])
    order = torch.arange(9)
    starts = torch.zeros(9, dtype=torch.bool)
    starts[[0, 6]] = True  # two lines: blocks 0-5 and 6-8
    peaks = _peaks(violations, 1.0, [(order, starts)])
    assert peaks.nonzero().squeeze(1).tolist() == [2, 5, 7]


@pytest.mark.parametrize("activation", ["sign", "threshold", "relu"])
def test_restricted_dictionary_operator_agrees_with_the_whole(activation):
    """Step knots sit exactly on data points: restricting must not move them."""
    rng = np.random.default_rng(0)
    x = np.sort(rng.normal(size=50))
    centre = 0.5 * (x[0] + x[-1])
    assert np.any(x - centre + centre != x)  # the round trip the operator avoids
    features = build_dictionary(x, 3, activation)
    operator = BasisOperator(features, torch.from_numpy(x))
    columns = torch.arange(0, operator.n_coefs, 3)
    residual = torch.from_numpy(rng.normal(size=(50, 1)))
    whole = operator.rmatvec(residual)[columns]
    restricted = operator.restrict(1, columns).rmatvec(residual)
    np.testing.assert_allclose(restricted.numpy(), whole.numpy(), atol=1e-12)


@pytest.mark.parametrize(("depth", "activation"), [(2, "relu"), (3, "relu")])
def test_dictionary_lines_join_neighbouring_kinks(depth, activation):
    x, _, _ = _ramps(9)
    features = build_dictionary(x, depth, activation)
    coordinates = features.coordinates
    lines = features.lines()
    assert len(lines) == coordinates.shape[1]
    for axis, (order, starts) in enumerate(lines):
        assert sorted(order.tolist()) == list(range(len(features)))
        ordered = coordinates[order]
        within = ~starts[1:]
        steps = ordered[1:] - ordered[:-1]
        # inside a line only this axis moves, by one grid step
        assert np.all(steps[within, axis] == 1)
        assert np.all(np.delete(steps[within], axis, axis=1) == 0)
        assert within.any()
