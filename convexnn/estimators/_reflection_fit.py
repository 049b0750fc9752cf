"""The reflection Lasso's fit: the dictionary built on the sorted inputs, the
working-set solve, the choice among tied optimal solutions, and the grid of
continuous features its certificate checks."""

from __future__ import annotations

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator

from .._backend import Backend, to_numpy
from ..dictionaries import build_dictionary, check_family, continuous_family
from ..problems import Certificate, reflection_problem
from ..solvers import solve
from ..solvers.optimal_set import select_solution
from ._fitting import fit_config, warn_not_converged, without_autograd
from ._warm_start import previous_solution

DEFAULT_GRID_SIZES = {1: 2000, 2: 120, 3: 24}
"""Default ``grid_size`` of :meth:`ReflectionLassoRegressor.certify` by the
number of grid axes (``L − 1``, or 1 for threshold and sign)."""


class _ReflectionLassoFit(BaseEstimator):
    """Fit and evaluate the Lasso over a 1-D dictionary (see
    :class:`~convexnn.ReflectionLassoRegressor`)."""

    @without_autograd
    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str, sample_weight=None):
        if X.shape[1] != 1:
            raise ValueError(
                f"{type(self).__name__} fits networks of one input feature (1-D "
                f"data); X has {X.shape[1]} features. Pass a single column."
            )
        check_family(self.depth, self.activation)
        backend = Backend.from_params(self.device, self.dtype)
        order = np.argsort(X[:, 0], kind="stable")
        x, Y = X[order, 0], Y[order]
        if sample_weight is not None:
            sample_weight = sample_weight[order]
        features = build_dictionary(x, self.depth, self.activation, self.negative_slope)
        problem = reflection_problem(
            features,
            backend.tensor(x),
            backend.tensor(Y),
            self.alpha,
            fit_intercept=self.fit_intercept,
            sample_weight=sample_weight,
        )
        result = solve(
            problem,
            self._warm_start_point(problem, backend),
            tol=self.tol,
            max_iter=self.max_iter,
            verbose=self.verbose,
            config=fit_config(),
        )
        certificate, solution = result.certificate, "solver"
        if len(features):
            selected = select_solution(problem, result.x, self.solution)
            # the solver's lower bound certifies any point; no polishing here,
            # which would move the selected point along the optimal face
            Z = problem.matvec(selected)
            primal = problem.objective(selected, Z)
            candidate = Certificate(selected, Z, primal, certificate.dual)
            if candidate.relative_gap <= max(self.tol, certificate.relative_gap):
                certificate, solution = candidate, self.solution
        coef, intercept = problem.split(certificate.x)
        coef = to_numpy(coef)
        support = np.flatnonzero(np.any(coef != 0, axis=1))
        dictionary = features.take(support)
        breakpoints = dictionary.breakpoints()

        self.coef_ = coef[support]
        self.intercept_ = (
            np.zeros(Y.shape[1]) if intercept is None else to_numpy(intercept)
        )
        self.dictionary_ = dictionary
        self.support_ = support
        self.breakpoints_ = breakpoints
        self.is_reflection_ = _off_data(breakpoints, np.unique(x))
        self.n_neurons_ = int(np.count_nonzero(self.coef_))
        self.n_columns_ = len(features)
        self.solution_ = solution
        self.objective_ = certificate.primal
        self.dual_gap_ = certificate.relative_gap
        self.n_iter_ = result.n_iter
        self.converged_ = self.dual_gap_ <= self.tol
        self._x_train, self._alpha = x, self.alpha
        self._dual = to_numpy(problem.loss.gradient(certificate.Z))
        if not self.converged_:
            warn_not_converged(self, f"a relative duality gap of {self.dual_gap_:.3g}")

    def _warm_start_point(self, problem, backend: Backend):
        """The previous solution over the whole dictionary, when the new one
        has as many columns of the same family and as many outputs."""
        n_outputs = problem.n_outputs
        previous = previous_solution(
            self, {"coef_": (None, n_outputs), "intercept_": (n_outputs,)}
        )
        if previous is None:
            return None
        family = (self.activation, self.depth, self.negative_slope)
        fitted = self.dictionary_
        if self.n_columns_ != problem.operator.n_coefs or family != (
            fitted.activation,
            fitted.depth,
            fitted.negative_slope,
        ):
            return None
        coef = np.zeros((self.n_columns_, n_outputs))
        coef[self.support_] = previous["coef_"]
        return problem.pack(
            backend.tensor(coef), backend.tensor(previous["intercept_"])
        )

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        return self.dictionary_.evaluate(X[:, 0]) @ self.coef_ + self.intercept_


def grid_correlation(
    activation: str, depth: int, negative_slope: float, grid_size: int, x, dual
) -> tuple[float, int]:
    """Largest :math:`|\\varphi(x)^\\top\\theta|` over the grid features; their count.

    The grid spans the range of ``x`` widened by 10% on each side
    (:func:`~convexnn.dictionaries.continuous_family`); ``dual`` is
    :math:`\\theta`, one column per output.
    """
    low, high = float(x.min()), float(x.max())
    margin = 0.1 * (high - low)
    largest, count = 0.0, 0
    for chunk in continuous_family(
        activation, depth, low - margin, high + margin, grid_size, negative_slope
    ):
        correlation = chunk.evaluate(x).T @ dual
        largest = max(largest, float(np.abs(correlation).max(initial=0.0)))
        count += len(chunk)
    return largest, count


def _off_data(points: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Whether each finite point is farther than rounding from every data point."""
    tolerance = 1e-12 * max(float(np.abs(data).max(initial=0.0)), 1e-300)
    position = np.searchsorted(data, points).clip(1, max(len(data) - 1, 1))
    nearest = (
        np.minimum(np.abs(points - data[position - 1]), np.abs(points - data[position]))
        if len(data) > 1
        else np.abs(points - data[0])
    )
    return np.isfinite(points) & ~(nearest <= tolerance)


def _as_column(X):
    """A 1-D array-like as one column; 2-D input unchanged; sparse input refused."""
    if scipy.sparse.issparse(X):
        raise TypeError(
            "ReflectionLassoRegressor does not accept sparse input; pass X as a "
            "dense array of one column (or a 1-D array)."
        )
    shape = getattr(X, "shape", None)
    if shape is None:
        try:
            X = np.asarray(X)
        except ValueError:  # ragged nested sequences: let validation report them
            return X
        shape = X.shape
    return np.asarray(X).reshape(-1, 1) if len(shape) == 1 else X
