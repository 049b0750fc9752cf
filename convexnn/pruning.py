r"""Carathéodory pruning of convex ReLU solutions.

A fitted output column is :math:`\hat y = \sum_j t_j z_j` on the training
data, with neuron outputs :math:`z_j = \pm(\tilde X u_j)_+` of unit hidden
directions :math:`u_j = v_j/\|v_j\|` and weights :math:`t_j = \|v_j\| > 0`,
and the penalty is :math:`\alpha\sum_j t_j`. When the :math:`z_j` are
linearly dependent, :math:`Z\beta = 0` for some :math:`\beta \ne 0`; moving
:math:`t \leftarrow t + \gamma\beta` keeps every prediction, changes the
penalty by :math:`\alpha\gamma\sum_j\beta_j`, and the sign of
:math:`\gamma` can always be chosen so that this change is :math:`\le 0`
while the largest admissible :math:`|\gamma|` sends one weight to zero. Each
step removes a neuron without raising the objective, and the cone
constraints still hold (weights only shrink or grow, never change sign).
It ends with linearly independent neuron outputs: at most ``n_samples``
neurons per output column (Carathéodory's theorem; at an optimum
:math:`\sum_j\beta_j = 0` automatically, so the objective is unchanged).
"""

from __future__ import annotations

import numpy as np


def prune_cone_coefficients(
    X_lifted: np.ndarray, coef: np.ndarray, rtol: float | None = None
) -> tuple[np.ndarray, int]:
    """Remove linearly dependent neurons from convex ReLU coefficients.

    Parameters
    ----------
    X_lifted : ndarray of shape (n_samples, d̃)
        The lifted training data ``X̃``.
    coef : ndarray of shape (2, P, d̃, c)
        The blocks ``v_i`` and ``w_i``.
    rtol : float, optional
        Singular values below ``rtol`` times the largest count as zero;
        default ``max(n, m) · eps``.

    Returns
    -------
    coef : ndarray of shape (2, P, d̃, c)
        The pruned blocks (a new array).
    n_removed : int
        Neurons removed.
    """
    coef = np.array(coef, dtype=np.float64)
    n_removed = 0
    for output in range(coef.shape[3]):
        while True:
            norms = np.linalg.norm(coef[..., output], axis=2)
            sign, block = np.nonzero(norms > 0)
            if len(sign) == 0:
                break
            weights = norms[sign, block]
            units = coef[sign, block, :, output] / weights[:, None]
            outputs = np.maximum(X_lifted @ units.T, 0.0) * np.where(
                sign == 0, 1.0, -1.0
            )
            direction = _null_direction(outputs, rtol)
            if direction is None:
                break
            if direction.sum() > 0:
                direction = -direction
            shrinking = direction < 0
            ratios = weights[shrinking] / -direction[shrinking]
            step = ratios.min()
            weights = np.maximum(weights + step * direction, 0.0)
            weights[np.flatnonzero(shrinking)[ratios.argmin()]] = 0.0
            coef[sign, block, :, output] = units * weights[:, None]
            n_removed += int((weights == 0).sum())
    return coef, n_removed


def _null_direction(outputs: np.ndarray, rtol: float | None) -> np.ndarray | None:
    """A unit ``β`` with ``outputs @ β ≈ 0``, or ``None`` if the columns are
    linearly independent."""
    n_samples, n_neurons = outputs.shape
    if rtol is None:
        rtol = max(n_samples, n_neurons) * np.finfo(np.float64).eps
    _, singular, Vh = np.linalg.svd(outputs, full_matrices=True)
    rank = int((singular > rtol * singular.max(initial=0.0)).sum())
    return Vh[-1] if rank < n_neurons else None
