r"""Feature-sign search: the :math:`\ell_1`-penalised quadratic solved exactly.

.. math::
    \min_u\; \tfrac12 u^\top Gu - b^\top u + \sum_j \lambda_j |u_j|

for ``G`` positive definite and thresholds :math:`\lambda_j \ge 0` (``0``: a
free coordinate, always in the support; ``inf``: a coordinate held at zero),
by the active-set method of Lee, Battle, Raina & Ng (2007). With ``S`` the
support and :math:`\sigma` its signs, the objective equals the quadratic
:math:`q(u) = \frac12u^\top Gu - b^\top u + \lambda_S^\top\sigma_S u_S` until
a coefficient changes sign; the Newton step
:math:`d_S = -G_{SS}^{-1}\nabla_S q` minimises ``q`` on ``S``, and the step
goes to the best of its end and of the points where a coefficient changes
sign on the way (``q`` decreases along the step, so the first sign change is
already lower); coefficients that reach zero leave the support. When the
support is optimal, the inactive coordinate whose gradient exceeds its
threshold the most enters with an exact coordinate step. Every step descends
strictly, so no support repeats and the search ends.

The problems are small (a working set of columns, whatever the number of
samples) and the search takes many short steps, so it runs in float64 NumPy on
the host, where a small operation costs about a microsecond. The Cholesky
factor of :math:`G_{SS}` is kept from one step to the next and grown by one
row when a coordinate enters (:class:`GrowingFactor`): a step then costs
:math:`O(|S|^2)` instead of a factorisation's :math:`O(|S|^3)`.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from .config import SolverConfig


def feature_sign(
    G: np.ndarray,
    b: np.ndarray,
    thresholds: np.ndarray,
    u: np.ndarray,
    config: SolverConfig,
    max_steps: int | None = None,
    factor: GrowingFactor | None = None,
) -> tuple[np.ndarray, int]:
    r"""Minimise :math:`\frac12 u^\top Gu - b^\top u + \sum_j\lambda_j|u_j|` exactly.

    Feature-sign search (the module docstring) from ``u``. The support counts
    as optimal when its residual is at most ``config.feature_sign_rtol``
    times the largest finite threshold or correlation; ``max_steps`` (default
    ``4·len(u) + 10``) guards against rounding.

    Parameters
    ----------
    G : ndarray of shape (m, m)
        Symmetric positive definite, float64.
    b, thresholds, u : ndarray of shape (m,)
        The linear term, the thresholds :math:`\lambda` and the start.
    config : SolverConfig
        ``feature_sign_rtol``.
    max_steps : int, optional
    factor : GrowingFactor, optional
        A factor of this ``G`` (``factor.G is G``) on some support, from an
        earlier search: it is reused, grown, and left as the factor of this
        search's last support. A new one is made without it.

    Returns
    -------
    u : ndarray of shape (m,)
        The solution.
    n_steps : int
        Steps taken.
    """
    u = np.array(u, dtype=np.float64)
    size = len(u)
    if size == 0:
        return u, 0
    max_steps = 4 * size + 10 if max_steps is None else max_steps
    free = thresholds == 0
    finite = thresholds[np.isfinite(thresholds)]
    scale = max(float(finite.max()) if finite.size else 0.0, float(np.abs(b).max()))
    tolerance = config.feature_sign_rtol * scale
    u[np.isinf(thresholds)] = 0.0
    penalties = np.where(np.isinf(thresholds), 0.0, thresholds)  # 0 when free
    if factor is None or factor.G is not G:
        factor = GrowingFactor(G)
    stalled, flat = False, 0
    for step in range(max_steps):
        support = (u != 0) | free
        indices = factor.order_of(support)
        gradient = G @ u - b  # u is zero off the support
        residual = gradient[indices] + penalties[indices] * np.sign(u[indices])
        if stalled or not len(indices) or np.abs(residual).max() <= tolerance:
            violation = np.abs(gradient) - thresholds
            violation[support] = -np.inf
            j = int(violation.argmax())
            if not violation[j] > tolerance:
                return u, step
            u[j] = -np.sign(gradient[j]) * violation[j] / G[j, j]
            stalled, flat = False, 0
            continue
        solved = factor.solve(indices, residual)
        if solved is None:
            return u, step
        u, decrease = _best_on_segment(
            u, indices, -solved, residual, gradient, penalties, free
        )
        # twice no descent on this support (rounding): let a coordinate enter
        flat = flat + 1 if not decrease > 0 else 0
        stalled = flat >= 2
    return u, max_steps


def _best_on_segment(u, indices, direction, residual, gradient, penalties, free):
    r"""The best of ``u + τ·d``, ``τ ∈ (0, 1]``, for the Newton step ``d``
    (``direction`` on ``indices``, zero elsewhere): its end or a sign change;
    coordinates crossing zero at the chosen point are set to zero.

    ``gradient`` is the gradient of the quadratic part at ``u`` and
    ``residual`` that of the signed quadratic on ``indices``, so that the
    curvature along the step is :math:`d^\top Gd = -d^\top r`. Returns the
    point and the decrease of the objective (rounding-level or negative when
    the step has stalled).
    """
    start = u[indices]
    moving = (direction != 0) & (start != 0) & ~free[indices]
    crossing = -start[moving] / direction[moving]
    inside = (crossing > 0) & (crossing < 1)
    slope, curvature = direction @ gradient[indices], -(direction @ residual)
    weights = penalties[indices]
    u = u.copy()
    if not inside.any():  # no sign change on the way: the end
        u[indices] = end = start + direction
        value = slope + 0.5 * curvature + (np.abs(end) - np.abs(start)) @ weights
        return u, -float(value)
    crossing = crossing[inside]
    taus = np.append(np.sort(crossing), 1.0)  # ties repeat a point
    points = start + taus[:, None] * direction
    rows, columns = np.nonzero(crossing == taus[:, None])
    points[rows, np.flatnonzero(moving)[inside][columns]] = 0.0
    values = (
        taus * slope
        + 0.5 * taus**2 * curvature
        + (np.abs(points) - np.abs(start)) @ weights
    )
    best = int(values.argmin())
    u[indices] = points[best]
    return u, -float(values[best])


class GrowingFactor:
    """The lower Cholesky factor of ``G`` on a support, kept in the order its
    coordinates entered: a support that only gained coordinates grows the
    factor by one row each (a triangular solve), any other is factorised
    anew."""

    def __init__(self, G: np.ndarray):
        self.G = G
        self.order = np.zeros(0, dtype=np.intp)
        self.lower: np.ndarray | None = np.zeros((0, 0))

    def order_of(self, support: np.ndarray) -> np.ndarray:
        """The coordinates of ``support`` (a mask), those of the factor first
        in its order when they are all still in, the others after them."""
        if support[self.order].all():
            if np.count_nonzero(support) == len(self.order):
                return self.order
            inside = np.zeros(len(support), dtype=bool)
            inside[self.order] = True
            return np.concatenate([self.order, np.flatnonzero(support & ~inside)])
        return np.flatnonzero(support)

    def solve(self, indices: np.ndarray, right: np.ndarray) -> np.ndarray | None:
        r""":math:`G_{II}^{-1}` ``right`` for ``indices`` from :meth:`order_of`
        (``I``); ``None`` when :math:`G_{II}` is not positive definite to
        rounding."""
        known = len(self.order)
        if self.lower is None or not np.array_equal(indices[:known], self.order):
            self.order, self.lower, known = indices[:0], np.zeros((0, 0)), 0
        if len(indices) - known > max(known // 8, 1):
            self._factorise(indices)  # many new rows: one factorisation
        else:
            for j in indices[known:]:
                self._append(j)
        if self.lower is None:
            return None
        # LAPACK directly: scipy.linalg's wrappers cost more than these solves
        return lapack.dpotrs(self.lower, right, lower=1)[0]

    def _factorise(self, indices: np.ndarray) -> None:
        lower, info = lapack.dpotrf(self.G[np.ix_(indices, indices)], lower=1)
        self.lower = None if info else lower
        self.order = indices

    def _append(self, j: int) -> None:
        if self.lower is None:
            return
        m = len(self.order)
        row = np.zeros(0)
        if m:  # LAPACK rejects empty matrices
            row = lapack.dtrtrs(self.lower, self.G[self.order, j], lower=1)[0]
        pivot = self.G[j, j] - row @ row
        if not pivot > 0:  # not positive definite to rounding
            self.lower = None
            return
        lower = np.zeros((m + 1, m + 1), order="F")  # what LAPACK reads uncopied
        lower[:m, :m] = self.lower
        lower[m, :m] = row
        lower[m, m] = np.sqrt(pivot)
        self.order, self.lower = np.append(self.order, j), lower
