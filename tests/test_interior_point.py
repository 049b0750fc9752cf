"""The barrier method for convex ReLU: its Newton step, its certificate, and
where it hands over."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from convexnn import ConvexReLUClassifier, ConvexReLURegressor
from convexnn.patterns import (
    activation_patterns,
    enumerate_patterns,
    lift,
    resolve_gates,
)
from convexnn.problems import LOSSES
from convexnn.problems.cone import convex_relu_problem
from convexnn.solvers import SolverConfig, admm, solve_constrained
from convexnn.solvers._central_path import CentralPath
from convexnn.solvers.interior_point import InteriorPoint, interior_point
from convexnn.solvers.phases import runnable

CONFIG = SolverConfig()


def cone_problem(
    loss="squared", n=40, d=3, n_patterns=6, alpha=0.05, seed=0, fit_intercept=True
):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X_lifted = lift(X, True)
    gates = resolve_gates(None, X_lifted, n_patterns, seed)
    masks = torch.tensor(activation_patterns(X_lifted, gates)).double()
    y = rng.standard_normal(n)
    Y = {
        "squared": y[:, None],
        "logistic": (y > 0).astype(float)[:, None],
        "multinomial": np.eye(3)[np.digitize(y, [-0.5, 0.5])],  # three classes
    }[loss]
    loss = LOSSES[loss](torch.tensor(Y))
    return convex_relu_problem(
        torch.tensor(X_lifted),
        masks,
        loss,
        alpha,
        fit_intercept,
        gates=torch.tensor(gates),
    )


@pytest.mark.parametrize("stale", [False, True])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_the_newton_step_solves_the_barrier_newton_system(loss, stale):
    # against the Hessian and gradient of F_tau by automatic differentiation;
    # stale: the loss's Hessian was formed at a nearby point, and conjugate
    # gradients correct the system solved with it
    problem = cone_problem(loss)
    path = CentralPath(problem)
    rng = np.random.default_rng(1)
    path.u = path.u + 0.01 * torch.tensor(rng.standard_normal(path.u.shape))
    path.b = path.b + 0.1
    tau = 37.0
    if stale:
        path._newton_step(tau / 2)
        path.b = path.b + 0.3  # the curvature moves, within the drift allowed

    def barrier(flat):
        u, b = flat[:-1].view_as(path.u), flat[-1:]
        ta, r = tau * path.alpha, u.norm(dim=1)
        t = (1 + torch.sqrt(1 + (ta * r) ** 2)) / ta
        cone = (ta * t - torch.log(t**2 - r**2)).sum()
        return tau * path.loss(path.outputs(u, b)) + cone - path.slacks(u).log().sum()

    flat = torch.cat([path.u.reshape(-1), path.b])
    gradient = torch.func.grad(barrier)(flat)
    exact = torch.linalg.solve(torch.func.hessian(barrier)(flat), -gradient)
    step, db, decrement = path._newton_step(tau)
    if stale and loss == "logistic":  # solved by conjugate gradients
        current = path.loss.hessian_diagonal(path.outputs(path.u, path.b))
        assert not torch.equal(path._unit_curvature, current)
    torch.testing.assert_close(torch.cat([step.reshape(-1), db]), exact)
    assert decrement == pytest.approx(float(-gradient @ exact), rel=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_it_reaches_the_admm_optimum_with_exact_residuals(loss, fit_intercept):
    # the active-set finish from the path's structure: at 1e-7, the smallest
    # tolerance it is tried at, the path alone stops short
    problem = cone_problem(loss, fit_intercept=fit_intercept)
    result = interior_point(problem, tol=1e-7)
    reference = admm(problem, tol=1e-9, max_iter=100_000)
    assert result.converged and reference.converged
    assert result.kkt.largest <= 1e-7
    assert result.kkt.objective == pytest.approx(reference.kkt.objective, rel=1e-7)
    assert bool((result.multipliers >= 0).all())


def test_repeated_rows_and_zero_rows_are_no_obstacle():
    # duplicated samples give duplicated constraint rows; a zero sample
    # without a hidden bias gives rows that always hold
    rng = np.random.default_rng(2)
    X = np.repeat(rng.standard_normal((15, 2)), 3, axis=0)
    X[0] = 0.0
    y = rng.standard_normal(len(X))
    model = ConvexReLURegressor(
        0.02,
        n_patterns=10,
        hidden_bias=False,
        solver="interior_point",
        tol=1e-7,
        random_state=0,
    )
    model.fit(X, y)
    assert model.converged_ and model.solver_ == "interior_point"
    reference = ConvexReLURegressor(**{**model.get_params(), "solver": "admm"})
    reference.set_params(max_iter=100_000).fit(X, y)
    assert model.objective_ == pytest.approx(reference.objective_, rel=1e-7)


def test_auto_hands_over_where_the_path_stops_short():
    # all 4-point patterns at tol 1e-8: rounding ends the barrier's path at
    # a stationarity near 1e-6, and ADMM (the next method) takes over
    X = np.array([[0.126, -0.132], [0.640, 0.105], [-0.536, 0.362], [1.304, 0.947]])
    y = np.array([-0.804, -0.157, -1.809, 0.410])
    gates = enumerate_patterns(lift(X, True))
    params = {"gates": gates, "tol": 1e-8, "max_iter": 100_000, "device": "cpu"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = ConvexReLURegressor(0.003, solver="interior_point", **params)
        alone.fit(X, y)
    auto = ConvexReLURegressor(0.003, **params).fit(X, y)
    assert not alone.converged_
    assert auto.converged_ and auto.solver_ == "admm"


def test_it_applies_only_where_its_needs_are_met():
    assert runnable(InteriorPoint(), cone_problem(), CONFIG)
    problem = cone_problem()
    problem.constraint.interior = None  # no interior point known
    assert not runnable(InteriorPoint(), problem, CONFIG)
    with pytest.raises(ValueError, match=r"interior point phase needs .*interior"):
        solve_constrained(problem, method="interior_point")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 2)), rng.integers(0, 3, 30)
    model = ConvexReLUClassifier(0.05, n_patterns=6, tol=1e-4, random_state=0)
    model.fit(X, y)  # three outputs coupled by the softmax
    assert model.solver_ == "interior_point" and model.converged_


@pytest.mark.parametrize(
    "limit",
    [{"interior_point_max_coefficients": 10}, {"interior_point_max_flops": 1e3}],
)
def test_a_problem_beyond_its_size_or_work_limit_goes_to_admm(limit):
    problem = cone_problem()
    assert 0 < InteriorPoint().cost(problem, CONFIG) <= CONFIG.interior_point_max_flops
    method, result = solve_constrained(problem, tol=1e-6, config=SolverConfig(**limit))
    assert method == "admm" and result.converged


def test_several_squared_outputs_are_solved_one_by_one():
    # the squared loss sums over output columns: each column is its own
    # problem, solved by the barrier method and its finish
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    Y = np.column_stack([X[:, 0] ** 2, np.abs(X[:, 1]) - X[:, 2]])
    params = dict(alpha=0.02, n_patterns=8, tol=1e-7, random_state=0)
    model = ConvexReLURegressor(**params).fit(X, Y)
    assert model.converged_ and model.solver_ == "interior_point"
    columns = [ConvexReLURegressor(**params).fit(X, y) for y in Y.T]
    assert model.objective_ == pytest.approx(
        sum(column.objective_ for column in columns), rel=1e-8
    )
    np.testing.assert_allclose(
        model.coef_, np.concatenate([column.coef_ for column in columns], 3), atol=1e-6
    )


@pytest.mark.parametrize(
    "n, d, n_patterns, alpha", [(200, 10, 20, 1e-3), (300, 5, 40, 1e-4)]
)
def test_blocks_held_off_zero_do_not_end_the_path_early(n, d, n_patterns, alpha):
    # uncentred 0/1 targets: blocks tending to zero as 1/τ keep the point as
    # it is at a stationarity near 3e-3 at every centre while the point with
    # them set to zero improves tenfold per centre; the path must go on, and
    # try the finish, until it certifies that point (the first problem ended
    # its path too early, the second went on into a float64 Cholesky that
    # rounding broke)
    X, y = make_classification(
        n_samples=n, n_features=d, n_informative=3, n_redundant=1, random_state=0
    )
    X_lifted = lift((X - X.mean(0)) / X.std(0), True)
    gates = resolve_gates(None, X_lifted, n_patterns, 0)
    problem = convex_relu_problem(
        torch.tensor(X_lifted),
        torch.tensor(activation_patterns(X_lifted, gates)).double(),
        LOSSES["squared"](torch.tensor(y, dtype=torch.float64)[:, None]),
        alpha,
        True,
        gates=torch.tensor(gates),
    )
    result = interior_point(problem, tol=1e-6)
    assert result.converged
    residuals = problem.kkt(result.x, result.multipliers)
    assert residuals.largest <= 1e-6
    assert bool((result.multipliers >= 0).all())
