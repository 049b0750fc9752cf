r"""The scorer contract and the checks and conversions every scorer shares.

A *scorer* reads feature names (and optional descriptions) and a task
description and returns one importance score :math:`s_j \in (0, 1]` per
feature. LLM-Lasso turns the scores into Lasso penalty
factors, for instance :math:`w_j \propto s_j^{-\eta}`, so a feature with a
high score is penalised less.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np


class ScoringWarning(UserWarning):
    """The scores carry less information than asked for (constant or incomplete)."""


class ScoringError(RuntimeError):
    """A scorer gave up: too many failures, its deadline passed, or nothing scored."""


@runtime_checkable
class Scorer(Protocol):
    r"""Anything that scores the importance of named features for a task.

    The contract of :meth:`score`:

    * it returns a float64 array of shape ``(len(feature_names),)`` whose
      ``j``-th entry scores ``feature_names[j]``;
    * every score lies in :math:`(0, 1]`: larger means more important for the
      task. Zero is excluded because a penalty factor such as
      :math:`s_j^{-\eta}` must stay finite, so the least important features get
      a small positive floor rather than infinite penalties;
    * only the order and ratios of the scores carry information, so a scorer
      may rescale them. The scorers in :mod:`convexnn.scoring` give the most
      important feature exactly 1;
    * equal scores (ties) mean equal prior importance and hence equal penalty
      factors. Scores that are all equal carry no information: every transform
      normalised to sum to ``p`` then gives all penalty factors 1, the plain
      Lasso. The built-in model-based scorers warn with
      :class:`ScoringWarning` when that happens.

    A scorer that judges features by their names (a chat model, an
    embedding model) says so with ``reads_feature_names = True``: the
    estimators then refuse the placeholder names ``x0, x1, …`` of an ``X``
    that has none.
    """

    def score(
        self,
        feature_names: list[str],
        task_description: str,
        feature_descriptions: dict[str, str] | None = None,
    ) -> np.ndarray:
        """Score each feature's importance for the task.

        Parameters
        ----------
        feature_names : list of str
            Unique feature names, in the order of the columns of ``X``.
        task_description : str
            What the model predicts, in plain words.
        feature_descriptions : dict of str to str, default=None
            Optional descriptions keyed by feature name; features without one
            are described by their name alone.

        Returns
        -------
        scores : ndarray of shape (len(feature_names),)
            Importances in :math:`(0, 1]`, in the order of ``feature_names``.
        """
        ...


def check_feature_names(feature_names) -> list[str]:
    """Validate feature names: a non-empty sequence of unique non-empty strings."""
    if isinstance(feature_names, str) or not hasattr(feature_names, "__iter__"):
        raise TypeError(
            "feature_names must be a list of strings; got "
            f"{type(feature_names).__name__}."
        )
    names = list(feature_names)
    if not names:
        raise ValueError("feature_names must contain at least one name; got none.")
    bad = [name for name in names if not isinstance(name, str) or not name.strip()]
    if bad:
        raise ValueError(f"feature_names must be non-empty strings; got {bad[:5]!r}.")
    seen, duplicates = set(), []
    for name in names:
        if name in seen:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        raise ValueError(
            f"feature_names must be unique; repeated: {sorted(set(duplicates))!r}."
        )
    return names


def check_task_description(task_description) -> str:
    """Validate the task description: a string that is not blank."""
    if not isinstance(task_description, str) or not task_description.strip():
        raise ValueError(
            "task_description must be a non-empty string saying what the model "
            f"predicts; got {task_description!r}."
        )
    return task_description


def check_feature_descriptions(
    feature_descriptions, feature_names: list[str]
) -> dict[str, str]:
    """Descriptions of the named features; keys for other features are ignored.

    A data dictionary often covers more columns than a model uses, so entries
    whose key is not in ``feature_names`` are dropped without error.
    """
    if feature_descriptions is None:
        return {}
    if not isinstance(feature_descriptions, Mapping):
        raise TypeError(
            "feature_descriptions must be a dict mapping feature names to "
            f"descriptions, or None; got {type(feature_descriptions).__name__}."
        )
    described = {
        name: feature_descriptions[name]
        for name in feature_names
        if name in feature_descriptions
    }
    bad = [name for name, text in described.items() if not isinstance(text, str)]
    if bad:
        raise TypeError(
            f"feature_descriptions must map names to strings; {bad[:5]!r} do not."
        )
    return described


def check_score_inputs(
    feature_names, task_description, feature_descriptions
) -> tuple[list[str], str, dict[str, str]]:
    """The checked arguments of :meth:`Scorer.score`: names, task, descriptions."""
    names = check_feature_names(feature_names)
    task = check_task_description(task_description)
    return names, task, check_feature_descriptions(feature_descriptions, names)


def relative_scores(raw: np.ndarray, min_score: float) -> np.ndarray:
    r"""Scores relative to the most important feature, floored at ``min_score``.

    .. math::
        s_j = \max\Bigl(\frac{r_j}{\max_k r_k},\; s_{\min}\Bigr)

    for non-negative raw importances :math:`r`. When every :math:`r_j` is zero
    nothing is known and every score is 1.
    """
    raw = np.asarray(raw, dtype=np.float64)
    top = raw.max()
    if top <= 0:
        return np.ones_like(raw)
    return np.maximum(raw / top, min_score)


def warn_if_constant(scores: np.ndarray, source: str) -> None:
    """Warn when all scores are equal: they cannot tell features apart."""
    if len(scores) > 1 and np.ptp(scores) == 0:
        warnings.warn(
            f"{source} gave all {len(scores)} features the same score; the scores "
            "carry no information and LLM-Lasso reduces to the plain Lasso. Check "
            "the task and feature descriptions (or the model's answers).",
            ScoringWarning,
            stacklevel=3,
        )
