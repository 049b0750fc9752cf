"""Sample weights and class weights in every estimator.

A weight is a multiplicity: integer weights must give the optimum of the data
set with each row repeated that many times, and a weight of zero that of the
data set without the row. The tests compare the optimum itself — objectives,
fitted outputs, certificates recomputed with the weights — with the gates
fixed where gates are sampled, and run scikit-learn's own equivalence check at
a tight ``tol`` where the problem allows.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
)

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
)
from convexnn.baselines import (
    NonconvexGatedReLUClassifier,
    NonconvexGatedReLURegressor,
    NonconvexReLUClassifier,
    NonconvexReLURegressor,
)
from convexnn.scoring import PrecomputedScorer
from convexnn.testing import assert_certified

RNG = np.random.default_rng(0)
N = 20
X = RNG.standard_normal((N, 2))
Y_REAL = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.1 * RNG.standard_normal(N)
LABELS = {
    "binary": (Y_REAL > np.median(Y_REAL)).astype(int),
    "three": np.digitize(Y_REAL, np.quantile(Y_REAL, [1 / 3, 2 / 3])),
}
WEIGHTS = RNG.integers(0, 4, N)
WEIGHTS[:2] = [0, 3]  # a zero weight and a repeated row, whatever the draw
REPEATED = np.repeat(np.arange(N), WEIGHTS)
GATES = np.random.default_rng(1).standard_normal((6, 3))
CPU = {"device": "cpu"}
SCORER = PrecomputedScorer([0.9, 0.2])


def labels_of(kind):
    return Y_REAL if kind == "real" else LABELS[kind]


def quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args, **kwargs)


# --- the estimators --------------------------------------------------------------

# at tol=1e-7 every convex ReLU method ends with its exact finish here
TIGHT_CONVEX = {
    "alpha": 0.1,
    "gates": GATES,
    "tol": 1e-7,
    "keep_multipliers": True,
    **CPU,
}
ADAM = {"max_iter": 100, "random_state": 0, **CPU}
ESTIMATORS = [
    (GatedReLURegressor(1e-2, gates=GATES, tol=1e-12, **CPU), "real"),
    (GatedReLUClassifier(1e-2, gates=GATES, tol=1e-12, **CPU), "binary"),
    (GatedReLUClassifier(1e-2, gates=GATES, tol=1e-12, **CPU), "three"),
    (ConvexReLURegressor(solver="interior_point", **TIGHT_CONVEX), "real"),
    (ConvexReLURegressor(solver="admm", **TIGHT_CONVEX), "real"),
    (ConvexReLURegressor(solver="augmented_lagrangian", **TIGHT_CONVEX), "real"),
    (ConvexReLUClassifier(**TIGHT_CONVEX), "binary"),
    (ConvexReLUClassifier(**TIGHT_CONVEX), "three"),
    (WeightedLasso(1e-2, tol=1e-12, **CPU), "real"),
    (NonconvexGatedReLURegressor(1e-2, gates=GATES, **ADAM), "real"),
    (NonconvexGatedReLUClassifier(1e-2, gates=GATES, **ADAM), "three"),
    (
        NonconvexReLURegressor(1e-2, n_neurons=6, **ADAM),
        "real",
    ),
    (
        NonconvexReLUClassifier(1e-2, n_neurons=6, **ADAM),
        "binary",
    ),
]
CONVEX = [(e, k) for e, k in ESTIMATORS if not type(e).__name__.startswith("Nonconvex")]


def ids(cases):
    return [f"{type(e).__name__}-{getattr(e, 'solver', '')}-{k}" for e, k in cases]


def outputs(model, X):
    """Probabilities, or predictions: the fitted values, which are unique."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    return model.predict(X)


