"""SolverConfig: its documented defaults, its immutability, and one field of
each solver method shown to be honoured."""

import dataclasses
import re
from dataclasses import replace

import numpy as np
import pytest
import torch
from test_newton import gated_problem, tensor
from test_solvers import lasso_problem, sparse_regression

from convexnn.patterns import activation_patterns, lift, sample_gates
from convexnn.problems import LOSSES
from convexnn.problems.cone import convex_relu_problem
from convexnn.solvers import (
    SolverConfig,
    admm,
    augmented_lagrangian,
    fista,
    solve,
    solve_constrained,
)
from convexnn.solvers.feature_sign import feature_sign
from convexnn.solvers.finish_schedule import FinishSchedule
from convexnn.solvers.kernel_newton import kernel_newton, kernel_step_cost

CONFIG = SolverConfig()


def cone_problem(n=30, n_patterns=8, alpha=0.02):
    """A small convex ReLU program (cone-constrained group lasso)."""
    rng = np.random.default_rng(0)
    X = lift(rng.standard_normal((n, 2)), True)
    y = np.abs(X[:, 0]) - X[:, 1] + 0.1 * rng.standard_normal(n)
    masks = activation_patterns(X, sample_gates(X, n_patterns, 0)).astype(float)
    loss = LOSSES["squared"](tensor(y[:, None]))
    return convex_relu_problem(tensor(X), torch.from_numpy(masks), loss, alpha)


def test_the_defaults_are_the_documented_ones():
    assert CONFIG.newton_max_steps == 8
    assert CONFIG.newton_max_factorisations == 3
    assert CONFIG.kernel_newton_max_steps == 30
    assert CONFIG.kernel_newton_expected_steps == 8
    assert CONFIG.sample_system_max_samples == 4096
    assert CONFIG.sample_system_precision is torch.float32
    assert CONFIG.admm_relaxation == 1.6
    assert CONFIG.admm_max_samples == 50_000
    assert CONFIG.augmented_lagrangian_rho_growth == 10.0
    assert CONFIG.active_set_start_below == 1.0
    assert CONFIG.working_set_min_blocks == 100
    assert CONFIG.feature_sign_rtol == 1e-14
    assert CONFIG.optimal_set_max_candidates == 400
    assert SolverConfig() == CONFIG  # a value: equal configs are equal


def test_every_field_is_documented_in_the_class_docstring():
    documented = re.findall(r"^    (\w+) : ", SolverConfig.__doc__, re.MULTILINE)
    fields = [field.name for field in dataclasses.fields(SolverConfig)]
    assert documented == fields


def test_the_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.newton_max_steps = 1
    changed = replace(CONFIG, newton_max_steps=1)
    assert changed.newton_max_steps == 1 and CONFIG.newton_max_steps == 8
    assert hash(changed) != hash(CONFIG)


def test_fista_single_precision_phase_follows_its_switch_gap():
    # a switch gap of infinity leaves no gap above it: no float32 phase at all
    problem = gated_problem(n=60, P=30)
    never = replace(CONFIG, single_precision_switch_gap=float("inf"))
    result = fista(problem, tol=1e-8, config=never)
    full = fista(problem, tol=1e-8, single_precision=False)
    assert result.n_iter == full.n_iter
    torch.testing.assert_close(result.x, full.x, rtol=0, atol=0)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_newton_finish_waits_for_its_patience(loss):
    # a support never stable for that long: no finish, plain proximal gradient
    problem = gated_problem(loss, n=60, P=30)
    patient = replace(CONFIG, newton_patience=10**9)
    waited = fista(problem, tol=1e-8, kernel=False, config=patient)
    plain = fista(problem, tol=1e-8, newton=False)
    finished = fista(problem, tol=1e-8, kernel=False)
    assert waited.n_iter == plain.n_iter > finished.n_iter
    torch.testing.assert_close(waited.x, plain.x, rtol=0, atol=0)


