"""The gated ReLU estimators against an independent solver (CVXPY + Clarabel).

For fixed gates, §3.1 of DESIGN.md is a convex program; Clarabel solves the
CVXPY model of :mod:`reference` (written from the formula, not from the
library) to high accuracy. The estimators are given the same gates, so both
solve the same problem, and must

* report in ``objective_`` the exact objective at the returned ``coef_``,
  ``intercept_`` (recomputed in NumPy);
* reach the optimum to 1e-6 relative, for several ``alpha``, with and
  without intercept and hidden bias, for every loss and output structure;
* never report an objective below the optimum, and report in ``dual_gap_``
  a true bound on the suboptimality, ``objective_ − p* ≤ dual_gap_ ·
  objective_``, also at points far from optimal.
"""

import warnings

import pytest
from reference import (
    KINDS,
    cvxpy_optimum,
    encoded_targets,
    estimator_for,
    gated_objective,
    make_problem,
)
from sklearn.exceptions import ConvergenceWarning

N_PATTERNS = 6
CLARABEL_RTOL = 1e-7
"""Relative accuracy we rely on from Clarabel's optimal value (its own gap
tolerance is 1e-8)."""


def gated_estimator(kind, **params):
    return estimator_for(
        kind, n_patterns=N_PATTERNS, device="cpu", random_state=0, **params
    )


def reference_optimum(estimator, X, y):
    Y, loss = encoded_targets(estimator, y)
    return cvxpy_optimum(
        X,
        Y,
        loss,
        estimator.alpha,
        estimator.gates_,
        fit_intercept=estimator.fit_intercept,
        hidden_bias=estimator.hidden_bias,
        group_norm=estimator.group_norm,
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alpha", [3e-3, 3e-2, 3e-1])
@pytest.mark.parametrize(
    "fit_intercept, hidden_bias",
    [(True, True), (False, False), (True, False), (False, True)],
)
def test_objective_matches_cvxpy(kind, alpha, fit_intercept, hidden_bias):
    X, y = make_problem(kind, seed=1)
    estimator = gated_estimator(
        kind,
        alpha=alpha,
        fit_intercept=fit_intercept,
        hidden_bias=hidden_bias,
        tol=1e-9,
        max_iter=50_000,
    ).fit(X, y)
    assert estimator.converged_

    assert estimator.objective_ == pytest.approx(
        gated_objective(estimator, X, y), rel=1e-10
    )
    optimum = reference_optimum(estimator, X, y)
    assert estimator.objective_ == pytest.approx(optimum, rel=1e-6)
    assert estimator.objective_ >= optimum * (1 - CLARABEL_RTOL)


@pytest.mark.parametrize("alpha", [3e-3, 3e-2, 3e-1])
def test_frobenius_group_norm_matches_cvxpy(alpha):
    X, y = make_problem("multioutput", seed=2)
    estimator = gated_estimator(
        "multioutput", alpha=alpha, group_norm="frobenius", tol=1e-9, max_iter=50_000
    ).fit(X, y)
    assert estimator.converged_
    assert estimator.objective_ == pytest.approx(
        gated_objective(estimator, X, y), rel=1e-10
    )
    assert estimator.objective_ == pytest.approx(
        reference_optimum(estimator, X, y), rel=1e-6
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("max_iter", [1, 10, 100])
def test_dual_gap_bounds_the_suboptimality(kind, max_iter):
    # tol=0 stops every fit at max_iter, at a point that is not optimal
    X, y = make_problem(kind, seed=3)
    estimator = gated_estimator(kind, alpha=1e-2, tol=0.0, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, y)
    optimum = reference_optimum(estimator, X, y)

    suboptimality = estimator.objective_ - optimum
    assert suboptimality > -CLARABEL_RTOL * optimum
    assert suboptimality <= (
        estimator.dual_gap_ * estimator.objective_ + CLARABEL_RTOL * optimum
    )
