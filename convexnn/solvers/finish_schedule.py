"""When the constrained solvers try the active-set finish
(:func:`~convexnn.solvers.active_set.finish`): from a warm start, then on a
schedule of their KKT residuals."""

from __future__ import annotations

import torch

from ..problems.constrained import ConstrainedProblem, KKTResiduals
from .active_set import finish
from .config import SolverConfig
from .polish import polished_kkt
from .progress import report_kkt
from .results import ConstrainedResult


class FinishSchedule:
    """When the constrained solvers try :func:`finish`: from a warm start
    (:meth:`warm_start`), once their largest KKT residual is
    ``≤ config.active_set_start_below``, then whenever it has fallen to a third
    of its value at the last failed try, or whenever the caller asks
    (:meth:`now`). With ``verbose`` a successful finish prints its progress
    line (:func:`~convexnn.solvers.progress.report`)."""

    def __init__(
        self,
        problem: ConstrainedProblem,
        tol: float,
        config: SolverConfig,
        verbose: int = 0,
    ):
        self.problem, self.tol, self.config = problem, tol, config
        self.below = config.active_set_start_below
        self.verbose = verbose

    def attempt(
        self, kkt: KKTResiduals, multipliers: torch.Tensor, *, n_iter: int = 0
    ) -> tuple[KKTResiduals, torch.Tensor] | None:
        """:func:`finish` from ``kkt.x`` when the schedule says so, else
        ``None``; ``n_iter`` is the caller's iterations so far, for its
        progress line."""
        if kkt.largest > self.below:
            return None
        self.below = kkt.largest / 3
        return self.now(kkt.x, multipliers, n_iter=n_iter)

    def warm_start(
        self, x0: torch.Tensor | None, multipliers0: torch.Tensor | None, rho: float
    ) -> ConstrainedResult | None:
        """The solve's result straight from a warm start ``(x0, multipliers0)``
        (zero multipliers when only ``x0`` is given), without an iteration:
        the start itself when its KKT residuals meet ``tol``, else the finish
        from it when that does; ``None`` (solve on) without a start or when
        neither does. From the solution at a nearby ``alpha`` the structure
        (nonzero blocks, tight rows) is usually the same, and the finish
        solves it exactly."""
        if x0 is None:
            return None
        if multipliers0 is None:
            multipliers0 = self.problem.multipliers_like()
        kkt = polished_kkt(self.problem, x0, multipliers0)
        if kkt.largest > self.tol:
            finished = self.now(kkt.x, multipliers0)
            if finished is None:
                return None
            kkt, multipliers0 = finished
        elif self.verbose:
            report_kkt("warm start", 0, kkt)
        return ConstrainedResult(kkt.x, multipliers0, kkt, 0, 0, True, rho)

    def now(
        self,
        x: torch.Tensor,
        multipliers: torch.Tensor,
        tight: torch.Tensor | None = None,
        *,
        n_iter: int = 0,
        max_rounds: int = 40,
    ) -> tuple[KKTResiduals, torch.Tensor] | None:
        """:func:`finish` from ``x`` at once (with the ``tight`` rows, when
        known, and at most ``max_rounds`` reduced solves)."""
        finished = finish(
            self.problem, x, multipliers, self.tol, self.config, tight, max_rounds
        )
        if finished is not None and self.verbose:
            report_kkt("active-set finish", n_iter, finished[0])
        return finished
