"""Bad input gets a clear error naming the parameter; input is never modified;
a failed fit leaves the estimator as it was (DESIGN.md §2, COMMON standards)."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from reference import make_problem
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from convexnn import (
    ConvexReLUClassifier,
    ConvexReLURegressor,
    GatedReLUClassifier,
    GatedReLURegressor,
)
from convexnn.baselines import NonconvexGatedReLUClassifier, NonconvexGatedReLURegressor

FAST = {"alpha": 1e-2, "n_patterns": 5, "max_iter": 50, "device": "cpu"}
ESTIMATORS = [
    GatedReLURegressor,
    GatedReLUClassifier,
    NonconvexGatedReLURegressor,
    NonconvexGatedReLUClassifier,
]
estimators = pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda c: c.__name__)
# early stopping is expected here: these tests are about input, not optima
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def problem_for(Estimator, seed=0):
    is_classifier = "Classifier" in Estimator.__name__
    return make_problem("binary" if is_classifier else "regression", seed=seed)


def with_value(array, index, value):
    array = np.array(array, dtype=np.float64)
    array[index] = value
    return array


@estimators
@pytest.mark.parametrize("value, message", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_input_is_rejected(Estimator, value, message):
    X, y = problem_for(Estimator)
    with pytest.raises(ValueError, match=f"Input X contains {message}"):
        Estimator(**FAST).fit(with_value(X, (3, 1), value), y)
    fitted = Estimator(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=f"Input X contains {message}"):
        fitted.predict(with_value(X, (0, 0), value))
    if "Regressor" in Estimator.__name__:
        with pytest.raises(ValueError, match=f"Input y contains {message}"):
            Estimator(**FAST).fit(X, with_value(y, 2, value))


@estimators
def test_wrong_number_of_features_at_predict(Estimator):
    X, y = problem_for(Estimator)
    fitted = Estimator(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 2 features, but .* is expecting 3"):
        fitted.predict(X[:, :2])


@estimators
def test_a_single_sample_is_rejected(Estimator):
    X, y = problem_for(Estimator)
    with pytest.raises(ValueError, match=r"1 sample\(s\).*minimum of 2"):
        Estimator(**FAST).fit(X[:1], y[:1])


@pytest.mark.parametrize(
    "Estimator", [GatedReLUClassifier, NonconvexGatedReLUClassifier]
)
def test_a_single_class_is_rejected(Estimator):
    X, _ = make_problem("binary")
    with pytest.raises(ValueError, match="1 class"):
        Estimator(**FAST).fit(X, np.full(len(X), "spam"))


def test_logistic_loss_needs_two_classes():
    X, y = make_problem("multiclass")
    with pytest.raises(ValueError, match="loss='logistic' is binary but y has 3"):
        GatedReLUClassifier(loss="logistic", **FAST).fit(X, y)


def test_a_constant_target_gives_a_constant_regressor():
    X, _ = make_problem("regression")
    estimator = GatedReLURegressor(**FAST).fit(X, np.full(len(X), 2.5))
    np.testing.assert_array_equal(estimator.coef_, 0.0)
    np.testing.assert_allclose(estimator.predict(X), 2.5)


BAD_PARAMETERS = [
    ({"alpha": -1.0}, "'alpha' parameter"),
    ({"alpha": 0.0}, "'alpha' parameter"),
    ({"n_patterns": 0}, "'n_patterns' parameter"),
    ({"max_iter": 0}, "'max_iter' parameter"),
    ({"tol": -1e-3}, "'tol' parameter"),
    ({"dtype": "float16"}, "'dtype' parameter"),
    ({"dtype": np.float32}, "'dtype' parameter"),
    ({"device": "tpu"}, "device='tpu'"),
    ({"device": 3.0}, "'device' parameter"),
    ({"gates": np.ones((4, 3))}, r"gates must have shape \(n_gates, 4\)"),
    ({"gates": np.ones((2, 4, 1))}, r"gates must have shape \(n_gates, 4\)"),
    ({"gates": np.full((2, 4), np.nan)}, "gates must be finite"),
]


@estimators
@pytest.mark.parametrize(
    "params, message",
    BAD_PARAMETERS,
    ids=lambda p: str(p) if isinstance(p, dict) else "",
)
def test_bad_parameters_are_named(Estimator, params, message):
    X, y = problem_for(Estimator)
    with pytest.raises(ValueError, match=message):
        Estimator(**{**FAST, **params}).fit(X, y)


@estimators
def test_gates_without_hidden_bias_have_one_column_less(Estimator):
    X, y = problem_for(Estimator)
    params = {**FAST, "hidden_bias": False, "gates": np.ones((2, 4))}
    with pytest.raises(ValueError, match=r"gates must have shape \(n_gates, 3\)"):
        Estimator(**params).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@estimators
def test_cuda_without_cuda_is_a_clear_error(Estimator):
    X, y = problem_for(Estimator)
    with pytest.raises(ValueError, match=r"device='cuda'.*cannot see a CUDA device"):
        Estimator(**{**FAST, "device": "cuda"}).fit(X, y)


@estimators
@pytest.mark.parametrize("hidden_bias", [True, False])
@pytest.mark.parametrize("container", ["numpy", "float32", "fortran", "pandas"])
def test_input_is_never_modified(Estimator, hidden_bias, container):
    X, y = problem_for(Estimator)
    if container == "float32":
        X = X.astype(np.float32)
    elif container == "fortran":
        X = np.asfortranarray(X)
    elif container == "pandas":
        X, y = pd.DataFrame(X, columns=["a", "b", "c"]), pd.Series(y)
    gates = np.random.default_rng(0).standard_normal((6, 3 + hidden_bias))
    originals = [copy.deepcopy(value) for value in (X, y, gates)]

    estimator = Estimator(**FAST, hidden_bias=hidden_bias, gates=gates)
    if hasattr(estimator, "warm_start"):
        estimator.set_params(warm_start=True)
    estimator.fit(X, y).fit(X, y)
    estimator.predict(X)

    for original, value in zip(originals, (X, y, gates), strict=True):
        if isinstance(value, (pd.DataFrame, pd.Series)):
            pd.testing.assert_frame_equal(
                pd.DataFrame(value), pd.DataFrame(original), check_exact=True
            )
        else:
            assert (value.dtype, value.shape) == (original.dtype, original.shape)
            np.testing.assert_array_equal(value, original)
    # fitted attributes never alias the user's arrays
    estimator.gates_[:] = 0.0
    np.testing.assert_array_equal(gates, originals[2])


FAILING_FITS = {
    "bad alpha": ({"alpha": -1.0}, "good"),
    "bad device": ({"device": "tpu"}, "good"),
    "bad gates": ({"gates": np.ones((2, 9))}, "good"),
    "NaN in X": ({}, "nan"),
    "one class": ({}, "one class"),
}


@pytest.mark.parametrize(
    "Estimator, failure",
    [
        (Estimator, failure)
        for Estimator in ESTIMATORS
        for failure in FAILING_FITS
        # a constant target is a valid regression problem
        if "Classifier" in Estimator.__name__ or failure != "one class"
    ],
    ids=lambda p: getattr(p, "__name__", p),
)
def test_a_failed_fit_changes_nothing(Estimator, failure):
    params, data = FAILING_FITS[failure]
    X, y = problem_for(Estimator)
    bad_X, bad_y = X, y
    if data == "nan":
        bad_X = with_value(X, (0, 0), np.nan)
    elif data == "one class":
        bad_y = np.zeros_like(y)

    # an unfitted estimator stays unfitted
    unfitted = Estimator(**FAST).set_params(**params)
    with pytest.raises(ValueError):
        unfitted.fit(bad_X, bad_y)
    with pytest.raises(NotFittedError):
        check_is_fitted(unfitted)

    # a fitted estimator keeps its previous fit, attributes and predictions;
    # here the failing refit is also on wider data, to catch a mixed state
    fitted = Estimator(**FAST).fit(X, y)
    before = copy.deepcopy(vars(fitted))
    predictions = fitted.predict(X)
    fitted.set_params(**params)
    with pytest.raises(ValueError):
        fitted.fit(np.column_stack([bad_X, bad_X]), bad_y)
    fitted.set_params(**{name: before[name] for name in params})
    assert vars(fitted).keys() == before.keys()
    for name, value in before.items():
        assert np.array_equal(vars(fitted)[name], value), name
    np.testing.assert_array_equal(fitted.predict(X), predictions)


def test_sparse_input_is_a_clear_type_error():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = make_problem("regression")
    with pytest.raises(TypeError, match=r"[Ss]parse"):
        GatedReLURegressor(**FAST).fit(scipy_sparse.csr_matrix(X), y)


GATE_SAMPLING_ESTIMATORS = [*ESTIMATORS, ConvexReLURegressor, ConvexReLUClassifier]


@pytest.mark.parametrize(
    "Estimator", GATE_SAMPLING_ESTIMATORS, ids=lambda c: c.__name__
)
def test_zero_features_without_hidden_bias_are_a_clear_error(Estimator):
    # a constant column standardises to zero; with no hidden bias no gate can
    # activate a sample, and the fit used to fail deep in a reshape
    _, y = problem_for(Estimator)
    model = Estimator(**FAST, hidden_bias=False, random_state=0)
    with pytest.raises(ValueError, match=r"no sampled gate .* every feature is zero"):
        model.fit(np.zeros((len(y), 3)), y)
    assert not hasattr(model, "coef_")
    assert not hasattr(model, "gates_")
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


@pytest.mark.parametrize(
    "Estimator", GATE_SAMPLING_ESTIMATORS, ids=lambda c: c.__name__
)
def test_too_few_active_gates_are_a_clear_error(Estimator):
    # the one gate drawn with random_state=2 is negative: inactive on X = 1
    _, y = problem_for(Estimator)
    params = {**FAST, "n_patterns": 1, "hidden_bias": False, "random_state": 2}
    model = Estimator(**params)
    with pytest.raises(ValueError, match=r"no sampled gate .* increase n_patterns"):
        model.fit(np.ones((len(y), 1)), y)
    assert not hasattr(model, "coef_")
    # constant features do work: half the gates activate every sample
    Estimator(**{**params, "n_patterns": 5}).fit(np.ones((len(y), 3)), y)
