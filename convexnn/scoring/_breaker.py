"""When a :class:`~convexnn.scoring.ChatScorer` call gives up: after too many
batches failed in a row, or at its deadline, with an error that says how far
the call got."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ._base import ScoringError

if TYPE_CHECKING:
    from .chat import ChatScorer


class Breaker:
    """Stops a :meth:`ChatScorer.score` call early: failures in a row, or time.

    Parameters
    ----------
    scorer : ChatScorer
        The scorer whose parameters set the limits.
    n_batches : int
        How many batches (over all trials) the call would ask for.
    """

    def __init__(self, scorer: ChatScorer, n_batches: int):
        self.scorer = scorer
        self.n_batches = n_batches
        self.deadline = (
            None
            if scorer.timeout_total is None
            else time.monotonic() + scorer.timeout_total
        )
        self.in_a_row = self.failed = self.answered = 0

    def record(self, *, answered: bool, failures: list[str]) -> None:
        """Count an asked batch; give up after too many failures in a row."""
        if answered:
            self.answered += 1
            self.in_a_row = 0
            return
        self.failed += 1
        self.in_a_row += 1
        limit = self.scorer.max_consecutive_failures
        if limit is not None and self.in_a_row >= limit:
            raise self._error(
                f"gave up after {self.in_a_row} batches in a row failed "
                f"(max_consecutive_failures={limit})",
                failures,
                "raise max_consecutive_failures (None never gives up early)",
            )

    def check_deadline(self, pause: float, failures: list[str], failing: bool) -> None:
        """Give up if the deadline passes before a request after ``pause`` s.

        ``failing`` says whether the batch being asked has failed so far; it
        then counts as failed in the error.
        """
        if self.deadline is not None and time.monotonic() + pause >= self.deadline:
            self.failed += bool(failing)
            raise self._error(
                f"gave up at its deadline, timeout_total={self.scorer.timeout_total:g}"
                " seconds for the whole call",
                failures,
                "raise timeout_total (None sets no deadline)",
            )

    def _error(self, what: str, failures: list[str], remedy: str) -> ScoringError:
        scorer = self.scorer
        unfinished = self.n_batches - self.failed - self.answered
        last = failures[-1] if failures else "none (no request had failed)"
        kept = ""
        if self.answered and scorer.cache_dir is not None and scorer._source():
            kept = (
                " The answered batches are in cache_dir, so a rerun asks only "
                "for the rest."
            )
        return ScoringError(
            f"ChatScorer {what}, asking {scorer._endpoint()}: "
            f"{self.failed} of {self.n_batches} batches failed (each after "
            f"max_retries={scorer.max_retries} retries), {self.answered} were "
            f"answered (or cached) and {unfinished} not finished. The last "
            f"error: {last}. Check that the endpoint is up and answers, or "
            f"{remedy}.{kept}"
        )
