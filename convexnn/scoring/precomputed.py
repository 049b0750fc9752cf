"""Scores known in advance: from a paper, an expert, or an earlier run."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .._features import values_by_feature
from ._base import ScoringWarning, check_feature_names


class PrecomputedScorer(BaseEstimator):
    r"""Importance scores given as numbers, by position or by feature name.

    The scores must be finite and strictly positive, on any scale (``0.3``,
    ``7`` on a 1–10 scale, a count of citations...). They are divided by their
    maximum,

    .. math::
        s_j = \frac{v_j}{\max_k v_k} \in (0, 1],

    so the most important feature scores exactly 1 and only ratios matter.
    Zero is refused rather than floored: it would mean an infinite penalty,
    which is better expressed by leaving the feature out of ``X``.

    Parameters
    ----------
    scores : array-like of shape (n_features,) or mapping of str to float
        Either one value per feature in the order of ``feature_names`` at
        :meth:`score` time, or a mapping (a ``dict`` or a pandas ``Series``)
        from feature name to value. Every feature must have a value (a missing
        name raises ``ValueError`` naming it); names that are not features are
        ignored with a :class:`~convexnn.scoring.ScoringWarning`.

    Examples
    --------
    >>> from convexnn.scoring import PrecomputedScorer
    >>> scorer = PrecomputedScorer({"age": 2.0, "income": 4.0})
    >>> scorer.score(["income", "age"], "predict credit default")
    array([1. , 0.5])
    """

    def __init__(self, scores):
        self.scores = scores

    def score(
        self,
        feature_names: list[str],
        task_description: str = "",
        feature_descriptions: dict[str, str] | None = None,
    ) -> np.ndarray:
        """Return the given scores in the order of ``feature_names``, max 1.

        The task and descriptions are not used: the scores were fixed in
        advance. See :class:`~convexnn.scoring.Scorer` for the parameters.
        """
        names = check_feature_names(feature_names)
        values = values_by_feature(
            self.scores,
            names,
            "PrecomputedScorer scores",
            warning=ScoringWarning,
            stacklevel=3,
        )
        bad = {
            name: float(value)
            for name, value in zip(names, values, strict=True)
            if not (np.isfinite(value) and value > 0)
        }
        if bad:
            shown = dict(list(bad.items())[:10])
            raise ValueError(
                "PrecomputedScorer scores must be finite and strictly positive; "
                f"{len(bad)} are not: {shown!r}."
            )
        return values / values.max()
