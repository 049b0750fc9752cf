"""Convex ReLU fits on a CUDA device (skipped where torch cannot see one).

The solvers run the same code on every device; fitted attributes are NumPy
arrays, so a model fitted on a GPU pickles and predicts without one.
"""

import pickle

import numpy as np
import pytest

from convexnn import ConvexReLUClassifier, ConvexReLURegressor

pytestmark = pytest.mark.cuda

PARAMS = {"alpha": 0.02, "n_patterns": 10, "random_state": 0, "max_iter": 50_000}


def problem(seed=0, n_samples=40):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 3))
    return X, np.sin(2 * X[:, 0]) + np.abs(X[:, 1])


@pytest.mark.parametrize("solver", ["admm", "augmented_lagrangian"])
def test_float64_on_cuda_equals_cpu(solver):
    X, y = problem()
    params = {**PARAMS, "solver": solver, "tol": 1e-8, "dtype": "float64"}
    on_cpu = ConvexReLURegressor(device="cpu", **params).fit(X, y)
    on_cuda = ConvexReLURegressor(device="cuda", **params).fit(X, y)
    assert on_cuda.converged_
    assert on_cuda.objective_ == pytest.approx(on_cpu.objective_, rel=1e-7)
    assert on_cuda.constraint_violation_ <= 1e-7
    np.testing.assert_allclose(on_cuda.predict(X), on_cpu.predict(X), atol=1e-5)


def test_float32_classifier_on_cuda_pickles_to_cpu():
    X, y = problem()
    labels = (y > np.median(y)).astype(int)
    model = ConvexReLUClassifier(device="cuda", tol=1e-3, **PARAMS).fit(X, labels)
    assert isinstance(model.coef_, np.ndarray)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
