r"""Proximal Newton on working sets for :math:`\ell_1` problems with a smooth loss.

On a working set ``W`` of columns the problem is

.. math::
    \min_{V}\; F(V) = f(B V) + \alpha \sum_{j\in W}\omega_j\sum_k |V_{jk}|,
    \qquad B = [A_W, \mathbf 1]

(the column of ones, and the last row of ``V``, only with an intercept). Each
proximal Newton step (Lee, Sun & Saunders 2014; glmnet's and skglm's outer
loop for the logistic loss) minimises the loss's second-order model plus the
penalty,

.. math::
    \min_U\; \langle\nabla, U - V\rangle
    + \tfrac12 \langle U - V, H(U - V)\rangle
    + \alpha \sum_{j\in W}\omega_j\sum_k |U_{jk}|,

with the gradient :math:`\nabla = B^\top\nabla f(BV)` and the Hessian
:math:`H = B^\top\nabla^2 f(BV)B` over every (column, output) pair: a small
Lasso in Gram form, solved *exactly* by feature-sign search
(:func:`~convexnn.solvers.feature_sign.feature_sign`, the intercepts as
free coordinates). A backtracking line search on ``F`` along ``U − V``
(Armijo's test with the model's decrease
:math:`\Delta = \langle\nabla, U - V\rangle + \alpha\sum\omega(|U| - |V|)`)
makes each step descend. Steps converge quadratically near the optimum, where
conditioning barely slows them, whereas proximal gradient on a logistic loss
with nearly separable classes needs thousands of iterations. The solve stops
when :math:`|\Delta|` falls below ``config.newton_tol_factor · tol`` times
the objective, or when the next decrease, predicted from the last two at the
quadratic rate, falls below ``config.prox_newton_predicted_factor · tol``
times it; then one Newton step on the free coordinates alone (the
intercepts) takes their gradient, which the dual point of a certificate needs
at zero, to rounding. The gap of the whole problem is then the working set's
to close.
"""

from __future__ import annotations

import numpy as np
import torch

from .._backend import to_numpy
from ..problems import Problem
from ..problems._problem import TINY
from .config import SolverConfig
from .feature_sign import feature_sign
from .linalg import RIDGE


