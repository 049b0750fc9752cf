r"""Squared-loss :math:`\ell_1` subproblems in Gram form, solved exactly.

On a working set ``W`` of columns, the squared-loss Lasso with an intercept
is, after the intercept is eliminated (``P`` centres; ``P = I`` without an
intercept),

.. math::
    \min_w\; \frac1{2n}\|P(Y - A_W w)\|^2 + \alpha\sum_j \omega_j|w_j|
    = \tfrac12 w^\top G w - b^\top w + \alpha\sum_j \omega_j|w_j|
    + \tfrac1{2n}\|PY\|^2,

with :math:`G = A_W^\top PA_W/n` and :math:`b = A_W^\top PY/n`: a problem
whose size is ``|W|`` whatever the number of samples, and whose data come from
the operator's :meth:`~convexnn.problems.LinearOperator.gram` (a closed form
for 1-D dictionaries, products of columns otherwise).

:func:`feature_sign` solves it *exactly* by the active-set method of Lee,
Battle, Raina & Ng (2007): with the signs of the active coefficients fixed
the objective is a quadratic, minimised by one linear solve on the signed
support; the step stops at the best of its end and of the points where a
coefficient changes sign (line search), coefficients that reach zero leave the
support, and once the support is optimal the most violating inactive
coordinate enters. It ends when every coordinate meets its optimality
condition to rounding. Where proximal gradient needs thousands of iterations
to tell nearly parallel columns apart (ramps at neighbouring data points), a
handful of linear solves finish the subproblem, so the certificate of the
whole problem (:meth:`~convexnn.problems.Problem.certificate`, computed by
:func:`~convexnn.solvers.solve` after every round) closes at once when the
working set holds the support.

The coefficients are solved for in Jacobi-scaled form (``G`` with a unit
diagonal) with a relative ridge of :data:`~convexnn.solvers.linalg.RIDGE`, so
that exactly collinear columns stay solvable.
"""

from __future__ import annotations

import torch

from ..problems import Problem
from .config import SolverConfig
from .linalg import RIDGE, cholesky


