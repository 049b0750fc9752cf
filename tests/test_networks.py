"""Round trips between networks and convex coefficients (convexnn.networks).

From a network to convex coefficients and back, the outputs on the data are
unchanged and the convex penalty is at most the network's weight decay, with
equality for networks built from convex coefficients. This is why the convex
optimum is below any network's objective (DESIGN.md §3).
"""

import copy

import numpy as np
import pytest
import torch
from reference import gated_outputs

from convexnn import (
    ConvexReLUClassifier,
    ConvexReLURegressor,
    GatedReLUClassifier,
    GatedReLURegressor,
    ReflectionLassoRegressor,
)
from convexnn.baselines import (
    NonconvexGatedReLUClassifier,
    NonconvexGatedReLURegressor,
    NonconvexReLUClassifier,
    NonconvexReLURegressor,
)
from convexnn.networks import (
    GatedReLUNetwork,
    ReLUNetwork,
    cone_coefficients,
    gated_coefficients,
)
from convexnn.testing import convex_objective, make_problem


def outputs(network, X):
    with torch.no_grad():
        return network(torch.from_numpy(X)).numpy()


def weight_decay(network):
    with torch.no_grad():
        return float(network.weight_decay())


def nuclear_norms(coef):
    return np.linalg.norm(coef, ord="nuc", axis=(1, 2))


def cone_outputs(X_lifted, gates, coef, intercept):
    """``Σᵢ Dᵢ X̃ (vᵢ − wᵢ) + b`` written out."""
    masks = (X_lifted @ gates.T > 0).astype(np.float64)
    per_pattern = np.einsum("nd,pdc->npc", X_lifted, coef[0] - coef[1])
    return np.einsum("np,npc->nc", masks, per_pattern) + intercept


def random_gated_network(rng, n_features, n_outputs, hidden_bias=True):
    """Nine neurons on four gates, so that several neurons share a gate."""
    d = n_features + hidden_bias
    gates = rng.standard_normal((4, d))[rng.integers(0, 4, size=9)]
    return GatedReLUNetwork(
        torch.from_numpy(gates),
        torch.from_numpy(rng.standard_normal((9, d))),
        torch.from_numpy(rng.standard_normal((9, n_outputs))),
        torch.from_numpy(rng.standard_normal(n_outputs)),
        hidden_bias,
    )


