"""LLM-Lasso estimators: optimality, the trust selection, scorers, input handling."""

import json
import zlib

import numpy as np
import pandas as pd
import pytest
from reference import l1_logistic_regression
from sklearn.linear_model import Lasso
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from convexnn import LLMLassoClassifier, LLMLassoRegressor, WeightedLassoCV
from convexnn._backend import CPU64
from convexnn.estimators._lasso_path import LassoData
from convexnn.scoring import ChatScorer, PrecomputedScorer

TIGHT = {"tol": 1e-12, "max_iter": 100_000}
SAGA = {"solver": "saga", "tol": 1e-13, "max_iter": 1_000_000}
FAST = {"n_alphas": 8, "cv": 3, "random_state": 0}


class NameScorer:
    """Deterministic importances from the feature names alone, for any number
    of features (``check_estimator`` varies them)."""

    def __repr__(self):
        return f"{type(self).__name__}()"

    def score(self, feature_names, task_description=None, feature_descriptions=None):
        return np.array(
            [(zlib.crc32(name.encode()) % 90 + 10) / 100 for name in feature_names]
        )


class RecordingScorer(NameScorer):
    def score(self, feature_names, task_description=None, feature_descriptions=None):
        self.calls = [
            *getattr(self, "calls", []),
            (feature_names, task_description, feature_descriptions),
        ]
        return super().score(feature_names)


def sparse_regression(n=80, p=12, n_informative=3, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    coef = np.zeros(p)
    coef[:n_informative] = rng.uniform(1.0, 2.0, n_informative)
    return X, X @ coef + noise * rng.standard_normal(n)


def classification(n_classes, n=90, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    signal = X[:, 0] + 0.7 * X[:, 1] + 0.5 * rng.standard_normal(n)
    if n_classes == 2:
        return X, (signal > 0).astype(int)
    return X, np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))


# --- optimality ---------------------------------------------------------------


