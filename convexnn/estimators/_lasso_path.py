r"""Weighted-Lasso regularisation paths on the shared solver core.

.. math::
    \min_{W, b}\; f(XW + \mathbf 1 b^\top) + \alpha \sum_j w_j \sum_k |W_{jk}|

with the (weighted) mean loss ``f`` (squared, logistic or multinomial) and one factor
``w_j`` per feature shared by all outputs: ``0`` leaves a feature
unpenalised, ``inf`` excludes it. Excluded columns are dropped before
solving (their coefficients are exactly zero), so the solver only ever sees
finite factors; with every column excluded it fits the intercept alone.

With an intercept the solver works on the centred columns
:math:`X - \mathbf 1\mu^\top` (:math:`\mu` the column means, weighted by
the sample weights): since
:math:`XW + \mathbf 1b^\top = (X - \mathbf 1\mu^\top)W + \mathbf 1(b + W^\top\mu)^\top`
and ``b`` is unpenalised, this is the same problem in other coordinates (same
``W``, same objective and duality gap, same ``alpha_max``), only much better
conditioned when features have large means. Intercepts are mapped back to the
original columns, so no centring is ever needed at predict time. Nothing is
rescaled. Everything here turns NumPy in into NumPy out; estimators never
touch tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._backend import Backend, to_numpy
from ..problems import LOSSES, Problem, lasso_problem
from ..solvers import alpha_grid, alpha_max, solve_path
from ..solvers.config import SolverConfig


def check_alphas(alphas: ArrayLike) -> np.ndarray:
    """``alphas`` as a float64 array sorted in decreasing order, checked to
    be positive numbers."""
    grid = np.sort(np.asarray(alphas, dtype=np.float64).ravel())[::-1]
    if grid.size == 0 or not (grid > 0).all():
        raise ValueError(f"alphas must be positive numbers; got {alphas!r}.")
    return grid


@dataclass(frozen=True)
class LassoData:
    """A design, its targets and the penalty factors, ready for the solver."""

    problem: Problem
    kept: np.ndarray
    """Indices of the features that are not excluded (finite factor)."""
    n_features: int
    means: np.ndarray
    """Column means (weighted by the sample weights) of the kept features that
    the solver's design subtracts (zeros without an intercept)."""

    @classmethod
    def build(
        cls,
        X: np.ndarray,
        Y: np.ndarray,
        loss: str,
        factors: np.ndarray,
        *,
        fit_intercept: bool,
        backend: Backend,
        sample_weight: np.ndarray | None = None,
    ) -> LassoData:
        kept = np.flatnonzero(np.isfinite(factors))
        X = X[:, kept]
        means = np.zeros(len(kept))
        if fit_intercept and len(kept):  # NumPy's average of no column fails
            means = np.average(X, axis=0, weights=sample_weight)
        problem = lasso_problem(
            backend.tensor(X - means),
            LOSSES[loss](backend.tensor(Y), sample_weight),
            backend.tensor(factors[kept]),
            fit_intercept=fit_intercept,
        )
        return cls(problem, kept, len(factors), means)

    def alpha_max(self) -> float:
        """The smallest ``alpha`` at which every penalised coefficient is zero
        (0 when no feature is penalised or the targets are constant)."""
        return alpha_max(self.problem)

    def default_alphas(self, n_alphas: int, min_ratio: float) -> np.ndarray:
        """A log grid from :meth:`alpha_max` down to ``min_ratio`` times it.

        When no ``alpha`` changes the solution (``alpha_max = 0``) the grid is
        anchored at 1 instead; every point of it then has the same solution.
        """
        return alpha_grid(self.alpha_max() or 1.0, n_alphas, min_ratio)

    def start(self, coef: np.ndarray, intercept: np.ndarray) -> torch.Tensor:
        """A solution given as ``coef`` ``(n_outputs, n_features)`` and
        ``intercept`` ``(n_outputs,)``, as a starting point in the solver's
        coordinates (the kept features, the intercept of the centred ones)."""
        coef = np.asarray(coef, dtype=np.float64).T[self.kept]
        intercept = np.atleast_1d(intercept) + self.means @ coef
        like = self.problem.zeros()
        return self.problem.pack(
            torch.as_tensor(coef).to(like), torch.as_tensor(intercept).to(like)
        )

    def solve(
        self,
        alphas: np.ndarray,
        *,
        tol: float,
        max_iter: int,
        verbose: int = 0,
        x0: torch.Tensor | None = None,
        config: SolverConfig = SolverConfig(),
    ) -> PathSolution:
        """Solve along ``alphas`` (decreasing), each warm-started from the last,
        the first from ``x0`` (:meth:`start`; default zeros)."""
        n_outputs = self.problem.n_outputs
        coefs = np.zeros((len(alphas), self.n_features, n_outputs))
        intercepts = np.zeros((len(alphas), n_outputs))
        results = solve_path(
            self.problem,
            alphas,
            x0=x0,
            tol=tol,
            max_iter=max_iter,
            verbose=verbose,
            config=config,
        )
        for i, result in enumerate(results):
            coef, intercept = self.problem.split(result.x)
            coef = to_numpy(coef)
            coefs[i, self.kept] = coef
            if intercept is not None:
                intercepts[i] = to_numpy(intercept) - self.means @ coef
        return PathSolution(
            alphas=np.asarray(alphas, dtype=np.float64),
            coefs=coefs,
            intercepts=intercepts,
            n_iter=np.array([r.n_iter for r in results]),
            gaps=np.array([r.certificate.relative_gap for r in results]),
            converged=np.array([r.converged for r in results]),
            objectives=np.array([r.certificate.primal for r in results]),
        )


@dataclass(frozen=True)
class PathSolution:
    """Solutions along a path, as NumPy arrays indexed by alpha first."""

    alphas: np.ndarray
    coefs: np.ndarray
    """Shape ``(n_alphas, n_features, n_outputs)``; excluded features are 0."""
    intercepts: np.ndarray
    """Shape ``(n_alphas, n_outputs)``; zeros without an intercept."""
    n_iter: np.ndarray
    gaps: np.ndarray
    """Relative duality gaps certifying each solution."""
    converged: np.ndarray
    objectives: np.ndarray

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """Model outputs on ``X`` at every alpha, shape ``(n_alphas, n, n_outputs)``."""
        return np.einsum("np,apc->anc", X, self.coefs) + self.intercepts[:, None, :]

    def n_selected(self) -> np.ndarray:
        """Number of features with a nonzero coefficient, per alpha."""
        return (self.coefs != 0).any(axis=2).sum(axis=1)