def random_relu_network(rng, n_features, n_outputs, n_neurons=12, hidden_bias=True):
    d = n_features + hidden_bias
    hidden = rng.standard_normal((n_neurons, d))
    # repeat some neurons' directions (scaled), so that patterns are shared
    hidden[: n_neurons // 3] = 2.5 * hidden[n_neurons // 3 : 2 * (n_neurons // 3)]
    return ReLUNetwork(
        torch.from_numpy(hidden),
        torch.from_numpy(rng.standard_normal((n_neurons, n_outputs))),
        torch.from_numpy(rng.standard_normal(n_outputs)),
        hidden_bias,
    )


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("hidden_bias", [True, False])
def test_gated_coefficients_reproduce_the_network(n_outputs, hidden_bias):
    rng = np.random.default_rng(n_outputs)
    X = rng.standard_normal((30, 3))
    network = random_gated_network(rng, 3, n_outputs, hidden_bias)
    gates, coef, intercept = gated_coefficients(network)

    assert len(gates) == len(np.unique(network.gates.numpy(), axis=0)) < 9
    assert coef.shape == (len(gates), 3 + hidden_bias, n_outputs)
    for data in (X, 3 * rng.standard_normal((10, 3))):
        np.testing.assert_allclose(
            gated_outputs(data, gates, coef, intercept, hidden_bias),
            outputs(network, data),
            atol=1e-12,
        )
    # grouping neurons only lowers the penalty: ‖Σ w aᵀ‖_* ≤ Σ ½(‖w‖² + ‖a‖²)
    assert nuclear_norms(coef).sum() < weight_decay(network)

    # back to a network: the same function, and now the bound is tight
    rebuilt = GatedReLUNetwork.from_gated_coefficients(
        gates, coef, intercept, hidden_bias
    )
    np.testing.assert_allclose(outputs(rebuilt, X), outputs(network, X), atol=1e-12)
    assert weight_decay(rebuilt) == pytest.approx(nuclear_norms(coef).sum(), rel=1e-12)
    gates_again, coef_again, _ = gated_coefficients(rebuilt)
    np.testing.assert_array_equal(gates_again, gates)
    np.testing.assert_allclose(coef_again, coef, atol=1e-12)


def test_gated_coefficients_of_a_fitted_model_round_trip():
    X, y = make_problem("multioutput", seed=3, n_samples=30)
    model = GatedReLURegressor(3e-2, n_patterns=8, device="cpu", random_state=0)
    model.fit(X, y)
    gates, coef, intercept = gated_coefficients(model.to_torch())
    active = np.abs(model.coef_).sum(axis=(1, 2)) > 0
    order = np.lexsort(model.gates_[active].T[::-1])  # np.unique's row order
    np.testing.assert_array_equal(gates, model.gates_[active][order])
    np.testing.assert_allclose(coef, model.coef_[active][order], atol=1e-12)
    np.testing.assert_array_equal(intercept, model.intercept_)


@pytest.mark.parametrize("hidden_bias", [True, False])
def test_cone_coefficients_reproduce_the_network_on_the_data(hidden_bias):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((40, 3))
    network = random_relu_network(rng, 3, 1, hidden_bias=hidden_bias)
    gates, coef, intercept = cone_coefficients(network, X)
    X_lifted = np.column_stack([X, np.ones(len(X))]) if hidden_bias else X

    n_patterns = len(gates)
    assert coef.shape == (2, n_patterns, 3 + hidden_bias, 1)
    patterns = X_lifted @ gates.T > 0
    assert len(np.unique(patterns.T, axis=0)) == n_patterns  # distinct, nonempty
    assert patterns.any(axis=0).all()
    # the cone constraints (2Dᵢ − I) X̃ vᵢ ≥ 0 hold for every block
    signs = np.where(patterns, 1.0, -1.0)
    for block in coef:
        margins = signs[:, :, None] * np.einsum("nd,pdc->npc", X_lifted, block)
        assert margins.min() >= -1e-12
    np.testing.assert_allclose(
        cone_outputs(X_lifted, gates, coef, intercept), outputs(network, X), atol=1e-12
    )
    # fewer blocks than neurons: the penalty is below the weight decay (AM-GM)
    penalty = np.linalg.norm(coef, axis=2).sum()
    assert n_patterns < network.hidden_weight.shape[0]
    assert penalty < weight_decay(network)

    # back to a network: the same outputs on X, and an exact penalty
    rebuilt = ReLUNetwork.from_cone_coefficients(coef, intercept, hidden_bias)
    np.testing.assert_allclose(outputs(rebuilt, X), outputs(network, X), atol=1e-12)
    assert weight_decay(rebuilt) == pytest.approx(penalty, rel=1e-12)
    _, coef_again, _ = cone_coefficients(rebuilt, X)
    assert np.linalg.norm(coef_again, axis=2).sum() == pytest.approx(penalty, rel=1e-12)


def test_cone_coefficients_with_several_outputs():
    # outputs still agree; the penalty is bounded by the weight decay with the
    # ℓ1 norm of each output weight vector, which can exceed the network's
    rng = np.random.default_rng(11)
    X = rng.standard_normal((40, 2))
    network = random_relu_network(rng, 2, 3)
    gates, coef, intercept = cone_coefficients(network, X)
    X_lifted = np.column_stack([X, np.ones(len(X))])
    np.testing.assert_allclose(
        cone_outputs(X_lifted, gates, coef, intercept), outputs(network, X), atol=1e-12
    )
    hidden = network.hidden_weight.detach().numpy()
    output = network.output_weight.detach().numpy()
    active = (X_lifted @ hidden.T > 0).any(axis=0)
    bound = (
        np.linalg.norm(hidden[active], axis=1) * np.abs(output[active]).sum(axis=1)
    ).sum()
    assert np.linalg.norm(coef, axis=2).sum() <= bound * (1 + 1e-12)


def test_cone_coefficients_drop_neurons_inactive_on_the_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    hidden = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # second: never active
    network = ReLUNetwork(
        torch.from_numpy(hidden),
        torch.tensor([[2.0], [5.0]], dtype=torch.float64),
        torch.zeros(1, dtype=torch.float64),
        True,
    )
    gates, coef, _ = cone_coefficients(network, X)
    np.testing.assert_array_equal(gates, hidden[:1])
    np.testing.assert_allclose(coef[0, 0, :, 0], 2 * hidden[0])
    np.testing.assert_array_equal(coef[1], 0.0)


def test_convex_relu_fit_from_a_networks_patterns_is_below_it():
    # the theorem behind assert_below_nonconvex, checked directly: the convex
    # objective at the network's coefficients is at most its objective, and
    # the convex optimum over its patterns is lower still
    X, y = make_problem("regression", seed=4, n_samples=25)
    rng = np.random.default_rng(4)
    network = random_relu_network(rng, 3, 1)
    alpha = 1e-2
    network_value = 0.5 * np.mean((outputs(network, X)[:, 0] - y) ** 2) + (
        alpha * weight_decay(network)
    )
    gates, coef, intercept = cone_coefficients(network, X)
    model = ConvexReLURegressor(alpha, gates=gates, tol=1e-6, device="cpu").fit(X, y)
    np.testing.assert_array_equal(model.gates_, gates)
    at_network = copy.copy(model)  # the same model at the network's coefficients
    at_network.coef_, at_network.intercept_ = coef, intercept
    assert convex_objective(at_network, X, y) <= network_value * (1 + 1e-12)
    assert model.objective_ <= convex_objective(at_network, X, y) * (1 + 1e-6)


def _networks_of_every_estimator():
    fast = {"alpha": 1e-2, "max_iter": 20, "random_state": 0}
    return [
        (GatedReLURegressor, {**fast, "n_patterns": 8}, "GatedReLUNetwork"),
        (GatedReLUClassifier, {**fast, "n_patterns": 8}, "GatedReLUNetwork"),
        (ConvexReLURegressor, {**fast, "n_patterns": 8}, "ReLUNetwork"),
        (ConvexReLUClassifier, {**fast, "n_patterns": 8}, "ReLUNetwork"),
        (NonconvexGatedReLURegressor, {**fast, "n_patterns": 8}, "GatedReLUNetwork"),
        (NonconvexGatedReLUClassifier, {**fast, "n_patterns": 8}, "GatedReLUNetwork"),
        (NonconvexReLURegressor, {**fast, "n_neurons": 8}, "ReLUNetwork"),
        (NonconvexReLUClassifier, {**fast, "n_neurons": 8}, "ReLUNetwork"),
        (ReflectionLassoRegressor, {"depth": 3, "alpha": 1e-2}, "DeepNarrowNetwork"),
    ]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    ("Estimator", "params", "name"),
    _networks_of_every_estimator(),
    ids=lambda p: getattr(p, "__name__", ""),
)
def test_the_network_repr_names_its_layer_sizes(Estimator, params, name):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    if Estimator.__name__ == "ReflectionLassoRegressor":
        X = X[:, :1]
    signal = X[:, 0] + np.abs(X[:, -1])
    multiclass = "Classifier" in Estimator.__name__
    y = (
        np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))
        if multiclass
        else signal
    )
    network = Estimator(**params).fit(X, y).to_torch()
    text = repr(network)
    assert text.startswith(f"{name}(in_features={X.shape[1]}, ")
    assert f"out_features={3 if multiclass else 1}" in text
    assert "activation=" in text
    if name == "DeepNarrowNetwork":
        assert f"units={network.weights.shape[0]}, depth=3" in text
    else:
        assert f"hidden={network.hidden_weight.shape[0]}," in text
        assert "hidden_bias=True" in text
    if name == "GatedReLUNetwork":
        assert f"gates=({network.hidden_weight.shape[0]}, {X.shape[1] + 1})" in text
    assert str(network) == text
