"""A scorer that asks a chat model, in batches, for each feature's importance."""

from __future__ import annotations

import logging
import os
import time
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from .._sklearn_compat import Interval, StrOptions
from ._answers import InvalidAnswer, match_importances, parse_importances
from ._base import (
    ScoringWarning,
    check_feature_descriptions,
    check_feature_names,
    check_task_description,
    relative_scores,
    warn_if_constant,
)
from ._cache import ScoreCache
from ._prompt import PROMPT_TEMPLATE, build_prompt
from ._transport import ChatCompletions, TransientError

logger = logging.getLogger("convexnn.scoring")

RETRYABLE = (TransientError, InvalidAnswer, TimeoutError, ConnectionError)
"""Failures after which a batch is asked again (after a pause)."""


class ChatScorer(BaseEstimator):
    r"""Ask a chat model how important each feature is for the task.

    Features are sent in batches of ``batch_size``. Each prompt gives the task,
    the batch's names and descriptions, and asks for STRICT JSON mapping each
    name to an importance in :math:`[0, 1]`. Answers are read tolerantly
    (surrounding prose or code fences, keys differing in case or surrounding
    whitespace); keys that match no feature and values outside
    :math:`[0, 1]` are dropped. A batch is asked again, after a pause of
    ``backoff * 2**k`` seconds before the ``k+1``-th retry, when the call fails
    (HTTP 429 or 5xx, timeout, lost connection), when the answer holds no JSON
    object, or for the features the answer left out, at most ``max_retries``
    times. Any other error (such as HTTP 401) is raised at once.

    With :math:`m_j` the mean of feature ``j``'s importances over the
    ``n_trials`` trials that produced one, the scores are

    .. math::
        s_j = \max\Bigl(\frac{m_j}{\max_k m_k},\; s_{\min}\Bigr) \in (0, 1].

    Features without any importance after all retries get the value chosen by
    ``missing``, with a :class:`~convexnn.scoring.ScoringWarning` that says
    how many there were (and whether they were most of them). Scores that come
    out all equal also warn.

    Parameters
    ----------
    complete : callable, default=None
        ``complete(prompt: str) -> str``, any function that returns a chat
        model's answer to a prompt. It may raise ``TimeoutError`` or
        ``ConnectionError`` to have the prompt retried. Give either
        ``complete`` or ``url``.
    url : str, default=None
        An OpenAI-compatible chat-completions endpoint, called with the
        standard library only. Either a base URL such as
        ``"http://localhost:8000/v1"``, to which ``/chat/completions`` is
        appended, or the full URL ending in ``/chat/completions``. Each prompt
        is POSTed as one user message.
    model : str, default="gpt-4o-mini"
        The model requested from ``url``. Also part of every cache key, so with
        ``complete`` it labels the cache entries of that callable.
    api_key_env : str or None, default="OPENAI_API_KEY"
        The environment variable holding the API key for ``url``, read at each
        call and sent only as ``Authorization: Bearer <key>``. The key is never
        stored on the scorer, logged, cached, or shown in errors. When the
        variable is unset or empty (or ``api_key_env=None``), no
        ``Authorization`` header is sent.
    temperature : float or None, default=None
        Sampling temperature sent to ``url``; ``None`` leaves the server's
        default. Trials differ only through sampling, so ``n_trials > 1`` needs
        a positive temperature to be useful.
    batch_size : int, default=20
        Features per prompt.
    n_trials : int, default=1
        How many times every batch is asked; importances are averaged.
    max_retries : int, default=4
        Retries of a batch after a failed call or an incomplete answer.
    backoff : float, default=1.0
        Seconds before the first retry; doubled before each further one.
    timeout : float, default=60.0
        Seconds to wait for ``url`` to connect and for each read.
    cache_dir : str or path-like, default=None
        Directory of cached answers, one file per batch and trial, keyed by a
        SHA-256 hash of the model, the temperature, the prompt template, the
        task, the batch's names and descriptions, and the trial index. A
        cached batch makes no call. Only complete answers are cached, so a
        later run asks again for what failed; an unreadable or invalid entry is
        ignored and rewritten. ``None`` disables caching.
    missing : {"median", "raise"} or float in [0, 1], default="median"
        What a feature without any valid importance gets: the median of the
        other features' mean importances, an error, or this value. When no
        feature at all was scored, ``RuntimeError`` is raised in every case.
    min_score : float in (0, 1], default=0.01
        The floor :math:`s_{\min}`, so a feature rated 0 gets a large but
        finite penalty.

    Examples
    --------
    >>> import json
    >>> from convexnn.scoring import ChatScorer
    >>> def complete(prompt):  # a stand-in for a chat model
    ...     return json.dumps({"glucose": 0.9, "zip": 0.0})
    >>> ChatScorer(complete).score(["glucose", "zip"], "predict diabetes")
    array([1.  , 0.01])
    """

    _parameter_constraints: ClassVar[dict] = {
        "complete": [callable, None],
        "url": [str, None],
        "model": [str],
        "api_key_env": [str, None],
        "temperature": [Interval(Real, 0, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_trials": [Interval(Integral, 1, None, closed="left")],
        "max_retries": [Interval(Integral, 0, None, closed="left")],
        "backoff": [Interval(Real, 0, None, closed="left")],
        "timeout": [Interval(Real, 0, None, closed="neither")],
        "cache_dir": [str, os.PathLike, None],
        "missing": [
            StrOptions({"median", "raise"}),
            Interval(Real, 0, 1, closed="both"),
        ],
        "min_score": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(
        self,
        complete=None,
        *,
        url=None,
        model="gpt-4o-mini",
        api_key_env="OPENAI_API_KEY",
        temperature=None,
        batch_size=20,
        n_trials=1,
        max_retries=4,
        backoff=1.0,
        timeout=60.0,
        cache_dir=None,
        missing="median",
        min_score=0.01,
    ):
        self.complete = complete
        self.url = url
        self.model = model
        self.api_key_env = api_key_env
        self.temperature = temperature
        self.batch_size = batch_size
        self.n_trials = n_trials
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeout = timeout
        self.cache_dir = cache_dir
        self.missing = missing
        self.min_score = min_score

    def score(
        self,
        feature_names: list[str],
        task_description: str,
        feature_descriptions: dict[str, str] | None = None,
    ) -> np.ndarray:
        """Ask the chat model for every feature's importance and combine them.

        See :class:`~convexnn.scoring.Scorer` for the parameters and the
        contract of the result.

        Raises
        ------
        RuntimeError
            If no feature could be scored, or some could not and
            ``missing="raise"``.
        """
        self._validate_params()
        names = check_feature_names(feature_names)
        task = check_task_description(task_description)
        described = check_feature_descriptions(feature_descriptions, names)
        complete = self._completer()
        cache = None if self.cache_dir is None else ScoreCache(self.cache_dir)
        column = {name: j for j, name in enumerate(names)}
        importances = np.full((self.n_trials, len(names)), np.nan)
        failures: list[str] = []
        for trial in range(self.n_trials):
            for start in range(0, len(names), self.batch_size):
                batch = names[start : start + self.batch_size]
                answers = self._ask_batch(
                    complete, cache, task, batch, described, trial, failures
                )
                for name, value in answers.items():
                    importances[trial, column[name]] = value
        mean = self._fill_missing(_mean_over_trials(importances), names, failures)
        scores = relative_scores(mean, self.min_score)
        warn_if_constant(scores, "ChatScorer")
        return scores

    def _completer(self):
        """The ``complete(prompt) -> str`` callable to use."""
        if (self.complete is None) == (self.url is None):
            raise ValueError(
                "ChatScorer needs exactly one of complete= (a callable returning the "
                "model's answer to a prompt) and url= (an OpenAI-compatible "
                "endpoint); got " + ("neither." if self.complete is None else "both.")
            )
        if self.complete is not None:
            return self.complete
        return ChatCompletions(
            self.url,
            self.model,
            api_key_env=self.api_key_env,
            timeout=self.timeout,
            temperature=self.temperature,
        )

    def _ask_batch(self, complete, cache, task, batch, described, trial, failures):
        """Importances of ``batch`` in one trial: from the cache, else asked for.

        Failed attempts are described in ``failures`` (and the log).
        """
        key = ScoreCache.key(
            model=self.model,
            temperature=self.temperature,
            template=PROMPT_TEMPLATE,
            task=task,
            features=[[name, described.get(name)] for name in batch],
            trial=trial,
        )
        cached = None if cache is None else _complete_entry(cache.load(key), batch)
        if cached is not None:
            return cached
        answers = self._ask_with_retries(complete, task, batch, described, failures)
        if cache is not None and len(answers) == len(batch):
            cache.store(key, answers)
        return answers

    def _ask_with_retries(self, complete, task, batch, described, failures):
        """Ask for ``batch``, then again for what is missing, ``max_retries`` times."""
        answers: dict[str, float] = {}
        pending = list(batch)
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                text = complete(build_prompt(task, pending, described))
                answers.update(parse_importances(text, pending))
            except RETRYABLE as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                pending = [name for name in batch if name not in answers]
                if not pending:
                    break
                failure = f"no valid importance for {pending[:5]!r}"
            failures.append(failure)
            logger.info(
                "Attempt %d of %d for %d features failed: %s",
                attempt + 1,
                self.max_retries + 1,
                len(pending),
                failure,
            )
        return answers

    def _fill_missing(self, mean, names, failures) -> np.ndarray:
        """Mean importances with the ``missing`` policy applied to NaNs."""
        lost = np.isnan(mean)
        if not lost.any():
            return mean
        lost_names = [names[j] for j in np.flatnonzero(lost)]
        summary = (
            f"ChatScorer got no valid importance for {len(lost_names)} of "
            f"{len(names)} features after max_retries={self.max_retries} "
            f"({lost_names[:10]!r}); the last failure was: {failures[-1]}"
        )
        if lost.all() or self.missing == "raise":
            raise RuntimeError(
                summary + ". Check the endpoint and the model's answers (logged "
                "on the 'convexnn.scoring' logger), or raise max_retries."
            )
        fill = np.median(mean[~lost]) if self.missing == "median" else self.missing
        mostly = ""
        if lost.mean() > 0.5:
            mostly = " Most scores are missing, so they say little."
        warnings.warn(
            f"{summary}. They get {fill:.3g} (missing={self.missing!r}).{mostly}",
            ScoringWarning,
            stacklevel=3,
        )
        return np.where(lost, fill, mean)


def _mean_over_trials(importances: np.ndarray) -> np.ndarray:
    """Column means over the non-NaN entries; NaN where a column has none."""
    answered = ~np.isnan(importances)
    count = answered.sum(axis=0)
    total = np.where(answered, importances, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _complete_entry(entry, batch: list[str]) -> dict[str, float] | None:
    """A cache entry's importances if it holds a valid one for every name."""
    if entry is None:
        return None
    answers = match_importances(entry, batch) if isinstance(entry, dict) else {}
    if len(answers) == len(batch):
        return answers
    logger.warning("Ignoring a cache entry without valid importances for %s", batch)
    return None