class NewtonLasso:
    """Solutions of an :class:`~convexnn.problems.L1` problem with a
    twice-differentiable loss restricted to working sets, by proximal Newton
    steps, at any ``alpha``.

    Parameters
    ----------
    problem : Problem
        An :class:`~convexnn.problems.L1` problem (any loss with
        ``hessian_product``, sample weights allowed); its ``alpha`` is not
        used (each solve gets the problem at its own ``alpha``).
    config : SolverConfig
        ``prox_newton_max_steps``, ``newton_tol_factor`` and the tuning of
        :func:`~convexnn.solvers.feature_sign.feature_sign`.
    """

    #: Its intercepts are optimal to Newton's precision, not to rounding: the
    #: certificate polishes them.
    fits_free_exactly = False
    #: Working sets hold the support and a quarter as many other columns
    #: (at least ``config.working_set_min_size``): every step forms and
    #: factorises the Hessian of the whole set anew.
    margin = 0.25

    def __init__(self, problem: Problem, config: SolverConfig):
        self.config = config
        self.n_outputs, self.fit_intercept = problem.n_outputs, problem.fit_intercept
        weights = problem.penalty.weights
        n_coefs = problem.operator.n_coefs
        self.weights = np.ones(n_coefs) if weights is None else to_numpy(weights)

    def fits(self, size: int) -> bool:
        """Whether a working set of ``size`` columns is solved here: its
        Hessian, over every (column, output) pair and the intercepts, has at
        most ``config.prox_newton_max_size`` rows."""
        rows = (size + self.fit_intercept) * self.n_outputs
        return rows <= self.config.prox_newton_max_size

    def solve(
        self, problem: Problem, x: torch.Tensor, columns: torch.Tensor, tol: float
    ) -> tuple[torch.Tensor, torch.Tensor, int, bool]:
        r"""Minimise ``problem`` restricted to ``columns`` from ``x``.

        Returns the point (zero off ``columns``), its outputs, the Newton steps
        taken, and whether the model's decrease fell below
        ``config.newton_tol_factor · tol`` times the objective. After two full
        steps, the solve also stops when the next decrease, predicted from the
        last two at a quadratic rate (:math:`\Delta_k^2/\Delta_{k-1}`), is
        below ``config.prox_newton_predicted_factor · tol`` times the
        objective, without taking the step that would confirm it (``exact``
        is then ``False``: the certificate of the whole problem judges the
        point, and another solve of the same working set may still gain).
        """
        design = _design(problem, columns)
        coef, intercept = problem.split(x)
        rows = x[columns] if intercept is None else torch.cat([x[columns], x[-1:]])
        V = to_numpy(rows)
        thresholds = np.zeros(V.shape)  # the intercepts' stay 0: free
        weights = self.weights[to_numpy(columns)]
        thresholds[: len(columns)] = problem.alpha * weights[:, None]
        state = _State(problem.loss, design, thresholds.ravel(), V)
        config = self.config
        enough = config.newton_tol_factor * tol * abs(state.value)
        predicted_enough = config.prox_newton_predicted_factor * tol * abs(state.value)
        n_steps, exact, previous = 0, False, 0.0
        while n_steps < config.prox_newton_max_steps:
            decrease, full = state.newton_step(config)
            n_steps += 1
            if not decrease > enough:
                exact = True
                break
            # near the optimum full steps shrink the decrease quadratically:
            # the next one, predicted from the last two, may not be worth it
            if full and decrease**2 <= predicted_enough * previous:
                state.refit_free()
                break
            previous = decrease if full else 0.0
        solution = torch.as_tensor(state.V).to(coef)
        coef = torch.zeros_like(coef)
        coef[columns] = solution[: len(columns)]
        Z = state.Z.to(coef.dtype)
        if intercept is None:
            return coef, Z, n_steps, exact
        return problem.pack(coef, solution[-1]), Z, n_steps, exact


def _design(problem: Problem, columns: torch.Tensor) -> torch.Tensor:
    """``B``: the columns of the working set, and a column of ones with an
    intercept, float64."""
    design = problem.operator.columns(columns).to(torch.float64)
    if problem.fit_intercept:
        design = torch.cat([design, design.new_ones(len(design), 1)], 1)
    return design


