r"""Transforms from importance scores to Lasso penalty factors.

A transform maps scores :math:`s \in (0, 1]^p` and a *trust* value ``t`` to
penalty factors, normalised to sum to ``p`` so that ``alpha`` keeps its
meaning whatever the trust:

.. math::
    w_j = p\,\frac{v_j}{\sum_k v_k}, \qquad
    v_j = \begin{cases}
        s_j^{-\eta} & \text{"power", } t = \eta \ge 0, \\
        1 + f\,\dfrac{\max(0,\, c - s_j)}{1 - c} & \text{"relu", } t = c \in [0, 1).
    \end{cases}

Trust ``0`` gives every feature the factor 1 in both families: the plain
Lasso. Growing ``η`` (or the cut point ``c``) penalises low-scored features
ever more: the power family spreads the factors over all scores, the relu
family leaves every feature scored above ``c`` at the smallest factor and
raises the others linearly as their score falls below it. The slope ``f``
is 1 in :func:`relu_factors`'s default; the trust ``c`` alone already spans
the plain Lasso (``c = 0``) to an arbitrarily strong prior (``c → 1``).

A callable ``transform(scores, trust) -> factors`` may replace them; its
factors (finite, nonnegative, not all zero) are normalised the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Transform = Callable[[np.ndarray, float], np.ndarray]


def normalise(factors: np.ndarray) -> np.ndarray:
    """Scale nonnegative finite ``factors`` to sum to their number ``p``."""
    factors = np.asarray(factors, dtype=np.float64)
    return factors * (len(factors) / factors.sum())


def power_factors(scores: np.ndarray, trust: float) -> np.ndarray:
    r"""Factors :math:`w_j \propto s_j^{-\eta}`, ``η = trust ≥ 0``, summing to ``p``."""
    if not trust >= 0:
        raise ValueError(f"the power transform needs a trust η ≥ 0; got {trust!r}.")
    return normalise(np.asarray(scores, dtype=np.float64) ** -float(trust))


def relu_factors(scores: np.ndarray, trust: float, scale: float = 1.0) -> np.ndarray:
    r"""Factors :math:`w_j \propto 1 + f\max(0, c - s_j)/(1 - c)`, summing to ``p``.

    ``c = trust`` in ``[0, 1)`` is the cut point and ``f = scale > 0`` the
    slope; use ``functools.partial(relu_factors, scale=f)`` as a transform for
    another slope.
    """
    if not 0 <= trust < 1:
        raise ValueError(
            f"the relu transform needs a trust (cut point) c in [0, 1); got {trust!r}."
        )
    if not scale > 0:
        raise ValueError(f"the relu transform needs a slope scale > 0; got {scale!r}.")
    scores = np.asarray(scores, dtype=np.float64)
    return normalise(1.0 + scale * np.maximum(0.0, trust - scores) / (1.0 - trust))


@dataclass(frozen=True)
class TrustFamily:
    """A transform with its default trust grid."""

    transform: Transform
    default_grid: tuple[float, ...]


TRANSFORMS: dict[str, TrustFamily] = {
    "power": TrustFamily(power_factors, (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)),
    "relu": TrustFamily(relu_factors, (0.0, 0.25, 0.5, 0.75, 0.9, 0.99)),
}
"""The built-in transforms; trust 0 is the plain Lasso in both."""


def trust_candidates(
    transform: str | Transform, trust_grid: Sequence[float] | None
) -> list[float | None]:
    """The trust values to cross-validate, the plain Lasso first.

    Raises a ``ValueError`` naming ``trust_grid`` when a value is outside a
    built-in transform's range.

    For a built-in transform the plain Lasso is trust ``0``: it is added when
    missing and the grid is sorted increasingly. For a callable the plain
    Lasso is the candidate ``None`` (all factors 1), followed by the given
    grid in its order.
    """
    if isinstance(transform, str):
        family = TRANSFORMS[transform]
        grid = family.default_grid if trust_grid is None else trust_grid
        trusts = sorted({0.0, *(float(t) for t in grid)})
        for trust in trusts:  # checked before any scorer is asked
            try:
                family.transform(np.ones(1), trust)
            except ValueError as error:
                raise ValueError(f"trust_grid: {error}") from None
        return trusts
    if trust_grid is None:
        raise ValueError(
            "trust_grid is required with a callable transform: give the trust "
            "values to cross-validate (the plain Lasso is always added)."
        )
    return [None, *(float(t) for t in trust_grid)]


def penalty_factors(
    transform: str | Transform, scores: np.ndarray, trust: float | None
) -> np.ndarray:
    """Factors of ``scores`` at ``trust``: all ones for the plain Lasso
    (``trust=None``), else the transform's, normalised to sum to ``p``."""
    scores = np.asarray(scores, dtype=np.float64)
    if trust is None:
        return np.ones_like(scores)
    if isinstance(transform, str):
        return TRANSFORMS[transform].transform(scores, trust)
    factors = np.asarray(transform(scores.copy(), trust), dtype=np.float64)
    if factors.shape != scores.shape:
        raise ValueError(
            f"transform(scores, {trust}) must return one factor per feature, shape "
            f"{scores.shape}; got shape {factors.shape}."
        )
    if not (np.isfinite(factors).all() and (factors >= 0).all() and factors.any()):
        raise ValueError(
            f"transform(scores, {trust}) must return finite nonnegative factors, "
            "not all zero."
        )
    return normalise(factors)
