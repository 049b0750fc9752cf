"""ReflectionLassoRegressor: optimality, exact networks, selection, input handling.

What each test checks against:

* the Lasso over the explicit dictionary, solved by scikit-learn;
* the continuous problem: the dual constraint over a grid of the network's
  features (:meth:`certify`), which also flags a dictionary that is too small;
* the network itself: ``to_torch()`` reproduces predictions and objective,
  and Adam — from that network or from random starts — never goes below the
  certified optimum;
* CVXPY for the minimum-norm optimal solution.
"""

import pickle
import warnings

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import solve_reference
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import Lasso
from sklearn.utils._param_validation import InvalidParameterError

from convexnn import ReflectionLassoRegressor
from convexnn.baselines._base import train_adam
from convexnn.dictionaries import ACTIVATIONS, build_dictionary
from convexnn.networks import DeepNarrowNetwork
from convexnn.problems import SquaredLoss

FAMILIES = [(depth, activation) for activation in ACTIVATIONS for depth in (2, 3, 4)]
property_settings = settings(derandomize=True, deadline=None, max_examples=5)


def _data(n, seed=0, outputs=None):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    noise = 0.3 * rng.normal(size=(n, outputs or 1))
    y = np.sin(2 * x)[:, None] + noise
    return x[:, None], (y if outputs else y[:, 0])


def _fit(depth=2, activation="relu", alpha=1e-2, n=20, seed=0, **params):
    X, y = _data(n, seed)
    params = {"tol": 1e-9, "device": "cpu", **params}
    return ReflectionLassoRegressor(depth, activation, alpha, **params).fit(X, y), X, y


def _objective(X, y, model):
    residual = model.predict(X) - y
    return 0.5 * np.mean(residual**2) + model.alpha * np.abs(model.coef_).sum()


def _full_coef(model, X):
    """The coefficients over the whole dictionary of the training inputs."""
    features = build_dictionary(X[:, 0], model.depth, model.activation)
    full = np.zeros(len(features))
    full[model.support_] = model.coef_[:, 0]
    return features, full


# ----------------------------------------------------------------------------
# optimality


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", [2, 3])
def test_objective_matches_sklearn_lasso_on_the_explicit_dictionary(depth, activation):
    model, X, y = _fit(depth, activation, n=15)
    features = build_dictionary(X[:, 0], depth, activation)
    reference = Lasso(alpha=model.alpha, tol=1e-14, max_iter=1_000_000)
    reference.fit(features.evaluate(X[:, 0]), y)
    residual = y - reference.predict(features.evaluate(X[:, 0]))
    expected = 0.5 * np.mean(residual**2) + model.alpha * np.abs(reference.coef_).sum()
    assert model.objective_ == pytest.approx(expected, rel=1e-6)
    assert _objective(X, y, model) == pytest.approx(model.objective_, rel=1e-12)
    assert model.converged_ and model.dual_gap_ <= 1e-9


@pytest.mark.parametrize(
    ("depth", "activation"), [(2, "abs"), (2, "threshold"), (3, "sign")]
)
def test_coefficients_match_sklearn_lasso_when_the_solution_is_unique(
    depth, activation
):
    """Step and |x − x_j| dictionaries have independent columns: one solution."""
    model, X, y = _fit(depth, activation, n=15)
    features, coef = _full_coef(model, X)
    A = features.evaluate(X[:, 0])
    centred = A - A.mean(0)
    assert np.linalg.matrix_rank(centred) == A.shape[1]
    reference = Lasso(alpha=model.alpha, tol=1e-14, max_iter=1_000_000).fit(A, y)
    np.testing.assert_allclose(coef, reference.coef_, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, [reference.intercept_], atol=1e-6)


def test_fit_without_intercept_is_the_plain_dictionary_lasso():
    model, X, y = _fit(2, "relu", fit_intercept=False)
    features = build_dictionary(X[:, 0], 2, "relu")
    A = features.evaluate(X[:, 0])
    reference = Lasso(
        alpha=model.alpha, fit_intercept=False, tol=1e-14, max_iter=1_000_000
    ).fit(A, y)
    residual = y - A @ reference.coef_
    expected = 0.5 * np.mean(residual**2) + model.alpha * np.abs(reference.coef_).sum()
    assert model.objective_ == pytest.approx(expected, rel=1e-6)
    np.testing.assert_array_equal(model.intercept_, [0.0])


