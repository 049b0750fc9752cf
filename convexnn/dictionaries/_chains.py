r"""Chain arithmetic: values and slopes of 1-D chains, and their basis expansion.

A chain :math:`h_{l+1} = \sigma(s_l (h_l - c_l))` is piecewise linear (or
piecewise constant for step activations) with kinks among a few candidate
points; its expansion :math:`a x + b + \sum_k \beta_k \psi(x - t_k)` reads the
slopes at the midpoints between those candidates, so both agree to rounding.
"""

from __future__ import annotations

import numpy as np

from ._features import STEP_ACTIVATIONS, Features, _derivative, activation


def _chain(activation_name, signs, levels, points, negative_slope, derivative=False):
    """Values (and slopes) of chains at ``points`` of shape ``(m, P)``."""
    h = points
    slope = np.ones_like(points)
    for layer in range(signs.shape[1]):
        s = signs[:, layer, None]
        u = s * (h - levels[:, layer, None])
        if derivative:
            slope = _derivative(activation_name, u, negative_slope) * s * slope
        h = activation(activation_name, u, negative_slope)
    return (h, slope) if derivative else h


def _kink_levels(activation_name, signs, kinks, negative_slope):
    """Levels ``c_l = h_l(a_l)`` that put layer ``l``'s kink at ``x = a_l``."""
    levels = np.zeros(kinks.shape)
    for layer in range(kinks.shape[1]):
        levels[:, layer] = _chain(
            activation_name,
            signs[:, :layer],
            levels[:, :layer],
            kinks[:, layer, None],
            negative_slope,
        )[:, 0]
    return levels


def _with_expansion(
    activation_name, signs, levels, orient, offset, kind, candidates, negative_slope
):
    """Attach the basis expansion to chains whose kinks lie in ``candidates``."""
    signs = np.asarray(signs, dtype=np.int8)
    levels = np.asarray(levels, dtype=np.float64)
    orient = np.asarray(orient, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    knots = np.sort(np.asarray(candidates, dtype=np.float64), axis=1)
    expand = _step_expansion if activation_name in STEP_ACTIVATIONS else _ramp_expansion
    weights, slope, constant = expand(
        activation_name, signs, levels, orient, offset, knots, negative_slope
    )
    return Features(
        activation_name,
        signs,
        levels,
        orient,
        offset,
        kind,
        knots,
        weights,
        slope,
        constant,
        negative_slope,
    )


def _step_expansion(activation_name, signs, levels, orient, offset, knots, slope):
    """Weights, slope and constant of steps ``φ = o + ε·σ(x − t)``.

    A step has height 1 (threshold) or 2 (sign) at ``t``; the expansion is flat.
    """
    height = 1.0 if activation_name == "threshold" else 2.0
    base = 0.0 if activation_name == "threshold" else -1.0
    weights = (orient * height)[:, None] * np.ones_like(knots)
    return weights, np.zeros(len(orient)), offset + orient * base


def _ramp_expansion(
    activation_name, signs, levels, orient, offset, knots, negative_slope
):
    """Weights, slope and constant of piecewise-linear chains kinking at ``knots``.

    The slopes between consecutive knots come from the chain's derivative at
    the midpoints; each knot's weight is the change of slope across it.
    """
    margin = 1.0 + np.abs(knots)
    points = np.concatenate(
        [
            knots[:, :1] - margin[:, :1],
            0.5 * (knots[:, 1:] + knots[:, :-1]),
            knots[:, -1:] + margin[:, -1:],
        ],
        axis=1,
    )
    _, slopes = _chain(
        activation_name, signs, levels, points, negative_slope, derivative=True
    )
    slopes = slopes * orient[:, None]
    # a zero-length interval (repeated knot) takes the slope on its right, so
    # the whole jump sits on the first copy of the knot
    for k in range(knots.shape[1] - 1, 0, -1):
        repeated = knots[:, k] == knots[:, k - 1]
        slopes[repeated, k] = slopes[repeated, k + 1]
    first = knots[:, 0]
    value = (
        offset
        + orient
        * _chain(activation_name, signs, levels, first[:, None], negative_slope)[:, 0]
    )
    return np.diff(slopes, axis=1), slopes[:, 0], value - slopes[:, 0] * first


def _pad_identity(activation_name, signs, levels, depth):
    """Append layers that pass ``h ≥ 0`` (or ``h ∈ {0,1}``, ``{±1}``) through."""
    missing = depth - 1 - signs.shape[1]
    if missing == 0:
        return signs, levels
    level = 0.5 if activation_name == "threshold" else 0.0
    m = signs.shape[0]
    return (
        np.hstack([signs, np.ones((m, missing), dtype=np.int8)]),
        np.hstack([levels, np.full((m, missing), level)]),
    )


def _chains(activation_name, signs, levels, kind, coordinates=None, slope=0.01):
    """Features given by their chains only (``φ = h_L``; no basis expansion yet)."""
    m = len(signs)
    empty = np.zeros((m, 0))
    return Features(
        activation_name,
        signs,
        levels,
        np.ones(m),
        np.zeros(m),
        np.broadcast_to(np.asarray(kind), (m,)),
        empty,
        empty,
        np.zeros(m),
        np.zeros(m),
        slope,
        coordinates,
    )
