r"""Weighted Lasso estimators: one alpha, or alpha chosen by cross-validation.

.. math::
    \min_{\beta, b}\; \frac{1}{2n}\|y - X\beta - b\mathbf 1\|_2^2
    + \alpha \sum_{j=1}^p w_j |\beta_j|

with per-feature *penalty factors* ``w_j ≥ 0``: ``w_j = 0`` leaves feature
``j`` unpenalised, ``w_j = inf`` excludes it (its coefficient is 0), and
all factors 1 is scikit-learn's :class:`~sklearn.linear_model.Lasso`. The
factors are used exactly as given (no normalisation), and so is ``X``: no
column is rescaled, so standardise ``X`` in a
:class:`~sklearn.pipeline.Pipeline` with a
:class:`~sklearn.preprocessing.StandardScaler` when the features have
different units. A Lasso with factors ``w`` is the plain Lasso on the
columns ``X_j / w_j``, its coefficients divided by ``w_j``.

The shared pieces here also serve the LLM-Lasso estimators: naming
features, resolving per-feature inputs, storing a solution, and the
cross-validated fit over several penalty-factor candidates.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from .._sklearn_compat import Interval, StrOptions
from ._base import RegressorOutputMixin
from ._fitting import (
    SOLVER_PARAMETERS,
    TIME_PARAMETERS,
    fit_config,
    without_autograd,
)
from ._lasso_fit import (
    CV_PARAMETERS,
    _LassoCVBase,
    _WeightedLassoBase,
    check_penalty_factors,
    feature_names,
)
from ._lasso_path import LassoData
from ._warm_start import WARM_START_PARAMETERS, previous_solution


class WeightedLasso(RegressorOutputMixin, _WeightedLassoBase):
    r"""Lasso with a penalty factor per feature, solved to a certified duality gap.

    .. math::
        \min_{\beta, b}\; \frac{1}{2n}\|y - X\beta - b\mathbf 1\|_2^2
        + \alpha \sum_j w_j |\beta_j|

    Several targets share the factors (each coefficient is penalised on its
    own, as in :class:`~sklearn.linear_model.Lasso`). No column is rescaled:
    standardise ``X`` in a pipeline.

    Parameters
    ----------
    alpha : float, default=1.0
        Regularisation strength.
    penalty_factors : array-like of shape (n_features,) or dict, default=None
        The factors ``w_j ≥ 0``, in column order or keyed by feature name
        (``feature_names_in_`` for a DataFrame, else ``"x0" .. "x{p-1}"``);
        ``0`` leaves a feature unpenalised, ``inf`` excludes it. ``None`` is
        all ones, the plain Lasso. Used as given, without normalisation.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    tol : float, default=1e-6
        Target relative duality gap ``(primal − dual) / primal`` of each solve.
    max_iter : int, default=10000
        Maximum number of solver iterations per alpha.
    max_time : float, default=None
        Wall-clock budget of ``fit`` in seconds. When it runs out the solver
        stops at its next checkpoint and keeps its best certified point
        (``converged_=False``, ``dual_gap_`` its honest gap, and a
        :class:`~sklearn.exceptions.ConvergenceWarning`). None: no limit.
    warm_start : bool, default=False
        Start the solver from the previous ``coef_`` and ``intercept_`` (for
        example along a grid of ``alpha``, or after new penalty factors); the
        optimum is unchanged. A fit with another number of features or of
        targets starts from zero.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the solver runs; "auto" picks CUDA when available.
    dtype : {"float32", "float64"}, default=None
        Solver precision; None is float64 on CPU and float32 on CUDA.
    n_threads : int, default=None
        Intra-op CPU threads (:func:`torch.set_num_threads`) during ``fit``.
        None uses one thread when the solver's operator products are small
        (more threads only slow them down) and torch's current setting
        otherwise; the global setting is restored after the fit.
    verbose : int, default=0
        When positive, print a progress line (iterations, objective, relative
        duality gap, elapsed time) when the solve ends; above 1, also at each
        checkpoint of the solver.

    Attributes
    ----------
    penalty_factors_ : ndarray of shape (n_features,)
        The factors used.
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients (excluded features are 0).
    intercept_ : float or ndarray of shape (n_targets,)
        Intercept (0 when ``fit_intercept=False``).
    selected_features_ : ndarray of str
        Names of the features with a nonzero coefficient.
    n_iter_ : int
        Solver iterations of the final fit (summed along its path).
    dual_gap_ : float
        Relative duality gap certifying the final fit.
    converged_ : bool
        Whether ``dual_gap_ <= tol`` was reached within ``max_iter`` and
        ``max_time``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names; features are otherwise
        named ``x0 .. x{p-1}``.

    See Also
    --------
    WeightedLassoCV : The same Lasso with alpha chosen by cross-validation.
    LLMLassoRegressor : Penalty factors from a scorer, trusted as far as
        cross-validation says.
    sklearn.linear_model.Lasso : The plain Lasso (all factors 1).

    Examples
    --------
    >>> import numpy as np
    >>> from convexnn import WeightedLasso
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> model = WeightedLasso(0.1, penalty_factors={"x0": 1.0, "x1": np.inf})
    >>> model.fit(X, y).coef_.round(3)
    array([0.92, 0.  ])
    >>> model.selected_features_.tolist()
    ['x0']
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "penalty_factors": ["array-like", dict, None],
        **SOLVER_PARAMETERS,
        **TIME_PARAMETERS,
        **WARM_START_PARAMETERS,
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        penalty_factors=None,
        fit_intercept=True,
        tol=1e-6,
        max_iter=10_000,
        max_time=None,
        warm_start=False,
        device="auto",
        dtype=None,
        n_threads=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.penalty_factors = penalty_factors
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.max_time = max_time
        self.warm_start = warm_start
        self.device = device
        self.dtype = dtype
        self.n_threads = n_threads
        self.verbose = verbose

    @without_autograd
    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str, sample_weight=None):
        names = feature_names(self, X.shape[1])
        factors = check_penalty_factors(self.penalty_factors, names)
        data = LassoData.build(
            X,
            Y,
            loss,
            factors,
            fit_intercept=self.fit_intercept,
            backend=self._backend(),
            sample_weight=sample_weight,
        )
        n_features, n_outputs = X.shape[1], Y.shape[1]
        shape = (n_features,) if n_outputs == 1 else (n_outputs, n_features)
        previous = previous_solution(self, {"coef_": shape})
        x0 = None
        if previous is not None:
            x0 = data.start(np.atleast_2d(self.coef_), self.intercept_)
        path = data.solve(
            [self.alpha],
            tol=self.tol,
            max_iter=self.max_iter,
            verbose=self.verbose,
            x0=x0,
            config=fit_config(),
        )
        attributes = self._solution_attributes(path, 0)
        attributes["penalty_factors_"] = factors
        attributes["objective_"] = float(path.objectives[0])
        self._set_fitted(attributes, names)


