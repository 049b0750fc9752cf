r"""LLM-Lasso: penalty factors from a scorer, trusted as far as cross-validation says.

Zhang, Goto, Sagan, …, Pilanci & Tibshirani (2025). A
*scorer* (:mod:`convexnn.scoring`) reads the feature names, their
descriptions and the task and gives each feature an importance
:math:`s_j \in (0, 1]`; a transform (:mod:`convexnn.penalty_factors`) turns
the scores into penalty factors :math:`w(t)` for each *trust* value ``t`` of
a grid that always includes the plain Lasso (``w = 1``); and the weighted
Lasso

.. math::
    \min_{W, b}\; f(XW + \mathbf 1 b^\top) + \alpha \sum_j w_j(t) \sum_k |W_{jk}|

is cross-validated over every (trust, alpha) pair on the same folds. A prior
that does not help prediction loses to the plain Lasso, so a hallucinating
scorer cannot do much worse than the plain Lasso.
"""

from __future__ import annotations

from .._sklearn_compat import StrOptions
from ._base import CLASS_WEIGHT, ClassifierOutputMixin, RegressorOutputMixin
from ._llm_lasso_fit import _BaseLLMLasso


class LLMLassoRegressor(RegressorOutputMixin, _BaseLLMLasso):
    r"""Lasso regression with penalty factors from a scorer, trusted as CV says.

    A *scorer* (:mod:`convexnn.scoring`) reads the feature names, their
    descriptions and the task and gives each feature an importance
    :math:`s_j \in (0, 1]`; ``penalty_transform`` turns the scores into
    penalty factors :math:`w(t)` for each *trust* value ``t`` of a grid that
    always includes the plain Lasso (``w = 1``). The estimator solves, for
    each trust value ``t`` and alpha on a path,

    .. math::
        \min_{\beta, b}\; \frac{1}{2n}\|y - X\beta - b\mathbf 1\|_2^2
        + \alpha \sum_j w_j(t)\,|\beta_j|

    on the same folds, picks ``(t, alpha)`` by ``selection`` and refits on
    all data (Zhang, Goto, Sagan, …, Pilanci & Tibshirani, 2025). A prior
    that does not help prediction loses to the plain Lasso, so a
    hallucinating scorer cannot do much worse than the plain Lasso. Scores,
    factors and ``alpha`` refer to ``X`` as given: no column is rescaled, so
    standardise ``X`` in a pipeline (with a
    :class:`~sklearn.preprocessing.StandardScaler`) when features have
    different units.

    Parameters
    ----------
    scorer : Scorer
        Gives each feature an importance in (0, 1] from its name, its
        description and the task: a :mod:`convexnn.scoring` scorer
        (``PrecomputedScorer``, ``EmbeddingScorer``, ``ChatScorer``) or any
        object with that ``score`` method. Called once per fit.
    task_description : str, default=None
        What the model predicts, in plain words (model-based scorers need it).
    feature_descriptions : dict of str to str or list of str, default=None
        Descriptions keyed by feature name (``feature_names_in_`` for a
        DataFrame, else ``"x0" .. "x{p-1}"``), or one per column in order.
    penalty_transform : {"power", "relu"} or callable, default="power"
        From scores ``s`` to penalty factors, normalised to sum to ``p``:
        ``"power"`` is ``w_j ∝ s_j^(−η)`` with trust ``η ≥ 0``; ``"relu"`` is
        ``w_j ∝ 1 + max(0, c − s_j)/(1 − c)`` with trust (cut point)
        ``c ∈ [0, 1)``; a callable ``transform(scores, trust) -> factors``
        gives finite nonnegative factors (see :mod:`convexnn.penalty_factors`).
        Not named ``transform``: scikit-learn takes any estimator with a
        ``transform`` attribute for a transformer.
    trust_grid : array-like of float, default=None
        The trust values to cross-validate; the plain Lasso (trust 0, or all
        factors 1 for a callable) is always added. ``None`` is
        ``(0, 0.5, 1, 2, 3, 5)`` for "power" and ``(0, 0.25, 0.5, 0.75, 0.9,
        0.99)`` for "relu"; a callable transform needs a grid.
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
    selection : {"min", "1se", "area"}, default="min"
        How the (trust, alpha) pair is chosen from the CV scores
        (:mod:`convexnn.estimators._cv_selection` has the formulas):
        ``"min"``, the best mean score; ``"1se"``, among the pairs within one
        standard error of the best the least trusted, then the largest alpha;
        ``"area"``, LLM-Lasso's criterion: the trust whose CV curve against
        the number of selected features encloses the largest positive area
        above the plain Lasso's (else the plain Lasso), at its best alpha.
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
        Wall-clock budget of ``fit`` in seconds, for all its solves together,
        as in :class:`WeightedLassoCV`. None: no limit.
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
    feature_scores_ : ndarray of shape (n_features,)
        The scorer's importances.
    trust_ : float or None
        The chosen trust (0 or None: the plain Lasso).
    penalty_factors_ : ndarray of shape (n_features,)
        The factors at ``trust_``, summing to ``n_features``.
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
        Besides, ``trust`` gives each entry's trust value and ``area`` its
        trust's signed area between CV curves (0 for the plain Lasso).
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
        Whether ``dual_gap_ <= tol`` was reached in ``max_iter``, ``max_time``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names; features are otherwise
        named ``x0 .. x{p-1}``.

    See Also
    --------
    LLMLassoClassifier : The same for classification.
    WeightedLassoCV : The Lasso with given penalty factors.
    convexnn.scoring.PrecomputedScorer : Scores given as numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from convexnn import LLMLassoRegressor
    >>> from convexnn.scoring import PrecomputedScorer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 4))
    >>> y = X[:, 0] - 2 * X[:, 1] + 0.1 * rng.standard_normal(60)
    >>> scorer = PrecomputedScorer({"x0": 1.0, "x1": 1.0, "x2": 0.1, "x3": 0.1})
    >>> model = LLMLassoRegressor(scorer, random_state=0).fit(X, y)
    >>> model.selected_features_.tolist()
    ['x0', 'x1']
    """


