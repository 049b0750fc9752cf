"""Reading a chat model's answers: a JSON object of feature importances, a cached
entry checked for every name of its batch, and the mean over trials."""

from __future__ import annotations

import json
import logging
import math
from collections import Counter

import numpy as np

logger = logging.getLogger("convexnn.scoring")


class InvalidAnswer(ValueError):
    """The answer holds no JSON object; asking again may help."""


def parse_importances(text: str, names: list[str]) -> dict[str, float]:
    """The importances in ``text`` of the features in ``names``.

    The answer should be a JSON object mapping feature names to numbers in
    ``[0, 1]``. Tolerated: prose or code fences around the object; keys that
    differ from a name only in case or surrounding whitespace (when that
    identifies one name); numbers written as strings. Keys that match no name,
    and values that are not numbers in ``[0, 1]``, are dropped, so those
    features are simply missing from the result.

    Raises
    ------
    InvalidAnswer
        If ``text`` contains no JSON object.
    """
    return match_importances(_json_object(text), names)


def match_importances(answer: dict, names: list[str]) -> dict[str, float]:
    """Map the keys of a decoded answer to ``names`` and keep the valid values.

    An exact key wins over one that matches only after normalisation; when a
    name is matched twice otherwise, the first key wins.
    """
    exact = set(names)
    counts = Counter(_normalise(name) for name in names)
    by_normal = {
        _normalise(name): name for name in names if counts[_normalise(name)] == 1
    }
    matched: dict[str, float] = {}
    for key, value in sorted(answer.items(), key=lambda item: item[0] not in exact):
        name = key if key in exact else by_normal.get(_normalise(key))
        importance = _importance(value)
        if name is not None and name not in matched and importance is not None:
            matched[name] = importance
    return matched


def _json_object(text: str) -> dict:
    """The JSON object that is ``text``, or that spans its first ``{`` to last ``}``."""
    if not isinstance(text, str):
        raise InvalidAnswer(f"the answer is a {type(text).__name__}, not text.")
    start, stop = text.find("{"), text.rfind("}")
    for candidate in (text.strip(), text[start : stop + 1] if start >= 0 else ""):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise InvalidAnswer(f"no JSON object in the answer {text[:200]!r}.")


def _normalise(key: str) -> str:
    return key.strip().casefold()


def _importance(value) -> float | None:
    """``value`` as a float in ``[0, 1]``, or ``None`` when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and 0.0 <= number <= 1.0 else None


def mean_over_trials(importances: np.ndarray) -> np.ndarray:
    """Column means over the non-NaN entries; NaN where a column has none."""
    answered = ~np.isnan(importances)
    count = answered.sum(axis=0)
    total = np.where(answered, importances, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def complete_entry(entry, batch: list[str]) -> dict[str, float] | None:
    """A cache entry's importances if it holds a valid one for every name."""
    if entry is None:
        return None
    answers = match_importances(entry, batch) if isinstance(entry, dict) else {}
    if len(answers) == len(batch):
        return answers
    logger.warning("Ignoring a cache entry without valid importances for %s", batch)
    return None