@pytest.mark.parametrize(("depth", "activation"), FAMILIES)
def test_certificate_finds_no_better_feature_off_the_dictionary(depth, activation):
    """The dual constraint holds over a dense grid of the network's features."""
    model, _, _ = _fit(depth, activation, n=12 if depth == 4 else 20)
    certificate = model.certify()
    assert certificate.n_features >= 2000
    assert certificate.violation <= 1e-6
    assert certificate.max_correlation <= model.alpha * (1 + 1e-6)


def test_certificate_flags_a_dictionary_that_is_too_small():
    """A depth-2 optimum is not optimal for depth-3 networks: certify says so."""
    model, _, _ = _fit(2, "relu", alpha=1e-2, n=30)
    deeper, _, _ = _fit(3, "relu", alpha=1e-2, n=30)
    assert deeper.objective_ < model.objective_ * (1 - 1e-3)
    # the depth-2 dual point against depth-3 units
    assert model.certify(grid_size=60, depth=3).violation > 1e-2
    # parameters set after the fit do not change what is certified
    fitted = model.certify(grid_size=60)
    model.set_params(alpha=1.0, depth=4, activation="abs")
    assert model.certify(grid_size=60) == fitted
    with pytest.raises(ValueError, match="depth must be an integer"):
        model.certify(depth=1)


def test_large_inputs_use_the_implicit_operator():
    """40 000 columns on 20 000 points: the dense dictionary would need 6.4 GB."""
    X, y = _data(20_000, seed=3)
    model = ReflectionLassoRegressor(alpha=0.1, device="cpu").fit(X, y)
    assert model.converged_ and model.n_columns_ == 2 * len(np.unique(X)) - 3
    assert model.certify(grid_size=300).violation <= 1e-5


# ----------------------------------------------------------------------------
# the equivalent network


@pytest.mark.parametrize(("depth", "activation"), FAMILIES)
def test_to_torch_reproduces_predictions_and_objective(depth, activation):
    model, X, y = _fit(depth, activation, n=12 if depth == 4 else 20)
    network = model.to_torch()
    assert isinstance(network, DeepNarrowNetwork)
    assert network.weights.shape == (model.n_neurons_, depth)
    new = np.linspace(-3, 3, 101)[:, None]
    with torch.no_grad():
        outputs = network(torch.from_numpy(np.vstack([X, new])))[:, 0].numpy()
        training = network(torch.from_numpy(X))
        objective = SquaredLoss(torch.from_numpy(y)[:, None]).value(training) + (
            model.alpha * float(network.weight_decay())
        )
    np.testing.assert_allclose(outputs, model.predict(np.vstack([X, new])), atol=1e-10)
    assert objective == pytest.approx(model.objective_, rel=1e-10)


def test_to_torch_with_several_outputs():
    X, Y = _data(20, outputs=2)
    model = ReflectionLassoRegressor(3, "abs", 1e-2, tol=1e-9).fit(X, Y)
    network = model.to_torch()
    with torch.no_grad():
        outputs = network(torch.from_numpy(X)).numpy()
        objective = SquaredLoss(torch.from_numpy(Y)).value(
            torch.from_numpy(outputs)
        ) + model.alpha * float(network.weight_decay())
    np.testing.assert_allclose(outputs, model.predict(X), atol=1e-10)
    assert objective == pytest.approx(model.objective_, rel=1e-10)


def test_several_outputs_are_independent_fits():
    X, Y = _data(20, outputs=2)
    params = {"tol": 1e-10, "max_iter": 100_000}
    joint = ReflectionLassoRegressor(2, "relu", 1e-2, **params).fit(X, Y)
    assert joint.converged_
    for k in range(2):
        single = ReflectionLassoRegressor(2, "relu", 1e-2, **params).fit(X, Y[:, k])
        np.testing.assert_allclose(joint.predict(X)[:, k], single.predict(X), atol=1e-7)


ADAM_FAMILIES = [(2, "relu"), (3, "relu"), (2, "leaky_relu"), (3, "abs"), (2, "sign")]


def _adam_objective(network, X, y, alpha, learning_rate, max_iter):
    result = train_adam(
        network,
        torch.from_numpy(X),
        SquaredLoss(torch.from_numpy(y)[:, None]),
        alpha,
        learning_rate=learning_rate,
        max_iter=max_iter,
        tol=1e-9,
        patience=200,
    )
    return result.objective


