"""Convergence warnings point at the user's line and give advice that fits."""

import numpy as np
import pytest
from reference import make_problem
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from convexnn import (
    ConvexReLUClassifier,
    ConvexReLUClassifierCV,
    ConvexReLURegressor,
    ConvexReLURegressorCV,
    GatedReLUClassifier,
    GatedReLUClassifierCV,
    GatedReLURegressor,
    GatedReLURegressorCV,
    LLMLassoClassifier,
    LLMLassoRegressor,
    ReflectionLassoRegressor,
    WeightedLasso,
    WeightedLassoCV,
)
from convexnn.baselines import (
    NonconvexGatedReLUClassifier,
    NonconvexGatedReLURegressor,
    NonconvexReLUClassifier,
    NonconvexReLURegressor,
)
from convexnn.estimators._fitting import looks_unscaled
from convexnn.scoring import PrecomputedScorer

NETWORK = {"alpha": 1e-3, "max_iter": 1, "tol": 1e-12, "random_state": 0}
# the cross-validation solves and the refit warn
NETWORK_CV = {"n_patterns": 5, "n_alphas": 3, "cv": 2, **NETWORK}
del NETWORK_CV["alpha"]
ESTIMATORS = {
    GatedReLURegressor: {**NETWORK, "n_patterns": 5},
    GatedReLUClassifier: {**NETWORK, "n_patterns": 5},
    ConvexReLURegressor: {**NETWORK, "n_patterns": 5},
    ConvexReLUClassifier: {**NETWORK, "n_patterns": 5},
    NonconvexGatedReLURegressor: {**NETWORK, "n_patterns": 5},
    NonconvexGatedReLUClassifier: {**NETWORK, "n_patterns": 5},
    NonconvexReLURegressor: {**NETWORK, "n_neurons": 5},
    NonconvexReLUClassifier: {**NETWORK, "n_neurons": 5},
    GatedReLURegressorCV: NETWORK_CV,
    GatedReLUClassifierCV: NETWORK_CV,
    ConvexReLURegressorCV: NETWORK_CV,
    ConvexReLUClassifierCV: NETWORK_CV,
    WeightedLasso: {"alpha": 1e-4, "max_iter": 1, "tol": 1e-12},
    # random_state=0: the cross-validation solves and the final fit both warn
    WeightedLassoCV: {
        "n_alphas": 3,
        "alpha_min_ratio": 1e-4,
        "cv": 2,
        "max_iter": 1,
        "tol": 1e-12,
        "random_state": 0,
    },
}


def lasso_scorer(n_features):
    return PrecomputedScorer({f"x{i}": 0.5 + 0.1 * (i % 5) for i in range(n_features)})


def problem_for(Estimator):
    kind = "binary" if "Classifier" in Estimator.__name__ else "regression"
    return make_problem(kind, seed=0)


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda c: c.__name__)
def test_the_warning_names_the_callers_file(Estimator):
    X, y = problem_for(Estimator)
    model = Estimator(**ESTIMATORS[Estimator])
    with pytest.warns(ConvergenceWarning) as record:
        model.fit(X, y)
    warned = [w for w in record if issubclass(w.category, ConvergenceWarning)]
    assert warned
    for warning in warned:
        assert warning.filename == __file__, warning.filename
        assert "max_iter" in str(warning.message)
        assert "tol" in str(warning.message)


@pytest.mark.parametrize("Estimator", [LLMLassoRegressor, LLMLassoClassifier])
def test_the_llm_lasso_warning_names_the_callers_file(Estimator):
    X, y = problem_for(Estimator)
    model = Estimator(
        scorer=lasso_scorer(X.shape[1]),
        n_alphas=3,
        cv=2,
        max_iter=1,
        tol=1e-12,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning) as record:
        model.fit(X, y)
    warned = [w for w in record if issubclass(w.category, ConvergenceWarning)]
    assert warned
    assert all(w.filename == __file__ for w in warned)


def test_the_reflection_warning_names_the_callers_file_and_not_scaling():
    rng = np.random.default_rng(0)
    x = 100 + 50 * rng.standard_normal(200)  # far from standardised
    y = np.sin(x / 20)
    model = ReflectionLassoRegressor(alpha=1e-6, max_iter=1, tol=1e-12)
    with pytest.warns(ConvergenceWarning) as record:
        model.fit(x, y)
    assert record[0].filename == __file__
    message = str(record[0].message)
    assert "max_iter" in message and "standardis" not in message.lower()


@pytest.mark.parametrize("Estimator", [GatedReLURegressor, WeightedLasso])
def test_the_advice_mentions_standardising_only_for_unscaled_X(Estimator):
    X, y = make_problem("regression", seed=0)
    unscaled = 50 + 20 * X * np.arange(1, X.shape[1] + 1)
    scaled = StandardScaler().fit_transform(unscaled)
    with pytest.warns(ConvergenceWarning) as record:
        Estimator(**ESTIMATORS[Estimator]).fit(unscaled, y)
    assert record[0].filename == __file__
    assert "StandardScaler" in str(record[0].message)
    with pytest.warns(ConvergenceWarning) as record:
        Estimator(**ESTIMATORS[Estimator]).fit(scaled, y)
    assert record[0].filename == __file__
    message = str(record[0].message)
    assert "max_iter" in message and "tol" in message
    assert "standardis" not in message.lower()


def test_looks_unscaled():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 4))
    assert not looks_unscaled(StandardScaler().fit_transform(X))
    assert not looks_unscaled(rng.uniform(size=(100, 4)))  # min-max scaled
    assert not looks_unscaled(np.column_stack([X, np.zeros(100)]))  # constant
    assert looks_unscaled(X * [1, 1, 1, 100])
    assert looks_unscaled(X * [1, 1, 1, 1e-3])
    assert looks_unscaled(X + np.array([0, 0, 0, 40]))


def test_the_warning_names_the_callers_file_through_a_pipeline():
    X, y = make_problem("regression", seed=0)
    pipeline = make_pipeline(
        StandardScaler(), GatedReLURegressor(**ESTIMATORS[GatedReLURegressor])
    )
    with pytest.warns(ConvergenceWarning) as record:
        pipeline.fit(X, y)
    assert record[0].filename == __file__
