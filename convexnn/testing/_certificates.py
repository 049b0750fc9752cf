r"""Checking that a fit's certificate says what ``converged_`` claims."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._formulas import convex_objective

KKT_RESIDUALS = ("stationarity_", "constraint_violation_", "complementarity_")
"""The convex ReLU estimators' relative KKT residuals."""


def _certificate(estimator) -> dict[str, float]:
    """The relative optimality measures ``converged_`` is about, by attribute name."""
    if hasattr(estimator, KKT_RESIDUALS[0]):
        return {name: float(getattr(estimator, name)) for name in KKT_RESIDUALS}
    return {"dual_gap_": float(estimator.dual_gap_)}


def assert_certified(
    estimator: BaseEstimator, X: ArrayLike, y: ArrayLike, *, rtol: float = 1e-8
) -> None:
    r"""Assert that a fitted convex estimator's certificate is honest.

    1. ``converged_`` implies that every relative optimality measure is within
       ``tol``: the duality gap ``dual_gap_`` (gated ReLU, weighted Lasso) or
       the KKT residuals ``stationarity_``, ``constraint_violation_`` and
       ``complementarity_`` (convex ReLU); each measure is nonnegative.
    2. A convex ReLU model's ``lower_bound_`` (a dual objective) is not above
       ``objective_``.
    3. ``objective_`` equals the objective recomputed on the training data from
       the fitted attributes (:func:`convex_objective`) up to ``rtol``, so the
       certificate is about the model that was returned.

    Parameters
    ----------
    estimator : fitted gated ReLU, convex ReLU or weighted Lasso estimator
    X, y : array-like
        The training data.
    rtol : float, default=1e-8
        Relative tolerance of check 3.

    Raises
    ------
    AssertionError
        Naming the measure, its value and ``tol``, or both objectives.
    """
    check_is_fitted(estimator)
    name = type(estimator).__name__
    measures = _certificate(estimator)
    negative = {key: value for key, value in measures.items() if not value >= 0}
    if negative:
        raise AssertionError(f"{name} reports negative (or NaN) measures {negative}.")
    if estimator.converged_:
        above = {key: v for key, v in measures.items() if v > estimator.tol}
        if above:
            raise AssertionError(
                f"{name} reports converged_=True but {above} exceed "
                f"tol={estimator.tol:g}."
            )
    lower_bound = getattr(estimator, "lower_bound_", -np.inf)
    if lower_bound > estimator.objective_ * (1 + rtol):
        raise AssertionError(
            f"{name}'s certified lower bound lower_bound_ = {lower_bound:.12g} is "
            f"above its objective_ = {estimator.objective_:.12g}."
        )
    recomputed = convex_objective(estimator, X, y)
    reported = estimator.objective_
    assert_relatively_close(
        recomputed,
        reported,
        rtol,
        f"{name}.objective_ = {reported:.12g} but the objective of its fitted "
        f"attributes on the training data is {recomputed:.12g}",
    )


def assert_relatively_close(
    value: float, reference: float, rtol: float, statement: str
) -> None:
    """Raise ``AssertionError("<statement>; relative difference … > rtol")``
    unless ``|value - reference| ≤ rtol · |reference|`` (scaled by the
    reference, so an infinite ``value`` fails)."""
    if not abs(value - reference) <= rtol * abs(reference):
        raise AssertionError(
            f"{statement}; relative difference "
            f"{abs(value - reference) / abs(reference):.3g} > rtol={rtol:g}."
        )
