"""Properties of the convex ReLU fit against the network it stands for.

With *every* activation pattern of the data (tiny inputs, where they can be
enumerated) the convex optimum is the global minimum of the two-layer ReLU
network with weight decay (Pilanci & Ergen, 2020), so

* no network trained by Adam gets below it, and the best of many restarts
  approaches it from above;
* the network the convex solution converts to attains it;

and for any fit, pruning keeps the predictions, never raises the objective
and leaves at most ``n_samples`` neurons per output.
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convexnn import ConvexReLURegressor
from convexnn.baselines import NonconvexReLURegressor
from convexnn.patterns import activation_patterns, enumerate_patterns, lift
from convexnn.problems import SquaredLoss

PROPERTY = settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def tiny_problem(seed, n_samples, n_features=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = np.sin(2 * X[:, 0]) + X[:, -1] ** 2 - 1 + 0.1 * rng.standard_normal(n_samples)
    return X, y


def exact_fit(X, y, alpha, tol=1e-8):
    """The convex program over all activation patterns of ``X``."""
    gates = enumerate_patterns(lift(X, True))
    model = ConvexReLURegressor(
        alpha, gates=gates, tol=tol, max_iter=100_000, device="cpu"
    )
    model.fit(X, y)
    assert model.converged_
    return model


def network_objective(network, X, y, alpha):
    with torch.no_grad():
        outputs = network(torch.from_numpy(X))
        decay = float(network.weight_decay())
    return SquaredLoss(torch.from_numpy(y[:, None])).value(outputs) + alpha * decay


def adam_best(X, y, alpha, n_restarts, max_iter, seed=0):
    model = NonconvexReLURegressor(
        alpha,
        n_neurons=2 * len(X),
        n_restarts=n_restarts,
        max_iter=max_iter,
        tol=1e-9,
        device="cpu",
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Adam's own convergence is not tested
        model.fit(X, y)
    return model


@PROPERTY
@given(
    seed=st.integers(0, 10_000),
    n_samples=st.integers(4, 8),
    alpha=st.sampled_from([3e-3, 1e-2, 3e-2]),
)
def test_convex_objective_is_below_adam(seed, n_samples, alpha):
    X, y = tiny_problem(seed, n_samples)
    convex = exact_fit(X, y, alpha)
    adam = adam_best(X, y, alpha, n_restarts=1, max_iter=1000, seed=seed)
    assert convex.objective_ <= adam.objective_ * (1 + 1e-6)
    # the converted network attains the convex objective
    objective = network_objective(convex.to_torch(), X, y, alpha)
    assert objective == pytest.approx(convex.objective_, rel=1e-6)


@pytest.mark.parametrize(
    "n_samples, n_restarts, max_iter",
    [(8, 4, 3000), pytest.param(12, 10, 5000, marks=pytest.mark.slow)],
)
def test_adam_restarts_approach_the_convex_optimum_from_above(
    n_samples, n_restarts, max_iter
):
    X, y = tiny_problem(0, n_samples)
    convex = exact_fit(X, y, 1e-2)
    adam = adam_best(X, y, 1e-2, n_restarts, max_iter)
    assert (adam.restart_objectives_ >= convex.objective_ * (1 - 1e-7)).all()
    assert adam.objective_ <= convex.objective_ * 1.02  # Adam gets close...
    assert network_objective(convex.to_torch(), X, y, 1e-2) == pytest.approx(
        convex.objective_, rel=1e-6
    )  # ...and the converted network is there


@PROPERTY
@given(
    seed=st.integers(0, 10_000),
    n_samples=st.integers(10, 30),
    n_outputs=st.integers(1, 2),
)
def test_conversion_reproduces_training_predictions(seed, n_samples, n_outputs):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 3))
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]])[:, :n_outputs]
    model = ConvexReLURegressor(
        3e-2, n_patterns=10, tol=1e-9, max_iter=100_000, device="cpu", random_state=seed
    ).fit(X, Y.squeeze())
    assert model.converged_
    X_lifted = lift(X, True)
    masks = activation_patterns(X_lifted, model.gates_)
    hidden = np.einsum("nd,pdc->npc", X_lifted, model.coef_[0] - model.coef_[1])
    convex_outputs = np.einsum("np,npc->nc", masks, hidden) + model.intercept_
    with torch.no_grad():
        network_outputs = model.to_torch()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(network_outputs, convex_outputs, atol=1e-8)


@PROPERTY
@given(seed=st.integers(0, 10_000), n_samples=st.integers(5, 15))
def test_pruning_never_raises_the_objective(seed, n_samples):
    X, y = tiny_problem(seed, n_samples, 3)
    model = ConvexReLURegressor(
        1e-3, n_patterns=30, tol=1e-6, max_iter=50, device="cpu", random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pruning needs no optimum
        model.fit(X, y)
    before = network_objective(model.to_torch(), X, y, 1e-3)
    predictions, neurons = model.predict(X), model.n_active_neurons_
    model.prune(X)
    assert model.n_active_neurons_ <= n_samples
    assert model.n_neurons_removed_ == neurons - model.n_active_neurons_
    assert network_objective(model.to_torch(), X, y, 1e-3) <= before * (1 + 1e-12)
    np.testing.assert_allclose(model.predict(X), predictions, atol=1e-9)