class GramLasso:
    """Exact solutions of ``problem`` restricted to working sets, in Gram form.

    Gram entries are cached: a working set that shares columns with the
    previous one only computes the rows of its new columns.

    Parameters
    ----------
    problem : Problem
        A squared-loss problem with an :class:`~convexnn.problems.L1` penalty.
    config : SolverConfig
        Tuning of :func:`feature_sign`.
    """

    def __init__(self, problem: Problem, config: SolverConfig):
        self.problem, self.config = problem, config
        operator = problem.operator
        Y = problem.loss.Y
        self.centred_targets = Y - Y.mean(0) if problem.fit_intercept else Y
        weights = problem.penalty.weights
        if weights is None:
            weights = torch.ones(operator.n_coefs, dtype=torch.float64)
        self.thresholds = problem.alpha * weights.to(
            dtype=torch.float64, device=operator.device
        )
        self._columns = torch.zeros(0, dtype=torch.long, device=operator.device)
        self._gram = torch.zeros(0, 0, dtype=torch.float64, device=operator.device)

    def gram(self, columns: torch.Tensor) -> torch.Tensor:
        """:math:`A_W^\\top PA_W/n` for the sorted ``columns`` ``W``, float64."""
        problem = self.problem
        n = problem.operator.n_samples
        cached = torch.isin(columns, self._columns)
        old = torch.searchsorted(self._columns, columns[cached])
        new = (~cached).nonzero().squeeze(1)
        G = torch.empty(len(columns), len(columns), dtype=torch.float64)
        G = G.to(columns.device)
        G[cached.nonzero(), cached.nonzero().T] = self._gram[old[:, None], old]
        if len(new):
            rows = problem.operator.gram(columns[new], problem.fit_intercept, columns)
            rows = rows.to(torch.float64) / n
            G[new] = rows
            G[:, new] = rows.T
        self._columns, self._gram = columns, G
        return G

    def _correlations(self, columns: torch.Tensor) -> torch.Tensor:
        r""":math:`A_W^\top PY/n`, float64, through the restricted operator."""
        operator = self.problem.operator
        if "restrict" in operator.capabilities(1):
            correlations = operator.restrict(1, columns).rmatvec(self.centred_targets)
        else:
            correlations = operator.rmatvec(self.centred_targets)[columns]
        return correlations.to(torch.float64) / operator.n_samples

    def solve(
        self, x: torch.Tensor, columns: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Solve the problem restricted to ``columns`` exactly, from ``x``.

        Parameters
        ----------
        x : tensor
            The current point in the layout of ``problem.shape``; its
            coefficients off ``columns`` are ignored (taken as zero).
        columns : tensor of int
            The working set, sorted.

        Returns
        -------
        x, Z : tensor
            The solution (zero off ``columns``, optimal intercept) and its
            outputs.
        n_steps : int
            Active-set steps taken, all outputs together.
        """
        problem = self.problem
        G = self.gram(columns)
        diagonal = G.diagonal().clamp(min=0)
        scale = torch.where(diagonal > 0, diagonal.rsqrt(), torch.ones_like(diagonal))
        G_scaled = G * scale[:, None] * scale
        G_scaled.diagonal().add_(RIDGE)
        b = self._correlations(columns) * scale[:, None]
        thresholds = self.thresholds[columns] * scale
        coef, _ = problem.split(x)
        start = coef[columns].to(torch.float64) / scale[:, None]
        solution = torch.empty_like(start)
        n_steps = 0
        for k in range(start.shape[1]):
            solution[:, k], steps = feature_sign(
                G_scaled, b[:, k], thresholds, start[:, k], self.config
            )
            n_steps += steps
        coef = torch.zeros_like(coef)
        coef[columns] = (solution * scale[:, None]).to(coef.dtype)
        operator = problem.operator
        if "restrict" in operator.capabilities(1):
            Z = operator.restrict(1, columns).matvec(coef[columns])
        else:
            Z = operator.matvec(coef)
        if not problem.fit_intercept:
            return coef, Z, n_steps
        intercept = (problem.loss.Y - Z).mean(0)
        return problem.pack(coef, intercept), Z + intercept, n_steps


def feature_sign(
    G: torch.Tensor,
    b: torch.Tensor,
    thresholds: torch.Tensor,
    u: torch.Tensor,
    config: SolverConfig,
    max_steps: int | None = None,
) -> tuple[torch.Tensor, int]:
    r"""Minimise :math:`\frac12 u^\top Gu - b^\top u + \sum_j\lambda_j|u_j|` exactly.

    Feature-sign search (Lee et al., 2007) from ``u``, for ``G`` positive
    definite and thresholds :math:`\lambda_j \ge 0` (``0``: a free coordinate,
    always in the support; ``inf``: a coordinate held at zero). With ``S``
    the support and :math:`\sigma` its signs, the objective equals the
    quadratic :math:`q(u) = \frac12u^\top Gu - b^\top u + \lambda_S^\top
    \sigma_S u_S` until a coefficient changes sign; the Newton step
    :math:`d_S = -G_{SS}^{-1}\nabla_S q` minimises ``q`` on ``S``, and the
    step goes to the best of its end and of the sign changes on the way, which
    lowers the objective (``q`` decreases along the step, so the first sign
    change is already lower). When the support is optimal (its residual is at
    most ``config.feature_sign_rtol`` times the largest threshold or
    correlation), the inactive coordinate whose
    gradient exceeds its threshold the most enters with an exact coordinate
    step. Every step descends strictly, so no support repeats and the search
    ends; ``max_steps`` (default ``4·len(u) + 10``) guards against rounding.

    Returns
    -------
    u : tensor
        The solution.
    n_steps : int
        Steps taken.
    """
    u = u.clone()
    size = len(u)
    if size == 0:
        return u, 0
    max_steps = 4 * size + 10 if max_steps is None else max_steps
    free = thresholds == 0
    finite = thresholds[torch.isfinite(thresholds)]
    scale = max(float(finite.max()) if len(finite) else 0.0, float(b.abs().max()))
    tolerance = config.feature_sign_rtol * scale
    u[torch.isinf(thresholds)] = 0.0
    stalled, flat = False, 0
    for step in range(max_steps):
        signs = u.sign()
        support = (u != 0) | free
        gradient = G[:, support] @ u[support] - b
        residual = gradient[support] + torch.where(
            free[support], 0.0, thresholds[support] * signs[support]
        )
        if stalled or residual.numel() == 0 or residual.abs().max() <= tolerance:
            violation = gradient.abs() - thresholds
            violation[support] = -torch.inf
            j = int(violation.argmax())
            if not float(violation[j]) > tolerance:
                return u, step
            u[j] = -gradient[j].sign() * violation[j] / G[j, j]
            stalled, flat = False, 0
            continue
        direction = torch.zeros_like(u)
        indices = support.nonzero().squeeze(1)
        factor = cholesky(G[indices[:, None], indices])
        if factor is None:
            return u, step
        direction[indices] = -torch.cholesky_solve(residual[:, None], factor)[:, 0]
        u, decrease = _best_on_segment(G, thresholds, free, u, direction, gradient)
        # twice no descent on this support (rounding): let a coordinate enter
        flat = flat + 1 if not decrease > 0 else 0
        stalled = flat >= 2
    return u, max_steps


def _best_on_segment(G, thresholds, free, start, direction, gradient):
    """The best of ``start + τ·direction``, ``τ ∈ (0, 1]``: its end or a sign
    change; coordinates crossing zero at the chosen point are set to zero.

    ``gradient`` is the gradient of the quadratic part at ``start``. Returns
    the point and the decrease of the objective (rounding-level or negative
    when the step has stalled).
    """
    moving = (direction != 0) & (start != 0) & ~free
    crossing = torch.full_like(start, torch.inf)
    crossing[moving] = -start[moving] / direction[moving]
    inside = (crossing > 0) & (crossing < 1)
    taus = torch.cat([crossing[inside].unique(), crossing.new_ones(1)])
    points = start + taus[:, None] * direction
    points[(crossing == taus[:, None]) & inside] = 0.0
    curvature = direction @ (G @ direction)
    penalties = torch.where(free, 0.0, thresholds)
    penalties = torch.where(torch.isinf(penalties), 0.0, penalties)
    values = (
        taus * (direction @ gradient)
        + 0.5 * taus**2 * curvature
        + (points.abs() - start.abs()) @ penalties
    )
    best = int(values.argmin())
    return points[best], -float(values[best])
