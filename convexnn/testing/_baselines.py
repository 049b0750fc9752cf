r"""Checking that a convex fit is never worse than its nonconvex baseline.

Why it must hold: the network a baseline trains maps to convex coefficients
over its own activation patterns (:func:`convexnn.networks.gated_coefficients`,
:func:`convexnn.networks.cone_coefficients`) with the same outputs and a
penalty at most its weight decay. So the convex optimum over any set of
patterns containing the network's is at most the baseline's objective, and a
certified convex fit is within its tolerance of that optimum.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

from .._backend import Backend
from ..baselines import (
    NonconvexGatedReLUClassifier,
    NonconvexGatedReLURegressor,
    NonconvexReLUClassifier,
    NonconvexReLURegressor,
)
from ..estimators import (
    ConvexReLUClassifier,
    ConvexReLURegressor,
    GatedReLUClassifier,
    GatedReLURegressor,
)
from ..networks import cone_coefficients, gated_coefficients
from ..patterns import lift
from ._networks import network_objective

PAIRS = {
    "gated": (
        (GatedReLURegressor, GatedReLUClassifier),
        (NonconvexGatedReLURegressor, NonconvexGatedReLUClassifier),
    ),
    "cone": (
        (ConvexReLURegressor, ConvexReLUClassifier),
        (NonconvexReLURegressor, NonconvexReLUClassifier),
    ),
}
"""Convex estimators and the baselines they are compared with."""

SHARED_PARAMETERS = ("alpha", "loss", "fit_intercept", "hidden_bias")
"""Parameters that must agree for the two objectives to be the same function."""


def _pair_kind(convex, baseline) -> str:
    for kind, (convex_types, baseline_types) in PAIRS.items():
        if isinstance(convex, convex_types) and isinstance(baseline, baseline_types):
            return kind
    raise TypeError(
        "assert_below_nonconvex compares a gated ReLU estimator with a nonconvex "
        "gated baseline, or a convex ReLU estimator with a nonconvex ReLU baseline; "
        f"got {type(convex).__name__} and {type(baseline).__name__}."
    )


def _is_fitted(estimator) -> bool:
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def _baseline_patterns(kind: str, baseline: BaseEstimator, X: ArrayLike) -> np.ndarray:
    """Gates whose patterns on ``X`` carry the baseline network's nonzero blocks."""
    network = baseline.to_torch()
    if kind == "gated":
        gates, coef, _ = gated_coefficients(network)
        return gates[np.abs(coef).sum(axis=(1, 2)) > 0]
    gates, coef, _ = cone_coefficients(network, X)
    if coef.shape[3] > 1:
        raise ValueError(
            "With several outputs the convex ReLU model is one network per output "
            "and its penalty can exceed the shared network's weight decay "
            "(convexnn.networks.cone_coefficients): the comparison is not a theorem."
        )
    return gates[np.abs(coef).sum(axis=(0, 2, 3)) > 0]


def _missing_patterns(needed: np.ndarray, available: np.ndarray) -> int:
    """How many patterns (columns of boolean matrices) of ``needed`` are not
    among those of ``available``."""
    have = {column.tobytes() for column in available.T}
    return sum(column.tobytes() not in have for column in needed.T)


def assert_below_nonconvex(
    convex: BaseEstimator,
    baseline: BaseEstimator,
    X: ArrayLike,
    y: ArrayLike,
    *,
    rtol: float | None = None,
) -> tuple[BaseEstimator, BaseEstimator]:
    r"""Assert that the convex fit is never worse than the nonconvex baseline.

    Checks, at equal ``alpha`` (and loss, intercept, hidden bias),

    .. math::
        \text{lower bound} \le \text{baseline.objective\_}, \qquad
        \text{convex.objective\_} \le \text{baseline.objective\_}\,(1 + \text{rtol}),

    where the lower bound is the convex fit's certified one
    (``objective_ · (1 − dual_gap_)`` for gated ReLU, ``lower_bound_`` for
    convex ReLU). It first checks that the baseline's ``objective_`` is the
    objective of the network it returns (relative ``√ε`` of the baseline's
    precision: ``1.5e-8`` in float64, ``3.5e-4`` in float32).

    The inequality is a theorem (module docstring) when the convex model's
    activation patterns on ``X`` include those of the baseline's neurons.
    Unfitted estimators are therefore fitted here, on clones: the baseline
    first (its own :class:`~sklearn.exceptions.ConvergenceWarning` is silenced:
    the inequality holds for any network), then the convex model with
    ``gates`` set to the baseline's gates (gated pairs) or hidden weights
    (ReLU pairs, whose patterns are the neurons'). Fitted ones are used as
    they are, after checking that their patterns cover the baseline's.

    Parameters
    ----------
    convex : gated ReLU or convex ReLU estimator
    baseline : the matching estimator of :mod:`convexnn.baselines`
        ReLU pairs need one output (regression or binary classification with
        one column); with several outputs the convex ReLU model is a different
        architecture (one network per output).
    X, y : array-like
        The training data of both.
    rtol : float, default=None
        Allowed relative excess of ``convex.objective_``; ``None`` is
        ``tol / (1 − tol)`` with the convex estimator's ``tol`` (what a relative
        duality gap of ``tol`` allows).

    Returns
    -------
    convex, baseline : the fitted estimators compared

    Raises
    ------
    AssertionError
        If an inequality fails or the baseline misreports its objective; the
        message gives both objectives.
    ValueError
        If the two estimators' objectives differ (``alpha``, ``loss``,
        ``fit_intercept``, ``hidden_bias``) or the fitted convex model lacks
        some of the baseline's patterns.
    """
    kind = _pair_kind(convex, baseline)
    _check_shared_parameters(convex, baseline)
    baseline = _fitted_baseline(baseline, X, y)
    convex = _fitted_convex(kind, convex, baseline, X, y)
    _compare_objectives(kind, convex, baseline, rtol)
    return convex, baseline


