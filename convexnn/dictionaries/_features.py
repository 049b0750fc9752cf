"""A dictionary's columns: the activations and the :class:`Features` that hold
each column both as a chain of 1-D layers and as a basis expansion."""

from __future__ import annotations

import copy

import numpy as np

ACTIVATIONS = ("relu", "leaky_relu", "abs", "threshold", "sign")
STEP_ACTIVATIONS = ("threshold", "sign")
MAX_ABS_DEPTH = 4
MAX_COLUMNS = 5_000_000
"""Largest dictionary :func:`build_dictionary` builds (about 100 bytes a column)."""


def activation(name: str, u: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """The activation ``σ`` (``sign(0) = 1``, ``threshold(0) = 1``)."""
    if name == "relu":
        return np.maximum(u, 0.0)
    if name == "leaky_relu":
        return np.where(u > 0, u, negative_slope * u)
    if name == "abs":
        return np.abs(u)
    if name == "threshold":
        return (u >= 0).astype(u.dtype)
    if name == "sign":
        return np.where(u >= 0, 1.0, -1.0)
    raise ValueError(f"activation={name!r} is not one of {ACTIVATIONS}.")


def _derivative(name: str, u: np.ndarray, negative_slope: float) -> np.ndarray:
    if name == "relu":
        return (u > 0).astype(u.dtype)
    if name == "leaky_relu":
        return np.where(u > 0, 1.0, negative_slope)
    if name == "abs":
        return np.sign(u)
    return np.zeros_like(u)


class Features:
    """A set of dictionary columns (features), as chains and as basis expansions.

    Parameters
    ----------
    activation : str
        One of :data:`ACTIVATIONS`.
    signs : ndarray of shape (m, L-1)
        The signs :math:`s_l` (``±1``).
    levels : ndarray of shape (m, L-1)
        The levels :math:`c_l`.
    orient, offset : ndarray of shape (m,)
        :math:`\\varphi = o + \\varepsilon h_L`.
    kind : ndarray of str, shape (m,)
        What each feature is ("ramp", "capped ramp", "reflection", ...).
    knots, weights : ndarray of shape (m, k)
        Basis expansion: knot positions :math:`t_k` and weights
        :math:`\\beta_k` (padding knots have weight 0).
    slope, constant : ndarray of shape (m,)
        The affine part :math:`a x + b` of the expansion.
    negative_slope : float
        Slope of the leaky ReLU for negative inputs.
    coordinates : ndarray of int, shape (m, d), optional
        Position of each feature on the family's grid (a block number and the
        indices of its kinks among the sorted inputs): features one step apart
        are *neighbours*, which lets a solver pick one column per peak of the
        dual correlations (:meth:`BasisOperator.lines`).
    """

    def __init__(
        self,
        activation: str,
        signs,
        levels,
        orient,
        offset,
        kind,
        knots,
        weights,
        slope,
        constant,
        negative_slope: float = 0.01,
        coordinates=None,
    ):
        self.activation = activation
        self.negative_slope = float(negative_slope)
        self.signs = np.asarray(signs, dtype=np.int8)
        self.levels = np.asarray(levels, dtype=np.float64)
        self.orient = np.asarray(orient, dtype=np.float64)
        self.offset = np.asarray(offset, dtype=np.float64)
        self.kind = np.asarray(kind)
        self.knots = np.asarray(knots, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.slope = np.asarray(slope, dtype=np.float64)
        self.constant = np.asarray(constant, dtype=np.float64)
        self.coordinates = None if coordinates is None else np.asarray(coordinates)

    @property
    def depth(self) -> int:
        """Number of layers ``L`` of the unit computing each feature."""
        return self.signs.shape[1] + 1

    @property
    def basis(self) -> str:
        """``"step"`` for threshold and sign features, else ``"ramp"``."""
        return "step" if self.activation in STEP_ACTIVATIONS else "ramp"

    def __len__(self) -> int:
        return len(self.orient)

    def take(self, indices) -> Features:
        """The features at ``indices`` (an integer array or a boolean mask)."""
        return Features(
            self.activation,
            self.signs[indices],
            self.levels[indices],
            self.orient[indices],
            self.offset[indices],
            self.kind[indices],
            self.knots[indices],
            self.weights[indices],
            self.slope[indices],
            self.constant[indices],
            self.negative_slope,
            None if self.coordinates is None else self.coordinates[indices],
        )

    def hidden(self, x) -> np.ndarray:
        """The last hidden value :math:`h_L` of each chain, shape ``(len(x), m)``."""
        h = np.broadcast_to(
            np.asarray(x, dtype=np.float64)[:, None], (len(x), len(self))
        )
        for layer in range(self.depth - 1):
            u = self.signs[:, layer] * (h - self.levels[:, layer])
            h = activation(self.activation, u, self.negative_slope)
        return h

    def evaluate(self, x) -> np.ndarray:
        """Evaluate every feature at ``x`` through its chain: shape ``(len(x), m)``."""
        return self.offset + self.orient * self.hidden(x)

    def with_coordinates(self, coordinates) -> Features:
        """A copy of these features, sharing their arrays, placed on the grid
        ``coordinates`` (None: no grid)."""
        features = copy.copy(self)
        features.coordinates = (
            None if coordinates is None else np.asarray(coordinates, dtype=np.int64)
        )
        return features

    def lines(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The grid lines of the family, one ordering per grid axis.

        Along axis ``a``, features that differ only in their ``a``-th
        coordinate, by one step at a time, form a *line* (neighbouring kinks:
        nearly equal features).

        Returns
        -------
        list of (order, starts)
            Per axis, ``order`` lists the features line after line, each line
            in increasing coordinate, and ``starts`` (bool, same length) marks
            the first feature of each line. Empty when the family has no grid.
        """
        if self.coordinates is None:
            return []
        coordinates = self.coordinates
        lines = []
        for axis in range(coordinates.shape[1]):
            others = np.delete(coordinates, axis, axis=1)
            order = np.lexsort((coordinates[:, axis], *others.T[::-1]))
            ordered = coordinates[order]
            step = np.diff(ordered[:, axis]) != 1
            moved = np.any(np.diff(np.delete(ordered, axis, axis=1), axis=0), axis=1)
            starts = np.concatenate([[True], step | moved])
            lines.append((order, starts))
        return lines

    def breakpoints(self) -> np.ndarray:
        """Sorted kinks (ramp basis) or jumps (step basis) of each feature.

        Returns
        -------
        ndarray of shape (m, k)
            Padded with NaN where a feature has fewer breakpoints.
        """
        active = self.weights != 0
        points = np.sort(np.where(active, self.knots, np.nan), axis=1)
        width = int(np.isfinite(points).sum(1).max(initial=0))
        return points[:, :width]