@property_settings
@given(
    seed=st.integers(0, 2**16),
    family=st.sampled_from(ADAM_FAMILIES),
    n=st.integers(5, 9),
)
def test_adam_from_random_starts_never_beats_the_lasso(seed, family, n):
    depth, activation = family
    model, X, y = _fit(depth, activation, alpha=0.02, n=n, seed=seed)
    floor = model.objective_ * (1 - model.dual_gap_) - 1e-12
    generator = torch.Generator().manual_seed(seed)
    for scale in (0.5, 1.5):
        network = DeepNarrowNetwork.random(
            activation, depth, 2 * n, scale=scale, generator=generator
        )
        assert _adam_objective(network, X, y, 0.02, 2e-2, 600) >= floor


@property_settings
@given(seed=st.integers(0, 2**16), family=st.sampled_from(ADAM_FAMILIES))
def test_adam_from_the_converted_network_never_lowers_the_objective(seed, family):
    depth, activation = family
    model, X, y = _fit(depth, activation, alpha=0.02, n=8, seed=seed)
    floor = model.objective_ * (1 - model.dual_gap_) - 1e-12
    network = model.to_torch()
    assert _adam_objective(network, X, y, 0.02, 1e-3, 400) >= floor


# ----------------------------------------------------------------------------
# the optimal set


def _tied_fit(solution):
    """Absolute values at depth 3: reflections and mirrors tie."""
    return _fit(3, "abs", alpha=5e-3, n=16, seed=4, solution=solution)


def test_min_norm_solution_is_the_least_norm_optimum():
    model, X, _ = _tied_fit("min_norm")
    assert model.solution_ == "min_norm"
    features, coef = _full_coef(model, X)
    # Every Lasso optimum has the same fit and the same l1 norm, so the optimal
    # set is {z : A_c z = f_c, ||z||_1 <= ||coef||_1} (A_c, f_c centred: the
    # intercept is free). The fit is written on the row space of A_c, where it
    # is a full-rank equality, so no solver meets a degenerate cone.
    A = features.evaluate(X[:, 0])
    centred, fitted = A - A.mean(0), model.predict(X) - model.predict(X).mean()
    U, S, Vt = np.linalg.svd(centred, full_matrices=False)
    rank = int((S > S[0] * 1e-12).sum())
    z = cp.Variable(A.shape[1])
    constraints = [
        Vt[:rank] @ z == (U[:, :rank].T @ fitted) / S[:rank],
        cp.norm1(z) <= np.abs(coef).sum() * (1 + 1e-9),
    ]
    solve_reference(cp.Problem(cp.Minimize(cp.sum_squares(z)), constraints))
    assert np.linalg.norm(coef) <= np.linalg.norm(z.value) * (1 + 1e-5)
    # and ties were real: a vertex of the same optimal set has a larger norm
    sparse, _, _ = _tied_fit("sparse")
    assert np.linalg.norm(sparse.coef_) > np.linalg.norm(coef) * (1 + 1e-3)


def test_sparse_solution_is_a_vertex_of_the_optimal_set():
    model, X, _ = _tied_fit("sparse")
    reference, _, _ = _tied_fit("min_norm")
    assert model.solution_ == "sparse"
    assert model.objective_ == pytest.approx(reference.objective_, rel=1e-9)
    columns = model.dictionary_.evaluate(X[:, 0])
    columns = columns - columns.mean(0)
    assert np.linalg.matrix_rank(columns) == len(model.support_)
    assert model.n_neurons_ < reference.n_neurons_


def test_reflections_are_marked():
    model, X, _ = _tied_fit("min_norm")
    points = model.breakpoints_[np.isfinite(model.breakpoints_)]
    flagged = model.breakpoints_[model.is_reflection_]
    assert model.is_reflection_.any()
    assert not np.isin(flagged, X[:, 0]).any()
    assert np.isin(points[~np.isin(points, flagged)], X[:, 0]).all()


# ----------------------------------------------------------------------------
# input handling and scikit-learn conventions with one feature


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"alpha": -1.0}, InvalidParameterError, "'alpha' parameter"),
        ({"depth": 1}, InvalidParameterError, "'depth' parameter"),
        ({"activation": "tanh"}, InvalidParameterError, "'activation' parameter"),
        ({"activation": "abs", "depth": 5}, ValueError, "depth=5 with activation"),
        ({"solution": "densest"}, InvalidParameterError, "'solution' parameter"),
    ],
)
def test_bad_parameters_are_clear_errors(params, error, match):
    X, y = _data(10)
    with pytest.raises(error, match=match):
        ReflectionLassoRegressor(**params).fit(X, y)


def test_more_than_one_feature_is_a_clear_error():
    X, y = _data(10)
    with pytest.raises(ValueError, match=r"one input feature.*X has 2 features"):
        ReflectionLassoRegressor().fit(np.hstack([X, X]), y)
    model = ReflectionLassoRegressor().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(np.hstack([X, X]))


