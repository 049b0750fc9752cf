"""scikit-learn's API conformance checks over every gated estimator and the
cross-validated network estimators.

Small ``n_patterns``, ``max_iter``, grids of alphas and a loose ``tol`` keep the
checks fast: they test the API, not the optimum (other files do), so fits
stopping early with a ``ConvergenceWarning`` are expected here. One check is
expected to fail for the convex estimators, for the reason given below.
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

LOOSE_TOL = {
    "check_sample_weight_equivalence_on_dense_data": (
        "the convex fits of these API checks stop at tol=1e-4, so a weighted "
        "fit and the fit on repeated rows agree to about 1e-4, not to the "
        "check's rtol=1e-7 (the classifier's three-class problem there is so "
        "ill-conditioned that even at the float64 limit of the gap its "
        "near-zero logits differ by ~1e-8, as they do when the rows are only "
        "reordered); the equivalence is checked at a tight tol, with this "
        "check itself for the regressor, in tests/test_sample_weight.py"
    )
}

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


FOLDS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "a cross-validated fit splits repeated rows into other folds than the "
        "weighted rows they repeat, so its alpha_ and refit may differ; with "
        "folds over the original rows mapped to their copies the fits agree, "
        "tested in tests/test_cv_estimators.py"
    )
}


def expected_failures(estimator) -> dict:
    name = type(estimator).__name__
    if name.startswith("Nonconvex"):
        return {}
    return FOLDS if name.endswith("CV") else LOOSE_TOL


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)
