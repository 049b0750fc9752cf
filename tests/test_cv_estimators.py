"""The cross-validated network estimators: one set of gates, warm-started paths
equal to independent fits, and the alpha of the best mean score."""

import numpy as np
import pytest
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

from convexnn import (
    ConvexReLUClassifierCV,
    ConvexReLURegressor,
    ConvexReLURegressorCV,
    GatedReLUClassifier,
    GatedReLUClassifierCV,
    GatedReLURegressor,
    GatedReLURegressorCV,
)
from convexnn._backend import CPU64
from convexnn.patterns import lift, sample_gates
from convexnn.solvers import SolverConfig
from convexnn.testing import assert_certified, assert_network_reproduces


def regression(n=80, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(2 * X[:, 0]) + np.abs(X[:, 1]) + 0.2 * rng.standard_normal(n)
    return X, y


def classification(n=80, seed=0):
    X, _ = regression(n, seed=seed)
    return X, (X[:, 0] * X[:, 1] + 0.3 * X[:, 0] > 0).astype(int)


GATED = {"n_patterns": 30, "random_state": 0}
CONVEX = {"n_patterns": 8, "random_state": 0}
CASES = [
    (GatedReLURegressorCV, GatedReLURegressor, GATED, regression),
    (GatedReLUClassifierCV, GatedReLUClassifier, GATED, classification),
    # the convex ReLU solves cost more: fewer samples
    (
        ConvexReLURegressorCV,
        ConvexReLURegressor,
        {**CONVEX, "keep_multipliers": True},  # the witness of assert_certified
        lambda: regression(n=50),
    ),
]


def ids(case):
    return case[0].__name__


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_alpha_is_the_first_best_mean_score_and_the_refit_is_certified(case):
    CV, _, settings, data = case
    X, y = data()
    model = CV(n_alphas=5, cv=3, **settings).fit(X, y)
    mean = model.scores_path_.mean(axis=1)
    assert model.alpha_ == model.alphas_[np.argmax(mean)]
    assert model.best_score_ == pytest.approx(mean.max())
    np.testing.assert_allclose(model.cv_results_["mean_test_score"], mean)
    np.testing.assert_allclose(
        model.cv_results_["split1_test_score"], model.scores_path_[:, 1]
    )
    assert np.all(np.diff(model.alphas_) < 0)
    assert model.converged_
    assert_certified(model, X, y)  # at alpha_
    assert_network_reproduces(model, X, y)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_the_gates_are_sampled_once_from_all_the_data(case):
    CV, _, settings, data = case
    X, y = data()
    model = CV(n_alphas=2, cv=2, **settings).fit(X, y)
    expected = sample_gates(lift(X, True), settings["n_patterns"], 0)
    np.testing.assert_array_equal(model.gates_, expected)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_each_fold_path_equals_independent_cold_fits(case):
    # the warm-started path of a training fold, against one fit per alpha
    # with the same gates: both certified (the convex ReLU solvers reach
    # 1e-7, the gated ones 1e-8), the same objective
    CV, Single, settings, data = case
    tol = 1e-7 if CV is ConvexReLURegressorCV else 1e-8
    X, y = data()
    model = CV(n_alphas=4, cv=2, tol=tol, **settings).fit(X, y)
    train, _ = next(KFold(2, shuffle=True, random_state=0).split(X))
    loss = "logistic" if hasattr(model, "classes_") else "squared"
    X_lifted, Y = lift(X[train], True), y[train].reshape(-1, 1).astype(float)
    problem = model._problem(X_lifted, Y, loss, model.gates_, CPU64, None)
    path = model._solve(problem, model.alphas_, SolverConfig(), verbose=0)
    for alpha, solved in zip(model.alphas_, path, strict=True):
        assert model._point(problem, solved)[2]  # converged
        cold = Single(alpha, gates=model.gates_, tol=tol).fit(X[train], y[train])
        assert cold.converged_
        if isinstance(solved, tuple):  # (method, ConstrainedResult)
            objective = solved[1].kkt.objective
        else:
            objective = solved.certificate.primal
        assert objective == pytest.approx(cold.objective_, rel=1e-6)


def test_the_default_grid_starts_where_every_block_vanishes():
    X, y = regression()
    model = GatedReLURegressorCV(n_alphas=4, cv=2, **GATED).fit(X, y)
    at_max = GatedReLURegressor(model.alphas_[0], gates=model.gates_).fit(X, y)
    below = GatedReLURegressor(0.95 * model.alphas_[0], gates=model.gates_)
    assert not at_max.coef_.any()
    assert below.fit(X, y).coef_.any()


def test_the_default_score_is_the_estimators_score():
    # the scores computed from the path are those of GridSearchCV's default
    X, y = regression()
    folds = KFold(3, shuffle=True, random_state=1)
    model = GatedReLURegressorCV(
        alphas=[0.3, 0.05, 0.01], cv=folds, tol=1e-8, **GATED
    ).fit(X, y)
    means = model.scores_path_.mean(axis=1)
    for alpha, mean in zip(model.alphas_, means, strict=True):
        single = GatedReLURegressor(alpha, gates=model.gates_, tol=1e-8)
        assert cross_val_score(single, X, y, cv=folds).mean() == pytest.approx(
            mean, abs=1e-6
        )


def test_a_classifier_is_scored_on_stratified_folds_by_any_scorer():
    X, y = classification()
    labels = np.array(["no", "yes"])[y]
    model = GatedReLUClassifierCV(
        n_alphas=5, cv=3, scoring="neg_log_loss", **GATED
    ).fit(X, labels)
    assert set(model.predict(X)) <= {"no", "yes"}
    assert (model.scores_path_ <= 0).all()  # log-losses, negated
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    single = GatedReLUClassifier(model.alpha_, gates=model.gates_)
    expected = cross_val_score(single, X, labels, cv=folds, scoring="neg_log_loss")
    assert model.best_score_ == pytest.approx(expected.mean(), abs=1e-5)


def test_a_convex_classifier_fits_and_predicts():
    X, y = classification(n=50)
    model = ConvexReLUClassifierCV(n_alphas=3, cv=2, **CONVEX).fit(X, y)
    assert model.converged_
    assert model.score(X, y) > 0.7
    assert model.predict_proba(X[:3]).shape == (3, 2)


def test_bad_alphas_are_rejected():
    X, y = regression()
    with pytest.raises(ValueError, match="alphas must be positive"):
        GatedReLURegressorCV(alphas=[0.1, -1.0], **GATED).fit(X, y)


def test_folds_in_parallel_give_the_same_fit():
    X, y = regression()
    serial = GatedReLURegressorCV(n_alphas=4, cv=3, **GATED).fit(X, y)
    parallel = GatedReLURegressorCV(n_alphas=4, cv=3, n_jobs=2, **GATED).fit(X, y)
    np.testing.assert_allclose(parallel.scores_path_, serial.scores_path_)
    np.testing.assert_array_equal(parallel.coef_, serial.coef_)


def test_the_convex_grid_starts_at_an_upper_bound_of_where_blocks_vanish():
    # the gated bound holds the cone-constrained blocks at zero too
    X, y = regression(n=50)
    model = ConvexReLURegressorCV(n_alphas=2, cv=2, **CONVEX).fit(X, y)
    gated = GatedReLURegressorCV(n_alphas=2, cv=2, group_norm="frobenius", **CONVEX)
    assert model.alphas_[0] == pytest.approx(gated.fit(X, y).alphas_[0])
    at_max = ConvexReLURegressor(model.alphas_[0], gates=model.gates_).fit(X, y)
    assert at_max.converged_ and not at_max.coef_.any()


@pytest.mark.parametrize(
    "CV, data, tol",
    [
        (GatedReLURegressorCV, regression, 1e-9),
        (GatedReLUClassifierCV, classification, 1e-9),
        # the convex ReLU solvers reach 1e-7 here, and the scores agree to it
        (ConvexReLURegressorCV, lambda: regression(n=30), 1e-7),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_integer_weights_repeat_rows_in_the_folds_and_the_scores(CV, data, tol):
    # folds over the original rows, mapped to their copies: the same
    # cross-validation, so the same scores, alpha_ and refit
    X, y = data()
    weights = np.random.default_rng(1).integers(1, 4, len(y))
    repeated = np.repeat(np.arange(len(y)), weights)
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    copies = [
        (np.flatnonzero(np.isin(repeated, a)), np.flatnonzero(np.isin(repeated, b)))
        for a, b in folds
    ]
    gates = sample_gates(lift(X, True), 8, 0)
    settings = {"gates": gates, "n_alphas": 4, "tol": tol, "device": "cpu"}
    weighted = CV(cv=folds, **settings).fit(X, y, sample_weight=weights)
    copied = CV(cv=copies, **settings).fit(X[repeated], y[repeated])
    np.testing.assert_allclose(
        weighted.cv_results_["mean_test_score"],
        copied.cv_results_["mean_test_score"],
        rtol=1e-5,
        atol=1e-6,
    )
    assert weighted.converged_ and copied.converged_
    assert weighted.alpha_ == pytest.approx(copied.alpha_, rel=1e-14)
    assert weighted.objective_ == pytest.approx(copied.objective_, rel=10 * tol)
