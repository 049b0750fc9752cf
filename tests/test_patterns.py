"""Gate sampling and activation patterns (DESIGN.md §3): distinct, nonempty
patterns, seeded by ``random_state``, and the same hyperplanes and lifting at
fit and predict time."""

import numpy as np
import pytest
from reference import gated_masks, gated_outputs, make_problem

from convexnn import GatedReLUClassifier, GatedReLURegressor
from convexnn.patterns import activation_patterns, lift, resolve_gates, sample_gates


@pytest.mark.parametrize("hidden_bias", [True, False])
def test_sampled_patterns_are_distinct_and_nonempty(hidden_bias):
    X, _ = make_problem("regression", n_samples=12, n_features=2)
    X_lifted = lift(X, hidden_bias)
    gates = sample_gates(X_lifted, 300, random_state=0)

    patterns = activation_patterns(X_lifted, gates)
    assert patterns.any(axis=0).all()
    assert len(np.unique(patterns.T, axis=0)) == len(gates)
    # few samples in two dimensions allow few patterns: duplicates were dropped
    assert len(gates) < 300


def test_kept_gates_are_the_first_drawn_of_each_pattern():
    X, _ = make_problem("regression", n_samples=12, n_features=2)
    drawn = np.random.RandomState(0).standard_normal((50, 3))
    kept = sample_gates(lift(X, True), 50, random_state=0)
    seen, expected = set(), []
    for gate in drawn:
        pattern = tuple(lift(X, True) @ gate > 0)
        if any(pattern) and pattern not in seen:
            seen.add(pattern)
            expected.append(gate)
    np.testing.assert_array_equal(kept, expected)


def test_one_feature_without_hidden_bias_has_two_patterns():
    # a gate is then a sign: the pattern is {x > 0} or {x < 0}
    x = np.linspace(-1.0, 1.0, 10)[:, None]
    assert len(sample_gates(x, 50, random_state=0)) == 2
    # and on positive data only one: the negative gates give the empty pattern
    assert len(sample_gates(np.abs(x) + 1.0, 50, random_state=0)) == 1


def test_sampling_is_seeded():
    X_lifted = lift(make_problem("regression")[0], True)
    np.testing.assert_array_equal(
        sample_gates(X_lifted, 20, random_state=3),
        sample_gates(X_lifted, 20, random_state=3),
    )
    assert not np.array_equal(
        sample_gates(X_lifted, 20, random_state=3),
        sample_gates(X_lifted, 20, random_state=4),
    )


def test_fixed_gates_are_copied():
    gates = np.ones((2, 4))
    resolved = resolve_gates(gates, np.ones((5, 4)), 10)
    resolved[:] = 0.0
    np.testing.assert_array_equal(gates, 1.0)


@pytest.mark.parametrize(
    "Estimator, kind",
    [
        (GatedReLURegressor, "multioutput"),
        (GatedReLUClassifier, "multiclass"),
    ],
)
@pytest.mark.parametrize("hidden_bias", [True, False])
def test_new_points_get_patterns_from_the_same_gates(Estimator, kind, hidden_bias):
    X, y = make_problem(kind, seed=0)
    estimator = Estimator(
        alpha=1e-2, n_patterns=10, hidden_bias=hidden_bias, device="cpu", random_state=0
    ).fit(X, y)
    # points far outside the training range, where a rescaled or differently
    # lifted input would flip patterns
    X_new = 10 * np.random.default_rng(1).standard_normal((30, X.shape[1]))
    expected = gated_outputs(
        X_new, estimator.gates_, estimator.coef_, estimator.intercept_, hidden_bias
    )
    outputs = (
        estimator.predict(X_new)
        if kind == "multioutput"
        else estimator.decision_function(X_new)
    )
    np.testing.assert_allclose(outputs, expected, rtol=1e-12, atol=1e-12)
    # and the patterns at the training points are those the model was fitted on
    masks = gated_masks(X, estimator.gates_, hidden_bias)
    assert masks.any(axis=0).all()
