"""Tests of convexnn.testing: each assertion passes on a correct fit and
fails, with an AssertionError naming both sides, on a deliberately broken one."""

import copy
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from convexnn import (
    ConvexReLUClassifier,
    ConvexReLURegressor,
    GatedReLUClassifier,
    GatedReLURegressor,
    WeightedLasso,
)
from convexnn.baselines import (
    NonconvexGatedReLUClassifier,
    NonconvexGatedReLURegressor,
    NonconvexReLUClassifier,
    NonconvexReLURegressor,
)
from convexnn.testing import (
    KINDS,
    assert_below_nonconvex,
    assert_certified,
    assert_network_reproduces,
    convex_objective,
    make_problem,
)
from convexnn.testing._certificates import (
    KKT_RESIDUALS,
    _into_domain,
    duality_gap,
    kkt_residuals,
)
from convexnn.testing._formulas import loss_conjugate
from convexnn.testing.strategies import datasets, log_uniform

ALPHA = 1e-2


@pytest.fixture(scope="module")
def regression():
    return make_problem("regression", seed=0, n_samples=30)


@pytest.fixture(scope="module")
def gated_pair(regression):
    X, y = regression
    convex = GatedReLURegressor(ALPHA, n_patterns=8, tol=1e-8, device="cpu")
    baseline = NonconvexGatedReLURegressor(
        ALPHA, n_patterns=8, max_iter=200, device="cpu", random_state=0
    )
    return assert_below_nonconvex(convex, baseline, X, y)


@pytest.fixture(scope="module")
def relu_pair(regression):
    X, y = regression
    convex = ConvexReLURegressor(ALPHA, tol=1e-6, keep_multipliers=True, device="cpu")
    baseline = NonconvexReLURegressor(
        ALPHA, n_neurons=6, max_iter=200, device="cpu", random_state=0
    )
    return assert_below_nonconvex(convex, baseline, X, y)


def broken(estimator, **attributes):
    """A deep copy of ``estimator`` with some fitted attributes replaced."""
    copied = copy.deepcopy(estimator)
    for name, value in attributes.items():
        setattr(copied, name, value)
    return copied


# -- assert_below_nonconvex ------------------------------------------------


def test_below_nonconvex_fits_on_the_baselines_patterns(gated_pair, relu_pair):
    convex, baseline = gated_pair
    np.testing.assert_array_equal(convex.gates_, baseline.gates_)
    assert convex.objective_ <= baseline.objective_
    convex, baseline = relu_pair
    assert convex.lower_bound_ <= convex.objective_ <= baseline.objective_ * (1 + 1e-6)


def test_below_nonconvex_classifiers():
    X, y = make_problem("binary", seed=1, n_samples=30)
    convex, baseline = assert_below_nonconvex(
        GatedReLUClassifier(ALPHA, n_patterns=6, tol=1e-8, device="cpu"),
        NonconvexGatedReLUClassifier(
            ALPHA, n_patterns=6, max_iter=100, device="cpu", random_state=1
        ),
        X,
        y,
    )
    assert convex.loss_ == baseline.loss_ == "logistic"


@pytest.mark.parametrize("pair", ["gated_pair", "relu_pair"])
def test_below_nonconvex_fails_when_the_convex_objective_is_above(
    request, regression, pair
):
    convex, baseline = request.getfixturevalue(pair)
    worse = broken(convex, objective_=1.01 * baseline.objective_)
    with pytest.raises(AssertionError, match="is above the nonconvex objective_"):
        assert_below_nonconvex(worse, baseline, *regression)


def test_below_nonconvex_fails_when_the_lower_bound_is_above(regression, relu_pair):
    convex, baseline = relu_pair
    wrong = broken(convex, lower_bound_=1.01 * baseline.objective_)
    with pytest.raises(AssertionError, match="certified lower bound"):
        assert_below_nonconvex(wrong, baseline, *regression)