class _State:
    """The iterate ``V`` of a working set's proximal Newton solve (NumPy, the
    layout of the coefficients with the intercept row last), its outputs
    ``Z = BV`` (a float64 tensor) and its objective ``F``."""

    def __init__(self, loss, design, thresholds: np.ndarray, V: np.ndarray):
        self.loss, self.design, self.thresholds = loss, design, thresholds
        self.V, self.Z = V, design @ torch.as_tensor(V).to(design)
        self.value = self.objective(self.V, self.Z)
        self.hessian = None  # Jacobi-scaled, with its scales: the last step's

    def objective(self, V: np.ndarray, Z: torch.Tensor) -> float:
        return self.loss.value(Z) + float(np.abs(V.ravel()) @ self.thresholds)

    def newton_step(self, config: SolverConfig) -> tuple[float, bool]:
        """One proximal Newton step with its line search; returns the model's
        decrease ``|Δ|`` toward the Newton point (0 when the model promises
        none, or no step size lowers ``F``) and whether the step went all the
        way to that point."""
        gradient = to_numpy(self.design.T @ self.loss.gradient(self.Z)).ravel()
        hessian = _hessian(self.loss, self.design, self.Z)
        diagonal = hessian.diagonal().clip(min=0)
        scale = np.ones(len(diagonal))
        positive = diagonal > TINY
        scale[positive] = 1 / np.sqrt(diagonal[positive])
        scaled = hessian * scale[:, None] * scale
        scaled.flat[:: len(scaled) + 1] += RIDGE
        self.hessian = scaled, scale
        v = self.V.ravel() / scale
        u, _ = feature_sign(
            scaled, scaled @ v - gradient * scale, self.thresholds * scale, v, config
        )
        start = self.V.ravel()
        direction = u * scale - start
        penalties = np.abs(start + direction) - np.abs(start)
        decrease = -(gradient @ direction + self.thresholds @ penalties)
        if not decrease > 0:
            return 0.0, False
        size = self._line_search(direction, decrease)
        return (decrease if size else 0.0), size == 1.0

    def refit_free(self) -> None:
        """One Newton step on the free coordinates alone (intercepts,
        unpenalised columns) with the last step's Hessian. A solve that stops
        without taking the step that would confirm it leaves their gradient,
        which the dual point of a certificate needs at zero, small but above
        rounding; this step takes it there at the cost of one gradient. It
        ends the solve: ``value`` is not updated."""
        free = np.flatnonzero(self.thresholds == 0)
        if not len(free) or self.hessian is None:
            return
        scaled, scale = self.hessian
        gradient = to_numpy(self.design.T @ self.loss.gradient(self.Z)).ravel()
        block = scaled[np.ix_(free, free)]
        direction = np.zeros(self.V.size)
        direction[free] = -np.linalg.solve(block, gradient[free] * scale[free])
        direction[free] *= scale[free]
        direction = direction.reshape(self.V.shape)
        self.V = self.V + direction
        self.Z = self.Z + self.design @ torch.as_tensor(direction).to(self.design)

    def _line_search(self, direction: np.ndarray, decrease: float) -> float:
        """Backtracking along ``direction`` until ``F`` falls by a quarter of
        the model's decrease; the step size taken (0: none)."""
        direction = direction.reshape(self.V.shape)
        moved = self.design @ torch.as_tensor(direction).to(self.design)
        size = 1.0
        while size > 1e-10:
            V, Z = self.V + size * direction, self.Z + size * moved
            value = self.objective(V, Z)
            if value <= self.value - 0.25 * size * decrease:
                self.V, self.Z, self.value = V, Z, value
                return size
            size *= 0.5
        return 0.0


def _hessian(loss, design: torch.Tensor, Z: torch.Tensor) -> np.ndarray:
    r""":math:`B^\top\nabla^2 f(Z)B` over the (row of ``V``, output) pairs,
    in the order of ``V.ravel()``.

    The loss is a sum over samples, so its Hessian is block diagonal with one
    ``(c, c)`` block :math:`S_i` per sample, read off its products with the
    unit directions; then :math:`H_{(l,a),(j,b)} = \sum_i B_{il} B_{ij}
    (S_i)_{ab}`. A loss whose Hessian acts entrywise has diagonal blocks, and
    ``H`` is block diagonal over the outputs.
    """
    n, m = design.shape
    n_outputs = Z.shape[1]
    curvatures = loss.hessian_diagonal(Z)
    if curvatures is not None:
        hessian = design.new_zeros(m, n_outputs, m, n_outputs)
        for k in range(n_outputs):
            weighted = design * curvatures[:, k : k + 1].to(torch.float64)
            hessian[:, k, :, k] = design.T @ weighted
    else:
        units = torch.eye(n_outputs, dtype=Z.dtype, device=Z.device)
        blocks = loss.hessian_product(Z, units.expand(n, -1, -1))  # (n, b, a)
        pairs = (design[:, :, None] * design[:, None, :]).reshape(n, m * m)
        hessian = pairs.T @ blocks.reshape(n, -1)  # (l, j), (b, a)
        hessian = hessian.view(m, m, n_outputs, n_outputs).permute(0, 3, 1, 2)
    return to_numpy(hessian).reshape(m * n_outputs, -1)
