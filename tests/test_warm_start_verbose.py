"""``warm_start`` and ``verbose`` across the estimators.

Warm starts: along a path of alphas a warm-started fit reaches the certified
optimum of a cold fit with fewer iterations; a fit whose shapes changed
(features, outputs or classes, neurons, dictionary) or with new gates is
exactly a cold fit; the Adam baselines continue from their previous weights
without writing into them. Verbose: ``verbose=1`` prints one line per
checkpoint with the gap (or, for Adam, the objective) and the elapsed time,
``verbose=0`` nothing.
"""

import numpy as np
import pytest
from sklearn.base import clone, is_classifier

from convexnn import (
    ConvexReLUClassifier,
    ConvexReLURegressor,
    GatedReLUClassifier,
    GatedReLURegressor,
    LLMLassoClassifier,
    LLMLassoRegressor,
    ReflectionLassoRegressor,
    WeightedLasso,
    WeightedLassoCV,
    weighted_lasso_path,
)
from convexnn.baselines import (
    NonconvexGatedReLUClassifier,
    NonconvexGatedReLURegressor,
    NonconvexReLUClassifier,
    NonconvexReLURegressor,
)
from convexnn.scoring import PrecomputedScorer
from convexnn.testing import assert_certified, make_problem

NETWORK = {"n_patterns": 12, "device": "cpu", "random_state": 0}
TOL = 1e-8


def reflection_data():
    x = np.linspace(-1.0, 1.0, 30)
    return x[:, None], np.sin(3 * x) + 0.1 * np.random.default_rng(0).normal(size=30)


# (estimator, data kind, decreasing alphas with steps a warm start helps)
PATHS = {
    "gated": (
        GatedReLURegressor(tol=TOL, **NETWORK),
        "regression",
        (2e-2, 1.5e-2, 1e-2, 7e-3),
    ),
    "gated classifier": (
        GatedReLUClassifier(tol=TOL, **NETWORK),
        "binary",
        (2e-2, 1.5e-2, 1e-2, 7e-3),
    ),
    "convex": (
        ConvexReLURegressor(tol=TOL, keep_multipliers=True, **NETWORK),
        "regression",
        (2e-2, 1.7e-2),
    ),
    "convex classifier": (
        ConvexReLUClassifier(tol=TOL, keep_multipliers=True, **NETWORK),
        "binary",
        (2e-2, 1.7e-2),
    ),
    "lasso": (WeightedLasso(tol=TOL), "sparse", (0.3, 0.1, 0.03, 0.01)),
    "reflection": (
        ReflectionLassoRegressor(depth=3, activation="abs", tol=TOL),
        "reflection",
        (1e-2, 5e-3, 2.5e-3),
    ),
}


