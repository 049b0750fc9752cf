"""WeightedLasso and WeightedLassoCV: optimality against scikit-learn, input."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Lasso, LassoCV
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from convexnn import WeightedLasso, WeightedLassoCV

TIGHT = {"tol": 1e-12, "max_iter": 100_000}
SKLEARN_TIGHT = {"tol": 1e-14, "max_iter": 1_000_000}


def make_data(n=60, p=8, n_outputs=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + rng.uniform(-1, 1, p)
    coef = np.zeros((p, n_outputs or 1))
    k = min(3, p)
    coef[:k] = rng.uniform(1, 2, (k, n_outputs or 1)) * rng.choice([-1, 1], (k, 1))
    y = X @ coef + 0.3 * rng.standard_normal((n, n_outputs or 1)) + 1.5
    return X, (y[:, 0] if n_outputs is None else y)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_outputs", [None, 2])
@pytest.mark.parametrize("factor", [1.0, 2.5])
def test_equal_factors_are_scikit_learn_lasso(fit_intercept, n_outputs, factor):
    X, y = make_data(n_outputs=n_outputs)
    alpha = 0.05
    model = WeightedLasso(
        alpha, penalty_factors=np.full(8, factor), fit_intercept=fit_intercept, **TIGHT
    ).fit(X, y)
    reference = Lasso(alpha * factor, fit_intercept=fit_intercept, **SKLEARN_TIGHT)
    reference.fit(X, y)
    assert model.coef_.shape == reference.coef_.shape
    np.testing.assert_allclose(model.coef_, reference.coef_, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, reference.intercept_, atol=1e-6)
    assert model.converged_ and model.dual_gap_ <= 1e-12


def test_unequal_factors_are_a_lasso_on_rescaled_columns():
    X, y = make_data(p=10, seed=1)
    factors = np.random.default_rng(1).uniform(0.2, 3.0, 10)
    model = WeightedLasso(0.08, penalty_factors=factors, **TIGHT).fit(X, y)
    reference = Lasso(0.08, **SKLEARN_TIGHT).fit(X / factors, y)
    np.testing.assert_allclose(model.coef_, reference.coef_ / factors, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, reference.intercept_, atol=1e-6)
    np.testing.assert_array_equal(model.penalty_factors_, factors)


def test_unpenalised_features_satisfy_the_optimality_conditions():
    """Factor 0: the feature's gradient vanishes (it is fitted freely), while
    penalised features satisfy the usual Lasso KKT conditions."""
    X, y = make_data(p=6, seed=2)
    factors = np.array([0.0, 1.0, 1.0, 0.0, 2.0, 1.0])
    alpha = 0.3
    model = WeightedLasso(alpha, penalty_factors=factors, **TIGHT).fit(X, y)
    gradient = X.T @ (y - model.predict(X)) / len(y)  # minus the loss gradient
    nonzero = model.coef_ != 0
    np.testing.assert_allclose(gradient[factors == 0], 0, atol=1e-8)
    assert nonzero[factors == 0].all()
    active = nonzero & (factors > 0)
    np.testing.assert_allclose(
        gradient[active],
        alpha * factors[active] * np.sign(model.coef_[active]),
        atol=1e-7,
    )
    assert (np.abs(gradient[~nonzero]) <= alpha * factors[~nonzero] + 1e-8).all()


def test_excluded_features_are_zero_and_the_rest_ignores_them():
    X, y = make_data(p=6, seed=3)
    factors = np.array([1.0, np.inf, 1.0, 1.0, np.inf, 1.0])
    model = WeightedLasso(0.05, penalty_factors=factors, **TIGHT).fit(X, y)
    kept = np.isfinite(factors)
    reference = Lasso(0.05, **SKLEARN_TIGHT).fit(X[:, kept], y)
    assert (model.coef_[~kept] == 0).all()
    np.testing.assert_allclose(model.coef_[kept], reference.coef_, atol=1e-6)
    assert set(model.selected_features_) <= {"x0", "x2", "x3", "x5"}


def test_every_feature_excluded_leaves_the_mean():
    X, y = make_data(p=3)
    model = WeightedLasso(penalty_factors=np.full(3, np.inf)).fit(X, y)
    np.testing.assert_array_equal(model.coef_, 0)
    np.testing.assert_allclose(model.intercept_, y.mean())


def test_factors_keyed_by_dataframe_column_names():
    X, y = make_data(p=3, seed=4)
    frame = pd.DataFrame(X, columns=["age", "bmi", "zip"])
    by_name = {"zip": np.inf, "age": 1.0, "bmi": 0.5}
    model = WeightedLasso(0.05, penalty_factors=by_name, **TIGHT).fit(frame, y)
    by_position = WeightedLasso(0.05, penalty_factors=[1.0, 0.5, np.inf], **TIGHT)
    np.testing.assert_allclose(model.coef_, by_position.fit(X, y).coef_)
    assert model.coef_[2] == 0 and "zip" not in model.selected_features_


@pytest.mark.parametrize(
    ("factors", "message"),
    [
        ([1.0, -1.0, 1.0], "nonnegative"),
        ([1.0, np.nan, 1.0], "nonnegative"),
        ([1.0, 1.0], r"one value per feature, shape \(3,\)"),
        ({"x0": 1.0, "x1": 1.0}, r"penalty_factors has no value for 1 feature.*'x2'"),
        (["a", "b", "c"], "real numbers"),
    ],
)
def test_bad_penalty_factors_are_rejected_by_name(factors, message):
    X, y = make_data(p=3)
    with pytest.raises((ValueError, TypeError), match=message):
        WeightedLasso(penalty_factors=factors).fit(X, y)


def test_unknown_names_in_penalty_factors_warn():
    X, y = make_data(p=2)
    with pytest.warns(UserWarning, match=r"ignores 1 name.*'height'"):
        WeightedLasso(penalty_factors={"x0": 1, "x1": 1, "height": 2}).fit(X, y)


def test_user_arrays_are_not_modified():
    X, y = make_data(p=4)
    factors = np.array([1.0, 0.0, np.inf, 2.0])
    copies = X.copy(), y.copy(), factors.copy()
    WeightedLasso(0.1, penalty_factors=factors).fit(X, y).predict(X)
    WeightedLassoCV(penalty_factors=factors, n_alphas=5, cv=3).fit(X, y)
    for array, copy in zip((X, y, factors), copies, strict=True):
        np.testing.assert_array_equal(array, copy)


def test_cv_scores_and_choice_match_scikit_learn_lasso_cv():
    """Same folds and alphas: the held-out errors equal LassoCV's ``mse_path_``
    and the chosen alpha is the same."""
    X, y = make_data(n=80, p=10, seed=5)
    alphas = np.geomspace(0.5, 0.005, 12)
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    model = WeightedLassoCV(alphas=alphas, cv=folds, **TIGHT).fit(X, y)
    reference = LassoCV(alphas=alphas, cv=folds, **SKLEARN_TIGHT).fit(X, y)
    ours = np.column_stack(
        [model.cv_results_[f"split{k}_test_score"] for k in range(4)]
    )
    np.testing.assert_allclose(-ours, reference.mse_path_, rtol=1e-6)
    assert model.alpha_ == pytest.approx(reference.alpha_)
    np.testing.assert_allclose(model.coef_, reference.coef_, atol=1e-6)
    np.testing.assert_array_equal(model.cv_results_["alpha"], alphas)


def test_one_standard_error_rule_picks_a_larger_alpha():
    X, y = make_data(n=80, p=10, seed=6)
    common = {"n_alphas": 20, "cv": 4, "random_state": 0}
    best = WeightedLassoCV(**common).fit(X, y)
    sparse = WeightedLassoCV(selection="1se", **common).fit(X, y)
    results = sparse.cv_results_
    k = np.argmax(results["mean_test_score"])
    standard_error = (
        np.std([results[f"split{f}_test_score"][k] for f in range(4)], ddof=1) / 2
    )
    threshold = results["mean_test_score"][k] - standard_error
    first = np.flatnonzero(results["mean_test_score"] >= threshold)[0]
    assert sparse.alpha_ == results["alpha"][first] >= best.alpha_


@pytest.mark.parametrize("n_outputs", [None, 2])
def test_a_scorer_sees_the_same_models_as_the_built_in_score(n_outputs):
    """scoring="neg_mean_squared_error" goes through fitted copies of the
    estimator and scikit-learn's scorer; the default computes the same from
    the path directly."""
    X, y = make_data(n_outputs=n_outputs, seed=8)
    common = {"n_alphas": 6, "cv": 3, "random_state": 0}
    default = WeightedLassoCV(**common).fit(X, y)
    scored = WeightedLassoCV(scoring="neg_mean_squared_error", **common).fit(X, y)
    np.testing.assert_allclose(
        scored.cv_results_["mean_test_score"],
        default.cv_results_["mean_test_score"],
        rtol=1e-12,
    )


def test_default_grid_starts_where_every_coefficient_vanishes():
    X, y = make_data(n=50, p=5, seed=7)
    model = WeightedLassoCV(n_alphas=4, alpha_min_ratio=0.1, cv=3).fit(X, y)
    alpha_max = np.abs(X.T @ (y - y.mean())).max() / len(y)
    np.testing.assert_allclose(
        model.alphas_, np.geomspace(alpha_max, alpha_max / 10, 4)
    )
    assert model.cv_results_["mean_n_selected"][0] == pytest.approx(0, abs=1)


def test_bad_alphas_are_rejected():
    X, y = make_data(p=3)
    with pytest.raises(ValueError, match="alphas must be positive"):
        WeightedLassoCV(alphas=[0.1, -1.0]).fit(X, y)


@parametrize_with_checks(
    [WeightedLasso(0.01), WeightedLassoCV(n_alphas=4, cv=3)],
)
def test_scikit_learn_compatible(estimator, check):
    check(estimator)
