r"""Squared-loss Lassos restricted to a few columns, in Gram form.

For the columns ``S`` of an operator, ``P`` the centring projection when there
is an intercept (the identity otherwise) and ``D`` the diagonal scaling that
gives the columns of :math:`PA_S D` norm :math:`\sqrt n`, the restricted
objective in the scaled coefficients :math:`u = D^{-1} w` is

.. math::
    \frac1{2n}\|P(y - A_S D u)\|^2 + \alpha\sum_j \omega_j d_j |u_j|
    = \tfrac12 u^\top G u - b^\top u + \sum_j \lambda_j|u_j| + \tfrac1{2n}\|Py\|^2,

with :math:`G = DA_S^\top PA_SD/n` (unit diagonal), :math:`b = DA_S^\top Py/n`
and :math:`\lambda_j = \alpha\omega_j d_j`. Its size depends on ``|S|`` only.
:class:`RestrictedLasso` solves it exactly by feature-sign search, and also
writes it as a :class:`~convexnn.problems.Problem` with the same objective
value (a Cholesky factor :math:`R^\top R = G` and one extra row carrying the
part of :math:`Py` no column reaches), so that the shared FISTA and its
duality gap apply to it unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..problems import L1, LinearOperator, MatrixOperator, Problem, SquaredLoss

RIDGE = 1e-12
"""Relative ridge added to ``G`` so that collinear columns stay solvable."""


def restrict(operator: LinearOperator, indices: torch.Tensor) -> LinearOperator:
    """The operator of the columns ``indices``.

    Uses ``operator.subset(indices)`` when the operator has it; dense
    :class:`~convexnn.problems.MatrixOperator` columns are sliced.
    """
    if hasattr(operator, "subset"):
        return operator.subset(indices)
    if isinstance(operator, MatrixOperator):
        return MatrixOperator(operator.X[:, indices])
    raise TypeError(
        f"{type(operator).__name__} cannot be restricted to a subset of its columns; "
        "give it a subset(indices) method."
    )


def gram(
    operator: LinearOperator, fit_intercept: bool, chunk_size: int = 64
) -> torch.Tensor:
    """``AᵀPA`` in float64.

    Uses ``operator.gram(fit_intercept)`` when the operator has it, otherwise
    products with blocks of unit vectors.
    """
    if hasattr(operator, "gram"):
        return operator.gram(fit_intercept)
    n_coefs = operator.n_coefs
    options = {"dtype": operator.dtype, "device": operator.device}
    G = torch.empty(n_coefs, n_coefs, dtype=torch.float64, device=operator.device)
    for start in range(0, n_coefs, chunk_size):
        stop = min(start + chunk_size, n_coefs)
        block = torch.zeros(n_coefs, stop - start, **options)
        block[torch.arange(start, stop), torch.arange(stop - start)] = 1
        columns = operator.matvec(block)
        if fit_intercept:
            columns = columns - columns.mean(0)
        G[:, start:stop] = operator.rmatvec(columns).to(torch.float64)
    return 0.5 * (G + G.T)


@dataclass
class RestrictedLasso:
    r"""The Lasso of ``problem`` on a few columns, in scaled Gram form.

    Attributes
    ----------
    G : tensor of shape (s, s)
        Scaled Gram matrix (unit diagonal, ridge included).
    b : tensor of shape (s, c)
        Scaled correlations with the (centred) targets.
    thresholds : tensor of shape (s,)
        :math:`\lambda_j = \alpha\omega_j d_j`.
    scale : tensor of shape (s,)
        :math:`d_j`: coefficients are ``w = d * u``.
    energy : tensor of shape (c,)
        :math:`\|Py\|^2/n` per output.
    """

    G: torch.Tensor
    b: torch.Tensor
    thresholds: torch.Tensor
    scale: torch.Tensor
    energy: torch.Tensor
    alpha: float

    @classmethod
    def from_problem(cls, problem: Problem, indices: torch.Tensor) -> RestrictedLasso:
        """Restrict a squared-loss :class:`~convexnn.problems.L1` problem."""
        sub = restrict(problem.operator, indices)
        n = problem.operator.n_samples
        raw = gram(sub, problem.fit_intercept)
        diagonal = raw.diagonal().clamp(min=0)
        scale = torch.where(
            diagonal > 0,
            (n / diagonal.clamp(min=1e-300)).sqrt(),
            torch.ones_like(diagonal),
        )
        Y = problem.loss.Y.to(torch.float64)
        if problem.fit_intercept:
            Y = Y - Y.mean(0)
        b = sub.rmatvec(Y.to(sub.dtype)).to(torch.float64) * scale[:, None] / n
        G = raw * scale[:, None] * scale[None, :] / n
        G += RIDGE * torch.eye(len(scale), dtype=G.dtype, device=G.device)
        weights = scale.clone()
        if problem.penalty.weights is not None:
            weights *= problem.penalty.weights[indices].to(torch.float64)
        return cls(
            G, b, problem.alpha * weights, scale, (Y**2).sum(0) / n, problem.alpha
        )

    def objective(self, U: torch.Tensor) -> torch.Tensor:
        """The restricted objective of each output, shape ``(c,)``."""
        quadratic = 0.5 * (U * (self.G @ U)).sum(0) - (self.b * U).sum(0)
        return quadratic + self.thresholds @ U.abs() + 0.5 * self.energy

    def to_coefficients(self, U: torch.Tensor) -> torch.Tensor:
        return U * self.scale[:, None]

    def from_coefficients(self, W: torch.Tensor) -> torch.Tensor:
        return W.to(torch.float64) / self.scale[:, None]

    def problem(self) -> Problem:
        r"""A :class:`~convexnn.problems.Problem` with the same objective in ``U``.

        With :math:`R^\top R = G` (Cholesky) and :math:`R^\top q = b`,
        :math:`\frac12u^\top Gu - b^\top u + \frac12\|Py\|^2/n
        = \frac1{2m}\|Mu - T\|^2` for :math:`M = \sqrt m\,[R; 0]`,
        :math:`T = \sqrt m\,[q; \kappa]`, :math:`\kappa^2 = \|Py\|^2/n - \|q\|^2`
        and ``m = s + 1`` rows.
        """
        R = torch.linalg.cholesky(self.G).T
        q = torch.linalg.solve_triangular(R.T, self.b, upper=False)
        remainder = (self.energy - (q**2).sum(0)).clamp(min=0).sqrt()
        rows = R.shape[0] + 1
        factor = math.sqrt(rows)
        matrix = torch.cat([R, R.new_zeros(1, R.shape[1])]) * factor
        targets = torch.cat([q, remainder[None]]) * factor
        return Problem(
            MatrixOperator(matrix),
            SquaredLoss(targets),
            L1(self.thresholds / self.alpha),
            self.alpha,
            fit_intercept=False,
        )

    def finish(self, U: torch.Tensor, max_steps: int | None = None):
        """Solve exactly from ``U`` by :func:`feature_sign_search`, output by output.

        Returns the solution and the number of steps taken.
        """
        limit = max_steps if max_steps is not None else 4 * len(self.scale) + 10
        G = self.G.cpu().numpy()
        thresholds = self.thresholds.cpu().numpy()
        b = self.b.cpu().numpy()
        start = U.detach().to(torch.float64).cpu().numpy()
        columns, steps = [], 0
        for k in range(U.shape[1]):
            u, _, taken = feature_sign_search(
                G, b[:, k], thresholds, start[:, k], limit
            )
            columns.append(u)
            steps += taken
        solution = np.stack(columns, axis=1) if columns else start
        return torch.as_tensor(solution, dtype=torch.float64, device=U.device), steps


def feature_sign_search(G, b, thresholds, u, max_steps, rtol=1e-10):
    r"""Minimise :math:`\frac12 u^\top G u - b^\top u + \sum_j \lambda_j|u_j|` exactly.

    The active-set method of Lee, Battle, Raina & Ng (2007), from ``u``
    (``G`` positive definite; NumPy arrays). With the signs :math:`\sigma` of
    the active coefficients ``S`` fixed the objective is the quadratic
    :math:`q(u) = \frac12 u^\top G u - b^\top u + \lambda_S^\top\sigma_S u_S`,
    whose minimiser over ``S`` is one Newton step away. The step stops at the
    best of its end and of the points where a coefficient changes sign — the
    first of those already lowers the objective, because the objective equals
    ``q`` until then and ``q`` decreases along the step — and coefficients
    that reach zero leave ``S``. When the active coefficients are optimal (the
    gradient of ``q`` on ``S`` is below ``rtol`` times the largest threshold),
    the inactive coefficient whose gradient exceeds its threshold the most
    joins ``S`` through an exact coordinate step. Every step descends, so the
    search ends after finitely many steps (``max_steps`` bounds them).

    Returns
    -------
    u : ndarray
        The final point.
    optimal : bool
        Whether the search ended with every coefficient optimal.
    n_steps : int
        Steps taken.
    """
    u = np.array(u, dtype=np.float64)
    if len(u) == 0:
        return u, True, 0
    tolerance = rtol * thresholds.max()
    for step in range(max_steps):
        signs = np.sign(u)
        active = signs != 0
        gradient = G[:, active] @ u[active] - b
        residual = gradient[active] + thresholds[active] * signs[active]
        if not active.any() or np.abs(residual).max() <= tolerance:
            violation = np.abs(gradient) - thresholds
            violation[active] = -np.inf
            j = int(violation.argmax())
            if violation[j] <= tolerance:
                return u, True, step
            # exact minimisation over u_j: a soft-thresholded coordinate step
            u[j] = -np.sign(gradient[j]) * violation[j] / G[j, j]
            continue
        direction = np.zeros_like(u)
        direction[active] = -np.linalg.solve(G[np.ix_(active, active)], residual)
        u = _best_on_segment(G, thresholds, u, direction, gradient)
    return u, False, max_steps


def _best_on_segment(G, thresholds, start, direction, gradient):
    """The best of ``start + τ·direction``, ``τ ∈ (0, 1]``: its end or a sign change.

    ``gradient`` is the gradient of the quadratic part at ``start``.
    Coordinates that cross zero at the chosen point are set to exactly zero.
    """
    moving = (direction != 0) & (start != 0)
    crossing = np.full_like(start, np.inf)
    crossing[moving] = -start[moving] / direction[moving]
    inside = (crossing > 0) & (crossing < 1)
    taus = np.append(np.unique(crossing[inside]), 1.0)
    points = start + taus[:, None] * direction
    points[(crossing == taus[:, None]) & inside] = 0.0
    values = (
        taus * (direction @ gradient)
        + 0.5 * taus**2 * (direction @ G @ direction)
        + np.abs(points) @ thresholds
    )
    return points[int(values.argmin())]