def _check_shared_parameters(convex, baseline) -> None:
    """Raise ``ValueError`` unless both estimators minimise the same objective."""
    convex_params, baseline_params = convex.get_params(), baseline.get_params()
    for name in SHARED_PARAMETERS:
        if convex_params[name] != baseline_params[name]:
            raise ValueError(
                f"convex and baseline must share {name} (the objectives would "
                f"differ); got {convex_params[name]!r} and {baseline_params[name]!r}."
            )


def _fitted_baseline(baseline, X, y):
    """The baseline, fitted on a clone if it is not, after checking that its
    ``objective_`` is its network's (relative ``√ε`` of its precision)."""
    if not _is_fitted(baseline):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            baseline = clone(baseline).fit(X, y)
    recomputed = network_objective(baseline.to_torch(), X, y, baseline)
    # the baseline computed its objective in its own precision
    trained_in = Backend.from_params(baseline.device, baseline.dtype).dtype
    precision = np.sqrt(torch.finfo(trained_in).eps)
    if not abs(recomputed - baseline.objective_) <= precision * abs(recomputed):
        raise AssertionError(
            f"{type(baseline).__name__}.objective_ = {baseline.objective_:.12g} but "
            f"the network it returns has objective {recomputed:.12g}."
        )
    return baseline


def _fitted_convex(kind: str, convex, baseline, X, y):
    """The convex model, fitted on a clone over the baseline's patterns if it
    is not; ``ValueError`` if its patterns miss some of the baseline's."""
    needed = _baseline_patterns(kind, baseline, X)
    if not _is_fitted(convex):
        convex = clone(convex)
        if kind == "gated":
            convex.set_params(gates=baseline.gates_)
        elif len(needed):
            convex.set_params(gates=needed)
        convex.fit(X, y)
    X_lifted = lift(np.asarray(X, dtype=np.float64), convex.hidden_bias)
    missing = _missing_patterns(X_lifted @ needed.T > 0, X_lifted @ convex.gates_.T > 0)
    if missing:
        raise ValueError(
            f"The convex model lacks {missing} of the baseline network's "
            f"{len(needed)} activation patterns on X, so its optimum may be above "
            "the baseline's: fit it with gates covering them (pass it unfitted to "
            "let assert_below_nonconvex choose them)."
        )
    return convex


def _compare_objectives(kind: str, convex, baseline, rtol) -> None:
    """Assert that the certified lower bound and the convex objective are
    below the baseline's objective (the latter up to ``rtol``)."""
    if kind == "gated":
        lower_bound = convex.objective_ * (1 - convex.dual_gap_)
    else:
        lower_bound = convex.lower_bound_
    if rtol is None:
        rtol = convex.tol / max(1 - convex.tol, np.finfo(np.float64).eps)
    reference = baseline.objective_
    names = f"{type(convex).__name__} vs {type(baseline).__name__}"
    # the lower bound is a dual objective: only rounding may put it above
    if lower_bound > reference * (1 + 1e-10):
        raise AssertionError(
            f"{names}: the convex fit's certified lower bound {lower_bound:.12g} is "
            f"above the nonconvex objective_ {reference:.12g}."
        )
    if convex.objective_ > reference * (1 + rtol):
        raise AssertionError(
            f"{names}: convex objective_ {convex.objective_:.12g} is above the "
            f"nonconvex objective_ {reference:.12g} by a relative "
            f"{convex.objective_ / reference - 1:.3g} > rtol={rtol:.3g}."
        )
