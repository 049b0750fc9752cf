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

:func:`~convexnn.solvers.feature_sign.feature_sign` solves it *exactly*:
where proximal gradient needs thousands of iterations to tell nearly parallel
columns apart (ramps at neighbouring data points), a handful of linear solves
finish the subproblem, so the certificate of the whole problem
(:meth:`~convexnn.problems.Problem.certificate`, computed by
:func:`~convexnn.solvers.solve` after every round) closes at once when the
working set holds the support.

Neither ``G`` nor ``b`` depends on ``alpha``: one :class:`GramLasso` serves a
whole regularisation path (:func:`~convexnn.solvers.solve_path`), computing
``b`` for every column once and the Gram rows of a column once while the
column stays in the working sets. The coefficients are solved for in
Jacobi-scaled form (``G`` with a unit diagonal) with a relative ridge of
:data:`~convexnn.solvers.linalg.RIDGE`, so that exactly collinear columns stay
solvable.
"""

from __future__ import annotations

import numpy as np
import torch

from .._backend import to_numpy
from ..problems import Problem
from .config import SolverConfig
from .feature_sign import GrowingFactor, feature_sign
from .linalg import RIDGE


class GramLasso:
    """Exact solutions of a squared-loss :class:`~convexnn.problems.L1`
    problem restricted to working sets, in Gram form, at any ``alpha``.

    Gram entries are cached: a working set that shares columns with the
    previous one only computes the rows of its new columns.

    Parameters
    ----------
    problem : Problem
        A squared-loss problem with an :class:`~convexnn.problems.L1` penalty
        and no sample weights; its ``alpha`` is not used (each solve gets
        the problem at its own ``alpha``).
    config : SolverConfig
        Tuning of :func:`~convexnn.solvers.feature_sign.feature_sign`.
    """

    #: Working sets hold the support and as many other columns again (the
    #: likeliest to enter): cached Gram rows make a generous set cheap.
    margin = 1.0

    def __init__(self, problem: Problem, config: SolverConfig):
        self.operator, self.config = problem.operator, config
        self.fit_intercept = problem.fit_intercept
        Y = problem.loss.Y
        self.centred_targets = Y - Y.mean(0) if problem.fit_intercept else Y
        weights = problem.penalty.weights
        n_coefs = self.operator.n_coefs
        self.weights = np.ones(n_coefs) if weights is None else to_numpy(weights)
        # the intercept is eliminated exactly, so its solutions need no
        # polishing for a certificate; unpenalised columns are only fitted up
        # to the ridge, which polishing removes
        self.fits_free_exactly = not (self.weights == 0).any()
        self._correlations: np.ndarray | None = None
        self._clear(np.zeros(0, dtype=np.intp), np.zeros((0, 0)), np.zeros(0))

    def _clear(self, columns: np.ndarray, gram: np.ndarray, scale: np.ndarray):
        """Cache ``gram`` and ``scale`` for ``columns``, in their order, and
        forget the factors of the cache before."""
        self._slots = np.full(self.operator.n_coefs, -1, dtype=np.intp)
        self._slots[columns] = np.arange(len(columns))
        self._cached, self._gram, self._scale = columns, gram, scale
        self._buffer = gram  # holds _gram, with room for more columns or none
        self._factors: list[GrowingFactor] = []

    def fits(self, size: int) -> bool:
        """Whether a working set of ``size`` columns is solved here (within
        ``config.working_set_max_gram_size``)."""
        return size <= self.config.working_set_max_gram_size

    def gram(self, columns: np.ndarray) -> np.ndarray:
        r"""The positions of ``columns`` in the cache, after caching them.

        The cache holds the Jacobi-scaled Gram matrix :math:`DGD` (unit
        diagonal, plus the ridge; :math:`G = A_C^\top PA_C/n`) of the columns
        ``C`` of the working sets so far, in the order they came, with the
        scales :math:`D`: new columns append their rows (their products with
        the others, the only Gram entries ever computed), and the columns
        that have left the working sets are dropped once they are as many as
        those still in.
        """
        new = columns[self._slots[columns] < 0]
        if len(self._cached) + len(new) > 2 * len(columns):
            kept = self._slots[columns[self._slots[columns] >= 0]]
            self._clear(
                self._cached[kept],
                self._gram[np.ix_(kept, kept)],
                self._scale[kept],
            )
        if len(new):
            self._append(new)
        return self._slots[columns]

    def _append(self, new: np.ndarray) -> None:
        """Add the columns ``new`` to the cache."""
        device = self.operator.device
        cached = np.concatenate([self._cached, new])
        rows = self.operator.gram(
            torch.as_tensor(new, device=device),
            self.fit_intercept,
            torch.as_tensor(cached, device=device),
        )
        rows = to_numpy(rows) / self.operator.n_samples
        m, size = len(self._cached), len(cached)
        diagonal = rows[np.arange(len(new)), m + np.arange(len(new))].clip(min=0)
        new_scale = np.ones(len(new))
        new_scale[diagonal > 0] = 1 / np.sqrt(diagonal[diagonal > 0])
        scale = np.concatenate([self._scale, new_scale])
        rows = rows * new_scale[:, None] * scale
        if size > len(self._buffer):  # room for as many again: no copy each time
            buffer = np.empty((2 * size, 2 * size))
            buffer[:m, :m] = self._gram
            self._buffer = buffer
        self._buffer[m:size, :size] = rows
        self._buffer[:m, m:size] = rows[:, :m].T
        self._buffer[np.arange(m, size), np.arange(m, size)] += RIDGE
        self._gram = self._buffer[:size, :size]
        self._slots[new] = np.arange(m, size)
        self._cached, self._scale = cached, scale
        for factor in self._factors:
            factor.G = self._gram  # the same entries, in a larger matrix

    def correlations(self) -> np.ndarray:
        r""":math:`A^\top PY/n` for every column, float64, computed once."""
        if self._correlations is None:
            products = self.operator.rmatvec(self.centred_targets)
            self._correlations = to_numpy(products) / self.operator.n_samples
        return self._correlations

    def solve(
        self, problem: Problem, x: torch.Tensor, columns: torch.Tensor, tol: float
    ) -> tuple[torch.Tensor, torch.Tensor, int, bool]:
        """Solve ``problem`` restricted to ``columns`` exactly, from ``x``.

        The problem is solved on every cached column, those off ``columns``
        held at zero (an infinite threshold): no Gram matrix is copied, and
        each output's Cholesky factor of its support carries over from the
        solve before.

        Parameters
        ----------
        problem : Problem
            The problem this object was built for, at the ``alpha`` to solve.
        x : tensor
            The current point in the layout of ``problem.shape``; its
            coefficients off ``columns`` are ignored (taken as zero).
        columns : tensor of int
            The working set, sorted.
        tol : float
            Not used: the solution is exact (to rounding) whatever it is.

        Returns
        -------
        x, Z : tensor
            The solution (zero off ``columns``, optimal intercept) and its
            outputs.
        n_steps : int
            Feature-sign steps taken, all outputs together.
        exact : bool
            ``True``: solving the same working set again gains nothing.
        """
        slots = self.gram(to_numpy(columns))
        cached, scale = self._cached, self._scale
        thresholds = np.full(len(cached), np.inf)
        thresholds[slots] = problem.alpha * self.weights[cached[slots]] * scale[slots]
        b = self.correlations()[cached] * scale[:, None]
        coef, _ = problem.split(x)
        start = to_numpy(coef[torch.as_tensor(cached, device=coef.device)])
        start /= scale[:, None]
        n_outputs = start.shape[1]
        while len(self._factors) < n_outputs:
            self._factors.append(GrowingFactor(self._gram))
        solution = np.empty_like(start)
        n_steps = 0
        for k in range(n_outputs):
            solution[:, k], steps = feature_sign(
                self._gram,
                b[:, k],
                thresholds,
                start[:, k],
                self.config,
                factor=self._factors[k],
            )
            n_steps += steps
        return (*self._point(problem, coef, solution * scale[:, None]), n_steps, True)

    def _point(self, problem: Problem, coef: torch.Tensor, solution: np.ndarray):
        """The point with the cached columns' coefficients ``solution`` (zero
        elsewhere), its intercept fitted, and its outputs."""
        support = np.flatnonzero(np.abs(solution).max(1) > 0)
        device = coef.device
        rows = torch.as_tensor(self._cached[support], device=device)
        values = torch.as_tensor(solution[support]).to(coef)
        coef = torch.zeros_like(coef)
        coef[rows] = values
        operator = problem.operator
        if "restrict" in operator.capabilities(1):
            order = rows.argsort()
            Z = operator.restrict(1, rows[order]).matvec(values[order])
        else:
            Z = operator.matvec(coef)
        if not problem.fit_intercept:
            return coef, Z
        intercept = (problem.loss.Y - Z).mean(0)
        return problem.pack(coef, intercept), Z + intercept
