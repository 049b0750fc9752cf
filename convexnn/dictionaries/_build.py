"""Building dictionaries: validation, size estimates, deduplication, and the
sampled continuous family used to check exactness."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from ._chains import _chains, _kink_levels, _pad_identity, _with_expansion
from ._families import _abs_vertices, _capped_ramps, _monotone_chains, _ramps, _steps
from ._features import (
    ACTIVATIONS,
    MAX_ABS_DEPTH,
    MAX_COLUMNS,
    STEP_ACTIVATIONS,
    Features,
)


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