def test_equal_scores_give_the_plain_lasso_at_a_given_alpha():
    X, y = sparse_regression()
    model = LLMLassoRegressor(
        PrecomputedScorer(np.full(12, 0.3)), alphas=[0.05], cv=3, **TIGHT
    ).fit(X, y)
    reference = Lasso(0.05, tol=1e-14, max_iter=1_000_000).fit(X, y)
    np.testing.assert_array_equal(model.penalty_factors_, np.ones(12))
    np.testing.assert_allclose(model.coef_, reference.coef_, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, reference.intercept_, atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_equal_scores_give_l1_logistic_regression(n_classes):
    """Objective mean loss + alpha·‖W‖₁ is LogisticRegression's with
    C = 1/(n·alpha) (saga leaves the intercept unpenalised, like us)."""
    X, y = classification(n_classes)
    alpha = 0.02
    model = LLMLassoClassifier(
        PrecomputedScorer(np.ones(4)), alphas=[alpha], cv=3, **TIGHT
    ).fit(X, y)
    reference = l1_logistic_regression(C=1 / (len(y) * alpha), **SAGA).fit(X, y)
    assert model.coef_.shape == reference.coef_.shape == (1 if n_classes == 2 else 3, 4)
    np.testing.assert_allclose(model.coef_, reference.coef_, atol=1e-6)
    # softmax intercepts are defined up to a common shift
    shift = (model.intercept_ - reference.intercept_).mean() if n_classes > 2 else 0
    np.testing.assert_allclose(
        model.intercept_ - shift, reference.intercept_, atol=1e-6
    )
    np.testing.assert_allclose(
        model.predict_proba(X), reference.predict_proba(X), atol=1e-6
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_unequal_factors_are_logistic_regression_on_rescaled_columns(n_classes):
    X, y = classification(n_classes, seed=1)
    factors = np.array([0.5, 1.5, 2.0, 1.0])
    Y = np.eye(n_classes)[y][:, 1:] if n_classes == 2 else np.eye(n_classes)[y]
    loss = "logistic" if n_classes == 2 else "multinomial"
    alpha = 0.01
    path = LassoData.build(
        X, Y, loss, factors, fit_intercept=True, backend=CPU64
    ).solve([0.1, alpha], **TIGHT)
    reference = l1_logistic_regression(C=1 / (len(y) * alpha), **SAGA)
    reference.fit(X / factors, y)
    np.testing.assert_allclose(path.coefs[-1].T, reference.coef_ / factors, atol=1e-6)


# --- the trust selection --------------------------------------------------------


def prior_sweep(seed, selection, inverted):
    X, y = sparse_regression(n=60, p=30, n_informative=4, seed=seed, noise=1.5)
    truth = np.r_[np.ones(4), np.full(26, 0.05)]
    scores = np.where(truth == 1, 0.05, 1.0) if inverted else truth
    model = LLMLassoRegressor(
        PrecomputedScorer(scores),
        trust_grid=(1.0, 3.0),
        n_alphas=15,
        cv=5,
        selection=selection,
        random_state=seed,
    ).fit(X, y)
    return model.trust_


# least number of the 12 seeds in which a correct prior is trusted, and in
# which an inverted one is rejected (measured: 12/12 and 12/12 for "min" and
# "area"; "1se", which takes the least trust within one standard error of the
# best, trusted the correct prior in 8 and rejected the inverted one in 12)
SWEEP_RATES = {"min": (10, 10), "area": (10, 10), "1se": (6, 10)}


@pytest.mark.slow
@pytest.mark.parametrize("selection", sorted(SWEEP_RATES))
def test_cross_validation_trusts_a_correct_prior_and_rejects_an_inverted_one(
    selection,
):
    """Over 12 seeds (n = 60, p = 30, 4 informative features, noise σ = 1.5):
    a prior scoring the informative features high is trusted (trust > 0), and
    an inverted prior is rejected (trust 0, the plain Lasso), in at least the
    number of seeds given by ``SWEEP_RATES``."""
    seeds = range(12)
    trusted = sum(prior_sweep(s, selection, inverted=False) > 0 for s in seeds)
    rejected = sum(prior_sweep(s, selection, inverted=True) == 0 for s in seeds)
    least_trusted, least_rejected = SWEEP_RATES[selection]
    assert trusted >= least_trusted, trusted
    assert rejected >= least_rejected, rejected


def test_every_trust_value_sees_the_same_folds():
    """Factors that differ by rounding only (so that each candidate is fitted
    on its own) give the same held-out scores fold by fold, which only the
    same folds can give."""
    X, y = sparse_regression(seed=2)

    def nearly_one(scores, trust):
        return 1.0 + 1e-13 * trust * np.arange(len(scores))

    model = LLMLassoRegressor(
        PrecomputedScorer(np.ones(12)),
        penalty_transform=nearly_one,
        trust_grid=(1.0, 2.0),
        **FAST,
    ).fit(X, y)
    results = pd.DataFrame(model.cv_results_)
    assert sorted(results["trust"].unique(), key=str) == [1.0, 2.0, None]
    assert len(results) == 3 * 8
    by_trust = [
        group.filter(like="split").to_numpy()
        for _, group in results.groupby("trust", dropna=False)
    ]
    np.testing.assert_allclose(by_trust[1], by_trust[0], rtol=1e-8)
    np.testing.assert_allclose(by_trust[2], by_trust[0], rtol=1e-8)


def test_candidates_with_equal_factors_are_fitted_once(monkeypatch):
    """Equal scores make every trust value the plain Lasso: its paths are
    solved once per fold (and once for the refit), and every trust value gets
    their scores."""
    X, y = sparse_regression(seed=2)
    solves = []
    solve = LassoData.solve

    def counting(self, *args, **kwargs):
        solves.append(len(args[0]))
        return solve(self, *args, **kwargs)

    monkeypatch.setattr(LassoData, "solve", counting)
    model = LLMLassoRegressor(
        PrecomputedScorer(np.ones(12)), trust_grid=(1.0, 2.0), **FAST
    ).fit(X, y)
    assert len(solves) == 3 + 1  # the folds, then the refit
    results = pd.DataFrame(model.cv_results_)
    assert sorted(results["trust"].unique()) == [0.0, 1.0, 2.0]
    by_trust = [
        group.filter(like="split").to_numpy() for _, group in results.groupby("trust")
    ]
    np.testing.assert_array_equal(by_trust[1], by_trust[0])
    np.testing.assert_array_equal(by_trust[2], by_trust[0])
    np.testing.assert_array_equal(results["area"], 0.0)
    assert model.trust_ == 0.0


def test_cv_results_and_fitted_attributes():
    X, y = sparse_regression(seed=3)
    scores = np.r_[np.ones(3), np.full(9, 0.1)]
    model = LLMLassoRegressor(PrecomputedScorer(scores), trust_grid=(1.0,), **FAST).fit(
        X, y
    )
    results = model.cv_results_
    assert set(results) == {
        "trust",
        "area",
        "alpha",
        "mean_test_score",
        "std_test_score",
        "split0_test_score",
        "split1_test_score",
        "split2_test_score",
        "mean_n_selected",
    }
    assert all(len(column) == 16 for column in results.values())
    np.testing.assert_array_equal(model.feature_scores_, scores)
    assert model.penalty_factors_.sum() == pytest.approx(12)
    assert model.alpha_ in model.alphas_
    assert model.trust_ in (0.0, 1.0)
    np.testing.assert_array_equal(
        model.selected_features_, [f"x{j}" for j in np.flatnonzero(model.coef_)]
    )
    # the refit is the weighted Lasso at the chosen pair on all data
    refit = WeightedLassoCV(
        penalty_factors=model.penalty_factors_, alphas=[model.alpha_], cv=3, **TIGHT
    ).fit(X, y)
    np.testing.assert_allclose(model.coef_, refit.coef_, atol=1e-5)


def test_parallel_and_float32_fits_agree_with_the_serial_float64_fit():
    X, y = sparse_regression(seed=3)
    scorer = PrecomputedScorer(np.r_[np.ones(3), np.full(9, 0.1)])
    serial = LLMLassoRegressor(scorer, **FAST).fit(X, y)
    parallel = LLMLassoRegressor(scorer, n_jobs=2, **FAST).fit(X, y)
    for key in ("mean_test_score", "mean_n_selected"):
        np.testing.assert_array_equal(
            parallel.cv_results_[key], serial.cv_results_[key]
        )
    single = LLMLassoRegressor(scorer, dtype="float32", **FAST).fit(X, y)
    assert (single.trust_, single.alpha_) == pytest.approx(
        (serial.trust_, serial.alpha_)
    )
    np.testing.assert_allclose(single.coef_, serial.coef_, atol=1e-4)


def test_a_callable_transform_competes_with_the_plain_lasso():
    X, y = sparse_regression(seed=4)
    scores = np.r_[np.ones(3), np.full(9, 0.1)]

    def cube(s, trust):
        return s ** (-3.0 * trust)

    model = LLMLassoRegressor(
        PrecomputedScorer(scores), penalty_transform=cube, trust_grid=[1.0], **FAST
    ).fit(X, y)
    assert list(pd.unique(model.cv_results_["trust"])) == [None, 1.0]
    assert model.trust_ in (None, 1.0)


def test_relu_transform_and_a_scoring_string():
    X, y = classification(2, n=90, p=6, seed=5)
    scores = np.array([1.0, 1.0, 0.1, 0.1, 0.1, 0.1])
    model = LLMLassoClassifier(
        PrecomputedScorer(scores),
        penalty_transform="relu",
        trust_grid=(0.5,),
        scoring="accuracy",
        **FAST,
    ).fit(X, y)
    assert model.cv_results_["mean_test_score"].max() > 0.7
    assert set(model.cv_results_["trust"]) == {0.0, 0.5}
    assert model.score(X, y) > 0.7


# --- scorers, names and descriptions ------------------------------------------


def test_scorer_sees_dataframe_names_task_and_descriptions():
    X, y = sparse_regression(p=3, seed=6)
    frame = pd.DataFrame(X, columns=["age", "bmi", "zip"])
    scorer = RecordingScorer()
    LLMLassoRegressor(
        scorer,
        task_description="predict disease progression",
        feature_descriptions=["years", "body mass index", "postcode"],
        **FAST,
    ).fit(frame, y)
    names, task, descriptions = scorer.calls[-1]
    assert names == ["age", "bmi", "zip"]
    assert task == "predict disease progression"
    assert descriptions == {"age": "years", "bmi": "body mass index", "zip": "postcode"}


def test_chat_scorer_from_a_plain_callable_end_to_end():
    """A stand-in chat model that knows the first two features matter."""
    X, y = sparse_regression(n=80, p=6, n_informative=2, seed=7)
    X = pd.DataFrame(X, columns=[f"x{j}" for j in range(6)])
    prompts = []

    def complete(prompt):
        prompts.append(prompt)
        names = [f"x{j}" for j in range(6) if f'"x{j}"' in prompt]
        return json.dumps(
            {name: 0.9 if name in ("x0", "x1") else 0.05 for name in names}
        )

    model = LLMLassoRegressor(
        ChatScorer(complete, batch_size=4),
        task_description="predict the target",
        trust_grid=(1.0, 2.0),
        **FAST,
    ).fit(X, y)
    assert len(prompts) == 2  # 6 features in batches of 4
    np.testing.assert_allclose(model.feature_scores_, [1, 1] + [0.05 / 0.9] * 4)
    assert model.trust_ > 0
    assert set(model.selected_features_) >= {"x0", "x1"}


# --- bad input ------------------------------------------------------------------


class ConstantScorer:
    def __init__(self, value):
        self.value = value

    def score(self, feature_names, task_description=None, feature_descriptions=None):
        return np.full(len(feature_names), self.value)


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"scorer": None}, ValueError, "scorer is required"),
        ({"scorer": ConstantScorer(0.0)}, ValueError, r"outside \(0, 1\]"),
        ({"scorer": ConstantScorer(np.nan)}, ValueError, r"outside \(0, 1\]"),
        ({"scorer": PrecomputedScorer([1.0, 1.0])}, ValueError, "shape"),
        ({"feature_descriptions": ["only one"]}, ValueError, "1 entries for 3"),
        ({"trust_grid": [-1.0]}, ValueError, r"trust_grid: .*η ≥ 0"),
        ({"penalty_transform": "relu", "trust_grid": [1.0]}, ValueError, "trust_grid"),
        ({"penalty_transform": np.exp}, ValueError, "trust_grid is required"),
        ({"alphas": [0.0]}, ValueError, "alphas must be positive"),
        ({"selection": "best"}, ValueError, "selection"),
        ({"scorer": object()}, ValueError, "scorer"),
    ],
)
def test_bad_parameters_raise_clear_errors(params, error, message):
    X, y = sparse_regression(p=3)
    params = {"scorer": NameScorer(), "n_alphas": 3, "cv": 3, **params}
    model = LLMLassoRegressor(**params)
    with pytest.raises(error, match=message):
        model.fit(X, y)
    assert not any(hasattr(model, name) for name in ("coef_", "feature_scores_"))