@pytest.mark.parametrize("estimator, kind", ESTIMATORS, ids=ids(ESTIMATORS))
def test_integer_weights_repeat_rows(estimator, kind):
    y = labels_of(kind)
    weights = WEIGHTS.copy()
    weighted = quietly(clone(estimator).fit, X, y, sample_weight=weights)
    np.testing.assert_array_equal(weights, WEIGHTS)  # not overwritten
    repeated = quietly(clone(estimator).fit, X[REPEATED], y[REPEATED])
    assert weighted.objective_ == pytest.approx(repeated.objective_, rel=1e-8)
    kept = X[WEIGHTS > 0]
    np.testing.assert_allclose(
        outputs(weighted, kept), outputs(repeated, kept), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("estimator, kind", CONVEX, ids=ids(CONVEX))
def test_weighted_certificate_is_honest(estimator, kind):
    y = labels_of(kind)
    model = clone(estimator).fit(X, y, sample_weight=WEIGHTS)
    assert model.converged_
    assert_certified(model, X, y, sample_weight=WEIGHTS)
    # the certificate is that of the weighted objective, not the plain one
    with pytest.raises(AssertionError, match="objective"):
        assert_certified(model, X, y)


def test_float32_fits_follow_the_weights():
    model = GatedReLURegressor(1e-2, gates=GATES, tol=1e-6, dtype="float32", **CPU)
    weighted = clone(model).fit(X, Y_REAL, sample_weight=WEIGHTS)
    repeated = clone(model).fit(X[REPEATED], Y_REAL[REPEATED])
    assert weighted.objective_ == pytest.approx(repeated.objective_, rel=1e-6)
    # float32 data: the objective recomputed from float64 data differs by more
    assert_certified(weighted, X, Y_REAL, sample_weight=WEIGHTS, rtol=1e-6)


@pytest.mark.parametrize(
    "estimator",
    [
        GatedReLUClassifier(1e-2, n_patterns=8, random_state=0, tol=1e-10, **CPU),
        ConvexReLUClassifier(0.1, n_patterns=4, random_state=0, tol=1e-9, **CPU),
        NonconvexReLUClassifier(1e-2, n_neurons=6, max_iter=50, random_state=0, **CPU),
    ],
    ids=lambda estimator: type(estimator).__name__,
)
def test_zero_weights_drop_rows_sampled_gates_included(estimator):
    """Rows of weight zero are removed before the gates are sampled."""
    y = LABELS["three"]
    keep = WEIGHTS > 0
    weighted = quietly(clone(estimator).fit, X, y, sample_weight=keep.astype(float))
    dropped = quietly(clone(estimator).fit, X[keep], y[keep])
    if hasattr(dropped, "gates_"):
        np.testing.assert_array_equal(weighted.gates_, dropped.gates_)
    assert weighted.objective_ == pytest.approx(dropped.objective_, rel=1e-9)
    np.testing.assert_allclose(
        weighted.predict_proba(X), dropped.predict_proba(X), rtol=1e-7, atol=1e-9
    )


def test_reflection_lasso_weights_repeat_rows_and_drop_zeros():
    x = X[:, 0]
    model = ReflectionLassoRegressor(alpha=1e-2, tol=1e-12, **CPU)
    weights = WEIGHTS.copy()
    weighted = clone(model).fit(x, Y_REAL, sample_weight=weights)
    np.testing.assert_array_equal(weights, WEIGHTS)  # not overwritten
    with pytest.raises(ValueError, match="sample_weight"):
        clone(model).fit(x, Y_REAL, sample_weight=np.ones(N + 1))
    repeated = clone(model).fit(x[REPEATED], Y_REAL[REPEATED])
    assert weighted.converged_ and repeated.converged_
    assert weighted.objective_ == pytest.approx(repeated.objective_, rel=1e-10)
    np.testing.assert_allclose(weighted.predict(x), repeated.predict(x), atol=1e-9)
    # no breakpoint at a point of weight zero: the dictionary of the others
    assert weighted.n_columns_ == repeated.n_columns_
    assert weighted.certify().violation <= 1e-6


def test_cross_validated_lassos_weigh_folds_and_scores():
    """Folds over the original rows, mapped to their copies: the same CV."""
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    copies = [
        (
            np.flatnonzero(np.isin(REPEATED, train)),
            np.flatnonzero(np.isin(REPEATED, test)),
        )
        for train, test in folds
    ]
    cases = [
        (WeightedLassoCV(n_alphas=3, tol=1e-10, **CPU), Y_REAL),
        (
            LLMLassoRegressor(SCORER, n_alphas=3, trust_grid=(1.0,), tol=1e-10, **CPU),
            Y_REAL,
        ),
        (
            LLMLassoClassifier(SCORER, n_alphas=3, trust_grid=(1.0,), tol=1e-10, **CPU),
            LABELS["three"],
        ),
    ]
    for estimator, y in cases:
        weighted = clone(estimator).set_params(cv=folds)
        weighted.fit(X, y, sample_weight=WEIGHTS)
        repeated = clone(estimator).set_params(cv=copies).fit(X[REPEATED], y[REPEATED])
        np.testing.assert_allclose(
            weighted.cv_results_["mean_test_score"],
            repeated.cv_results_["mean_test_score"],
            rtol=1e-8,
        )
        assert weighted.alpha_ == pytest.approx(repeated.alpha_, rel=1e-14)
        np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6, atol=1e-9)


