"""The convex ReLU estimators: API, optimality against CVXPY, conversion, pruning.

Optimality is checked against an independent solver: CVXPY with Clarabel
solves the same cone-constrained program, and both of our solvers must reach
its optimum to 1e-6 (relative) with constraint violations below 1e-7.
"""

import pickle
import warnings

import cvxpy as cp
import numpy as np
import pytest
import torch
from reference import solve_reference
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from convexnn import ConvexReLUClassifier, ConvexReLURegressor
from convexnn.baselines import NonconvexReLUClassifier, NonconvexReLURegressor
from convexnn.patterns import activation_patterns, lift
from convexnn.problems import LOSSES
from convexnn.testing import assert_certified

FAST = {"n_patterns": 8, "device": "cpu", "random_state": 0}

LOOSE_TOL = {
    "check_sample_weight_equivalence_on_dense_data": (
        "the convex fits of these API checks stop at tol=1e-3 or max_iter=40, "
        "so a weighted fit and the fit on repeated rows agree to about that, "
        "not to the check's rtol=1e-7; the equivalence is checked at a tight "
        "tol in tests/test_sample_weight.py"
    )
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(
    [
        ConvexReLURegressor(max_iter=40, tol=1e-3, **FAST),
        ConvexReLUClassifier(max_iter=40, tol=1e-3, **FAST),
        NonconvexReLURegressor(n_neurons=8, max_iter=30, device="cpu", random_state=0),
        NonconvexReLUClassifier(n_neurons=8, max_iter=30, device="cpu", random_state=0),
    ],
    expected_failed_checks=lambda estimator: (
        {} if type(estimator).__name__.startswith("Nonconvex") else LOOSE_TOL
    ),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def regression(n_samples=30, n_features=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = (
        np.sin(2 * X[:, 0])
        + 0.5 * np.abs(X[:, 1])
        + 0.1 * rng.standard_normal(n_samples)
    )
    return X, y


def classification(n_samples=30, seed=0):
    X, _ = regression(n_samples, seed=seed)
    return X, (X[:, 0] * X[:, 1] + 0.2 * X[:, 0] > 0).astype(int)


def cvxpy_optimum(X_lifted, gates, targets, alpha, loss, fit_intercept=True):
    """The convex ReLU program over ``gates``, solved by Clarabel: one network
    (``v``, ``w``, intercept) per column of ``targets``."""
    masks = activation_patterns(X_lifted, gates).astype(float)
    signs = 2 * masks - 1
    targets = np.asarray(targets, dtype=float).reshape(len(X_lifted), -1)
    n_samples, n_features = X_lifted.shape
    columns, penalty, constraints = [], 0, []
    for _ in range(targets.shape[1]):
        v = cp.Variable((n_features, len(gates)))
        w = cp.Variable((n_features, len(gates)))
        intercept = cp.Variable() if fit_intercept else 0.0
        columns.append(
            cp.sum(cp.multiply(masks, X_lifted @ (v - w)), axis=1) + intercept
        )
        penalty += cp.sum(cp.norm(v, axis=0)) + cp.sum(cp.norm(w, axis=0))
        constraints += [
            cp.multiply(signs, X_lifted @ v) >= 0,
            cp.multiply(signs, X_lifted @ w) >= 0,
        ]
    outputs = cp.vstack(columns).T  # (n, c)
    if loss == "squared":
        data = cp.sum_squares(outputs - targets) / (2 * n_samples)
    elif loss == "logistic":
        data = cp.sum(cp.logistic(outputs) - cp.multiply(targets, outputs))
        data = data / n_samples
    else:  # multinomial, one-hot targets
        data = cp.sum(cp.log_sum_exp(outputs, axis=1)) - cp.sum(
            cp.multiply(targets, outputs)
        )
        data = data / n_samples
    problem = cp.Problem(cp.Minimize(data + alpha * penalty), constraints)
    return solve_reference(problem, tol=1e-11)


SOLVERS = [
    "interior_point",
    "admm",
    pytest.param("augmented_lagrangian", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_matches_cvxpy(solver, loss):
    if loss == "squared":
        X, y = regression()
        model = ConvexReLURegressor(
            0.02, solver=solver, tol=1e-7, max_iter=50_000, **FAST
        )
        targets = y
    else:
        X, y = classification()
        model = ConvexReLUClassifier(
            0.02, loss="logistic", solver=solver, tol=1e-7, max_iter=50_000, **FAST
        )
        targets = y.astype(float)
    model.fit(X, y)
    reference = cvxpy_optimum(lift(X, True), model.gates_, targets, 0.02, loss)
    assert model.converged_
    assert model.objective_ == pytest.approx(reference, rel=1e-6)
    assert model.constraint_violation_ <= 1e-7


@pytest.mark.parametrize("loss", ["multinomial", "squared"])
def test_several_outputs_match_cvxpy(loss):
    # one network per output column sharing the gates: three classes under
    # the softmax, or two regression targets under the squared loss
    if loss == "multinomial":
        X, y = classification()
        y = y + (X[:, 1] > 0.5)  # a third class
        model = ConvexReLUClassifier(0.02, loss=loss, tol=1e-7, max_iter=50_000, **FAST)
        targets = (y[:, None] == np.unique(y)).astype(float)
    else:
        X, y = regression()
        y = np.column_stack([y, np.cos(X[:, 1])])
        model = ConvexReLURegressor(0.02, tol=1e-7, max_iter=50_000, **FAST)
        targets = y
    model.fit(X, y)
    reference = cvxpy_optimum(lift(X, True), model.gates_, targets, 0.02, loss)
    assert model.coef_.shape[3] == targets.shape[1]
    assert model.converged_
    assert model.objective_ == pytest.approx(reference, rel=1e-6)
    assert model.constraint_violation_ <= 1e-7
    assert model.lower_bound_ <= model.objective_


def training_outputs(model, X):
    """The convex model's outputs ``Σ D_i X̃(v_i − w_i) + b`` on ``X``."""
    X_lifted = lift(X, model.hidden_bias)
    masks = activation_patterns(X_lifted, model.gates_)
    v, w = model.coef_
    hidden = np.einsum("nd,pdc->npc", X_lifted, v - w)
    return np.einsum("np,npc->nc", masks, hidden) + model.intercept_


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_network_reproduces_the_convex_model(n_outputs):
    X, y = regression(40)
    Y = np.column_stack([y, np.cos(X[:, 1])])[:, :n_outputs].squeeze()
    model = ConvexReLURegressor(0.01, tol=1e-9, max_iter=50_000, **FAST).fit(X, Y)
    network = model.to_torch()
    with torch.no_grad():
        predicted = network(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(predicted, training_outputs(model, X), atol=1e-8)
    # its weight-decay objective is the convex objective
    loss = LOSSES["squared"](torch.from_numpy(Y.reshape(len(X), -1)))
    with torch.no_grad():
        value = loss.value(network(torch.from_numpy(X))) + 0.01 * float(
            network.weight_decay()
        )
    assert value == pytest.approx(model.objective_, rel=1e-9)
    assert network.hidden_weight.shape[0] == model.n_active_neurons_
    # one network per output: each neuron feeds a single output
    assert ((network.output_weight.detach() != 0).sum(1) == 1).all()


def test_shapes_and_attributes():
    X, y = classification(40)
    labels = np.array(["a", "b", "c"])[y + (X[:, 0] > 1)]
    model = ConvexReLUClassifier(0.05, tol=1e-3, keep_multipliers=True, **FAST)
    model.fit(X, labels)
    n_patterns = model.n_patterns_
    assert model.loss_ == "multinomial"
    assert model.coef_.shape == (2, n_patterns, 3, 3)
    assert model.multipliers_.shape == (2, n_patterns, 40, 3)
    assert (model.multipliers_ >= 0).all()
    assert model.gates_.shape == (n_patterns, 3)
    np.testing.assert_allclose(model.predict_proba(X).sum(1), 1)
    assert set(model.predict(X)) <= set(labels)
    assert model.solver_ == "interior_point"  # the softmax couples the outputs


@pytest.mark.parametrize("solver", ["interior_point", "admm"])
def test_lower_bound_is_the_lagrange_dual_of_the_multipliers(solver):
    # below the optimum (CVXPY's), and tight at a converged fit: no second solve
    X, y = regression(40)
    params = {"solver": solver, "tol": 1e-7, "max_iter": 50_000, **FAST}
    model = ConvexReLURegressor(0.01, **params).fit(X, y)
    optimum = cvxpy_optimum(lift(X, True), model.gates_, y, 0.01, "squared")
    assert model.converged_
    assert model.lower_bound_ <= optimum * (1 + 1e-9)
    assert model.lower_bound_ == pytest.approx(model.objective_, rel=1e-5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_max_neurons_prunes_without_changing_the_objective():
    # pruning keeps predictions and never raises the objective whether or not
    # the fit converged: a short fit with many active neurons is enough
    X, y = regression(12)
    # (ADMM stopped early: the barrier method would reach the sparse optimum)
    params = {"alpha": 1e-3, "max_iter": 50, "solver": "admm"}
    params = {**params, **FAST, "n_patterns": 40}
    full = ConvexReLURegressor(**params).fit(X, y)
    assert full.n_active_neurons_ > len(X)
    pruned = ConvexReLURegressor(max_neurons=len(X), **params).fit(X, y)
    assert pruned.n_active_neurons_ <= len(X)
    assert pruned.objective_ <= full.objective_ * (1 + 1e-12)
    assert (
        pruned.n_neurons_removed_ == full.n_active_neurons_ - pruned.n_active_neurons_
    )
    np.testing.assert_allclose(pruned.predict(X), full.predict(X), atol=1e-9)
    # objective_ now holds the pruned penalty
    decrease = (
        np.linalg.norm(full.coef_, axis=2).sum()
        - np.linalg.norm(pruned.coef_, axis=2).sum()
    )
    assert decrease >= -1e-12
    assert pruned.objective_ == pytest.approx(full.objective_ - 1e-3 * decrease)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_max_neurons_below_the_rank_warns():
    X, y = regression(12)
    with pytest.warns(UserWarning, match="max_neurons=1"):
        ConvexReLURegressor(1e-3, max_iter=200, max_neurons=1, **FAST).fit(X, y)


def test_non_convergence_warns_and_names_the_knob():
    X, y = regression()
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        model = ConvexReLURegressor(max_iter=3, **FAST).fit(X, y)
    assert not model.converged_


@pytest.mark.parametrize(
    "params, message",
    [
        ({"alpha": -1.0}, "'alpha' parameter"),
        ({"solver": "newton"}, "'solver' parameter"),
        ({"max_neurons": 0}, "'max_neurons' parameter"),
        ({"gates": np.ones((3, 5))}, "gates must have shape"),
        ({"tol": -1.0}, "'tol' parameter"),
    ],
)
def test_bad_parameters_are_named(params, message):
    X, y = regression()
    with pytest.raises(ValueError, match=message):
        ConvexReLURegressor(**{**FAST, **params}).fit(X, y)


def test_bad_input():
    X, y = regression()
    model = ConvexReLURegressor(max_iter=20, **FAST)
    with pytest.warns(ConvergenceWarning):
        model.fit(X, y)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ConvexReLURegressor(**FAST).fit(bad, y)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)
    with pytest.raises(ValueError, match="expecting 2 features"):
        model.predict(X[:, :1])
    with pytest.raises(ValueError, match="1 class"):
        ConvexReLUClassifier(**FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="binary"):
        ConvexReLUClassifier(loss="logistic", **FAST).fit(X, np.arange(len(X)) % 3)


def test_failed_fit_leaves_no_half_fitted_state():
    X, y = regression()
    model = ConvexReLURegressor(
        gates=np.ones((2, 7)), **{k: v for k, v in FAST.items()}
    )
    with pytest.raises(ValueError):
        model.fit(X, y)
    assert not hasattr(model, "coef_") and not hasattr(model, "n_features_in_")
    # a failed refit leaves the previous fit as it was
    model.set_params(gates=None).fit(X, y)
    before = {k: v for k, v in vars(model).items() if k.endswith("_")}
    with pytest.raises(ValueError):
        model.set_params(gates=np.ones((2, 7))).fit(X, y)
    after = {k: v for k, v in vars(model).items() if k.endswith("_")}
    assert before.keys() == after.keys()
    for name, value in before.items():
        assert after[name] is value, name


@pytest.mark.parametrize("Estimator", [ConvexReLURegressor, ConvexReLUClassifier])
def test_float32_fits_reach_the_float64_optimum(Estimator):
    X, y = regression()
    targets = y if Estimator is ConvexReLURegressor else y > np.median(y)
    single = Estimator(0.02, dtype="float32", tol=1e-4, **FAST).fit(X, targets)
    double = Estimator(0.02, dtype="float64", tol=1e-8, max_iter=50_000, **FAST)
    double.fit(X, targets)
    assert single.converged_
    assert single.objective_ == pytest.approx(double.objective_, rel=1e-5)
    assert single.constraint_violation_ <= 1e-5


def test_fitted_model_pickles_small_unless_the_multipliers_are_kept():
    # the multipliers are 2 × n_patterns_ × n_samples × n_outputs numbers: a
    # model without them has the same pickle at any number of samples
    gates = np.random.default_rng(0).standard_normal((8, 3))
    params = {"gates": gates, "tol": 1e-4, "device": "cpu"}
    sizes = {}
    for n_samples in (50, 400):
        X, y = regression(n_samples)
        model = ConvexReLURegressor(0.05, **params).fit(X, y)
        assert not hasattr(model, "multipliers_")
        sizes[n_samples] = len(pickle.dumps(model))
        assert sizes[n_samples] < 8 * (model.coef_.size + model.gates_.size) + 5000
        kept = model.set_params(keep_multipliers=True).fit(X, y)
        assert kept.multipliers_.shape == (2, 8, n_samples, 1)
        assert len(pickle.dumps(kept)) > sizes[n_samples] + 8 * kept.multipliers_.size
        # a refit without them does not leave the earlier fit's behind
        assert not hasattr(
            kept.set_params(keep_multipliers=False).fit(X, y), "multipliers_"
        )
    assert abs(sizes[400] - sizes[50]) < 100


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_float32_augmented_lagrangian_reports_an_honest_objective():
    # its float32 fits stop short of tol (left for later), but what they
    # report must describe the coefficients they return
    X, y = regression()
    model = ConvexReLURegressor(
        0.02,
        solver="augmented_lagrangian",
        dtype="float32",
        max_iter=200,
        keep_multipliers=True,
        **FAST,
    ).fit(X, y)
    assert_certified(model, X, y, rtol=1e-5)
    # below the optimum only as far as the constraints are violated
    optimum = ConvexReLURegressor(0.02, tol=1e-8, max_iter=50_000, **FAST).fit(X, y)
    if model.objective_ < optimum.objective_ * (1 - 1e-5):
        assert not model.converged_ and model.constraint_violation_ > model.tol


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "Estimator", [ConvexReLURegressor, ConvexReLUClassifier, NonconvexReLURegressor]
)
@pytest.mark.parametrize("hidden_bias", [True, False])
def test_input_arrays_are_not_modified(Estimator, hidden_bias):
    X, y = classification()
    X_copy, y_copy = X.copy(), y.copy()
    params = {
        "max_iter": 20,
        "hidden_bias": hidden_bias,
        "device": "cpu",
        "random_state": 0,
    }
    model = Estimator(**params).fit(X, y)
    model.predict(X)
    if hasattr(model, "prune"):
        model.prune(X)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_active_set_finish_reaches_the_optimum_from_a_rough_point():
    # ADMM stopped early has the structure (nonzero blocks, tight constraints)
    # but not the digits; the finish re-solves on that structure
    from convexnn.problems.cone import convex_relu_problem
    from convexnn.solvers import SolverConfig, admm
    from convexnn.solvers.active_set import finish

    X, y = regression()
    X_lifted = lift(X, True)
    gates = ConvexReLURegressor(**FAST).fit(X, y).gates_
    masks = torch.from_numpy(activation_patterns(X_lifted, gates).astype(float))
    problem = convex_relu_problem(
        torch.from_numpy(X_lifted),
        masks,
        LOSSES["squared"](torch.from_numpy(y[:, None])),
        0.02,
    )
    admm_alone = SolverConfig(active_set_start_below=0.0)
    rough = admm(problem, tol=1e-3, config=admm_alone)
    assert rough.kkt.largest > 1e-6
    finished = finish(problem, rough.x, rough.multipliers, 1e-6, SolverConfig())
    assert finished is not None
    kkt, multipliers = finished
    assert kkt.largest <= 1e-6
    assert (multipliers >= 0).all()
    reference = cvxpy_optimum(X_lifted, gates, y, 0.02, "squared")
    assert kkt.objective == pytest.approx(reference, rel=1e-6)


def test_active_set_finish_with_several_outputs_reaches_the_optimum():
    # three classes under the softmax: the finish re-solves every (block,
    # output) group's structure jointly, by Newton's method on the coupled
    # loss, from ADMM stopped far from the optimum
    from convexnn.problems.cone import convex_relu_problem
    from convexnn.solvers import SolverConfig, admm
    from convexnn.solvers.active_set import finish

    X, y = classification(80)
    y = y + (X[:, 1] > 0.5)
    targets = (y[:, None] == np.unique(y)).astype(float)
    X_lifted = lift(X, True)
    gates = ConvexReLUClassifier(loss="multinomial", **FAST).fit(X, y).gates_
    masks = torch.from_numpy(activation_patterns(X_lifted, gates).astype(float))
    problem = convex_relu_problem(
        torch.from_numpy(X_lifted),
        masks,
        LOSSES["multinomial"](torch.from_numpy(targets)),
        0.02,
    )
    admm_alone = SolverConfig(active_set_start_below=0.0)
    rough = admm(problem, tol=1e-2, config=admm_alone)
    assert rough.kkt.largest > 1e-3
    finished = finish(problem, rough.x, rough.multipliers, 1e-6, SolverConfig())
    assert finished is not None
    kkt, multipliers = finished
    assert kkt.largest <= 1e-6
    assert (multipliers >= 0).all()
    reference = cvxpy_optimum(X_lifted, gates, targets, 0.02, "multinomial")
    assert kkt.objective == pytest.approx(reference, rel=1e-6)


def test_rank_deficient_data_past_the_exact_solve_limit_does_not_crash():
    # binary features, six distinct rows, n above ADMM's exact-solve limit: the
    # Nyström sketch is rank-deficient (its Cholesky factor used to fail), and
    # a stalled ADMM used to raise rho until it overflowed
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, (6, 8)).astype(float)[rng.integers(0, 6, 2100)]
    y = X @ rng.standard_normal(8) + 0.1 * rng.standard_normal(2100)
    model = ConvexReLURegressor(n_patterns=10, random_state=0, max_iter=300)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert model.converged_ or warned
    assert model.converged_ != warned
    assert np.isfinite(model.objective_) and np.isfinite(model.predict(X)).all()