def sparse_data():
    """A target depending on 4 of 30 shifted features."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 30)) + 1.0
    coef = np.zeros(30)
    coef[:4] = [1.0, -2.0, 1.5, 1.0]
    return X, X @ coef + 0.3 * rng.standard_normal(80) + 2.0


def data(kind):
    if kind == "reflection":
        return reflection_data()
    return sparse_data() if kind == "sparse" else make_problem(kind, seed=1)


@pytest.mark.parametrize("name", PATHS)
def test_warm_start_along_a_path_reaches_the_cold_optimum_in_fewer_iterations(name):
    estimator, kind, alphas = PATHS[name]
    X, y = data(kind)
    warm = clone(estimator).set_params(warm_start=True)
    warm_iterations = cold_iterations = 0
    for alpha in alphas:
        warm.set_params(alpha=alpha).fit(X, y)
        cold = clone(estimator).set_params(alpha=alpha).fit(X, y)
        assert warm.converged_ and cold.converged_
        if name != "reflection":  # its certificate is checked by its own tests
            assert_certified(cold, X, y)
        # the cold fit's certified optimum, within the tolerance of both fits
        assert warm.objective_ == pytest.approx(cold.objective_, rel=2 * TOL, abs=0)
        warm_iterations += warm.n_iter_
        cold_iterations += cold.n_iter_
    assert warm_iterations < cold_iterations


@pytest.mark.parametrize(
    "solver", ["admm", pytest.param("augmented_lagrangian", marks=pytest.mark.slow)]
)
def test_convex_warm_start_after_a_large_jump_of_alpha_is_still_exact(solver):
    """Far from the previous alpha the active-set finish fails and the
    iterative method runs from the previous point: same certified optimum."""
    X, y = make_problem("regression", seed=2)
    settings = {**NETWORK, "solver": solver, "tol": 1e-6}
    warm = ConvexReLURegressor(5e-2, warm_start=True, **settings).fit(X, y)
    warm.set_params(alpha=5e-3).fit(X, y)
    cold = ConvexReLURegressor(5e-3, **settings).fit(X, y)
    assert warm.converged_ and warm.n_iter_ > 0
    assert_certified(warm, X, y)
    assert warm.objective_ == pytest.approx(cold.objective_, rel=1e-5)


def test_convex_warm_start_from_fewer_samples_drops_the_multipliers():
    X, y = make_problem("regression", seed=3, n_samples=50)
    warm = ConvexReLURegressor(1e-2, warm_start=True, **NETWORK).fit(X[:30], y[:30])
    warm.fit(X, y)
    cold = ConvexReLURegressor(1e-2, **NETWORK).fit(X, y)
    assert warm.multipliers_.shape[2] == 50
    assert_certified(warm, X, y)
    assert warm.objective_ == pytest.approx(cold.objective_, rel=1e-5)


def widen(X):
    return np.column_stack([X, X[:, :1] ** 2])


# (estimator, data kind, how the second fit's data differ)
CHANGES = {
    "gated, features": (GatedReLURegressor(1e-2, **NETWORK), "regression", "features"),
    "gated, classes": (GatedReLUClassifier(1e-2, **NETWORK), "binary", "classes"),
    "convex, features": (
        ConvexReLURegressor(1e-2, **NETWORK),
        "regression",
        "features",
    ),
    "convex, gates": (ConvexReLUClassifier(1e-2, **NETWORK), "binary", "gates"),
    "lasso, features": (WeightedLasso(0.05), "regression", "features"),
    "lasso, targets": (WeightedLasso(0.05), "regression", "targets"),
    "reflection, samples": (ReflectionLassoRegressor(), "reflection", "samples"),
    "reflection, family": (ReflectionLassoRegressor(), "reflection", "family"),
    "Adam gated, features": (
        NonconvexGatedReLURegressor(max_iter=30, **NETWORK),
        "regression",
        "features",
    ),
    "Adam ReLU, neurons": (
        NonconvexReLURegressor(n_neurons=5, max_iter=30, random_state=0),
        "regression",
        "neurons",
    ),
    "Adam ReLU, classes": (
        NonconvexReLUClassifier(n_neurons=5, max_iter=30, random_state=0),
        "binary",
        "classes",
    ),
}


def changed(change, estimator, X, y):
    """The second fit's estimator and data."""
    estimator = clone(estimator)
    if change == "features":
        return estimator, widen(X), y
    if change == "classes":
        return estimator, X, np.digitize(X[:, 0], [-0.5, 0.5])  # three classes
    if change == "targets":
        return estimator, X, np.column_stack([y, -y])
    if change == "samples":
        return estimator, X[:20], y[:20]
    if change == "family":
        return estimator.set_params(activation="abs", depth=3), X, y
    if change == "gates":
        gates = np.random.default_rng(1).standard_normal((6, X.shape[1] + 1))
        return estimator.set_params(gates=gates), X, y
    return estimator.set_params(n_neurons=7), X, y


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", CHANGES)
def test_warm_start_is_a_cold_fit_when_the_shapes_changed(name):
    estimator, kind, change = CHANGES[name]
    X, y = data(kind)
    warm = clone(estimator).set_params(warm_start=True).fit(X, y)
    cold, X2, y2 = changed(change, estimator, X, y)
    warm.set_params(**cold.get_params()).set_params(warm_start=True).fit(X2, y2)
    cold.fit(X2, y2)
    assert warm.n_iter_ == cold.n_iter_
    assert warm.objective_ == pytest.approx(cold.objective_, rel=1e-12)
    if is_classifier(cold):
        np.testing.assert_array_equal(warm.classes_, cold.classes_)


