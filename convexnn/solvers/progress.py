"""The solvers' ``verbose`` output: one line per checkpoint, the same for all.

A *checkpoint* is where a method measures how far it is from the optimum: a
certificate of the proximal-gradient loop, a working-set round, an ADMM check,
an augmented-Lagrangian step, an interior-point centre, a solved ``alpha`` of
a path. Each prints one line, whatever the method, such as::

    ADMM                 iter    120  objective 2.4099823363e-02  gap 1.21e-05  ...

with the method's iterations so far, the objective, the relative duality gap
and what else the method measures, and the seconds since the outermost solve
started (:func:`clock`: a solve inside another one, such as the inner solves
of the augmented Lagrangian or the solves along a path, counts from the outer
one's start, and so does every solve of an estimator's ``fit``).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

_STARTED: ContextVar[float | None] = ContextVar("solve_started", default=None)

F = TypeVar("F", bound=Callable)


@contextmanager
def clock() -> Iterator[None]:
    """Time the block: inside it, :func:`report` counts seconds from the start
    of the outermost clock running (in this context: a thread has its own)."""
    if _STARTED.get() is not None:
        yield
        return
    token = _STARTED.set(time.perf_counter())
    try:
        yield
    finally:
        _STARTED.reset(token)


def timed(solver: F) -> F:
    """Run each call of ``solver`` under a :func:`clock`."""

    @functools.wraps(solver)
    def run(*args, **kwargs):
        with clock():
            return solver(*args, **kwargs)

    return run


def elapsed() -> float:
    """Seconds since the outermost timed call started (0 outside one)."""
    started = _STARTED.get()
    return 0.0 if started is None else time.perf_counter() - started


def report(
    phase: str,
    n_iter: int,
    objective: float,
    gap: float | None,
    **measures: float | int | str,
) -> None:
    """Print one progress line: ``phase``, iterations, objective, relative gap
    (left out when ``None``, for methods without a certificate), the other
    ``measures`` by name (floats in scientific notation) and the elapsed time.

    The line goes out in one write, so the lines of solves running in
    parallel threads (cross-validation folds) do not interleave.
    """
    fields = [f"{phase:<20} iter {n_iter:>6d}", f"objective {objective:.10e}"]
    if gap is not None:
        fields.append(f"gap {gap:.2e}")
    fields += [f"{name} {_format(value)}" for name, value in measures.items()]
    fields.append(f"time {elapsed():.2f}s")
    sys.stdout.write("  ".join(fields) + "\n")


def report_kkt(phase: str, n_iter: int, kkt, **measures: float | int | str) -> None:
    """:func:`report` for a constrained solver: the objective, the relative gap
    to the multipliers' Lagrange dual and the three KKT residuals of ``kkt``
    (:class:`~convexnn.problems.constrained.KKTResiduals`)."""
    report(
        phase,
        n_iter,
        kkt.objective,
        kkt.relative_gap,
        stationarity=kkt.stationarity,
        violation=kkt.violation,
        complementarity=kkt.complementarity,
        **measures,
    )


def _format(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.2e}"
    return str(value)
