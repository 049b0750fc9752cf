"""The fit shared by the LLM-Lasso regressor and classifier: checking the
scorer's answer, turning scores into penalty-factor candidates, one per trust
value, and cross-validating them together with alpha."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._sklearn_compat import HasMethods, StrOptions
from ..penalty_factors import TRANSFORMS, penalty_factors, trust_candidates
from ._cv_selection import SELECTIONS, curve_areas
from ._fitting import SOLVER_PARAMETERS, TIME_PARAMETERS
from ._lasso_fit import CV_PARAMETERS, _LassoCVBase, feature_names


def check_feature_scores(scores, n_features: int, scorer) -> np.ndarray:
    """Check a scorer's answer: one finite score in (0, 1] per feature."""
    name = type(scorer).__name__
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (n_features,):
        raise ValueError(
            f"scorer {name} returned shape {scores.shape}; expected one score per "
            f"feature, shape ({n_features},)."
        )
    if not (np.isfinite(scores).all() and (scores > 0).all() and (scores <= 1).all()):
        raise ValueError(
            f"scorer {name} returned scores outside (0, 1]; the Scorer contract "
            "asks for importances 0 < s <= 1."
        )
    return scores


def descriptions_by_name(feature_descriptions, names: list[str]) -> dict | None:
    """``feature_descriptions`` as a dict keyed by name (a list is in column order)."""
    if feature_descriptions is None or isinstance(feature_descriptions, Mapping):
        return feature_descriptions
    descriptions = list(feature_descriptions)
    if len(descriptions) != len(names):
        raise ValueError(
            f"feature_descriptions has {len(descriptions)} entries for "
            f"{len(names)} features; give one per column, or a dict keyed by name."
        )
    return dict(zip(names, descriptions, strict=True))


class _BaseLLMLasso(_LassoCVBase):
    _parameter_constraints = {
        "scorer": [HasMethods(["score"]), None],
        "task_description": [str, None],
        "feature_descriptions": [dict, list, tuple, None],
        "penalty_transform": [StrOptions(set(TRANSFORMS)), callable],
        "trust_grid": ["array-like", None],
        **CV_PARAMETERS,
        "selection": [StrOptions(set(SELECTIONS))],
        **SOLVER_PARAMETERS,
        **TIME_PARAMETERS,
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
        self.scorer = scorer
        self.task_description = task_description
        self.feature_descriptions = feature_descriptions
        self.penalty_transform = penalty_transform
        self.trust_grid = trust_grid
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

    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str, sample_weight=None):
        if self.scorer is None:
            raise ValueError(
                "scorer is required: pass a convexnn.scoring scorer (for instance "
                "PrecomputedScorer(scores) or EmbeddingScorer())."
            )
        # parameters are checked before the scorer, which may be a paid call
        trusts = trust_candidates(self.penalty_transform, self.trust_grid)
        self._given_alphas()
        names = feature_names(self, X.shape[1])
        _check_names_for(self.scorer, self, self.feature_descriptions)
        scores = check_feature_scores(
            self.scorer.score(
                names,
                self.task_description,
                descriptions_by_name(self.feature_descriptions, names),
            ),
            len(names),
            self.scorer,
        )
        candidates = [
            penalty_factors(self.penalty_transform, scores, t) for t in trusts
        ]
        fit = self._cross_validated_fit(X, Y, loss, candidates, sample_weight)
        areas = curve_areas(fit.cv.mean_scores, fit.cv.mean_n_selected)
        attributes = dict(fit.attributes)
        attributes["feature_scores_"] = scores
        attributes["trust_"] = trusts[fit.candidate]
        attributes["penalty_factors_"] = candidates[fit.candidate]
        attributes["cv_results_"] = fit.cv.results(
            trust=np.array(trusts, dtype=object if None in trusts else np.float64),
            area=areas,
        )
        self._set_fitted(attributes, names)


def _check_names_for(scorer, estimator, descriptions) -> None:
    """A scorer that reads feature names needs ``X`` to have some (or the
    features to be described): placeholder names tell it nothing."""
    if not getattr(scorer, "reads_feature_names", False):
        return
    if hasattr(estimator, "feature_names_in_") or descriptions is not None:
        return
    raise ValueError(
        f"{type(scorer).__name__} judges features by their names, but X has none: "
        "it is a NumPy array, or a transformer before this estimator dropped the "
        "DataFrame's column names. Pass X as a pandas DataFrame and, in a "
        'Pipeline, call pipeline.set_output(transform="pandas") so that the '
        "names reach the estimator; or give feature_descriptions."
    )