@pytest.mark.parametrize(
    "estimator",
    [
        NonconvexReLURegressor(n_neurons=6, max_iter=40, random_state=0),
        NonconvexGatedReLURegressor(max_iter=40, **NETWORK),
    ],
    ids=lambda estimator: type(estimator).__name__,
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_adam_warm_start_continues_from_the_previous_weights(estimator):
    X, y = make_problem("regression", seed=4)
    model = clone(estimator).set_params(warm_start=True).fit(X, y)
    first, hidden = model.objective_, model.hidden_weights_
    kept = hidden.copy()
    model.fit(X, y)
    # the second run starts where the first ended (its best weights) ...
    assert model.objective_curve_[0] == pytest.approx(first, rel=1e-12)
    assert model.objective_ <= first
    # ... without writing into the first fit's arrays
    np.testing.assert_array_equal(hidden, kept)
    cold = clone(estimator).fit(X, y)
    assert cold.objective_ == pytest.approx(first, rel=1e-12)


def scorer():
    return PrecomputedScorer({"x0": 1.0, "x1": 0.5, "x2": 0.2})


# estimator, data kind, what each line holds
VERBOSE = {
    "gated": (GatedReLURegressor(1e-2, **NETWORK), "regression", "gap"),
    "gated classifier": (GatedReLUClassifier(1e-2, **NETWORK), "binary", "gap"),
    "convex": (ConvexReLURegressor(1e-2, **NETWORK), "regression", "stationarity"),
    "convex admm": (
        ConvexReLURegressor(1e-2, solver="admm", **NETWORK),
        "regression",
        "stationarity",
    ),
    "convex classifier": (ConvexReLUClassifier(1e-2, **NETWORK), "binary", "gap"),
    "lasso": (WeightedLasso(0.05), "regression", "gap"),
    "lasso cv": (WeightedLassoCV(n_alphas=4, cv=3), "regression", "gap"),
    "llm lasso": (
        LLMLassoRegressor(scorer(), trust_grid=[1.0], n_alphas=4, cv=3),
        "regression",
        "gap",
    ),
    "llm lasso classifier": (
        LLMLassoClassifier(scorer(), trust_grid=[1.0], n_alphas=4, cv=3),
        "binary",
        "gap",
    ),
    "reflection": (ReflectionLassoRegressor(), "reflection", "gap"),
    "Adam": (NonconvexReLURegressor(n_neurons=5, max_iter=150), "regression", "Adam"),
    "Adam gated": (
        NonconvexGatedReLUClassifier(max_iter=150, **NETWORK),
        "binary",
        "Adam",
    ),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", VERBOSE)
def test_verbose_prints_one_line_per_checkpoint_and_quiet_prints_nothing(name, capsys):
    estimator, kind, expected = VERBOSE[name]
    X, y = data(kind)
    clone(estimator).set_params(verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""
    clone(estimator).set_params(verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines
    for line in lines:
        assert expected in line and " iter " in line and "objective" in line
        assert line.rstrip().endswith("s") and " time " in line


def test_verbose_cross_validation_prints_a_line_per_fold_then_the_refit_path(capsys):
    X, y = make_problem("regression", seed=5)
    model = WeightedLassoCV(n_alphas=4, cv=3, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    folds = [line for line in lines if line.startswith("cross-validation")]
    refit = [line for line in lines if line.startswith("path")]
    assert len(folds) == 3 and len(folds) + len(refit) == len(lines)
    chosen = int(np.flatnonzero(model.alphas_ == model.alpha_)[0])
    assert len(refit) == chosen + 1  # the refit path stops at the chosen alpha
    # the clock runs from the start of the fit: times never go back
    times = [float(line.rsplit(" ", 1)[1].rstrip("s")) for line in refit]
    assert times == sorted(times)


def test_verbose_path_prints_one_line_per_alpha_and_more_above_one(capsys):
    X, y = make_problem("regression", seed=6)
    alphas, *_ = weighted_lasso_path(X, y, n_alphas=5, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    for line, alpha in zip(lines, alphas, strict=True):
        assert line.startswith("path") and f"alpha {alpha:.2e}" in line
    weighted_lasso_path(X, y, n_alphas=5, verbose=2)
    assert len(capsys.readouterr().out.splitlines()) > 5