class RefusingScorer:
    """A scorer that must not be reached (a paid call, say)."""

    def score(self, feature_names, task_description=None, feature_descriptions=None):
        raise AssertionError("the scorer was called before the parameters were checked")


@pytest.mark.parametrize(
    "params", [{"trust_grid": [-1.0]}, {"alphas": [-1.0]}, {"alphas": []}]
)
def test_parameters_are_checked_before_the_scorer_is_asked(params):
    X, y = sparse_regression(p=3)
    with pytest.raises(ValueError, match=r"trust_grid|alphas"):
        LLMLassoRegressor(RefusingScorer(), **params).fit(X, y)


def test_task_description_is_checked_by_model_scorers():
    X, y = sparse_regression(p=3)
    X = pd.DataFrame(X, columns=["a", "b", "c"])
    with pytest.raises(ValueError, match="task_description must be a non-empty"):
        LLMLassoRegressor(ChatScorer(lambda prompt: "{}"), **FAST).fit(X, y)


def test_a_scorer_that_reads_names_needs_them():
    # a scaler in a pipeline hands on a NumPy array: the names are lost, and
    # the error says how to keep them
    X, y = sparse_regression(p=3)
    X = pd.DataFrame(X, columns=["age", "income", "height"])
    prompts = []

    def complete(prompt):
        prompts.append(prompt)
        return json.dumps({"age": 1.0, "income": 0.5, "height": 0.1})

    scorer = ChatScorer(complete)
    model = make_pipeline(
        StandardScaler(), LLMLassoRegressor(scorer, task_description="y", **FAST)
    )
    with pytest.raises(ValueError, match=r'set_output\(transform="pandas"\)'):
        model.fit(X, y)
    assert prompts == []  # refused before any call
    model.set_output(transform="pandas").fit(X, y)
    assert '"income"' in prompts[0]
    assert list(model[-1].feature_names_in_) == ["age", "income", "height"]


