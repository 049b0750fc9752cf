r"""The single-precision start of a float64 problem's proximal-gradient iterations.

A float64 problem whose operator converts (the ``"astype"`` capability)
starts its iterations in float32, where products cost about half as much (on
CPUs and on GPUs alike): the early iterations only have to find the nonzero
blocks, which float32 rounding does not disturb. Every certificate is
computed in float64 on the float64 data (the iterate converted, its outputs
recomputed), so what the solver reports is exactly what it would report
without this phase. The iterations switch to float64 for good, keeping their
momentum, before a Newton phase, once the certified gap is below
``config.single_precision_switch_gap`` (on ill-conditioned problems float32
rounding slows the iterates down from about there), or when the objective
improved by less than ``config.single_precision_stall`` between two
checkpoints; when a float32 step fails (an overflow) they go on in float64
from the best point certified so far.
"""

from __future__ import annotations

import math

import torch

from ..problems import Problem
from .config import SolverConfig
from .phases import LoopPhase


class SinglePrecision(LoopPhase):
    """Float32 iterations for a float64 problem, certified in float64."""

    name = "single-precision"
    needs = frozenset({"astype"})

    def applies(self, problem: Problem, config: SolverConfig) -> bool:
        return problem.operator.dtype == torch.float64

    # memory: the float32 copy is half the size of the float64 data it shadows

    def start(self, run) -> None:
        if run.best.relative_gap <= run.config.single_precision_switch_gap:
            return
        working = run.problem.astype(torch.float32)
        if run.L is None:
            lipschitz = working.lipschitz()
            if not math.isfinite(lipschitz):
                return  # float32 overflowed: the iterations stay in float64
            run.set_step(lipschitz)
        run.iterate_on(working)

    def at_checkpoint(self, run, progress) -> None:
        if run.working is run.problem:
            return
        config = run.config
        stalled = (
            progress.previous_primal - run.best.primal
            <= config.single_precision_stall * run.best.primal
        )
        if stalled or run.best.relative_gap <= config.single_precision_switch_gap:
            run.to_full()

    def recover(self, run) -> bool:
        if run.working is run.problem:
            return False
        run.restart(run.best.x, run.best.Z)
        run.set_step(run.problem.lipschitz())
        return True
