"""The gated estimators as scikit-learn users meet them.

Pipelines, grid search, cloning and pickling; pandas input and feature names;
labels of any type; the shapes of predictions, scores and probabilities;
determinism; warm starts; convergence warnings; float32 against float64.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.special
import torch
from reference import estimator_for, gated_objective, make_problem
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from convexnn import GatedReLUClassifier, GatedReLURegressor
from convexnn.baselines import NonconvexGatedReLUClassifier, NonconvexGatedReLURegressor

FAST = {"alpha": 1e-2, "n_patterns": 10, "device": "cpu", "random_state": 0}

ALL_ESTIMATORS = [
    (GatedReLURegressor(**FAST), "regression"),
    (GatedReLURegressor(**FAST), "multioutput"),
    (GatedReLUClassifier(**FAST), "binary"),
    (GatedReLUClassifier(**FAST), "multiclass"),
    (NonconvexGatedReLURegressor(max_iter=200, **FAST), "regression"),
    (NonconvexGatedReLUClassifier(max_iter=200, **FAST), "multiclass"),
]
"""One small instance of each estimator with a problem it fits (tests clone it)."""
all_estimators = pytest.mark.parametrize(
    "estimator, kind",
    ALL_ESTIMATORS,
    ids=[f"{type(estimator).__name__}-{kind}" for estimator, kind in ALL_ESTIMATORS],
)


def assert_equal_to_rounding(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12)


def fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def test_pipeline_grid_search_clone_and_pickle():
    X, y = make_problem("binary", seed=0, n_samples=60)
    model = make_pipeline(StandardScaler(), GatedReLUClassifier(**FAST))
    search = GridSearchCV(
        model, {"gatedreluclassifier__alpha": [1e-2, 1e-1]}, cv=3
    ).fit(X, y)
    fitted = search.best_estimator_
    assert fitted[-1].converged_
    assert fitted[-1].alpha == search.best_params_["gatedreluclassifier__alpha"]

    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))

    copy = clone(fitted)
    assert copy.get_params()["gatedreluclassifier__alpha"] == fitted[-1].alpha
    assert not hasattr(copy[-1], "coef_")


@all_estimators
def test_pickle_round_trip_predicts_identically(estimator, kind):
    X, y = make_problem(kind, seed=0)
    estimator = fit_quietly(clone(estimator), X, y)
    # fitted attributes are NumPy, so pickles carry no device
    assert not any(isinstance(v, torch.Tensor) for v in vars(estimator).values())

    restored = pickle.loads(pickle.dumps(estimator))
    X_new = np.random.default_rng(1).standard_normal((15, X.shape[1]))
    np.testing.assert_array_equal(restored.predict(X_new), estimator.predict(X_new))
    assert restored.objective_ == estimator.objective_


@pytest.mark.parametrize("kind", ["regression", "multiclass"])
def test_the_same_model_every_run(kind):
    X, y = make_problem(kind, seed=0)
    first = estimator_for(kind, **FAST).fit(X, y)
    second = estimator_for(kind, **FAST).fit(X, y)
    np.testing.assert_array_equal(second.gates_, first.gates_)
    # equal to rounding, not bitwise: BLAS kernels do not promise to round
    # identically from call to call (a 1-ulp difference was seen under load)
    assert_equal_to_rounding(second.coef_, first.coef_)
    assert_equal_to_rounding(second.intercept_, first.intercept_)

    other_seed = estimator_for(kind, **{**FAST, "random_state": 1}).fit(X, y)
    assert not np.array_equal(other_seed.gates_, first.gates_)


def test_feature_names_from_a_dataframe():
    X, y = make_problem("regression", seed=0)
    columns = ["age", "dose", "weight"]
    frame = pd.DataFrame(X, columns=columns)
    estimator = GatedReLURegressor(**FAST).fit(frame, pd.Series(y, name="target"))
    without_names = GatedReLURegressor(**FAST).fit(X, y)

    np.testing.assert_array_equal(estimator.feature_names_in_, columns)
    assert not hasattr(without_names, "feature_names_in_")
    assert_equal_to_rounding(estimator.predict(frame), without_names.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        estimator.predict(frame[columns[::-1]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        estimator.predict(X)


@pytest.mark.parametrize(
    "labels",
    [
        ["benign", "malignant"],
        [3, 17],
        [-1, 1],
        [True, False],
        ["cat", "dog", "fish"],
        [2, 5, 40],
    ],
    ids=str,
)
def test_labels_of_any_type(labels):
    kind = "binary" if len(labels) == 2 else "multiclass"
    X, codes = make_problem(kind, seed=0)
    labels = np.asarray(labels)
    sorted_labels = np.sort(labels)
    y = sorted_labels[codes]

    estimator = GatedReLUClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(estimator.classes_, sorted_labels)
    predictions = estimator.predict(X)
    assert predictions.dtype == y.dtype
    assert set(predictions) <= set(labels)

    # the labels' type changes nothing in the model
    reference = GatedReLUClassifier(**FAST).fit(X, codes)
    assert_equal_to_rounding(
        estimator.decision_function(X), reference.decision_function(X)
    )
    np.testing.assert_array_equal(predictions, sorted_labels[reference.predict(X)])


@pytest.mark.parametrize(
    "kind, loss, n_columns",
    [
        ("binary", "auto", 1),
        ("binary", "logistic", 1),
        ("binary", "multinomial", 1),
        ("binary", "squared", 1),
        ("multiclass", "auto", 3),
        ("multiclass", "multinomial", 3),
        ("multiclass", "squared", 3),
    ],
)
def test_decision_function_and_probabilities(kind, loss, n_columns):
    X, y = make_problem(kind, seed=0)
    estimator = GatedReLUClassifier(loss=loss, **FAST).fit(X, y)
    X_new = np.random.default_rng(2).standard_normal((15, X.shape[1]))

    scores = estimator.decision_function(X_new)
    assert scores.shape == ((15,) if n_columns == 1 else (15, n_columns))
    if n_columns == 1:
        expected = estimator.classes_[(scores > 0).astype(int)]
    else:
        expected = estimator.classes_[scores.argmax(axis=1)]
    np.testing.assert_array_equal(estimator.predict(X_new), expected)

    if loss == "squared":
        assert not hasattr(estimator, "predict_proba")
        return
    proba = estimator.predict_proba(X_new)
    assert proba.shape == (15, len(estimator.classes_))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(
        estimator.classes_[proba.argmax(axis=1)], estimator.predict(X_new)
    )
    np.testing.assert_allclose(estimator.predict_log_proba(X_new), np.log(proba))


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_probabilities_of_extreme_scores_neither_overflow_nor_vanish(kind):
    X, y = make_problem(kind, seed=0)
    estimator = GatedReLUClassifier(**FAST).fit(X, y)
    X_far = 1e4 * np.random.default_rng(3).standard_normal((20, X.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no log(0)
        proba = estimator.predict_proba(X_far)
        log_proba = estimator.predict_log_proba(X_far)
    scores = estimator.decision_function(X_far)
    assert np.abs(scores).max() > 1e3  # far enough to overflow a naive exp
    if scores.ndim == 1:
        scores = np.column_stack([np.zeros_like(scores), scores])
    np.testing.assert_allclose(proba, scipy.special.softmax(scores, axis=1))
    np.testing.assert_allclose(log_proba, scipy.special.log_softmax(scores, axis=1))
    assert np.isfinite(log_proba).all()


@pytest.mark.parametrize("target_columns", [None, 1, 2])
@pytest.mark.parametrize("hidden_bias", [True, False])
def test_regressor_shapes(target_columns, hidden_bias):
    X, Y = make_problem("multioutput", seed=0)
    # y of shape (n,) predicts (n,); y of shape (n, c) predicts (n, c)
    y = Y[:, 0] if target_columns is None else Y[:, :target_columns]
    estimator = GatedReLURegressor(hidden_bias=hidden_bias, **FAST).fit(X, y)
    n_outputs = target_columns or 1
    n_lifted = X.shape[1] + hidden_bias

    assert estimator.predict(X).shape == y.shape
    assert estimator.gates_.shape == (estimator.n_patterns_, n_lifted)
    assert estimator.coef_.shape == (estimator.n_patterns_, n_lifted, n_outputs)
    assert estimator.intercept_.shape == (n_outputs,)
    assert 0 < estimator.n_patterns_ <= estimator.n_patterns
    assert estimator.n_active_neurons_ <= estimator.n_patterns_ * min(
        n_lifted, n_outputs
    )


def test_no_intercept_means_a_zero_intercept():
    X, y = make_problem("multioutput", seed=0)
    estimator = GatedReLURegressor(fit_intercept=False, **FAST).fit(X, y + 5.0)
    np.testing.assert_array_equal(estimator.intercept_, np.zeros(2))


def test_warm_start_reuses_the_previous_solution():
    X, y = make_problem("regression", seed=0)
    warm = GatedReLURegressor(warm_start=True, tol=1e-8, **FAST).fit(X, y)
    gates = warm.gates_
    optimum = GatedReLURegressor(**{**FAST, "alpha": 1.1e-2, "tol": 1e-8}).fit(X, y)

    # one iteration from the previous solution is already close to the new optimum
    one_step = {"alpha": 1.1e-2, "max_iter": 1}
    cold = GatedReLURegressor(**{**FAST, **one_step})
    fit_quietly(warm.set_params(**one_step), X, y)
    fit_quietly(cold, X, y)
    np.testing.assert_array_equal(warm.gates_, gates)
    assert warm.objective_ - optimum.objective_ < 1e-2 * optimum.objective_
    assert cold.objective_ - optimum.objective_ > 1e-1 * optimum.objective_

    # so it needs fewer iterations to a moderate tolerance ...
    cold.set_params(max_iter=10_000, tol=1e-4).fit(X, y)
    warm.set_params(max_iter=10_000, tol=1e-4).fit(X, y)
    assert warm.n_iter_ < cold.n_iter_
    # ... and reaches the same optimum
    warm.set_params(tol=1e-8).fit(X, y)
    assert warm.converged_
    assert warm.objective_ == pytest.approx(optimum.objective_, rel=2e-8)


def test_warm_start_falls_back_to_a_cold_fit_on_new_features():
    X, y = make_problem("regression", seed=0)
    estimator = GatedReLURegressor(warm_start=True, **FAST).fit(X, y)
    wider = np.column_stack([X, X[:, :1] ** 2])
    estimator.fit(wider, y)
    cold = GatedReLURegressor(**FAST).fit(wider, y)
    assert estimator.gates_.shape == cold.gates_.shape
    assert estimator.objective_ == pytest.approx(cold.objective_, rel=1e-12)


def test_warm_start_falls_back_to_a_cold_fit_on_new_gates():
    X, y = make_problem("regression", seed=0)
    estimator = GatedReLURegressor(warm_start=True, **FAST).fit(X, y)
    gates = np.random.default_rng(5).standard_normal((7, X.shape[1] + 1))
    estimator.set_params(gates=gates).fit(X, y)
    np.testing.assert_array_equal(estimator.gates_, gates)
    cold = GatedReLURegressor(**{**FAST, "gates": gates}).fit(X, y)
    assert estimator.objective_ == pytest.approx(cold.objective_, rel=1e-12)
    # the same gates again: warm
    estimator.set_params(max_iter=1).fit(X, y)
    assert estimator.objective_ <= cold.objective_ * (1 + 1e-12)


@all_estimators
def test_convergence_warning_names_max_iter(estimator, kind):
    X, y = make_problem(kind, seed=0)
    estimator = clone(estimator).set_params(max_iter=1)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        estimator.fit(X, y)
    assert not estimator.converged_
    assert estimator.n_iter_ == 1


@pytest.mark.parametrize("kind", ["regression", "multioutput", "binary", "multiclass"])
def test_float32_and_float64_agree(kind):
    X, y = make_problem(kind, seed=0)
    fits = {
        dtype: estimator_for(kind, tol=1e-4, dtype=dtype, **FAST).fit(X, y)
        for dtype in ("float32", "float64")
    }
    assert fits["float32"].converged_ and fits["float64"].converged_
    assert fits["float32"].objective_ == pytest.approx(
        fits["float64"].objective_, rel=1e-4
    )
    # objective_ is the objective at the float32 solution, computed accurately
    assert fits["float32"].objective_ == pytest.approx(
        gated_objective(fits["float32"], X, y), rel=1e-6
    )


def test_float32_reaches_the_default_tol():
    # the polished certificate is second order, so float32 rounding of the
    # iterate does not stall the relative gap above the default tol
    X, y = make_problem("regression", seed=0)
    estimator = GatedReLURegressor(dtype="float32", max_iter=2000, **FAST)
    fit_quietly(estimator, X, y)
    assert estimator.converged_
