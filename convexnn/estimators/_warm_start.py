"""Warm starts: a fit that starts from the previous fit's solution.

scikit-learn's ``warm_start``: with ``warm_start=True`` and the estimator
already fitted, ``fit`` starts the solver from the fitted solution instead of
from zero (or from random weights, for the Adam baselines). For the convex
estimators the start changes only the work, never the optimum: along a grid
of ``alpha`` each solution is a good start for the next. The previous solution
is used only where it fits the new problem: another number of features,
outputs (classes) or patterns, or other gates asked for, make a cold start, as
if ``warm_start`` were ``False``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..patterns import resolve_gates

WARM_START_PARAMETERS = {"warm_start": ["boolean"]}
"""The constraint of the ``warm_start`` parameter."""


def previous_solution(
    estimator, shapes: Mapping[str, tuple[int | None, ...]]
) -> dict[str, np.ndarray] | None:
    """The fitted attributes named in ``shapes`` to start from, or ``None``.

    ``None`` (a cold start) unless ``estimator.warm_start`` is set and every
    attribute exists with the shape given (``None`` matches any length on
    its axis).
    """
    if not getattr(estimator, "warm_start", False):
        return None
    previous = {}
    for name, shape in shapes.items():
        value = getattr(estimator, name, None)
        if value is None or not _matches(np.shape(value), shape):
            return None
        previous[name] = value
    return previous


def _matches(shape: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    return len(shape) == len(expected) and all(
        want is None or want == have for have, want in zip(shape, expected, strict=True)
    )


def previous_gated_solution(
    estimator, n_lifted: int, shapes: Mapping[str, tuple[int | None, ...]]
) -> dict[str, np.ndarray] | None:
    """:func:`previous_solution` for a model over gates, with ``gates_`` of
    ``n_lifted`` columns; ``None`` too when the ``gates`` parameter now names
    other gates than the fitted ones (a new problem)."""
    given = estimator.gates
    fitted = getattr(estimator, "gates_", None)
    if given is not None and fitted is not None:
        if not np.array_equal(np.asarray(given, dtype=np.float64), fitted):
            return None
    return previous_solution(estimator, {"gates_": (None, n_lifted), **shapes})


def gates_to_fit(
    estimator, X_lifted: np.ndarray, previous: dict | None, random_state
) -> np.ndarray:
    """The previous fit's gates for a warm start, else the gates asked for
    (given, or sampled with ``random_state``)."""
    if previous is not None:
        return previous["gates_"]
    return resolve_gates(estimator.gates, X_lifted, estimator.n_patterns, random_state)
