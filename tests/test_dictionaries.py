"""1-D dictionaries: implicit operators, deduplication, exactness of each family."""

import cvxpy as cp
import numpy as np
import pytest
import torch
from reference import solve_reference

from convexnn.dictionaries import (
    ACTIVATIONS,
    BasisOperator,
    build_dictionary,
    continuous_family,
    dictionary_size,
    duplicate_free,
)

FAMILIES = [(depth, activation) for activation in ACTIVATIONS for depth in (2, 3, 4)]
FAST_FAMILIES = [
    family for family in FAMILIES if family not in ((4, "abs"), (4, "leaky_relu"))
]


def _data(n, seed=0, repeats=False):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    if repeats:
        x[: n // 3] = x[n // 3 : 2 * (n // 3)]
    return x, np.sin(2 * x) + 0.3 * rng.normal(size=n)


def _operator(features, x):
    return BasisOperator(features, torch.from_numpy(np.sort(x)))


@pytest.mark.parametrize(("depth", "activation"), FAMILIES)
def test_implicit_operator_equals_explicit_matrix(depth, activation):
    x, _ = _data(9 if depth == 4 else 14, repeats=True)
    features = build_dictionary(x, depth, activation, negative_slope=0.2)
    A = features.evaluate(np.sort(x))
    operator = _operator(features, x)
    generator = torch.Generator().manual_seed(0)
    coef = torch.randn(len(features), 2, generator=generator, dtype=torch.float64)
    theta = torch.randn(len(x), 2, generator=generator, dtype=torch.float64)
    # relative to the size of the products' terms
    matvec_scale = (np.abs(A) @ np.abs(coef.numpy())).max()
    rmatvec_scale = (np.abs(A.T) @ np.abs(theta.numpy())).max()
    np.testing.assert_allclose(
        operator.matvec(coef).numpy(),
        A @ coef.numpy(),
        rtol=0,
        atol=1e-12 * matvec_scale,
    )
    np.testing.assert_allclose(
        operator.rmatvec(theta).numpy(),
        A.T @ theta.numpy(),
        rtol=0,
        atol=1e-12 * rmatvec_scale,
    )


@pytest.mark.parametrize(("depth", "activation"), FAST_FAMILIES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_closed_form_gram_and_norms(depth, activation, fit_intercept):
    x, _ = _data(12)
    features = build_dictionary(x, depth, activation)
    operator = _operator(features, x)
    A = features.evaluate(np.sort(x))
    if fit_intercept:
        A = A - A.mean(0)
    G = A.T @ A
    np.testing.assert_allclose(
        operator.full_gram(fit_intercept).numpy(), G, atol=1e-12 * np.abs(G).max()
    )
    norms = np.linalg.norm(A, axis=0)
    atol = 1e-12 * np.abs(A).max() * len(x)
    np.testing.assert_allclose(
        operator.column_norms(fit_intercept).numpy(), norms, atol=atol
    )
    # a selection of columns, in closed form and by the generic dense version
    some = torch.arange(0, len(norms), 3)
    for method in (operator.column_norms, super(type(operator), operator).column_norms):
        np.testing.assert_allclose(
            method(fit_intercept, some).numpy(), norms[some.numpy()], atol=atol
        )


@pytest.mark.parametrize(("depth", "activation"), FAMILIES)
def test_expansion_predicts_like_the_chain_at_new_points(depth, activation):
    """The basis expansion (operator) and the chain agree away from the data too."""
    x, _ = _data(8 if depth == 4 else 12)
    features = build_dictionary(x, depth, activation, negative_slope=0.3)
    new = np.sort(np.random.default_rng(1).uniform(-4, 4, 40))
    operator = _operator(features, new)
    identity = torch.eye(len(features), dtype=torch.float64)
    np.testing.assert_allclose(
        operator.matvec(identity).numpy(), features.evaluate(new), atol=1e-11
    )


@pytest.mark.parametrize(("depth", "activation"), FAMILIES)
def test_dictionaries_have_no_constant_or_repeated_columns(depth, activation):
    x, _ = _data(8 if depth == 4 else 12, repeats=True)
    features = build_dictionary(x, depth, activation)
    columns = features.evaluate(np.unique(x))
    centred = columns - columns.mean(0)
    assert np.linalg.norm(centred, axis=0).min() > 1e-8
    # no column is a multiple of another up to a constant
    assert len(duplicate_free(features, np.unique(x))) == len(features)
    assert len(features) <= dictionary_size(len(np.unique(x)), depth, activation)


def test_duplicate_free_keeps_the_longest_of_parallel_columns():
    x = np.linspace(0, 1, 6)
    features = build_dictionary(x, 2, "relu")
    # append half of column 0 (a dominated copy) and column 1 plus a constant
    doubled = features.take(np.array([0, 1, 0, 1, 2]))
    doubled.orient = doubled.orient * np.array([1, 1, 0.5, 1, 1])
    doubled.offset = doubled.offset + np.array([0, 0, 0, 3.0, 0])
    keep = duplicate_free(doubled, x)
    np.testing.assert_array_equal(keep, [0, 1, 4])


@pytest.mark.parametrize(("depth", "activation"), FAMILIES)
def test_breakpoints_are_recorded(depth, activation):
    x, _ = _data(8)
    features = build_dictionary(x, depth, activation)
    breakpoints = features.breakpoints()
    assert breakpoints.shape[0] == len(features)
    assert np.isfinite(breakpoints[:, 0]).all()
    if activation != "abs":
        # every breakpoint of a ReLU, leaky ReLU or step family is a data point
        finite = breakpoints[np.isfinite(breakpoints)]
        assert np.isin(finite, x).all()
    else:
        assert set(np.unique(features.kind)) <= {"abs", "reflection", "mirror"}


def test_relu_depth_four_uses_the_depth_three_columns():
    """Width-one ReLU chains are clipped ramps at any depth (see the estimator)."""
    x, _ = _data(10)
    three, four = build_dictionary(x, 3, "relu"), build_dictionary(x, 4, "relu")
    u = np.sort(x)
    np.testing.assert_allclose(three.evaluate(u), four.evaluate(u), atol=1e-14)


def test_too_large_dictionary_is_refused_with_advice():
    x = np.arange(5000.0)
    with pytest.raises(ValueError, match=r"dictionary columns.*use fewer samples"):
        build_dictionary(x, 3, "abs")
    with pytest.raises(ValueError, match="depth=5 with activation='abs'"):
        build_dictionary(np.arange(5.0), 5, "abs")


def _lasso_value(A, y, alpha):
    """Optimal value of the Lasso with a free intercept, by CVXPY."""
    z, intercept = cp.Variable(A.shape[1]), cp.Variable()
    residual = A @ z + intercept - y
    problem = cp.Problem(
        cp.Minimize(cp.sum_squares(residual) / (2 * len(y)) + alpha * cp.norm1(z))
    )
    return solve_reference(problem, tol=1e-12)


def _grid_points(depth, activation):
    """Grid points per axis: about 1000 to 3000 grid features in all."""
    if activation in ("threshold", "sign"):
        return 400
    return {2: 400, 3: 30, 4: 15}[depth]


@pytest.mark.parametrize(("depth", "activation"), FAMILIES)
def test_finite_dictionary_reaches_the_optimum_of_a_much_larger_one(depth, activation):
    """A Lasso over many more breakpoints (a grid, any sign pattern) is never lower."""
    x, y = _data(6, seed=depth)
    alpha = 0.02
    features = build_dictionary(x, depth, activation, negative_slope=0.3)
    finite = _lasso_value(features.evaluate(x), y, alpha)
    grid = [
        chunk.evaluate(x)
        for chunk in continuous_family(
            activation, depth, -2.5, 2.5, _grid_points(depth, activation), 0.3
        )
    ]
    larger = np.hstack([*grid, features.evaluate(x)])
    larger = larger[:, larger.std(0) > 1e-9]
    assert larger.shape[1] > 3 * len(features)
    assert _lasso_value(larger, y, alpha) >= finite - 1e-7 * finite