def test_a_training_fold_missing_a_class_is_an_error():
    X, y = classification(3, n=30)
    folds = [(np.flatnonzero(y != 2), np.flatnonzero(y == 2))]
    with pytest.raises(ValueError, match="training fold 0 lacks"):
        LLMLassoClassifier(NameScorer(), cv=folds, n_alphas=3).fit(X, y)


def test_user_arrays_are_not_modified():
    X, y = sparse_regression(p=4)
    scores = np.array([1.0, 0.5, 0.2, 0.1])
    descriptions = ["a", "b", "c", "d"]
    copies = X.copy(), y.copy(), scores.copy()
    model = LLMLassoRegressor(
        PrecomputedScorer(scores), feature_descriptions=descriptions, **FAST
    ).fit(X, y)
    model.predict(X)
    for array, copy in zip((X, y, scores), copies, strict=True):
        np.testing.assert_array_equal(array, copy)
    assert descriptions == ["a", "b", "c", "d"]


# --- scikit-learn compatibility -------------------------------------------------


CHECKED = {"n_alphas": 3, "cv": 2, "trust_grid": (1.0,)}


@parametrize_with_checks(
    [
        LLMLassoRegressor(NameScorer(), **CHECKED),
        LLMLassoClassifier(NameScorer(), **CHECKED),
    ]
)
def test_scikit_learn_compatible(estimator, check):
    check(estimator)
