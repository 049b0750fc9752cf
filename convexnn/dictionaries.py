r"""Dictionaries of 1-D features: the Lasso columns of deep narrow networks.

A *feature* is what one unit of a parallel deep narrow network (every hidden
layer of width one) computes once its weights are normalised to ``±1``:

.. math::
    h_1 = x, \qquad h_{l+1} = \sigma\bigl(s_l\,(h_l - c_l)\bigr)\quad (l = 1..L-1),
    \qquad \varphi(x) = o + \varepsilon\, h_L(x),

with signs :math:`s_l \in \{\pm1\}`, *levels* :math:`c_l` (the biases), an
orientation :math:`\varepsilon = \pm1` and an offset ``o`` (a constant the
network's output bias absorbs). With free biases and the weight penalty
:math:`\frac\alpha L\sum|w|^L`, a unit :math:`z\,\varphi` costs exactly
:math:`\alpha|z|` (balance the weights at :math:`|z|^{1/L}`), so training the
network is the Lasso over every such feature; the families below are finite
sets of features that reach the same optimum (see
:class:`~convexnn.ReflectionLassoRegressor` for the table of which are exact).

Every feature is stored twice:

* as the chain above (``signs``, ``levels``, ``orient``, ``offset``): this is
  what :meth:`Features.evaluate` computes at new points and what
  :meth:`~convexnn.ReflectionLassoRegressor.to_torch` turns into a network;
* as a *basis expansion* :math:`\varphi(x) = a\,x + b + \sum_k \beta_k\,
  \psi(x - t_k)` with ramps :math:`\psi(u) = (u)_+` (piecewise-linear
  activations) or steps :math:`\psi(u) = \mathbf 1[u \ge 0]` (threshold, sign)
  at a few knots :math:`t_k`. :class:`BasisOperator` applies a whole dictionary
  through this form with cumulative sums, in :math:`O(N + K + \text{nnz})`
  operations per product, without forming the matrix.

The expansion is computed from the chain (slopes at the midpoints between the
candidate kinks), so the two representations agree to rounding; tests check
that the implicit operator equals the dense matrix of :meth:`Features.evaluate`.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator

import numpy as np

# re-exported: a dictionary's implicit operator lives with the other operators
from .problems.basis import BasisOperator as BasisOperator

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


# --------------------------------------------------------------------------
# chain arithmetic


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
    if activation_name in STEP_ACTIVATIONS:
        # φ = o + ε·σ(x − t): a step of height 1 (threshold) or 2 (sign) at t
        height = 1.0 if activation_name == "threshold" else 2.0
        base = 0.0 if activation_name == "threshold" else -1.0
        weights = (orient * height)[:, None] * np.ones_like(knots)
        return Features(
            activation_name,
            signs,
            levels,
            orient,
            offset,
            kind,
            knots,
            weights,
            np.zeros(len(orient)),
            offset + orient * base,
            negative_slope,
        )
    # slopes between consecutive candidate kinks, from the chain's derivative
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
    weights = np.diff(slopes, axis=1)
    first = knots[:, 0]
    value = (
        offset
        + orient
        * _chain(activation_name, signs, levels, first[:, None], negative_slope)[:, 0]
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
        slopes[:, 0],
        value - slopes[:, 0] * first,
        negative_slope,
    )


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


# --------------------------------------------------------------------------
# the families (u: sorted distinct training inputs)


def _ramps(u, depth, activation_name, negative_slope):
    """Depth 2: ``σ(x − u_j)`` and ``σ(u_j − x)`` (``|x − u_j|`` for abs)."""
    n = len(u)
    right = np.arange(n - 1)
    left = np.arange(1, n - 1) if activation_name != "abs" else np.arange(0)
    signs = np.concatenate([np.ones(len(right)), -np.ones(len(left))])[:, None]
    at = np.concatenate([u[right], u[left]])
    kind = "abs" if activation_name == "abs" else "ramp"
    signs, levels = _pad_identity(
        activation_name, signs.astype(np.int8), at[:, None], depth
    )
    ones = np.ones(len(at))
    features = _with_expansion(
        activation_name,
        signs,
        levels,
        ones,
        0 * ones,
        np.full(len(at), kind),
        at[:, None],
        negative_slope,
    )
    block = np.concatenate([np.zeros(len(right)), np.ones(len(left))])
    return features.with_coordinates(
        np.stack([block, np.concatenate([right, left])], axis=1)
    )


def _capped_ramps(u, depth):
    """ReLU, depth ≥ 3: capped ramps ``clip(x − u_j, 0, u_k − u_j)``, ``j < k``.

    A pair touching the ends of the data is the ramp that agrees with it on
    the data: ``(x − u_j)_+`` when ``k = n``, ``u_k − u_1 − (u_k − x)_+`` when
    ``j = 1``.
    """
    n = len(u)
    j, k = np.triu_indices(n, 1)
    first, last = j == 0, k == n - 1
    right = last  # (x − u_j)_+, including j = 0
    left = first & ~last  # u_k − u_1 − (u_k − x)_+
    capped = ~first & ~last
    m = len(j)
    signs = np.ones((m, 2), dtype=np.int8)
    levels = np.zeros((m, 2))
    orient = np.ones(m)
    offset = np.zeros(m)
    candidates = np.stack([u[j], u[k]], axis=1)

    levels[right, 0] = u[j[right]]
    candidates[right, 1] = u[j[right]]

    signs[left, 0] = -1
    levels[left, 0] = u[k[left]]
    orient[left] = -1
    offset[left] = u[k[left]] - u[0]
    candidates[left, 0] = u[k[left]]

    signs[capped, 1] = -1
    levels[capped, 0] = u[j[capped]]
    levels[capped, 1] = u[k[capped]] - u[j[capped]]
    orient[capped] = -1
    offset[capped] = levels[capped, 1]

    kind = np.where(capped, "capped ramp", "ramp")
    signs, levels = _pad_identity("relu", signs, levels, depth)
    features = _with_expansion(
        "relu", signs, levels, orient, offset, kind, candidates, 0.0
    )
    return features.with_coordinates(np.stack([j, k], axis=1))


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


def _monotone_chains(u, depth, negative_slope):
    """Leaky ReLU, depth ≥ 3: every sign pattern with its kinks at data points."""
    n, n_layers = len(u), depth - 1
    patterns = np.array(
        list(itertools.product([1, -1], repeat=n_layers)), dtype=np.int8
    )
    at = np.array(list(itertools.product(range(n), repeat=n_layers))).reshape(
        -1, n_layers
    )
    signs = np.repeat(patterns, len(at), axis=0)
    kinks = u[np.tile(at, (len(patterns), 1))]
    levels = _kink_levels("leaky_relu", signs, kinks, negative_slope)
    pattern = np.repeat(np.arange(len(patterns)), len(at))
    coordinates = np.column_stack([pattern, np.tile(at, (len(patterns), 1))])
    chains = _chains("leaky_relu", signs, levels, "chain", coordinates, negative_slope)
    return chains, kinks


def _abs_vertices(u, depth):
    """Nested absolute values ``|…||x − a| − c₂| … − c_{L−1}|`` at the vertices.

    The correlation of such a feature with a dual vector is piecewise linear in
    its parameters ``(a, c₂, …)``, with creases where a kink of the feature
    crosses a data point; its maximum sits at a vertex of that arrangement.
    Depth 3: ``a = u_i`` and ``c = |u_j − u_i|`` (a *reflection*: zeros at
    ``u_j`` and ``2u_i − u_j``), or ``a = (u_i + u_j)/2`` and
    ``c = |u_j − u_i|/2`` (the *mirror* between ``u_i`` and ``u_j``), or
    ``c = 0``. Depth 4 adds the vertices where three kinks ``a``, ``a ± c``,
    ``a ± c ± d`` sit at data points: reflections of reflections.
    """
    n = len(u)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    i, j = i.ravel(), j.ravel()
    distinct = i != j
    centres = [u, u[i[distinct]], 0.5 * (u[i] + u[j])[i < j]]
    radii = [
        np.zeros(n),
        np.abs(u[j] - u[i])[distinct],
        0.5 * np.abs(u[j] - u[i])[i < j],
    ]
    kinds = ["abs", "reflection", "mirror"]
    parameters = [np.stack([a, c], axis=1) for a, c in zip(centres, radii, strict=True)]
    names = [np.full(len(a), kind) for a, kind in zip(centres, kinds, strict=True)]
    if depth == 4:
        parameters = [np.hstack([p, np.zeros((len(p), 1))]) for p in parameters]
        parameters.append(_abs_depth4_vertices(u))
        names.append(np.full(len(parameters[-1]), "reflection"))
    parameters = np.vstack(parameters)
    kind = np.concatenate(names)
    # identical parameters give identical features: keep the first
    scale = max(float(np.abs(u).max(initial=0.0)), np.finfo(float).tiny)
    _, first = np.unique(np.round(parameters / scale, 12), axis=0, return_index=True)
    first = np.sort(first)
    parameters, kind = parameters[first], kind[first]
    signs = np.ones((len(parameters), depth - 1), dtype=np.int8)
    chains = _chains("abs", signs, parameters, kind)
    return chains, _nested_abs_kinks(parameters)


def _abs_depth4_vertices(u):
    """Parameters ``(a, c, d)``, ``c, d > 0``, where three kinks hit data points."""
    # kinks x = a + p·c + q·d for these (p, q): a, a ± c, a ± c ± d
    kinks = [(0, 0), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)]
    normals = np.array([[1.0, p, q] for p, q in kinks])
    grid = np.stack(np.meshgrid(u, u, u, indexing="ij"), axis=0).reshape(3, -1)
    tiny = 1e-12 * float(np.abs(u).max(initial=0.0))
    found = []
    for rows in itertools.combinations(range(len(kinks)), 3):
        system = normals[list(rows)]
        if abs(np.linalg.det(system)) < 0.5:
            continue
        solution = np.linalg.solve(system, grid)  # (3, n³)
        keep = (solution[1] > tiny) & (solution[2] > tiny)
        found.append(solution[:, keep].T)
    return np.vstack(found) if found else np.zeros((0, 3))


def _nested_abs_kinks(parameters):
    """All points ``a ± c₂ ± c₃ …`` where a nested absolute value may kink."""
    points = parameters[:, :1]
    for layer in range(1, parameters.shape[1]):
        radius = parameters[:, layer : layer + 1]
        last = points[:, -(2 ** (layer - 1)) :] if layer > 1 else points
        points = np.hstack([points, last - radius, last + radius])
    return points


def _steps(u, depth, activation_name):
    """Threshold and sign: steps ``1[x ≥ u_j]`` (``sign(x − u_j)``), ``j > 1``."""
    at = u[1:]
    m = len(at)
    signs, levels = _pad_identity(
        activation_name, np.ones((m, 1), dtype=np.int8), at[:, None], depth
    )
    features = _with_expansion(
        activation_name,
        signs,
        levels,
        np.ones(m),
        np.zeros(m),
        np.full(m, "step"),
        at[:, None],
        0.0,
    )
    return features.with_coordinates(np.arange(1, len(u))[:, None])


# --------------------------------------------------------------------------
# public constructors


def check_family(depth: int, activation_name: str) -> None:
    """Raise ``ValueError`` for a (depth, activation) pair without a dictionary."""
    if activation_name not in ACTIVATIONS:
        raise ValueError(
            f"activation={activation_name!r} is not supported; expected one of "
            f"{ACTIVATIONS}."
        )
    if depth < 2:
        raise ValueError(f"depth must be an integer ≥ 2; got depth={depth}.")
    if activation_name == "abs" and depth > MAX_ABS_DEPTH:
        raise ValueError(
            f"depth={depth} with activation='abs' is not implemented (its "
            f"dictionary of reflections has O(N^{depth - 1}) columns); use "
            f"depth ≤ {MAX_ABS_DEPTH}."
        )


def dictionary_size(n_unique: int, depth: int, activation_name: str) -> int:
    """Number of candidate columns before deduplication."""
    n = n_unique
    if activation_name in STEP_ACTIVATIONS:
        return max(n - 1, 0)
    if depth == 2:
        return max(n - 1, 0) if activation_name == "abs" else max(2 * n - 3, 0)
    if activation_name == "relu":
        return n * (n - 1) // 2
    if activation_name == "leaky_relu":
        return (2 * n) ** (depth - 1)
    size = n + n * (n - 1) + n * (n - 1) // 2
    if depth == 4:
        size += 8 * n**3
    return size


def build_dictionary(
    x,
    depth: int = 2,
    activation_name: str = "relu",
    negative_slope: float = 0.01,
    *,
    deduplicate: bool = True,
) -> Features:
    """Build the finite dictionary of a (depth, activation) pair on inputs ``x``.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        Training inputs (any order, repeats allowed).
    depth : int
        Number of layers ``L`` of the network (``≥ 2``).
    activation_name : str
        One of :data:`ACTIVATIONS`.
    negative_slope : float
        Leaky ReLU slope for negative inputs.
    deduplicate : bool
        Remove columns that are constant on ``x`` or a multiple ``λ``,
        ``|λ| ≤ 1``, of another column up to a constant (such a column can
        never lower the Lasso objective). Families built by construction
        without duplicates skip the numerical comparison.

    Returns
    -------
    Features
    """
    check_family(depth, activation_name)
    u = np.unique(np.asarray(x, dtype=np.float64))
    size = dictionary_size(len(u), depth, activation_name)
    if size > MAX_COLUMNS:
        raise ValueError(
            f"depth={depth} with activation={activation_name!r} on {len(u)} distinct "
            f"inputs needs about {size:,} dictionary columns (limit {MAX_COLUMNS:,}); "
            "use fewer samples (or bin x), a smaller depth, or activation='relu'."
        )
    if activation_name in STEP_ACTIVATIONS:
        return _steps(u, depth, activation_name)
    if depth == 2:
        return _ramps(u, depth, activation_name, negative_slope)
    if activation_name == "relu":
        return _capped_ramps(u, depth)
    if activation_name == "leaky_relu":
        chains, candidates = _monotone_chains(u, depth, negative_slope)
    else:
        chains, candidates = _abs_vertices(u, depth)
    if deduplicate:
        keep = duplicate_free(chains, u)
        chains, candidates = chains.take(keep), candidates[keep]
    features = _with_expansion(
        chains.activation,
        chains.signs,
        chains.levels,
        chains.orient,
        chains.offset,
        chains.kind,
        candidates,
        negative_slope,
    )
    return features.with_coordinates(chains.coordinates)


def duplicate_free(features: Features, x: np.ndarray, chunk_size: int = 8192):
    """Indices of the features to keep on inputs ``x``: non-constant, one per direction.

    Columns are compared up to an additive constant and a nonzero factor; of
    columns along the same direction the one of largest norm is kept (the
    others are multiples ``λ``, ``|λ| ≤ 1``, of it and never needed by the
    Lasso), the first one on ties. Directions are rounded to 9 decimals and
    compared through two independent 64-bit hashes, chunk by chunk, so memory
    stays at one chunk of columns.
    """
    m = len(features)
    generator = np.random.default_rng(0)
    multipliers = generator.integers(-(2**62), 2**62, size=(len(x), 2))
    norms = np.empty(m)
    hashes = np.empty((m, 2), dtype=np.int64)
    for start in range(0, m, chunk_size):
        chunk = slice(start, min(start + chunk_size, m))
        columns = features.take(chunk).evaluate(x)
        columns -= columns.mean(0)
        norm = np.linalg.norm(columns, axis=0)
        directions = columns / np.where(norm > 0, norm, 1.0)
        pivot = np.abs(directions).argmax(0)
        directions *= np.sign(directions[pivot, np.arange(len(pivot))])
        keys = np.round(directions * 1e9).astype(np.int64)
        with np.errstate(over="ignore"):
            hashes[chunk] = keys.T @ multipliers
        norms[chunk] = norm
    scale = norms.max(initial=0.0)
    if scale == 0:
        return np.arange(0)
    nonconstant = np.flatnonzero(norms > 1e-10 * scale)
    rounded = np.round(norms[nonconstant] / scale, 10)
    first_hash, second_hash = hashes[nonconstant].T
    order = np.lexsort((nonconstant, -rounded, second_hash, first_hash))
    same = (first_hash[order[1:]] == first_hash[order[:-1]]) & (
        second_hash[order[1:]] == second_hash[order[:-1]]
    )
    return np.sort(nonconstant[order[np.concatenate([[True], ~same])]])


def continuous_family(
    activation_name: str,
    depth: int,
    low: float,
    high: float,
    grid_size: int,
    negative_slope: float = 0.01,
    chunk_size: int = 4096,
) -> Iterator[Features]:
    """Chains whose breakpoints lie on a grid: the continuous family, sampled.

    Monotone activations (ReLU, leaky ReLU): every sign pattern with its kinks
    ``a_l`` on ``grid_size`` points of ``[low, high]``. Absolute value:
    ``a`` on that grid and each level ``c_l`` on ``grid_size`` points of
    ``[0, high − low]``. Threshold and sign: steps on the grid. Yields chunks
    (chains only: :meth:`Features.evaluate` works, the expansion is empty).
    """
    grid = np.linspace(low, high, grid_size)
    n_layers = depth - 1
    if activation_name in STEP_ACTIVATIONS:
        axes = [grid]
        patterns = np.array([[1], [-1]], dtype=np.int8)
    elif activation_name == "abs":
        axes = [grid] + [np.linspace(0.0, high - low, grid_size)] * (n_layers - 1)
        patterns = np.ones((1, n_layers), dtype=np.int8)
    else:
        axes = [grid] * n_layers
        patterns = np.array(
            list(itertools.product([1, -1], repeat=n_layers)), dtype=np.int8
        )
    total = grid_size ** len(axes)
    for pattern in patterns:
        for start in range(0, total, chunk_size):
            flat = np.arange(start, min(start + chunk_size, total))
            index = np.unravel_index(flat, [grid_size] * len(axes))
            parameters = np.stack(
                [axis[i] for axis, i in zip(axes, index, strict=True)], 1
            )
            signs = np.repeat(pattern[None, : parameters.shape[1]], len(flat), axis=0)
            if activation_name in ("relu", "leaky_relu"):
                levels = _kink_levels(
                    activation_name, signs, parameters, negative_slope
                )
            else:
                levels = parameters
            signs, levels = _pad_identity(activation_name, signs, levels, depth)
            yield _chains(activation_name, signs, levels, "grid", slope=negative_slope)
