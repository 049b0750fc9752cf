r"""Gate sampling: the activation patterns of the gated and convex ReLU models.

A gate :math:`g \in \mathbb R^{\tilde d}` defines the pattern
:math:`D(g) = \operatorname{diag}(\mathbf 1[\tilde X g > 0])` on the lifted data
:math:`\tilde X = [X, \mathbf 1]` (the column of ones only with
``hidden_bias=True``). Gates are drawn from :math:`\mathcal N(0, I)` with
NumPy's generator seeded by ``random_state`` (so the same gates on every
device), and those giving an empty or an already seen pattern are dropped.
New points get their pattern from the same gates.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from sklearn.utils import check_random_state

from .problems.gated import CHUNK_BYTES, sample_slices


def lift(X: np.ndarray, hidden_bias: bool) -> np.ndarray:
    """Return ``X̃``: ``X`` with a trailing column of ones when ``hidden_bias``."""
    if not hidden_bias:
        return X
    return np.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)])


def activation_patterns(X_lifted: np.ndarray, gates: np.ndarray) -> np.ndarray:
    """Boolean patterns ``1[X̃ gᵢ > 0]`` of shape ``(n_samples, n_gates)``."""
    return X_lifted @ gates.T > 0


def packed_patterns(
    X_lifted: np.ndarray, gates: np.ndarray, chunk_bytes: int = CHUNK_BYTES
) -> np.ndarray:
    """The patterns ``1[X̃ gᵢ > 0]`` bit-packed along the samples
    (:func:`numpy.packbits`): one row of ``⌈n/8⌉`` bytes per gate.

    Computed by chunks of samples whose float64 products ``X̃ gᵢ`` take at
    most about ``chunk_bytes``, so that the ``n × P`` patterns are never
    formed whole: the workspace is one chunk, the result ``P · ⌈n/8⌉``
    bytes."""
    n_samples = X_lifted.shape[0]
    packed = np.empty((len(gates), -(-n_samples // 8)), dtype=np.uint8)
    for rows in sample_slices(n_samples, 8 * len(gates), chunk_bytes):
        patterns = activation_patterns(X_lifted[rows], gates)
        packed[:, rows.start // 8 : -(-rows.stop // 8)] = np.packbits(
            patterns.T, axis=1
        )
    return packed


def sample_gates(
    X_lifted: np.ndarray, n_patterns: int, random_state=None
) -> np.ndarray:
    """Sample Gaussian gates with distinct, nonempty activation patterns.

    Parameters
    ----------
    X_lifted : ndarray of shape (n_samples, d̃)
        Lifted training data ``X̃``.
    n_patterns : int
        Number of gates drawn; fewer are returned when some give an empty or
        a repeated pattern on ``X_lifted``.
    random_state : int, RandomState instance or None
        Seeds the draw.

    Returns
    -------
    gates : ndarray of shape (n_patterns_, d̃)
        The kept gates, in the order drawn.

    Raises
    ------
    ValueError
        If no gate gives a nonempty pattern: ``X_lifted`` is zero (zero
        features without ``hidden_bias``), or too few gates were drawn.
    """
    rng = check_random_state(random_state)
    gates = rng.standard_normal((n_patterns, X_lifted.shape[1]))
    packed = packed_patterns(X_lifted, gates)
    nonempty = packed.any(axis=1)
    # one byte string per pattern: unique over them is much faster than
    # np.unique(..., axis=0) over the boolean columns
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first = np.unique(keys, return_index=True)
    keep = np.zeros(n_patterns, dtype=bool)
    keep[first] = True
    if not nonempty.any():
        raise ValueError(_no_pattern_message(X_lifted, n_patterns))
    return gates[keep & nonempty]


def _no_pattern_message(X_lifted: np.ndarray, n_patterns: int) -> str:
    """Why no sampled gate activated a sample, and what to do about it."""
    start = "no sampled gate gives a nonempty activation pattern on X: "
    if not X_lifted.any():
        return start + (
            "every feature is zero (as a constant column is after "
            "standardising) and hidden_bias=False, so no neuron can "
            "activate; use informative (standardised) features, set "
            "hidden_bias=True, or pass gates= explicitly."
        )
    return start + (
        f"all n_patterns={n_patterns} gates were inactive on every sample; "
        "increase n_patterns, change random_state, standardise X, or pass "
        "gates= explicitly."
    )


def resolve_gates(gates, X_lifted: np.ndarray, n_patterns: int, random_state=None):
    """Return the ``gates`` parameter validated, or freshly sampled gates.

    Raises
    ------
    ValueError
        If fixed ``gates`` are not finite or their width is not ``d̃``.
    """
    if gates is None:
        return sample_gates(X_lifted, n_patterns, random_state)
    gates = np.array(gates, dtype=np.float64, ndmin=2)
    if gates.ndim != 2 or gates.shape[1] != X_lifted.shape[1] or len(gates) == 0:
        raise ValueError(
            f"gates must have shape (n_gates, {X_lifted.shape[1]}) (n_features "
            f"plus one with hidden_bias=True); got shape {gates.shape}."
        )
    if not np.isfinite(gates).all():
        raise ValueError("gates must be finite.")
    return gates


def enumerate_patterns(
    X_lifted: np.ndarray, max_candidates: int = 1_000_000
) -> np.ndarray:
    r"""One gate for every distinct nonempty activation pattern of ``X_lifted``.

    The patterns :math:`\mathbf 1[\tilde Xg > 0]` are the cells of the
    arrangement of the hyperplanes :math:`\{g : \tilde x_i^\top g = 0\}`
    through the origin of :math:`\mathbb R^{\tilde d}`. When the rows span
    :math:`\mathbb R^{\tilde d}` every cell is a pointed cone whose edges are
    lines where :math:`\tilde d - 1` hyperplanes meet, so a point near the
    start of each edge on each side of those hyperplanes visits every cell:
    for each set :math:`J` of :math:`\tilde d - 1` rows of full rank with
    null-space direction ``r``, the gates :math:`\pm r + \varepsilon B\sigma`
    for all signs :math:`\sigma \in \{\pm1\}^{\tilde d - 1}`, with
    :math:`\tilde X_J B = I` and :math:`\varepsilon` small enough that no other
    row changes side (rows are assumed in general position: no ``d̃`` of them
    on one hyperplane through the origin). The work grows as
    :math:`\binom{n}{\tilde d - 1}2^{\tilde d}`, so this is for small ``n`` and
    ``d̃`` (exactness tests, tiny problems).

    Parameters
    ----------
    X_lifted : ndarray of shape (n_samples, d̃)
    max_candidates : int
        Refuse to work beyond this many candidate gates.

    Returns
    -------
    gates : ndarray of shape (n_patterns, d̃)
        One gate per pattern, patterns distinct and nonempty.

    Raises
    ------
    ValueError
        If the rows of ``X_lifted`` do not span :math:`\mathbb R^{\tilde d}`,
        or there are too many candidates.
    """
    X_lifted = np.asarray(X_lifted, dtype=np.float64)
    n_samples, n_features = X_lifted.shape
    if np.linalg.matrix_rank(X_lifted) < n_features:
        raise ValueError(
            "enumerate_patterns needs rows spanning R^d̃ (X_lifted has rank "
            f"{np.linalg.matrix_rank(X_lifted)} < {n_features})."
        )
    size = n_features - 1
    n_subsets = math.comb(n_samples, size)
    if n_subsets * 2**n_features > max_candidates:
        raise ValueError(
            f"enumerating patterns would try {n_subsets * 2**n_features} gates "
            f"(more than max_candidates={max_candidates}); sample gates instead."
        )
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=size)))
    signs = signs.reshape(2**size, size)
    candidates = []
    for subset in itertools.combinations(range(n_samples), size):
        rows = X_lifted[list(subset)]
        _, singular, Vh = np.linalg.svd(rows) if size else (None, [1.0], np.eye(1))
        if singular[-1] <= 1e-12 * singular[0]:
            continue
        direction = Vh[-1]
        offsets = (np.linalg.pinv(rows) @ signs.T).T if size else np.zeros((1, 1))
        for edge in (direction, -direction):
            along = X_lifted @ edge
            others = np.abs(along[np.abs(along) > 1e-12 * np.abs(along).max()])
            margin = others.min() if others.size else 1.0
            spread = np.abs(offsets @ X_lifted.T).max(axis=1, keepdims=True)
            epsilon = 0.5 * margin / np.maximum(spread, 1e-300)
            candidates.append(edge + epsilon * offsets)
    gates = np.concatenate(candidates)
    patterns = activation_patterns(X_lifted, gates).T
    _, first = np.unique(patterns, axis=0, return_index=True)
    first = np.sort(first)
    return gates[first[patterns[first].any(axis=1)]]