def test_kernel_newton_stops_after_its_steps():
    # no step allowed: only the first evaluation of the block weights is paid
    problem = gated_problem(n=60, P=30)
    none = replace(CONFIG, kernel_newton_max_steps=0)
    _, _, spent = kernel_newton(problem, problem.zeros(), 1e-10, none)
    assert spent == kernel_step_cost(problem, CONFIG)
    _, _, spent = kernel_newton(problem, problem.zeros(), 1e-10, CONFIG)
    assert spent > kernel_step_cost(problem, CONFIG)


def test_working_sets_engage_above_their_block_count():
    # below the threshold the problem goes to FISTA whole, iterate for iterate
    problem = lasso_problem(*sparse_regression(p=150), 0.05)
    whole = replace(CONFIG, working_set_min_blocks=problem.n_blocks)
    result = solve(problem, tol=1e-8, config=whole)
    plain = fista(problem, tol=1e-8)
    assert result.n_iter == plain.n_iter
    torch.testing.assert_close(result.x, plain.x, rtol=0, atol=0)
    assert solve(problem, tol=1e-8).n_iter != plain.n_iter


def test_feature_sign_stops_at_its_tolerance():
    # with a tolerance as large as every correlation, zero is optimal already
    rng = np.random.default_rng(1)
    A = rng.standard_normal((40, 10))
    G = A.T @ A / 40
    b = A.T @ rng.standard_normal(40) / 40
    thresholds, zero = np.full(10, 0.01), np.zeros(10)
    loose = replace(CONFIG, feature_sign_rtol=1.0)
    u, steps = feature_sign(G, b, thresholds, zero, loose)
    assert steps == 0 and not u.any()
    u, steps = feature_sign(G, b, thresholds, zero, CONFIG)
    assert steps > 0 and u.any()


def test_admm_checks_at_its_interval():
    problem = cone_problem()
    every_7 = replace(CONFIG, admm_check_every=7, active_set_start_below=0.0)
    result = admm(problem, tol=1e-4, config=every_7)
    assert result.converged and result.n_iter % 7 == 0
    assert solve_constrained(problem, tol=1e-4)[0] == "admm"
    few = replace(CONFIG, admm_max_samples=problem.problem.operator.n_samples - 1)
    assert solve_constrained(problem, tol=1e-4, config=few)[0] == "augmented_lagrangian"


def test_augmented_lagrangian_grows_its_penalty_by_its_factor():
    # expecting the violation to fall a thousandfold per step makes it stall:
    # ρ grows by the configured factor each time (no active-set finish here)
    problem = cone_problem()
    strict = replace(
        CONFIG,
        active_set_start_below=0.0,
        augmented_lagrangian_violation_decrease=1e-3,
    )
    tripled = replace(strict, augmented_lagrangian_rho_growth=3.0)
    result = augmented_lagrangian(problem, tol=1e-6, rho=1.0, config=tripled)
    assert result.converged and result.rho in {3.0**k for k in range(1, 10)}
    fixed = replace(strict, augmented_lagrangian_rho_growth=1.0)
    result = augmented_lagrangian(problem, tol=1e-6, rho=1.0, config=fixed)
    assert result.converged and result.rho == 1.0


def test_active_set_finish_is_tried_below_its_threshold():
    problem = cone_problem()
    kkt = admm(problem, tol=1e-3, config=replace(CONFIG, active_set_start_below=0.0))
    never = FinishSchedule(problem, 1e-6, replace(CONFIG, active_set_start_below=0.0))
    assert never.attempt(kkt.kkt, kkt.multipliers) is None
    assert never.below == 0.0  # not tried: the threshold is unchanged
    schedule = FinishSchedule(problem, 1e-6, CONFIG)
    schedule.attempt(kkt.kkt, kkt.multipliers)
    assert schedule.below == kkt.kkt.largest / 3  # tried