class LLMLassoClassifier(ClassifierOutputMixin, _BaseLLMLasso):
    r"""Sparse logistic regression with penalty factors from a scorer.

    A *scorer* (:mod:`convexnn.scoring`) gives each feature an importance
    :math:`s_j \in (0, 1]` and ``penalty_transform`` turns the scores into
    penalty factors :math:`w(t)` for each *trust* value ``t`` of a grid that
    always includes the plain Lasso (``w = 1``). Two classes use the logistic
    loss on one output, more classes the multinomial loss on one output per
    class; a feature's factor is shared by all classes (each coefficient is
    penalised on its own). For each trust value ``t`` and alpha,

    .. math::
        \min_{W, b}\; \frac1n \sum_i \ell(x_i^\top W + b, y_i)
        + \alpha \sum_j w_j(t) \sum_k |W_{jk}|

    with the cross-entropy ``ℓ`` — scikit-learn's
    :class:`~sklearn.linear_model.LogisticRegression` with an L1 penalty and
    ``C = 1 / (n · alpha)`` when all factors are 1 — is solved on the same
    folds; ``(t, alpha)`` is picked by ``selection`` and refitted on all data
    (Zhang, Goto, Sagan, …, Pilanci & Tibshirani, 2025). No column is
    rescaled: standardise ``X`` in a pipeline.

    Parameters
    ----------
    scorer : Scorer
        Gives each feature an importance in (0, 1] from its name, its
        description and the task: a :mod:`convexnn.scoring` scorer
        (``PrecomputedScorer``, ``EmbeddingScorer``, ``ChatScorer``) or any
        object with that ``score`` method. Called once per fit.
    task_description : str, default=None
        What the model predicts, in plain words (model-based scorers need it).
    feature_descriptions : dict of str to str or list of str, default=None
        Descriptions keyed by feature name (``feature_names_in_`` for a
        DataFrame, else ``"x0" .. "x{p-1}"``), or one per column in order.
    penalty_transform : {"power", "relu"} or callable, default="power"
        From scores ``s`` to penalty factors, normalised to sum to ``p``:
        ``"power"`` is ``w_j ∝ s_j^(−η)`` with trust ``η ≥ 0``; ``"relu"`` is
        ``w_j ∝ 1 + max(0, c − s_j)/(1 − c)`` with trust (cut point)
        ``c ∈ [0, 1)``; a callable ``transform(scores, trust) -> factors``
        gives finite nonnegative factors (see :mod:`convexnn.penalty_factors`).
        Not named ``transform``: scikit-learn takes any estimator with a
        ``transform`` attribute for a transformer.
    trust_grid : array-like of float, default=None
        The trust values to cross-validate; the plain Lasso (trust 0, or all
        factors 1 for a callable) is always added. ``None`` is
        ``(0, 0.5, 1, 2, 3, 5)`` for "power" and ``(0, 0.25, 0.5, 0.75, 0.9,
        0.99)`` for "relu"; a callable transform needs a grid.
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
    selection : {"min", "1se", "area"}, default="min"
        How the (trust, alpha) pair is chosen from the CV scores
        (:mod:`convexnn.estimators._cv_selection` has the formulas):
        ``"min"``, the best mean score; ``"1se"``, among the pairs within one
        standard error of the best the least trusted, then the largest alpha;
        ``"area"``, LLM-Lasso's criterion: the trust whose CV curve against
        the number of selected features encloses the largest positive area
        above the plain Lasso's (else the plain Lasso), at its best alpha.
    scoring : str or callable, default=None
        A scikit-learn scorer (greater is better). ``None`` is minus the mean
        squared error for regression and minus the log-loss for
        classification, computed directly from the path (fast). Other scorers
        see a fitted copy of the estimator per alpha; for classifiers their
        labels are the class indices ``0 .. n_classes − 1``.
    n_jobs : int, default=None
        Path fits run in parallel (joblib threads), one per fold and
        candidate.
    loss : {"auto", "logistic", "multinomial"}, default="auto"
        "auto" is "logistic" for two classes and "multinomial" otherwise.
    class_weight : dict, "balanced" or None, default=None
        Class weights multiplying ``sample_weight``: a dict maps labels to
        weights (1 if omitted); "balanced" is ``n / (n_classes · n_k)`` with
        ``n_k`` the total ``sample_weight`` of class ``k`` (its count without).
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    tol : float, default=1e-6
        Target relative duality gap ``(primal − dual) / primal`` of each solve.
    max_iter : int, default=10000
        Maximum number of solver iterations per alpha.
    max_time : float, default=None
        Wall-clock budget of ``fit`` in seconds, for all its solves together,
        as in :class:`WeightedLassoCV`. None: no limit.
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
        Seeds the shuffled, stratified folds.
    verbose : int, default=0
        When positive, print a progress line (iterations, objective, largest
        relative duality gap, elapsed time) per cross-validation fold and
        candidate, and one per alpha of the final path; each level above 1
        adds the lines one level deeper (the folds' alphas, then the solver's
        own checkpoints).

    Attributes
    ----------
    feature_scores_ : ndarray of shape (n_features,)
        The scorer's importances.
    trust_ : float or None
        The chosen trust (0 or None: the plain Lasso).
    penalty_factors_ : ndarray of shape (n_features,)
        The factors at ``trust_``, summing to ``n_features``.
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
        Besides, ``trust`` gives each entry's trust value and ``area`` its
        trust's signed area between CV curves (0 for the plain Lasso).
    coef_ : ndarray of shape (1 or n_classes, n_features)
        Coefficients (excluded features are 0).
    intercept_ : ndarray of shape (1 or K,)
        Intercept (0 when ``fit_intercept=False``).
    selected_features_ : ndarray of str
        Names of the features with a nonzero coefficient.
    n_iter_ : int
        Solver iterations of the final fit (summed along its path).
    dual_gap_ : float
        Relative duality gap certifying the final fit.
    converged_ : bool
        Whether ``dual_gap_ <= tol`` was reached in ``max_iter``, ``max_time``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names; features are otherwise
        named ``x0 .. x{p-1}``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    loss_ : str
        The loss used.

    See Also
    --------
    LLMLassoRegressor : The same for regression.
    sklearn.linear_model.LogisticRegression : The plain L1-penalised
        logistic regression (all factors 1).
    convexnn.scoring.PrecomputedScorer : Scores given as numbers.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from convexnn import LLMLassoClassifier
    >>> from convexnn.scoring import PrecomputedScorer
    >>> X, y = make_classification(
    ...     n_samples=60, n_features=4, n_informative=2, n_redundant=0, random_state=0
    ... )
    >>> scorer = PrecomputedScorer({"x0": 1.0, "x1": 1.0, "x2": 0.1, "x3": 0.1})
    >>> model = LLMLassoClassifier(scorer, n_alphas=20, cv=3, random_state=0)
    >>> model.fit(X, y).selected_features_.tolist()
    ['x0', 'x1']
    >>> model.coef_.shape, model.loss_
    ((1, 4), 'logistic')
    """

    _parameter_constraints = {
        **_BaseLLMLasso._parameter_constraints,
        "loss": [StrOptions({"auto", "logistic", "multinomial"})],
        **CLASS_WEIGHT,
    }

    def __init__(
        self,
        scorer=None,
        *,
        task_description=None,
        feature_descriptions=None,
        penalty_transform="power",
        trust_grid=None,
        alphas=None,
        n_alphas=100,
        alpha_min_ratio=1e-2,
        cv=None,
        selection="min",
        scoring=None,
        n_jobs=None,
        loss="auto",
        class_weight=None,
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
        super().__init__(
            scorer,
            task_description=task_description,
            feature_descriptions=feature_descriptions,
            penalty_transform=penalty_transform,
            trust_grid=trust_grid,
            alphas=alphas,
            n_alphas=n_alphas,
            alpha_min_ratio=alpha_min_ratio,
            cv=cv,
            selection=selection,
            scoring=scoring,
            n_jobs=n_jobs,
            fit_intercept=fit_intercept,
            tol=tol,
            max_iter=max_iter,
            max_time=max_time,
            device=device,
            dtype=dtype,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight
        self.loss = loss
