"""``max_time``: a fit that runs out of time stops cleanly, says so, is fitted,
and reports the honest certificate of the point it returns."""

import math
import time
from dataclasses import replace

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from convexnn import (
    ConvexReLURegressor,
    ConvexReLURegressorCV,
    GatedReLURegressor,
    GatedReLURegressorCV,
    LLMLassoRegressor,
    ReflectionLassoRegressor,
    WeightedLasso,
    WeightedLassoCV,
)
from convexnn._backend import CPU64
from convexnn.patterns import activation_patterns, lift, sample_gates
from convexnn.problems import LOSSES
from convexnn.problems.cone import convex_relu_problem
from convexnn.scoring import PrecomputedScorer
from convexnn.solvers import (
    SolverConfig,
    admm,
    augmented_lagrangian,
    fista,
    solve_constrained,
    solve_constrained_path,
)
from convexnn.solvers.interior_point import interior_point
from convexnn.testing import assert_certified
from convexnn.testing._certificates import duality_gap, kkt_residuals

PAST = replace(SolverConfig(), deadline=0.0)
"""A config whose deadline has passed: every loop stops at its first check."""


def hard_regression(n=300, d=8, seed=0):
    """Data whose small-alpha fits take many iterations."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(3 * X[:, 0]) * X[:, 1] + 0.1 * rng.standard_normal(n)
    return X, y


def cone_problem(n=30, n_patterns=8, alpha=0.02):
    """A small convex ReLU program with its gates (an interior point)."""
    rng = np.random.default_rng(0)
    X = lift(rng.standard_normal((n, 2)), True)
    y = np.abs(X[:, 0]) - X[:, 1] + 0.1 * rng.standard_normal(n)
    gates = sample_gates(X, n_patterns, 0)
    masks = CPU64.tensor(activation_patterns(X, gates))
    loss = LOSSES["squared"](CPU64.tensor(y[:, None]))
    return convex_relu_problem(
        CPU64.tensor(X), masks, loss, alpha, gates=CPU64.tensor(gates)
    )


def fit_out_of_time(model, X, y):
    """Fit ``model`` (whose ``max_time`` is tiny): it must warn that
    ``max_time`` ran out and end unconverged."""
    with pytest.warns(ConvergenceWarning, match="max_time") as record:
        model.fit(X, y)
    assert any("increase max_time" in str(w.message) for w in record)
    assert not model.converged_
    assert model.predict(X[:5]).shape == (5,)
    return model


# --- the solver core ----------------------------------------------------------


def test_with_time_limit_keeps_the_sooner_deadline():
    assert SolverConfig().with_time_limit(None) == SolverConfig()
    soon = SolverConfig().with_time_limit(0.0)
    assert soon.out_of_time()
    assert soon.with_time_limit(3600.0).deadline == soon.deadline
    later = SolverConfig().with_time_limit(3600.0)
    assert not later.out_of_time()
    assert later.deadline - time.monotonic() == pytest.approx(3600.0, abs=5.0)


def clock_passing_after(monkeypatch, n_readings: int) -> SolverConfig:
    """A config whose deadline passes after ``n_readings`` readings of the
    solvers' clock: deterministic, whatever the machine's speed."""
    readings = iter(range(10**9))
    monkeypatch.setattr(
        "convexnn.solvers.config.time.monotonic",
        lambda: 0.0 if next(readings) < n_readings else 2.0,
    )
    return replace(SolverConfig(), deadline=1.0)


def test_fista_stops_at_its_first_checkpoint_past_the_deadline(monkeypatch):
    from test_newton import gated_problem

    problem = gated_problem(n=60, P=30)
    # begun past the deadline: the start's certificate is the checkpoint
    assert fista(problem, tol=1e-14, config=PAST).n_iter == 0
    # passed after the start: the first checkpoint (check_every = 10) stops it
    config = clock_passing_after(monkeypatch, 1)
    result = fista(problem, tol=1e-14, config=config)
    assert result.n_iter == 10 and not result.converged
    # the phases' hooks (here a Newton solve that converges at once) are
    # skipped past the deadline
    full = fista(problem, tol=1e-14)
    assert full.converged
    # the point returned is the best certified one: its gap is honest
    optimum = full.certificate.primal
    assert result.certificate.dual <= optimum * (1 + 1e-12)
    assert result.certificate.primal >= optimum * (1 - 1e-12)


@pytest.mark.parametrize("method", [admm, augmented_lagrangian, interior_point])
def test_constrained_methods_stop_at_their_first_check_past_the_deadline(method):
    problem = cone_problem()
    stopped = method(problem, tol=1e-12, config=PAST)
    assert not stopped.converged
    _, reference = solve_constrained(problem, tol=1e-6)
    assert reference.converged
    # the barrier method measures its first centre; the others their start
    assert stopped.n_outer == (1 if method is interior_point else 0)
    # an honest bound: the Lagrange dual of the returned multipliers
    assert min(stopped.kkt.dual, stopped.kkt.objective) <= (
        reference.kkt.objective * (1 + 1e-9)
    )


def test_the_constrained_path_carries_its_last_solution_past_the_deadline():
    problem = cone_problem()
    alphas = [0.05, 0.02, 0.01]
    results = solve_constrained_path(problem, alphas, config=PAST)
    names = [name for name, _ in results]
    assert names[1:] == ["carried", "carried"]
    for alpha, (_, result) in zip(alphas[1:], results[1:], strict=True):
        # measured at its own alpha: the residuals are those of that problem
        measured = (
            problem.with_alpha(alpha).kkt(result.x, result.multipliers).stationarity
        )
        assert math.isclose(measured, result.kkt.stationarity, rel_tol=1e-9)
        assert result.n_iter == 0


# --- the estimators -----------------------------------------------------------


@pytest.mark.parametrize("max_time", [1e-4, 0.05])
def test_gated_fit_out_of_time_reports_its_gap_honestly(max_time):
    X, y = hard_regression()
    settings = {"alpha": 1e-5, "n_patterns": 200, "random_state": 0}
    model = GatedReLURegressor(tol=1e-12, max_time=max_time, **settings)
    fit_out_of_time(model, X, y)
    assert_certified(model, X, y)  # its objective is the returned model's
    # the solver's bound is the best met, at least as good as the one of the
    # returned point's own dual point; both bound the optimum
    recomputed, _ = duality_gap(model, X, y)
    assert model.dual_gap_ <= recomputed * (1 + 1e-8)
    reference = GatedReLURegressor(gates=model.gates_, tol=1e-10, **settings)
    optimum = reference.fit(X, y).objective_
    assert model.objective_ >= optimum * (1 - 1e-9)
    assert model.objective_ * (1 - model.dual_gap_) <= optimum * (1 + 1e-9)


@pytest.mark.parametrize("solver", ["interior_point", "admm", "augmented_lagrangian"])
def test_convex_fit_out_of_time_reports_its_residuals_honestly(solver):
    X, y = hard_regression(n=100, d=3)
    settings = {"alpha": 1e-3, "n_patterns": 30, "random_state": 0}
    model = ConvexReLURegressor(
        solver=solver, tol=1e-10, max_time=1e-3, keep_multipliers=True, **settings
    )
    fit_out_of_time(model, X, y)
    assert_certified(model, X, y)
    recomputed = kkt_residuals(model, X, y)
    for name, value in recomputed.items():
        assert getattr(model, name) == pytest.approx(value, rel=1e-6, abs=1e-12)
    reference = ConvexReLURegressor(gates=model.gates_, **settings).fit(X, y)
    assert reference.converged_
    assert model.lower_bound_ <= reference.objective_ * (1 + 1e-9)


def test_lasso_fits_out_of_time_report_their_gaps_honestly():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2000))
    y = X[:, :20].sum(axis=1) + rng.standard_normal(200)
    model = fit_out_of_time(WeightedLasso(1e-3, tol=1e-12, max_time=1e-4), X, y)
    assert model.dual_gap_ == pytest.approx(duality_gap(model, X, y)[0], rel=1e-8)
    assert_certified(model, X, y)


def test_reflection_fit_out_of_time_is_fitted():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 300)
    model = ReflectionLassoRegressor(alpha=1e-6, tol=1e-12, max_time=1e-4)
    fit_out_of_time(model, x.reshape(-1, 1), np.sin(3 * x))
    assert model.dual_gap_ > model.tol


def wide_regression(n=200, p=1000, seed=0):
    """A Lasso whose small-alpha fits take many iterations."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return X, X[:, :20].sum(axis=1) + rng.standard_normal(n)


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (
            GatedReLURegressorCV(n_patterns=150, n_alphas=20, cv=3, random_state=0),
            hard_regression,
        ),
        (
            ConvexReLURegressorCV(n_patterns=20, n_alphas=20, cv=3, random_state=0),
            hard_regression,
        ),
        (
            WeightedLassoCV(n_alphas=20, alpha_min_ratio=1e-3, cv=3, random_state=0),
            wide_regression,
        ),
        (
            LLMLassoRegressor(
                PrecomputedScorer(np.full(1000, 0.5)),
                trust_grid=(1.0,),
                n_alphas=20,
                alpha_min_ratio=1e-3,
                cv=3,
                random_state=0,
            ),
            wide_regression,
        ),
    ],
    ids=lambda value: type(value).__name__ if hasattr(value, "fit") else "",
)
def test_cross_validation_out_of_time_ends_quickly_and_fitted(model, data):
    X, y = data()
    model.set_params(tol=1e-12, max_time=1e-3)
    start = time.perf_counter()
    with pytest.warns(ConvergenceWarning, match="max_time"):
        model.fit(X, y)
    # past the budget each remaining solve stops at its first checkpoint (the
    # refit may still converge: at alpha_max the solution is zero)
    assert time.perf_counter() - start < 30.0
    assert model.predict(X[:5]).shape == (5,)
