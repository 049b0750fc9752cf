"""Importance scorers for LLM-Lasso.

A scorer turns feature names, optional descriptions and a task description
into one importance score in (0, 1] per feature (see :class:`Scorer`):

* :class:`PrecomputedScorer` — scores given in advance, by position or name;
* :class:`EmbeddingScorer` — cosine similarity of sentence embeddings of the
  task and of each feature, offline (the ``embed`` extra for the built-in
  model, or any injected encoder);
* :class:`ChatScorer` — a chat model asked for strict JSON in batches, through
  any ``complete(prompt) -> str`` callable or an OpenAI-compatible endpoint,
  with retries, a circuit breaker and a deadline, averaged trials and an
  on-disk cache.
"""

from ._base import Scorer, ScoringError, ScoringWarning
from .chat import ChatScorer
from .embedding import EmbeddingScorer
from .precomputed import PrecomputedScorer

__all__ = [
    "ChatScorer",
    "EmbeddingScorer",
    "PrecomputedScorer",
    "Scorer",
    "ScoringError",
    "ScoringWarning",
]