def assert_same_optimum(model, reference, rtol):
    """Equal objectives, or equal coefficients for the models without one."""
    if hasattr(model, "objective_"):
        assert model.objective_ == pytest.approx(reference.objective_, rel=rtol)
    else:
        np.testing.assert_allclose(model.coef_, reference.coef_, rtol=rtol, atol=1e-9)


CLASSIFIERS = [
    GatedReLUClassifier(1e-2, gates=GATES, tol=1e-10, **CPU),
    ConvexReLUClassifier(**TIGHT_CONVEX),
    # one (trust, alpha) pair: the refit does not depend on the folds
    LLMLassoClassifier(
        SCORER, alphas=[1e-2], trust_grid=(0.0,), cv=2, random_state=0, tol=1e-12, **CPU
    ),
    NonconvexGatedReLUClassifier(1e-2, gates=GATES, **ADAM),
    NonconvexReLUClassifier(1e-2, n_neurons=6, **ADAM),
]


@pytest.mark.parametrize("estimator", CLASSIFIERS, ids=lambda e: type(e).__name__)
def test_class_weight_is_a_sample_weight(estimator):
    y = np.array(["a", "b", "c"])[LABELS["three"]]
    y[:8] = "a"  # imbalanced
    for class_weight in ("balanced", {"a": 0.5, "c": 3.0}):
        by_class = quietly(
            clone(estimator).set_params(class_weight=class_weight).fit, X, y
        )
        weights = compute_sample_weight(class_weight, y)
        by_sample = quietly(clone(estimator).fit, X, y, sample_weight=weights)
        assert_same_optimum(by_class, by_sample, rtol=1e-12)
        np.testing.assert_allclose(
            by_class.predict_proba(X), by_sample.predict_proba(X)
        )
    if "cv" in estimator.get_params():
        return  # other folds for the repeated rows: the CV estimators' own test
    # "balanced" counts the classes by their weights, so a weight stays a copy
    weighted = quietly(
        clone(estimator).set_params(class_weight="balanced").fit,
        X,
        y,
        sample_weight=WEIGHTS,
    )
    repeated = quietly(
        clone(estimator).set_params(class_weight="balanced").fit,
        X[REPEATED],
        y[REPEATED],
    )
    assert_same_optimum(weighted, repeated, rtol=1e-8)


@pytest.mark.parametrize(
    "estimator",
    [GatedReLURegressor(**CPU), GatedReLUClassifier(**CPU), WeightedLasso(**CPU)],
    ids=lambda e: type(e).__name__,
)
def test_bad_weights_are_refused_by_name(estimator):
    y = LABELS["binary"]
    for weights, message in [
        (-WEIGHTS - 1.0, "sample_weight"),
        (np.zeros(N), "weight.*zero"),
        (np.ones(N + 1), "sample_weight"),
    ]:
        with pytest.raises(ValueError, match=message):
            clone(estimator).fit(X, y, sample_weight=weights)


def test_a_class_without_weight_is_refused():
    y = LABELS["binary"]
    with pytest.raises(ValueError, match=r"class 0 has no sample of positive weight"):
        GatedReLUClassifier(**CPU).fit(X, y, sample_weight=y.astype(float))
    with pytest.raises(ValueError, match="class_weight"):
        GatedReLUClassifier(class_weight={0: -1.0}, **CPU).fit(X, y)


def test_global_certificate_follows_the_weights():
    y = Y_REAL
    model = GatedReLURegressor(1e-2, gates=GATES, tol=1e-12, **CPU)
    model.fit(X, y, sample_weight=WEIGHTS)
    weighted = model.certify_global(X, y, sample_weight=WEIGHTS, search="heuristic")
    assert weighted.primal == pytest.approx(model.objective_, rel=1e-10)
    assert weighted.sampled_lower_bound <= model.objective_
    assert weighted.sampled_lower_bound == pytest.approx(model.objective_, rel=1e-9)
    plain = model.certify_global(X, y, search="heuristic")
    assert plain.primal != pytest.approx(model.objective_, rel=1e-6)


@pytest.mark.parametrize(
    "estimator",
    [
        GatedReLURegressor(tol=1e-10, n_patterns=10, random_state=0, **CPU),
        ConvexReLURegressor(0.1, tol=1e-10, n_patterns=10, random_state=0, **CPU),
    ],
    ids=lambda e: type(e).__name__,
)
def test_scikit_learn_equivalence_check_at_a_tight_tol(estimator):
    """The check the API tests run with a loose ``tol``, here with a tight
    one (its three-class data set is too ill-conditioned for the classifiers
    to agree to its ``rtol=1e-7``, see the declarations there)."""
    quietly(
        check_sample_weight_equivalence_on_dense_data,
        type(estimator).__name__,
        estimator,
    )