def test_nan_sparse_and_single_sample_inputs_are_refused():
    X, y = _data(10)
    bad = X.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ReflectionLassoRegressor().fit(bad, y)
    with pytest.raises(TypeError, match="sparse"):
        ReflectionLassoRegressor().fit(scipy.sparse.csr_matrix(X), y)
    with pytest.raises(ValueError, match="sample"):
        ReflectionLassoRegressor().fit(X[:1], y[:1])
    with pytest.raises(NotFittedError):
        ReflectionLassoRegressor().predict(X)


def test_inputs_are_not_modified():
    X, y = _data(15)
    X_1d = X[:, 0].copy()
    copies = X.copy(), y.copy(), X_1d.copy()
    model = ReflectionLassoRegressor(3, "abs").fit(X, y)
    model.predict(X)
    ReflectionLassoRegressor().fit(X_1d, y).predict(X_1d)
    for original, copy in zip((X, y, X_1d), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


def test_one_dimensional_lists_frames_and_columns_give_the_same_model():
    X, y = _data(15)
    reference = ReflectionLassoRegressor().fit(X, y).predict(X)
    for data in (
        X[:, 0],
        X[:, 0].tolist(),
        np.asfortranarray(X),
        X.astype(object),
        pd.DataFrame({"x": X[:, 0]}),
        pd.Series(X[:, 0]),
    ):
        model = ReflectionLassoRegressor().fit(data, y)
        assert model.n_features_in_ == 1
        np.testing.assert_allclose(model.predict(data), reference, atol=1e-12)
    framed = ReflectionLassoRegressor().fit(pd.DataFrame({"x": X[:, 0]}), y)
    np.testing.assert_array_equal(framed.feature_names_in_, ["x"])


def test_fit_keeps_parameters_and_predict_keeps_state():
    X, y = _data(15)
    model = ReflectionLassoRegressor(3, "relu", 1e-2)
    parameters = model.get_params()
    model.fit(X, y)
    assert model.get_params() == parameters
    state = pickle.dumps(model.__dict__)
    model.predict(X)
    assert pickle.dumps(model.__dict__) == state
    assert not hasattr(model, "decision_function")
    assert not hasattr(model, "predict_proba")


def test_sample_order_and_batches_do_not_matter():
    X, y = _data(20)
    order = np.random.default_rng(1).permutation(len(y))
    model = ReflectionLassoRegressor(2, "relu", 1e-2, tol=1e-10).fit(X, y)
    shuffled = ReflectionLassoRegressor(2, "relu", 1e-2, tol=1e-10).fit(
        X[order], y[order]
    )
    assert shuffled.objective_ == pytest.approx(model.objective_, rel=1e-9)
    np.testing.assert_allclose(shuffled.predict(X), model.predict(X), atol=1e-6)
    np.testing.assert_allclose(model.predict(X[order]), model.predict(X)[order])
    batches = np.concatenate([model.predict(X[i : i + 7]) for i in range(0, 20, 7)])
    np.testing.assert_allclose(batches, model.predict(X))


def test_repeated_inputs_and_a_constant_input():
    X, y = _data(12)
    X = np.vstack([X, X[:4]])
    y = np.concatenate([y, y[:4] + 0.1])
    model = ReflectionLassoRegressor(3, "relu", 1e-2, tol=1e-9).fit(X, y)
    assert model.converged_ and model.certify().violation <= 1e-6
    constant = ReflectionLassoRegressor().fit(np.ones((5, 1)), np.arange(5.0))
    assert constant.n_neurons_ == 0
    np.testing.assert_allclose(constant.predict([[0.0], [3.0]]), [2.0, 2.0])


def test_float32_fits_like_float64():
    X, y = _data(20)
    model = ReflectionLassoRegressor(2, "relu", 1e-2, dtype="float32", tol=1e-4)
    model.fit(X, y)
    reference, _, _ = _fit(2, "relu")
    assert model.objective_ == pytest.approx(reference.objective_, rel=1e-4)


def test_non_convergence_warns_and_names_max_iter():
    X, y = _data(200)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        model = ReflectionLassoRegressor(alpha=1e-5, max_iter=3, tol=1e-12).fit(X, y)
    assert not model.converged_ and model.dual_gap_ > 1e-12


def test_converged_fits_do_not_warn():
    X, y = _data(20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ReflectionLassoRegressor(3, "leaky_relu", 1e-2).fit(X, y)
