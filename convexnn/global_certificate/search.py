r"""Candidate activation patterns: all of them when few, good guesses otherwise.

The patterns :math:`\mathbf 1[\tilde Xg > 0]` are the cells of the arrangement
of the ``n`` hyperplanes :math:`\{g : \tilde x_j^\top g = 0\}` through the
origin of :math:`\mathbb R^{\tilde d}` (a gate on a hyperplane gives the
pattern of a neighbouring cell, so open cells are all there is).

*Exact.* :func:`convexnn.patterns.enumerate_patterns` visits every cell from
its edges (each cell is a pointed cone, and near an edge, where
:math:`\tilde d - 1` hyperplanes meet, every combination of sides of those
hyperplanes is a cell). That argument needs the hyperplanes in general
position: no :math:`\tilde d` distinct ones through a common line.
:func:`general_position` checks it on the distinct hyperplanes (duplicate or
opposite rows define the same one and do no harm); only then is the
enumeration claimed exhaustive. Cost :math:`\binom{n}{\tilde d-1}2^{\tilde d}`
gates: small ``n`` and ``d̃`` (2-D data with a hidden bias and a few hundred
points, for instance).

*Heuristic.* Beyond that, candidates come from

* the fit's own gates and Gaussian random gates;
* ascent on the ReLU dual function :math:`u \mapsto \sigma\theta_k^\top(\tilde Xu)_+`
  over the unit sphere, started from the best candidates: its value at ``u``
  is a lower bound on the violation of the pattern of ``u`` (``u`` lies in
  that pattern's cone), and it is continuous in ``u``, so steps along its
  gradient :math:`\sigma\tilde X^\top D(u)\theta_k` walk from cell to cell;
* for gated ReLU, a local search that crosses one hyperplane at a time: from a
  gate ``g``, the gate reflected just past :math:`\tilde x_j^\top g = 0` flips
  sample ``j`` (and any sample whose hyperplane lies in between), and the best
  of the ``n`` neighbours is taken while it improves.

Every candidate is a gate, so every pattern found is realised by a hyperplane;
a violation found is real. A heuristic search can miss a pattern, so its
maximum is a lower bound on the true one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
from sklearn.utils import check_random_state

from ..patterns import activation_patterns, enumerate_patterns

ScoreFunction = Callable[[np.ndarray], np.ndarray]
"""Maps gates ``(m, d̃)`` to a violation score per gate, ``(m,)``."""

ASCENT_STEPS = 30
"""Steps of each ascent on the ReLU dual function."""

LOCAL_STEPS = 20
"""Most moves of each hyperplane-crossing local search."""

CROSSING = 1e-3
"""How far past a hyperplane a crossing move lands, relative to the distance
to it: small, so that few other samples change side."""


def distinct_hyperplanes(X_lifted: np.ndarray) -> np.ndarray:
    """Unit normals of the distinct hyperplanes ``x̃ⱼᵀg = 0`` (zero rows dropped)."""
    norms = np.linalg.norm(X_lifted, axis=1)
    rows = X_lifted[norms > 0] / norms[norms > 0, None]
    # a row and its opposite define the same hyperplane: fix the sign of the
    # first nonzero entry, then round away rounding noise before comparing
    first = np.argmax(np.abs(rows) > 1e-12, axis=1)
    rows = rows * np.sign(rows[np.arange(len(rows)), first])[:, None]
    _, keep = np.unique(np.round(rows, 10), axis=0, return_index=True)
    return rows[np.sort(keep)]


def general_position(X_lifted: np.ndarray, max_candidates: int = 1_000_000) -> bool:
    r"""Whether every :math:`\tilde d` distinct hyperplanes are independent.

    Checked through the determinants of all :math:`\tilde d`-subsets of the
    distinct unit normals (:func:`distinct_hyperplanes`); a determinant below
    ``1e-10`` in absolute value counts as dependent. Returns False, claiming
    nothing, when there are more than ``max_candidates`` subsets.
    """
    normals = distinct_hyperplanes(X_lifted)
    size = X_lifted.shape[1]
    if len(normals) < size:
        return True
    if math.comb(len(normals), size) > max_candidates:
        return False
    subsets = np.array(list(itertools.combinations(range(len(normals)), size)))
    determinants = np.linalg.det(normals[subsets])
    return bool(np.abs(determinants).min() > 1e-10)


def enumeration_size(X_lifted: np.ndarray) -> int:
    """Candidate gates :func:`~convexnn.patterns.enumerate_patterns` would try."""
    n_samples, size = X_lifted.shape
    return math.comb(n_samples, size - 1) * 2**size


def exhaustive_gates(
    X_lifted: np.ndarray, max_candidates: int = 1_000_000
) -> tuple[np.ndarray, bool] | None:
    """One gate per pattern of the arrangement, and whether that is provably all.

    Returns ``None`` when the enumeration is too large or the rows do not span
    :math:`\\mathbb R^{\\tilde d}`; otherwise ``(gates, exact)`` with ``exact``
    the :func:`general_position` check.
    """
    if enumeration_size(X_lifted) > max_candidates:
        return None
    if np.linalg.matrix_rank(X_lifted) < X_lifted.shape[1]:
        return None
    gates = enumerate_patterns(X_lifted, max_candidates=max_candidates)
    return gates, general_position(X_lifted, max_candidates)


def unique_patterns(X_lifted: np.ndarray, gates: np.ndarray) -> np.ndarray:
    """The gates giving distinct nonempty patterns, first occurrence kept."""
    patterns = activation_patterns(X_lifted, gates)
    packed = np.ascontiguousarray(np.packbits(patterns.T, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first = np.unique(keys, return_index=True)
    first = np.sort(first)
    return gates[first[patterns[:, first].any(axis=0)]]


def relu_ascent(
    X_lifted: np.ndarray, starts: np.ndarray, direction: np.ndarray
) -> np.ndarray:
    r"""Gates visited by ascent on :math:`u \mapsto \theta^\top(\tilde Xu)_+`.

    Parameters
    ----------
    X_lifted : ndarray of shape (n_samples, d̃)
    starts : ndarray of shape (m, d̃)
        Starting gates (nonzero).
    direction : ndarray of shape (n_samples,)
        The weights :math:`\sigma\theta_k`.

    Returns
    -------
    ndarray of shape (m · ASCENT_STEPS, d̃)
        Every iterate: the final scoring decides which are best.
    """
    gates = starts / np.linalg.norm(starts, axis=1, keepdims=True)
    visited = []
    for _ in range(ASCENT_STEPS):
        masks = X_lifted @ gates.T > 0
        # the gradient X̃ᵀD(u)θ of each gate's piece; a unit step on the
        # sphere, averaged with the current point to damp oscillation
        gradient = (X_lifted.T @ (masks * direction[:, None])).T
        norms = np.linalg.norm(gradient, axis=1, keepdims=True)
        gradient = np.where(norms > 0, gradient / np.maximum(norms, 1e-300), 0.0)
        gates = gates + gradient
        gates /= np.maximum(np.linalg.norm(gates, axis=1, keepdims=True), 1e-300)
        visited.append(gates.copy())
    return np.concatenate(visited)


def crossing_search(
    X_lifted: np.ndarray, start: np.ndarray, score: ScoreFunction
) -> np.ndarray:
    """Gates visited by greedy hyperplane-crossing moves from ``start``.

    Each move takes the best of the ``n`` gates
    :math:`g - (1 + \\epsilon)(\\tilde x_j^\\top g/\\|\\tilde x_j\\|^2)\\tilde x_j`
    (``g`` reflected just past hyperplane ``j``) when it scores higher.
    """
    squared = np.einsum("nd,nd->n", X_lifted, X_lifted)
    usable = squared > 0
    rows, squared = X_lifted[usable], squared[usable]
    gate, value = start, float(score(start[None])[0])
    visited = [gate]
    for _ in range(LOCAL_STEPS):
        offsets = (1 + CROSSING) * (rows @ gate) / squared
        neighbours = gate - offsets[:, None] * rows
        values = score(neighbours)
        best = int(np.argmax(values))
        if values[best] <= value:
            break
        gate, value = neighbours[best], float(values[best])
        visited.append(gate)
    return np.array(visited)


def heuristic_gates(
    X_lifted: np.ndarray,
    Theta: np.ndarray,
    fitted_gates: np.ndarray,
    score: ScoreFunction,
    *,
    n_random: int = 2000,
    n_starts: int = 10,
    crossing: bool = True,
    random_state=None,
) -> np.ndarray:
    """Candidate gates from sampling, ReLU ascent and (optionally) crossing search.

    Parameters
    ----------
    X_lifted : ndarray of shape (n_samples, d̃)
    Theta : ndarray of shape (n_samples, n_outputs)
        The dual point.
    fitted_gates : ndarray of shape (P, d̃)
        The fit's gates (always candidates).
    score : callable
        Violation score of gates, used to pick starting points.
    n_random : int
        Gaussian gates drawn.
    n_starts : int
        Best candidates each local method starts from (per output and sign
        for the ascent).
    crossing : bool
        Whether to run the crossing search (cheap only with a cheap
        ``score``).
    random_state : int, RandomState instance or None
        Seeds the random gates.

    Returns
    -------
    ndarray of shape (m, d̃)
        Gates with distinct nonempty patterns.
    """
    rng = check_random_state(random_state)
    random = rng.standard_normal((n_random, X_lifted.shape[1]))
    # the correlation directions ±X̃ᵀθ_k are natural gates too
    correlations = (X_lifted.T @ Theta).T
    candidates = unique_patterns(
        X_lifted, np.concatenate([fitted_gates, random, correlations, -correlations])
    )
    starts = candidates[np.argsort(-score(candidates))[:n_starts]]
    found = [candidates]
    for column in Theta.T:
        for sign in (1.0, -1.0):
            found.append(relu_ascent(X_lifted, starts, sign * column))
    if crossing:
        found.extend(crossing_search(X_lifted, start, score) for start in starts)
    return unique_patterns(X_lifted, np.concatenate(found))
