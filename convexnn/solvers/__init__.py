"""Solvers: they see operators, losses and penalties, never neural networks."""

from .admm import admm
from .augmented_lagrangian import ConstrainedResult, augmented_lagrangian
from .config import SolverConfig
from .fista import SolverResult, fista
from .path import alpha_grid, alpha_max, solve_path
from .working_set import solve

CONSTRAINED_SOLVERS = {"augmented_lagrangian": augmented_lagrangian, "admm": admm}
"""Solvers of :class:`~convexnn.problems.constrained.ConstrainedProblem`, by name."""


def select_constrained_solver(
    name: str, n_samples: int, config: SolverConfig = SolverConfig()
) -> str:
    """Resolve ``solver="auto"``: ADMM up to ``config.admm_max_samples``
    samples, where its ``n × n`` factorisation or Nyström sketch pays for
    itself, the augmented Lagrangian above."""
    if name != "auto":
        return name
    if n_samples <= config.admm_max_samples:
        return "admm"
    return "augmented_lagrangian"


__all__ = [
    "CONSTRAINED_SOLVERS",
    "ConstrainedResult",
    "SolverConfig",
    "SolverResult",
    "admm",
    "alpha_grid",
    "alpha_max",
    "augmented_lagrangian",
    "fista",
    "select_constrained_solver",
    "solve",
    "solve_path",
]
