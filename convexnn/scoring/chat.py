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
from ._answers import InvalidAnswer, complete_entry, mean_over_trials, parse_importances
from ._base import (
    ScoringError,
    ScoringWarning,
    check_score_inputs,
    relative_scores,
    warn_if_constant,
)
from ._breaker import Breaker
from ._cache import ScoreCache
from ._prompt import PROMPT_TEMPLATE, build_prompt
from ._transport import ChatCompletions, TransientError, endpoint_url

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

    A circuit breaker sits over the retries, so an endpoint that is down costs
    a few batches, not all of them. A batch *fails* when all its attempts
    together gave no valid importance for any of its features. After
    ``max_consecutive_failures`` failed batches in a row, or once the whole
    :meth:`score` call has run for ``timeout_total`` seconds, :meth:`score`
    raises :class:`~convexnn.scoring.ScoringError`, naming the endpoint, the
    number of failed batches, the last error and the parameter to change.
    The deadline is checked before every request and every pause between
    retries (a pause that would end past it is not taken), and it caps each
    HTTP request's ``timeout``, so with ``url`` a call returns within about
    ``timeout_total`` seconds; a ``complete`` callable is never interrupted,
    so a call can overrun by the duration of one of its calls.

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
        The model requested from ``url``. Also part of every cache key (see
        ``cache_dir``).
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
    max_consecutive_failures : int or None, default=3
        How many batches in a row may fail (each after its ``max_retries``
        retries) before :meth:`score` gives up with a
        :class:`~convexnn.scoring.ScoringError`. ``None`` never gives up early:
        every batch is asked, and features left without an importance are
        handled by ``missing``.
    timeout_total : float or None, default=None
        Seconds the whole :meth:`score` call may take before it gives up with a
        :class:`~convexnn.scoring.ScoringError`; requests and pauses are cut
        to fit. Cached batches cost no time. ``None`` sets no deadline: an
        endpoint that accepts connections but never answers then costs up to
        ``max_consecutive_failures * (max_retries + 1)`` timeouts of
        ``timeout`` seconds, plus the pauses.
    cache_dir : str or path-like, default=None
        Directory of cached answers, one file per batch and trial, keyed by a
        SHA-256 hash of where the answers come from, the model, the
        temperature, the prompt template, the task, the batch's names and
        descriptions, and the trial index. Where they come from is the full
        chat-completions URL for ``url``, so two servers never share entries.
        A ``complete`` callable has no identity that survives the process, so
        its answers are cached only when it has a ``cache_key`` attribute, a
        non-empty string naming what it stands for (such as
        ``"my-llm@host:8000"``); callables with the same ``cache_key`` share
        entries, and answers of a callable without one are not cached (with a
        warning). A cached batch makes no call. Only complete answers are
        cached, so a later run asks again for what failed; an unreadable or
        invalid entry is ignored and rewritten. ``None`` disables caching.
    missing : {"median", "raise"} or float in [0, 1], default="median"
        What a feature without any valid importance gets: the median of the
        other features' mean importances, an error, or this value. When no
        feature at all was scored, :class:`~convexnn.scoring.ScoringError` is
        raised in every case.
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

    #: Features are judged by their names (and descriptions).
    reads_feature_names = True

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
        "max_consecutive_failures": [Interval(Integral, 1, None, closed="left"), None],
        "timeout_total": [Interval(Real, 0, None, closed="neither"), None],
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
        max_consecutive_failures=3,
        timeout_total=None,
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
        self.max_consecutive_failures = max_consecutive_failures
        self.timeout_total = timeout_total
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
        ScoringError
            If ``max_consecutive_failures`` batches in a row failed, the call
            ran past ``timeout_total``, no feature could be scored, or some
            could not and ``missing="raise"``. It is a ``RuntimeError``.
        """
        self._validate_params()
        names, task, described = check_score_inputs(
            feature_names, task_description, feature_descriptions
        )
        n_batches = self.n_trials * -(-len(names) // self.batch_size)
        breaker = Breaker(self, n_batches)
        complete = self._completer(breaker.deadline)
        cache = self._cache()
        column = {name: j for j, name in enumerate(names)}
        importances = np.full((self.n_trials, len(names)), np.nan)
        failures: list[str] = []
        for trial in range(self.n_trials):
            for start in range(0, len(names), self.batch_size):
                batch = names[start : start + self.batch_size]
                answers = self._ask_batch(
                    complete, cache, task, batch, described, trial, failures, breaker
                )
                for name, value in answers.items():
                    importances[trial, column[name]] = value
        mean = self._fill_missing(mean_over_trials(importances), names, failures)
        scores = relative_scores(mean, self.min_score)
        warn_if_constant(scores, "ChatScorer")
        return scores

    def _completer(self, deadline=None):
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
            deadline=deadline,
        )

    def _source(self) -> str | None:
        """Where answers come from, for the cache key; ``None`` when unknowable.

        The chat-completions URL for ``url``; for a callable, its ``cache_key``
        attribute, or ``None`` without one.
        """
        if self.url is not None:
            return "url:" + endpoint_url(self.url)
        cache_key = getattr(self.complete, "cache_key", None)
        if cache_key is None:
            return None
        if not isinstance(cache_key, str) or not cache_key.strip():
            raise ValueError(
                "complete.cache_key must be a non-empty string naming the model "
                f"the callable stands for; got {cache_key!r}."
            )
        return "callable:" + cache_key

    def _cache(self) -> ScoreCache | None:
        """The cache to use: none without ``cache_dir`` or a known source."""
        if self.cache_dir is None:
            return None
        if self._source() is None:
            warnings.warn(
                "ChatScorer does not cache the answers of a complete= callable "
                "without a cache_key attribute, since entries of different "
                "callables could not be told apart; cache_dir is ignored. Set "
                "complete.cache_key to a string naming the model it stands for "
                "(such as 'my-llm@host:8000') to cache its answers.",
                UserWarning,
                stacklevel=3,
            )
            return None
        return ScoreCache(self.cache_dir)

    def _endpoint(self) -> str:
        """The endpoint in words, for error messages."""
        if self.url is not None:
            return f"{endpoint_url(self.url)} (model {self.model!r})"
        name = getattr(self.complete, "__qualname__", type(self.complete).__name__)
        return f"the complete= callable {name}"

    def _ask_batch(
        self, complete, cache, task, batch, described, trial, failures, breaker
    ):
        """Importances of ``batch`` in one trial: from the cache, else asked for.

        Failed attempts are described in ``failures`` (and the log); the
        ``breaker`` is told how the batch went.
        """
        key = ScoreCache.key(
            source=self._source(),
            model=self.model,
            temperature=self.temperature,
            template=PROMPT_TEMPLATE,
            task=task,
            features=[[name, described.get(name)] for name in batch],
            trial=trial,
        )
        cached = None if cache is None else complete_entry(cache.load(key), batch)
        if cached is not None:
            breaker.answered += 1  # no evidence about the endpoint: no reset
            return cached
        answers = self._ask_with_retries(
            complete, task, batch, described, failures, breaker
        )
        if cache is not None and len(answers) == len(batch):
            cache.store(key, answers)
        breaker.record(answered=bool(answers), failures=failures)
        return answers

    def _ask_with_retries(self, complete, task, batch, described, failures, breaker):
        """Ask for ``batch``, then again for what is missing, ``max_retries`` times."""
        answers: dict[str, float] = {}
        pending = list(batch)
        for attempt in range(self.max_retries + 1):
            pause = self.backoff * 2 ** (attempt - 1) if attempt else 0.0
            breaker.check_deadline(pause, failures, failing=attempt and not answers)
            if pause:
                time.sleep(pause)
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
            raise ScoringError(
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