def test_below_nonconvex_fails_when_the_baseline_misreports(regression, gated_pair):
    convex, baseline = gated_pair
    lowered = broken(baseline, objective_=0.5 * baseline.objective_)
    with pytest.raises(AssertionError, match="the network it returns has objective"):
        assert_below_nonconvex(convex, lowered, *regression)


def test_below_nonconvex_fails_when_the_baseline_network_is_better(
    regression, gated_pair
):
    # a baseline whose network truly has a lower objective than the convex
    # fit claims (the convex optimum shifted up by hand)
    convex, baseline = gated_pair
    inflated = broken(convex, objective_=convex.objective_ + 1.0, dual_gap_=0.0)
    with pytest.raises(AssertionError, match="above the nonconvex objective_"):
        assert_below_nonconvex(inflated, baseline, *regression)


def test_below_nonconvex_refuses_a_convex_model_without_the_baselines_patterns(
    regression, gated_pair
):
    X, y = regression
    _, baseline = gated_pair
    other = GatedReLURegressor(ALPHA, n_patterns=3, device="cpu", random_state=5).fit(
        X, y
    )
    with pytest.raises(
        ValueError, match=r"lacks \d+ of the baseline network.s \d+ activation patterns"
    ):
        assert_below_nonconvex(other, baseline, X, y)


def test_below_nonconvex_refuses_different_objectives(regression):
    with pytest.raises(ValueError, match="must share alpha"):
        assert_below_nonconvex(
            GatedReLURegressor(1e-2), NonconvexGatedReLURegressor(1e-1), *regression
        )
    with pytest.raises(TypeError, match="compares a gated ReLU estimator"):
        assert_below_nonconvex(
            GatedReLURegressor(1e-2), NonconvexReLURegressor(1e-2), *regression
        )