class WeightedLassoCV(RegressorOutputMixin, _LassoCVBase):
    r"""Weighted Lasso with alpha chosen by cross-validation along a path.

    Fits the path of :class:`WeightedLasso`,

    .. math::
        \min_{\beta, b}\; \frac{1}{2n}\|y - X\beta - b\mathbf 1\|_2^2
        + \alpha \sum_j w_j |\beta_j|,

    warm-started from ``alpha_max`` down, on every fold, picks ``alpha`` by
    ``selection``, and refits on all data. No column is rescaled: standardise
    ``X`` in a pipeline.

    Parameters
    ----------
    penalty_factors : array-like of shape (n_features,) or dict, default=None
        As in :class:`WeightedLasso`: ``0`` unpenalised, ``inf`` excluded,
        ``None`` all ones; in column order or keyed by feature name.
    alphas : array-like of float, default=None
        The alphas to cross-validate, the same for every candidate. By default
        each candidate gets ``n_alphas`` values from its ``alpha_max`` (where
        every penalised coefficient is zero) down to
        ``alpha_min_ratio · alpha_max``, evenly spaced on a log scale.
    n_alphas : int, default=100
        Length of the default grid.
    alpha_min_ratio : float in (0, 1), default=1e-2
        Where the default grid stops. Paths to ``1e-3`` approach interpolation
        when ``p > n`` and cost many times more.
    cv : int, cross-validation generator or iterable, default=None
        As in :func:`~sklearn.model_selection.check_cv`; an int (default 5)
        makes shuffled folds (stratified for classifiers) seeded by
        ``random_state``. The same folds serve every candidate and alpha.
    selection : {"min", "1se"}, default="min"
        ``"min"``: the alpha with the best mean score; ``"1se"``: the largest
        alpha whose mean score is within one standard error of the best.
    scoring : str or callable, default=None
        A scikit-learn scorer (greater is better). ``None`` is minus the mean
        squared error for regression and minus the log-loss for
        classification, computed directly from the path (fast). Other scorers
        see a fitted copy of the estimator per alpha; for classifiers their
        labels are the class indices ``0 .. n_classes − 1``.
    n_jobs : int, default=None
        Path fits run in parallel (joblib threads), one per fold and
        candidate.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    tol : float, default=1e-6
        Target relative duality gap ``(primal − dual) / primal`` of each solve.
    max_iter : int, default=10000
        Maximum number of solver iterations per alpha.
    max_time : float, default=None
        Wall-clock budget of the whole ``fit`` in seconds, shared by every
        solve (all folds and alphas, then the refit). When it runs out each
        solve stops at its next checkpoint with its best certified point, and
        later ones stop at their first: the fit completes quickly, with
        ``converged_=False`` where the refit fell short and a
        :class:`~sklearn.exceptions.ConvergenceWarning`. None: no limit.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the solver runs; "auto" picks CUDA when available.
    dtype : {"float32", "float64"}, default=None
        Solver precision; None is float64 on CPU and float32 on CUDA.
    n_threads : int, default=None
        Intra-op CPU threads (:func:`torch.set_num_threads`) during ``fit``.
        None uses one thread when the solver's operator products are small
        (more threads only slow them down) and torch's current setting
        otherwise; the global setting is restored after the fit.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffled folds.
    verbose : int, default=0
        When positive, print a progress line (iterations, objective, largest
        relative duality gap, elapsed time) per cross-validation fold and
        candidate, and one per alpha of the final path; each level above 1
        adds the lines one level deeper (the folds' alphas, then the solver's
        own checkpoints).

    Attributes
    ----------
    penalty_factors_ : ndarray of shape (n_features,)
        The factors used.
    alpha_ : float
        The chosen alpha.
    alphas_ : ndarray of shape (n_alphas,)
        The grid the chosen alpha belongs to.
    cv_results_ : dict of ndarrays
        One entry per (candidate, alpha), candidate-major, in the layout of
        ``GridSearchCV.cv_results_`` (``pandas.DataFrame(cv_results_)`` makes
        a table): ``alpha``, ``mean_test_score``, ``std_test_score``,
        ``split{k}_test_score`` and ``mean_n_selected``, the number of
        selected features averaged over the folds.
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients (excluded features are 0).
    intercept_ : float or ndarray of shape (n_targets,)
        Intercept (0 when ``fit_intercept=False``).
    selected_features_ : ndarray of str
        Names of the features with a nonzero coefficient.
    n_iter_ : int
        Solver iterations of the final fit (summed along its path).
    dual_gap_ : float
        Relative duality gap certifying the final fit.
    converged_ : bool
        Whether ``dual_gap_ <= tol`` was reached within ``max_iter`` and
        ``max_time``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names; features are otherwise
        named ``x0 .. x{p-1}``.

    See Also
    --------
    WeightedLasso : The same Lasso at one given alpha.
    LLMLassoRegressor : Penalty factors from a scorer, cross-validated
        together with alpha.
    sklearn.linear_model.LassoCV : The plain Lasso (all factors 1),
        cross-validated.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from convexnn import WeightedLassoCV
    >>> X, y = make_regression(
    ...     n_samples=40, n_features=5, n_informative=2, noise=1.0, random_state=0
    ... )
    >>> model = WeightedLassoCV(n_alphas=20, cv=3, random_state=0).fit(X, y)
    >>> model.converged_
    True
    >>> model.selected_features_.tolist()
    ['x0', 'x4']
    >>> model.alphas_.shape
    (20,)
    """

    _parameter_constraints = {
        "penalty_factors": ["array-like", dict, None],
        **CV_PARAMETERS,
        "selection": [StrOptions({"min", "1se"})],
        **SOLVER_PARAMETERS,
        **TIME_PARAMETERS,
    }

    def __init__(
        self,
        *,
        penalty_factors=None,
        alphas=None,
        n_alphas=100,
        alpha_min_ratio=1e-2,
        cv=None,
        selection="min",
        scoring=None,
        n_jobs=None,
        fit_intercept=True,
        tol=1e-6,
        max_iter=10_000,
        max_time=None,
        device="auto",
        dtype=None,
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.penalty_factors = penalty_factors
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.cv = cv
        self.selection = selection
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.max_time = max_time
        self.device = device
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    @without_autograd
    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str, sample_weight=None):
        names = feature_names(self, X.shape[1])
        factors = check_penalty_factors(self.penalty_factors, names)
        fit = self._cross_validated_fit(X, Y, loss, [factors], sample_weight)
        attributes = dict(fit.attributes)
        attributes["penalty_factors_"] = factors
        attributes["cv_results_"] = fit.cv.results()
        self._set_fitted(attributes, names)
