r"""The weighted-Lasso regularisation path as a function, in the layout of
scikit-learn's :func:`~sklearn.linear_model.lasso_path`.

It solves the path :class:`~convexnn.WeightedLassoCV` and the LLM-Lasso
estimators solve on every fold (:class:`~._lasso_path.LassoData`), with the
same default grid.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_X_y

from .._backend import Backend
from .._sklearn_compat import Interval, StrOptions, validate_params
from ._base import FLOAT_DTYPES
from ._fitting import convergence_advice, user_stacklevel
from ._lasso_fit import check_penalty_factors
from ._lasso_path import LassoData, check_alphas


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "penalty_factors": ["array-like", dict, None],
        "alphas": ["array-like", None],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "eps": [Interval(Real, 0, 1, closed="neither")],
        "fit_intercept": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "dtype": [StrOptions({"float32", "float64"}), None],
        "verbose": ["verbose"],
        "return_n_iter": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def weighted_lasso_path(
    X: ArrayLike,
    y: ArrayLike,
    penalty_factors: ArrayLike | dict | None = None,
    *,
    alphas: ArrayLike | None = None,
    n_alphas: int = 100,
    eps: float = 1e-3,
    fit_intercept: bool = False,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    device: str | torch.device = "auto",
    dtype: str | None = None,
    verbose: int = 0,
    return_n_iter: bool = False,
) -> tuple[np.ndarray, ...]:
    r"""Compute the weighted-Lasso path, each solution certified by a duality gap.

    For each ``alpha`` of a decreasing grid, solves

    .. math::
        \min_{\beta, b}\; \frac{1}{2n}\|y - X\beta - b\mathbf 1\|_2^2
        + \alpha \sum_j w_j |\beta_j|

    (``b = 0`` unless ``fit_intercept``) with the penalty factors ``w_j ≥ 0``,
    each solve warm-started from the previous solution and stopped at a
    relative duality gap ``≤ tol``. With all factors 1 and no intercept this
    is :func:`sklearn.linear_model.lasso_path` for one target. Several
    targets share the factors and each coefficient is penalised on its own,
    as :class:`~sklearn.linear_model.Lasso` fits them (not the joint penalty
    of ``lasso_path``, which with a 2-D ``y`` is the multi-task Lasso).
    ``X`` is used as given: no column is rescaled.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training data (dense).
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Targets.
    penalty_factors : array-like of shape (n_features,) or dict, default=None
        The factors ``w_j ≥ 0``, in column order or keyed by feature name
        (the columns of a DataFrame ``X``, else ``"x0" .. "x{p-1}"``): ``0``
        leaves a feature unpenalised, ``inf`` excludes it (its coefficients
        are 0). ``None`` is all ones, the plain Lasso.
    alphas : array-like of float, default=None
        The alphas, positive; sorted in decreasing order. ``None`` is the
        grid of ``n_alphas`` values from ``alpha_max`` down to
        ``eps · alpha_max``, evenly spaced on a log scale, where
        ``alpha_max`` is the smallest alpha at which every penalised
        coefficient is zero: :math:`\max_j |x_j^\top r| / (n w_j)` over the
        penalised features, with ``r`` the residual of the fit on the
        unpenalised ones (and the intercept) alone. When nothing is penalised
        or ``r = 0`` the grid starts at 1.
    n_alphas : int, default=100
        Length of the default grid.
    eps : float in (0, 1), default=1e-3
        ``alpha_min / alpha_max`` of the default grid.
    fit_intercept : bool, default=False
        Fit an unpenalised intercept. It is not returned: it is
        ``mean(y) − mean(X, axis=0) @ coef`` at each alpha.
    tol : float, default=1e-6
        Target relative duality gap ``(primal − dual) / primal`` of each solve.
    max_iter : int, default=10000
        Maximum number of solver iterations per alpha.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the solver runs; "auto" picks CUDA when available.
    dtype : {"float32", "float64"}, default=None
        Solver precision; None is float64 on CPU and float32 on CUDA.
    verbose : int, default=0
        When positive, print a progress line per alpha (iterations,
        objective, relative duality gap, elapsed time); above 1, also the
        solver's own lines.
    return_n_iter : bool, default=False
        Also return the number of iterations at each alpha.

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
        The alphas, in decreasing order.
    coefs : ndarray of shape (n_features, n_alphas) or (n_targets, n_features, n_alphas)
        The coefficients at each alpha (the second shape for a 2-D ``y``).
    dual_gaps : ndarray of shape (n_alphas,)
        The relative duality gap certifying each solution (for several
        targets, of their sum).
    n_iters : ndarray of shape (n_alphas,)
        Solver iterations at each alpha; only with ``return_n_iter=True``.

    Warns
    -----
    ConvergenceWarning
        When some solve stopped at ``max_iter`` above ``tol``.

    See Also
    --------
    WeightedLasso : The weighted Lasso at one alpha, as an estimator.
    WeightedLassoCV : Alpha chosen by cross-validation along this path.
    sklearn.linear_model.lasso_path : The plain Lasso path.

    Examples
    --------
    >>> import numpy as np
    >>> from convexnn import weighted_lasso_path
    >>> X = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0], [4.0, 2.0]])
    >>> y = np.array([2.0, 2.0, 4.5, 5.0])
    >>> alphas, coefs, gaps = weighted_lasso_path(
    ...     X, y, penalty_factors=[1.0, 2.0], n_alphas=3, eps=0.01
    ... )
    >>> alphas.round(4)
    array([9.875 , 0.9875, 0.0988])
    >>> coefs.round(3)  # the second feature, penalised twice as much, enters last
    array([[0.   , 1.185, 1.02 ],
           [0.   , 0.   , 0.405]])
    >>> bool((gaps <= 1e-6).all())
    True
    """
    columns = getattr(X, "columns", None)
    X, y = check_X_y(X, y, dtype=FLOAT_DTYPES, multi_output=True, y_numeric=True)
    Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    factors = check_penalty_factors(penalty_factors, _names(columns, X.shape[1]))
    backend = Backend.from_params(device, dtype)
    data = LassoData.build(
        X, Y, "squared", factors, fit_intercept=fit_intercept, backend=backend
    )
    grid = (
        data.default_alphas(n_alphas, eps) if alphas is None else check_alphas(alphas)
    )
    with torch.inference_mode():
        path = data.solve(grid, tol=tol, max_iter=max_iter, verbose=verbose)
    n_failed = int((~path.converged).sum())
    if n_failed:
        warnings.warn(
            f"{n_failed} of {len(grid)} solves of the path stopped at "
            f"max_iter={max_iter} before reaching tol={tol}; {convergence_advice()}",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    coefs = path.coefs.transpose(2, 1, 0)  # (n_targets, n_features, n_alphas)
    if y.ndim == 1:
        coefs = coefs[0]
    result = (path.alphas, coefs, path.gaps)
    return (*result, path.n_iter) if return_n_iter else result


def _names(columns, n_features: int) -> list[str]:
    """The columns of a DataFrame when they are strings, else ``x0 .. x{p-1}``."""
    if columns is not None and all(isinstance(name, str) for name in columns):
        return list(columns)
    return [f"x{j}" for j in range(n_features)]
