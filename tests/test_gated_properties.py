"""Property tests (Hypothesis) of the gated ReLU estimators.

Each property is a consequence of the mathematics of DESIGN.md §3.1:

* the convex program over the same gates is a relaxation of training the
  gated network, so its optimum is never above what Adam reaches;
* ``to_torch()`` is an exact conversion: same outputs, and loss plus weight
  decay equal to ``objective_``;
* the optimum does not depend on the order of the samples or of the
  features;
* ``converged_`` means the relative duality gap ``dual_gap_`` is ``≤ tol``;
* with the squared loss, ``(y, α) → (s·y, s·α)`` maps the solution ``(U, b)``
  to ``(s·U, s·b)``: predictions scale by ``s``, the objective by ``s²``.

Each test is parametrized over the problem kinds (regression, several
outputs, binary, multiclass), so every kind is exercised; Hypothesis draws only
seeds and continuous values, few and derandomised (see conftest.py), each
example a full fit. The checks go through the public assertions of
:mod:`convexnn.testing` where one exists.
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import KINDS, block_norms, estimator_for, make_problem
from sklearn.exceptions import ConvergenceWarning

from convexnn.testing import (
    assert_below_nonconvex,
    assert_certified,
    assert_network_reproduces,
)
from convexnn.testing.strategies import log_uniform

seeds = st.integers(min_value=0, max_value=2**16)
each_kind = pytest.mark.parametrize("kind", KINDS)
# every kind now has its own examples: fewer per kind keep the file's run time
few_examples = settings(max_examples=2)


def convex_estimator(kind, **params):
    return estimator_for(kind, device="cpu", **{"n_patterns": 8, "tol": 1e-8, **params})


def raw_outputs(estimator, X):
    """Model outputs (n, c): predictions of a regressor, scores of a classifier."""
    if hasattr(estimator, "classes_"):
        return estimator.decision_function(X).reshape(len(X), -1)
    return estimator.predict(X).reshape(len(X), -1)


@each_kind
@few_examples
@given(seed=seeds, alpha=log_uniform(1e-2, 1e-1))
def test_convex_objective_is_never_above_the_nonconvex_one(seed, kind, alpha):
    X, y = make_problem(kind, seed=seed, n_samples=30)
    baseline = estimator_for(
        kind,
        nonconvex=True,
        alpha=alpha,
        n_patterns=8,
        max_iter=300,
        device="cpu",
        random_state=seed,
    )
    # fits the baseline, checks that its objective_ is its network's, fits the
    # convex model on the baseline's gates and compares the two
    convex, baseline = assert_below_nonconvex(
        convex_estimator(kind, alpha=alpha), baseline, X, y
    )
    np.testing.assert_array_equal(convex.gates_, baseline.gates_)


@each_kind
@given(seed=seeds, fit_intercept=st.booleans(), hidden_bias=st.booleans())
def test_to_torch_reproduces_outputs_and_objective(
    seed, kind, fit_intercept, hidden_bias
):
    X, y = make_problem(kind, seed=seed)
    estimator = convex_estimator(
        kind,
        alpha=3e-2,
        fit_intercept=fit_intercept,
        hidden_bias=hidden_bias,
        random_state=seed,
    ).fit(X, y)
    network = estimator.to_torch()
    assert all(p.dtype == torch.float64 for p in network.parameters())

    # the network is the convex model at any point, and on the training data
    # its loss plus weight decay is objective_
    X_new = 2 * np.random.default_rng(seed).standard_normal((25, X.shape[1]))
    assert_network_reproduces(estimator, X, y, atol=1e-10, rtol=1e-10)
    assert_network_reproduces(estimator, X_new, atol=1e-10, rtol=1e-10)
    # ... and predicts what the estimator predicts
    with torch.no_grad():
        outputs = network(torch.from_numpy(X_new)).numpy()
    np.testing.assert_allclose(outputs, raw_outputs(estimator, X_new), atol=1e-10)

    # balanced neurons, one per singular value: ‖w_j‖ = ‖a_j‖
    hidden = network.hidden_weight.detach().numpy()
    output = network.output_weight.detach().numpy()
    assert len(hidden) == estimator.n_active_neurons_
    np.testing.assert_allclose(
        np.linalg.norm(hidden, axis=1), np.linalg.norm(output, axis=1), rtol=1e-12
    )


def test_to_torch_weight_decay_bounds_the_frobenius_penalty():
    # with group_norm="frobenius" the network's weight decay is the nuclear
    # norm of each block, which is at least its Frobenius norm
    X, y = make_problem("multioutput", seed=0)
    estimator = convex_estimator(
        "multioutput", alpha=3e-2, group_norm="frobenius", random_state=0
    ).fit(X, y)
    network = estimator.to_torch()
    with torch.no_grad():
        np.testing.assert_allclose(
            network(torch.from_numpy(X)).numpy(), estimator.predict(X), atol=1e-10
        )
        weight_decay = float(network.weight_decay())
    assert weight_decay == pytest.approx(block_norms(estimator.coef_, "nuclear").sum())
    assert weight_decay >= block_norms(estimator.coef_, "frobenius").sum()


@each_kind
@few_examples
@given(seed=seeds)
def test_permuting_samples_leaves_the_optimum_unchanged(seed, kind):
    X, y = make_problem(kind, seed=seed)
    order = np.random.default_rng(seed).permutation(len(X))
    params = {"alpha": 3e-2, "tol": 1e-9, "random_state": seed}
    original = convex_estimator(kind, **params).fit(X, y)
    permuted = convex_estimator(kind, **params).fit(X[order], y[order])

    # the sampled gates do not depend on the order of the samples either
    np.testing.assert_array_equal(permuted.gates_, original.gates_)
    assert permuted.objective_ == pytest.approx(original.objective_, rel=3e-9)


@each_kind
@few_examples
@given(seed=seeds, hidden_bias=st.booleans())
def test_permuting_features_leaves_the_optimum_unchanged(seed, kind, hidden_bias):
    X, y = make_problem(kind, seed=seed)
    n_features = X.shape[1]
    order = np.random.default_rng(seed).permutation(n_features)
    params = {"alpha": 3e-2, "tol": 1e-9, "hidden_bias": hidden_bias}
    original = convex_estimator(kind, random_state=seed, **params).fit(X, y)
    # the same hyperplanes, written in the permuted coordinates
    gates = original.gates_.copy()
    gates[:, :n_features] = gates[:, order]
    permuted = convex_estimator(kind, gates=gates, **params).fit(X[:, order], y)

    assert permuted.objective_ == pytest.approx(original.objective_, rel=3e-9)


@each_kind
@given(
    seed=seeds,
    max_iter=st.sampled_from([5, 50, 5000]),
    tol=st.sampled_from([1e-2, 1e-5, 1e-8]),
)
def test_converged_means_relative_gap_within_tol(seed, kind, max_iter, tol):
    X, y = make_problem(kind, seed=seed)
    estimator = convex_estimator(
        kind, alpha=3e-2, tol=tol, max_iter=max_iter, random_state=seed
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(X, y)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)

    # converged_ implies dual_gap_ <= tol, and objective_ is the objective of
    # the returned coefficients
    assert_certified(estimator, X, y, rtol=1e-10)
    if estimator.converged_:
        assert estimator.n_iter_ <= max_iter
        assert not warned
    else:
        assert estimator.dual_gap_ > tol
        assert estimator.n_iter_ == max_iter
        assert warned


@pytest.mark.parametrize("kind", ["regression", "multioutput"])
@few_examples
@given(seed=seeds, scale=log_uniform(1e-2, 1e2))
def test_scaling_targets_and_alpha_scales_the_solution(seed, kind, scale):
    X, y = make_problem(kind, seed=seed)
    params = {"tol": 1e-9, "random_state": seed}
    original = convex_estimator(kind, alpha=3e-2, **params).fit(X, y)
    scaled = convex_estimator(kind, alpha=3e-2 * scale, **params).fit(X, scale * y)

    np.testing.assert_array_equal(scaled.gates_, original.gates_)
    assert scaled.objective_ == pytest.approx(scale**2 * original.objective_, rel=3e-9)
    # The squared loss is (1/n)-strongly convex in the outputs Z, so a point
    # within ε of the optimum has ‖Z − Z*‖_F ≤ √(2nε): the certified gaps bound
    # how far the two fits' predictions can be from exactly proportional.
    n_samples = len(X)

    def distance_bound(estimator):
        return np.sqrt(2 * n_samples * estimator.dual_gap_ * estimator.objective_)

    difference = raw_outputs(scaled, X) - scale * raw_outputs(original, X)
    assert np.linalg.norm(difference) <= (
        distance_bound(scaled) + scale * distance_bound(original)
    )
