"""The finite families of features, one per (depth, activation) pair, on the
sorted distinct training inputs ``u``."""

from __future__ import annotations

import itertools

import numpy as np

from ._chains import _chains, _kink_levels, _pad_identity, _with_expansion


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
