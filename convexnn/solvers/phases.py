r"""Solver phases: what each method needs of a problem, and what it costs.

A *phase* is one method the solvers can run on a
:class:`~convexnn.problems.Problem`: proximal gradient, the Newton finish on
the active blocks, Newton's method on the block weights, a single-precision
start, working sets, exact Gram-form subproblems, ADMM, the augmented
Lagrangian. Each declares

* its **needs**: names from :attr:`Problem.capabilities
  <convexnn.problems.Problem.capabilities>` (``"restrict"``,
  ``"sample_gram"``, ``"diagonal_hessian"``, ``"euclidean"``, …). They are
  checked once, before solving (:func:`runnable`): a phase whose needs are
  unmet is never entered, and asking for it by name is a clear error
  (:func:`require`), the way skglm's solvers check their datafits and
  penalties;
* its **memory**, in bytes: the largest workspace it allocates beyond the
  problem's data. The driver leaves out a phase whose memory exceeds
  ``config.memory_budget``;
* its **cost**, in proximal-gradient iterations (two products with the
  operator and their overhead): the unit in which the driver, and the loops
  that hand over from one phase to the next, weigh them against each other.
"""

from __future__ import annotations

import math
from typing import ClassVar

from ..problems import Problem
from .config import SolverConfig


class Phase:
    """Base class of the solver phases: a name, needs, memory and cost."""

    #: Name of the phase in messages and in ``verbose`` output.
    name: ClassVar[str] = "phase"
    #: Capabilities the problem must provide (:attr:`Problem.capabilities`).
    needs: ClassVar[frozenset[str]] = frozenset()

    def unmet(self, problem: Problem) -> frozenset[str]:
        """The needs of this phase that ``problem`` does not provide."""
        return self.needs - problem.capabilities

    def memory(self, problem: Problem, config: SolverConfig) -> float:
        """Bytes of workspace this phase allocates beyond the problem's data."""
        return 0.0

    def cost(self, problem: Problem, config: SolverConfig) -> float:
        """The work of one step of this phase, in proximal-gradient iterations."""
        return 1.0

    def applies(self, problem: Problem, config: SolverConfig) -> bool:
        """Whether ``problem`` and ``config`` allow this phase beyond its
        declared needs (a size limit, say); ``True`` by default."""
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LoopPhase(Phase):
    """A phase that runs inside the proximal-gradient loop
    (:func:`~convexnn.solvers.fista`), through hooks called with the loop's
    state (``run``: the problem, the iterates, the best certificate, the step
    size and the work spent). Every hook does nothing by default."""

    def start(self, run) -> None:
        """Before the first iteration."""

    def watched(self, run):
        """The support (a boolean tensor over the blocks) the next step should
        compare its own with, or ``None``."""
        return None

    def after_step(self, run, same: bool, active) -> bool:
        """After a step that compared supports (``same``, and the new support
        ``active``); ``True`` when the phase moved the iterate, which calls
        for a certificate now."""
        return False

    def at_checkpoint(self, run, progress) -> None:
        """After a certificate that did not reach ``tol``; ``progress`` holds
        the previous gap and objective and the iterations a phase may spend."""

    def recover(self, run) -> bool:
        """After a step failed with non-finite values; ``True`` when the phase
        repaired the state and the iterations can go on."""
        return False


def runnable(phase: Phase, problem: Problem, config: SolverConfig) -> bool:
    """Whether ``phase`` may run on ``problem``: its needs are met, it applies,
    and its memory fits ``config.memory_budget``."""
    return (
        not phase.unmet(problem)
        and phase.applies(problem, config)
        and phase.memory(problem, config) <= config.memory_budget
    )


def require(phase: Phase, problem: Problem, config: SolverConfig) -> None:
    """Raise a ``ValueError`` naming what is missing when ``phase``, asked for
    by name, cannot run on ``problem``."""
    missing = phase.unmet(problem)
    if missing:
        provided = ", ".join(sorted(problem.capabilities)) or "nothing optional"
        raise ValueError(
            f"the {phase.name} phase needs {', '.join(sorted(missing))}, which "
            f"this problem does not provide (it provides {provided})."
        )
    memory = phase.memory(problem, config)
    if memory > config.memory_budget:
        raise ValueError(
            f"the {phase.name} phase needs about {memory / 2**30:.1f} GiB, more "
            f"than config.memory_budget = {config.memory_budget / 2**30:.1f} GiB."
        )
    if not phase.applies(problem, config):
        raise ValueError(f"the {phase.name} phase does not apply to this problem.")


def iteration_flops(problem: Problem, config: SolverConfig) -> float:
    """What a proximal-gradient iteration on ``problem`` costs, in
    floating-point operations: its two products with ``A``, or
    ``config.iteration_min_flops`` when the overhead of its small operations
    is more. The unit of every phase's :meth:`~Phase.cost`."""
    products = 4 * problem.operator.n_samples * problem.operator.n_coefs
    return max(products * problem.n_outputs, config.iteration_min_flops)


def dense_bytes(problem: Problem, *shape: int) -> float:
    """Bytes of a dense array of ``shape`` in ``problem``'s dtype."""
    return float(math.prod(shape) * problem.operator.dtype.itemsize)
