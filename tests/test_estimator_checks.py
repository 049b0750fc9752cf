"""scikit-learn's API conformance checks over every gated estimator and the
cross-validated network estimators.

Small ``n_patterns``, ``max_iter``, grids of alphas and a loose ``tol`` keep the
checks fast: they test the API, not the optimum (other files do), so fits
stopping early with a ``ConvergenceWarning`` are expected here. No check is
expected to fail.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from convexnn import (
    ConvexReLUClassifierCV,
    ConvexReLURegressorCV,
    GatedReLUClassifier,
    GatedReLUClassifierCV,
    GatedReLURegressor,
    GatedReLURegressorCV,
)
from convexnn.baselines import NonconvexGatedReLUClassifier, NonconvexGatedReLURegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = {"n_patterns": 10, "device": "cpu", "random_state": 0}
PATH = {"n_alphas": 3, "cv": 2, **FAST}

ESTIMATORS = [
    GatedReLURegressor(max_iter=200, tol=1e-4, **FAST),
    GatedReLUClassifier(max_iter=200, tol=1e-4, **FAST),
    NonconvexGatedReLURegressor(max_iter=50, **FAST),
    NonconvexGatedReLUClassifier(max_iter=50, **FAST),
    GatedReLURegressorCV(max_iter=200, tol=1e-4, **PATH),
    GatedReLUClassifierCV(max_iter=200, tol=1e-4, **PATH),
    ConvexReLURegressorCV(max_iter=20, tol=1e-3, **PATH),
    ConvexReLUClassifierCV(max_iter=20, tol=1e-3, **PATH),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
