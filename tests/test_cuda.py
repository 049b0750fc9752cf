"""The same fits on a CUDA device (skipped where torch cannot see one).

``alpha`` means the same on every device and in every precision, and fitted
attributes are NumPy arrays, so a model fitted on a GPU pickles and predicts
on a machine without one.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from reference import estimator_for, make_problem

from convexnn.baselines import NonconvexGatedReLUClassifier, NonconvexGatedReLURegressor

pytestmark = pytest.mark.cuda

DEVICE = "cuda"
KINDS = ["regression", "multioutput", "binary", "multiclass"]


def convex_estimator(kind, **params):
    return estimator_for(kind, alpha=1e-2, n_patterns=20, random_state=0, **params)


@pytest.mark.parametrize("kind", KINDS)
def test_float64_on_cuda_equals_cpu(kind):
    X, y = make_problem(kind, seed=0)
    on_cpu = convex_estimator(kind, device="cpu", tol=1e-9).fit(X, y)
    on_cuda = convex_estimator(kind, device=DEVICE, dtype="float64", tol=1e-9).fit(X, y)

    np.testing.assert_array_equal(on_cuda.gates_, on_cpu.gates_)
    assert on_cuda.converged_
    assert on_cuda.objective_ == pytest.approx(on_cpu.objective_, rel=1e-8)
    # the optimal outputs on the training points are unique (the coefficients
    # need not be); both fits are within 1e-9 of the optimum
    np.testing.assert_allclose(on_cuda.predict(X), on_cpu.predict(X), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_cuda_defaults_to_float32_with_the_same_alpha(kind):
    # float32 iterations, float64 certificates: the default tol is certified,
    # and the objective is the float64 objective of the float32 coefficients
    # (the activation patterns, computed in float32, may differ from the
    # float64 ones on points next to a gate's hyperplane)
    X, y = make_problem(kind, seed=0)
    on_cpu = convex_estimator(kind, device="cpu").fit(X, y)
    on_cuda = convex_estimator(kind, device=DEVICE).fit(X, y)
    assert on_cuda.converged_ and on_cuda.dual_gap_ <= 1e-6
    assert on_cuda.objective_ == pytest.approx(on_cpu.objective_, rel=1e-5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "Baseline, kind",
    [
        (NonconvexGatedReLURegressor, "regression"),
        (NonconvexGatedReLUClassifier, "multiclass"),
    ],
)
def test_baselines_run_on_cuda(Baseline, kind):
    X, y = make_problem(kind, seed=0)
    params = {"alpha": 1e-2, "n_patterns": 10, "max_iter": 300, "random_state": 0}
    on_cpu = Baseline(device="cpu", dtype="float64", **params).fit(X, y)
    on_cuda = Baseline(device=DEVICE, dtype="float64", **params).fit(X, y)
    np.testing.assert_array_equal(on_cuda.gates_, on_cpu.gates_)
    # Adam from the same initial point: only the rounding differs, which a
    # nonconvex descent may amplify a little
    assert on_cuda.objective_ == pytest.approx(on_cpu.objective_, rel=1e-3)


@pytest.mark.parametrize("kind", ["regression", "multiclass"])
def test_fitted_on_cuda_predicts_on_a_machine_without_cuda(kind, tmp_path):
    X, y = make_problem(kind, seed=0)
    estimator = convex_estimator(kind, device=DEVICE).fit(X, y)
    X_new = np.random.default_rng(1).standard_normal((20, X.shape[1]))
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps((estimator, X_new, estimator.predict(X_new))))

    # unpickle and predict in a process where torch cannot see any GPU
    script = textwrap.dedent(
        f"""
        import pickle, numpy as np, torch
        assert not torch.cuda.is_available()
        with open({str(path)!r}, "rb") as file:
            estimator, X_new, expected = pickle.load(file)
        np.testing.assert_array_equal(estimator.predict(X_new), expected)
        """
    )
    environment = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", script], check=True, env=environment)
