"""scikit-learn's API conformance checks over every gated estimator.

Small ``n_patterns``, ``max_iter`` and a loose ``tol`` keep the checks fast:
they test the API, not the optimum (other files do), so fits stopping early
with a ``ConvergenceWarning`` are expected here. No check is expected to fail.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from convexnn import GatedReLUClassifier, GatedReLURegressor
from convexnn.baselines import NonconvexGatedReLUClassifier, NonconvexGatedReLURegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = {"n_patterns": 10, "device": "cpu", "random_state": 0}

ESTIMATORS = [
    GatedReLURegressor(max_iter=200, tol=1e-4, **FAST),
    GatedReLUClassifier(max_iter=200, tol=1e-4, **FAST),
    NonconvexGatedReLURegressor(max_iter=50, **FAST),
    NonconvexGatedReLUClassifier(max_iter=50, **FAST),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