def test_below_nonconvex_refuses_multi_output_relu_pairs():
    X, y = make_problem("multiclass", seed=0, n_samples=20)
    baseline = NonconvexReLUClassifier(
        ALPHA, n_neurons=3, max_iter=5, device="cpu", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        baseline.fit(X, y)
    with pytest.raises(ValueError, match="one network per output"):
        assert_below_nonconvex(ConvexReLUClassifier(ALPHA), baseline, X, y)


# -- assert_network_reproduces ---------------------------------------------


@pytest.mark.parametrize("pair", ["gated_pair", "relu_pair"])
def test_network_reproduces_passes_on_the_fit(request, regression, pair):
    convex, _ = request.getfixturevalue(pair)
    assert_network_reproduces(convex, *regression, atol=1e-6, rtol=1e-6)


def test_network_reproduces_passes_for_frobenius_multi_output():
    X, y = make_problem("multioutput", seed=0, n_samples=30)
    convex = GatedReLURegressor(
        ALPHA, n_patterns=6, group_norm="frobenius", device="cpu", random_state=0
    ).fit(X, y)
    assert_network_reproduces(convex, X, y)


def test_network_reproduces_fails_on_a_broken_conversion(regression, gated_pair):
    convex, _ = gated_pair
    network = convex.to_torch()
    with torch.no_grad():
        network.output_weight[0] *= -1  # one neuron's contribution flipped
    wrong = broken(convex)
    wrong.to_torch = lambda: network
    with pytest.raises(AssertionError, match="does not reproduce the convex model"):
        assert_network_reproduces(wrong, *regression)


def test_network_reproduces_fails_when_the_network_ignores_the_gates(
    regression, gated_pair
):
    # a network with other gates than the model: same weights, other patterns
    convex, _ = gated_pair
    network = convex.to_torch()
    network.gates.copy_(-network.gates)
    wrong = broken(convex)
    wrong.to_torch = lambda: network
    with pytest.raises(AssertionError, match="does not reproduce"):
        assert_network_reproduces(wrong, *regression)


@pytest.mark.parametrize("pair", ["gated_pair", "relu_pair"])
def test_network_reproduces_fails_on_a_wrong_objective(request, regression, pair):
    convex, _ = request.getfixturevalue(pair)
    wrong = broken(convex, objective_=convex.objective_ * (1 + 1e-4))
    with pytest.raises(AssertionError, match="has training objective"):
        assert_network_reproduces(wrong, *regression, atol=1e-6)


# -- assert_certified -------------------------------------------------------


@pytest.mark.parametrize("pair", ["gated_pair", "relu_pair"])
def test_certified_passes_on_the_fit(request, regression, pair):
    convex, _ = request.getfixturevalue(pair)
    assert convex.converged_
    assert_certified(convex, *regression)


@pytest.mark.parametrize("pair", ["gated_pair", "relu_pair"])
def test_certified_fails_on_a_perturbed_coef(request, regression, pair):
    convex, _ = request.getfixturevalue(pair)
    wrong = broken(convex, coef_=convex.coef_ * 1.01)
    with pytest.raises(AssertionError, match="objective of its fitted attributes"):
        assert_certified(wrong, *regression)


@pytest.mark.parametrize(
    ("pair", "measure"),
    [
        ("gated_pair", "dual_gap_"),
        ("relu_pair", "stationarity_"),
        ("relu_pair", "constraint_violation_"),
        ("relu_pair", "complementarity_"),
    ],
)
def test_certified_fails_when_converged_claims_too_much(
    request, regression, pair, measure
):
    convex, _ = request.getfixturevalue(pair)
    wrong = broken(convex, **{measure: 10 * convex.tol})
    with pytest.raises(AssertionError, match=rf"converged_=True but .*{measure}"):
        assert_certified(wrong, *regression)
    # the same residual is fine when the fit does not claim convergence
    assert_certified(broken(wrong, converged_=False), *regression)


def test_certified_asks_for_the_multipliers_of_a_relu_fit(regression, relu_pair):
    convex, _ = relu_pair
    without = copy.deepcopy(convex)
    del without.multipliers_
    for check in (assert_certified, kkt_residuals):
        with pytest.raises(ValueError, match="keep_multipliers=True"):
            check(without, *regression)


def test_certified_fails_on_a_lower_bound_above_the_objective(regression, relu_pair):
    convex, _ = relu_pair
    wrong = broken(convex, lower_bound_=convex.objective_ * 1.01)
    with pytest.raises(AssertionError, match="lower_bound_"):
        assert_certified(wrong, *regression)


def test_certified_weighted_lasso():
    X, y = make_problem("multioutput", seed=2)
    lasso = WeightedLasso(
        alpha=1e-2, penalty_factors=[1.0, np.inf, 2.0], device="cpu"
    ).fit(X, y)
    assert_certified(lasso, X, y)
    wrong = broken(lasso, coef_=lasso.coef_ + 1e-3)
    with pytest.raises(AssertionError, match="objective_"):
        assert_certified(wrong, X, y)


def unconverged(estimator, X, y, max_iter=2):
    """``estimator`` fitted with a tiny ``max_iter`` (far from converged)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.set_params(max_iter=max_iter).fit(X, y)


def test_certified_recomputes_the_gap_of_a_stopped_gated_fit(regression):
    # the user report: a model stopped after two iterations that claims a zero
    # gap passed, because dual_gap_ was read back
    stopped = unconverged(
        GatedReLURegressor(ALPHA, n_patterns=8, device="cpu", random_state=0),
        *regression,
    )
    assert not stopped.converged_ and stopped.dual_gap_ > 0.5
    gap, _ = duality_gap(stopped, *regression)
    assert gap > 0.5
    liar = broken(stopped, dual_gap_=0.0, converged_=True)
    with pytest.raises(
        AssertionError, match=r"recomputed .* is \{'dual_gap_': 0\.[5-9]"
    ):
        assert_certified(liar, *regression)
    # honest about not converging: nothing to check beyond the objective
    assert_certified(stopped, *regression)


@pytest.mark.parametrize("measure", KKT_RESIDUALS)
def test_certified_recomputes_the_residuals_of_a_stopped_relu_fit(regression, measure):
    # ADMM stopped early: its iterates violate the constraints (the barrier
    # method's never do)
    params = {"n_patterns": 8, "solver": "admm", "keep_multipliers": True}
    stopped = unconverged(
        ConvexReLURegressor(ALPHA, device="cpu", random_state=0, **params),
        *regression,
        max_iter=3,  # ADMM's first two iterates are feasible, with Λ = 0
    )
    assert not stopped.converged_
    liar = broken(stopped, converged_=True, **dict.fromkeys(KKT_RESIDUALS, 0.0))
    residuals = kkt_residuals(stopped, *regression)
    assert residuals[measure] > stopped.tol
    with pytest.raises(AssertionError, match=rf"recomputed .*'{measure}'"):
        assert_certified(liar, *regression)


def test_certified_recomputes_the_gap_of_a_stopped_lasso_fit(regression):
    X, y = regression
    stopped = unconverged(WeightedLasso(alpha=1e-2, device="cpu"), X, y)
    assert not stopped.converged_
    with pytest.raises(AssertionError, match="recomputed"):
        assert_certified(broken(stopped, dual_gap_=0.0, converged_=True), X, y)


def test_certified_catches_a_shifted_intercept_with_its_objective(
    regression, gated_pair
):
    # objective_ updated along with the intercept: only the dual point sees it
    convex, _ = gated_pair
    wrong = broken(convex, intercept_=convex.intercept_ + 0.1)
    wrong.objective_ = convex_objective(wrong, *regression)
    with pytest.raises(AssertionError, match=r"unpenalised coordinates .* not optimal"):
        assert_certified(wrong, *regression)


def agrees(recomputed, reported, tol):
    """Both within ``tol``, and within a factor 2 (or 1e-10) of each other:
    the solver polishes before certifying, so equality is not expected."""
    assert recomputed <= tol and reported <= tol
    assert abs(recomputed - reported) <= max(reported, recomputed) / 2 + 1e-10


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("group_norm", ["nuclear", "frobenius"])
@pytest.mark.parametrize(
    ("kind", "estimator"),
    [
        ("regression", GatedReLURegressor),
        ("multioutput", GatedReLURegressor),
        ("binary", GatedReLUClassifier),
        ("multiclass", GatedReLUClassifier),
    ],
)
def test_certified_gap_agrees_on_honest_gated_fits(
    kind, estimator, group_norm, fit_intercept
):
    X, y = make_problem(kind, seed=0, n_samples=30)
    model = estimator(
        ALPHA,
        n_patterns=8,
        tol=1e-8,
        group_norm=group_norm,
        fit_intercept=fit_intercept,
        device="cpu",
        random_state=0,
    ).fit(X, y)
    assert model.converged_
    assert_certified(model, X, y)
    gap, note = duality_gap(model, X, y)
    assert note == ""
    agrees(gap, model.dual_gap_, model.tol)


def test_certified_accepts_a_float32_fit():
    X, y = make_problem("multioutput", seed=0, n_samples=30)
    model = GatedReLURegressor(
        ALPHA, n_patterns=8, tol=1e-5, dtype="float32", device="cpu", random_state=0
    ).fit(X, y)
    assert model.converged_
    assert_certified(model, X, y, rtol=1e-5)
    assert duality_gap(model, X, y)[0] <= model.tol + 1e-5


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("kind", ["regression", "multioutput"])
def test_certified_gap_agrees_on_a_lasso_with_an_unpenalised_feature(
    kind, fit_intercept
):
    X, y = make_problem(kind, seed=2)
    lasso = WeightedLasso(
        alpha=1e-2,
        penalty_factors=[0.0, np.inf, 2.0],
        fit_intercept=fit_intercept,
        tol=1e-8,
        device="cpu",
    ).fit(X, y)
    assert lasso.converged_ and lasso.coef_.any()
    assert_certified(lasso, X, y)
    agrees(duality_gap(lasso, X, y)[0], lasso.dual_gap_, lasso.tol)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    ("kind", "estimator"),
    [
        ("regression", ConvexReLURegressor),
        ("binary", ConvexReLUClassifier),
        ("multiclass", ConvexReLUClassifier),
    ],
)
def test_certified_residuals_agree_on_honest_relu_fits(kind, estimator, fit_intercept):
    X, y = make_problem(kind, seed=0, n_samples=30)
    model = estimator(
        ALPHA,
        n_patterns=8,
        fit_intercept=fit_intercept,
        keep_multipliers=True,
        device="cpu",
        random_state=0,
    ).fit(X, y)
    assert model.converged_
    assert_certified(model, X, y)
    for name, value in kkt_residuals(model, X, y).items():
        agrees(value, getattr(model, name), model.tol)


@pytest.mark.parametrize("loss", ["logistic", "multinomial"])
def test_dual_point_is_moved_into_the_conjugates_domain(loss):
    # a gradient whose projection onto 1ᵀΘ = 0 leaves [0, 1] is mixed with the
    # class frequencies: it stays in the domain and keeps zero column sums
    n = 12
    labels = np.arange(n) % 3
    Y = np.eye(3)[labels] if loss == "multinomial" else (labels == 0)[:, None] * 1.0
    Q = Y.copy()
    Q[1] = Y[0]  # one confidently wrong sample: centering pushes others below 0
    Theta = (Q - Y) / n
    Theta = Theta - Theta.mean(axis=0)
    assert (n * Theta + Y).min() < 0 or (n * Theta + Y).max() > 1
    moved = _into_domain(Theta, Y, loss, np.ones((n, 1)))
    Q = n * moved + Y
    assert Q.min() >= -1e-12 and Q.max() <= 1 + 1e-12
    np.testing.assert_allclose(moved.sum(axis=0), 0, atol=1e-15)
    if loss == "multinomial":
        np.testing.assert_allclose(Q.sum(axis=1), 1)
    assert np.isfinite(loss_conjugate(moved, Y, loss))


def test_convex_objective_rejects_unknown_models(regression):
    baseline = NonconvexGatedReLURegressor(max_iter=5, n_patterns=2, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        baseline.fit(*regression)
    with pytest.raises(TypeError, match="knows the formulas"):
        convex_objective(baseline, *regression)


# -- strategies --------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_datasets_draw_problems_of_the_kind(kind, data):
    X, y = data.draw(datasets(kind, min_samples=8, max_samples=20, max_features=3))
    assert 8 <= len(X) <= 20 and 2 <= X.shape[1] <= 3 and len(y) == len(X)
    assert np.isfinite(X).all()
    if kind == "multioutput":
        assert y.shape == (len(X), 2)
    elif kind in ("binary", "multiclass"):
        n_classes = 2 if kind == "binary" else 3
        np.testing.assert_array_equal(np.unique(y), np.arange(n_classes))
    alpha = data.draw(log_uniform(1e-3, 1e-1))
    assert 1e-3 * (1 - 1e-12) <= alpha <= 1e-1 * (1 + 1e-12)


def test_make_problem_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kind must be one of"):
        make_problem("ranking")
    with pytest.raises(ValueError, match="n_samples >= 6"):
        make_problem("binary", n_samples=3)


def test_below_nonconvex_accepts_a_float32_baseline():
    # the baseline's objective_ is checked in its own precision: on these data
    # float32 rounding puts it 6e-8 from the float64 value, above float64's √ε
    X, y = make_problem("regression", seed=1, n_samples=30)
    baseline = NonconvexGatedReLURegressor(
        ALPHA, n_patterns=6, max_iter=100, dtype="float32", device="cpu", random_state=1
    )
    convex, baseline = assert_below_nonconvex(
        GatedReLURegressor(ALPHA, tol=1e-8, device="cpu"), baseline, X, y
    )
    lowered = broken(baseline, objective_=baseline.objective_ * (1 - 1e-3))
    with pytest.raises(AssertionError, match="the network it returns"):
        assert_below_nonconvex(convex, lowered, X, y)
