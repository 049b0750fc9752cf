"""Solvers: they see operators, losses and penalties, never neural networks."""

from .admm import admm
from .augmented_lagrangian import ConstrainedResult, augmented_lagrangian
from .fista import SolverResult, fista
from .path import alpha_grid, alpha_max, solve_path
from .working_set import solve

CONSTRAINED_SOLVERS = {"augmented_lagrangian": augmented_lagrangian, "admm": admm}
"""Solvers of :class:`~convexnn.problems.constrained.ConstrainedProblem`, by name."""

ADMM_MAX_SAMPLES = 50_000


def select_constrained_solver(name: str, n_samples: int) -> str:
    """Resolve ``solver="auto"``: ADMM up to ``ADMM_MAX_SAMPLES`` samples,
    where its ``n × n`` factorisation or Nyström sketch pays for itself,
    the augmented Lagrangian above."""
    if name != "auto":
        return name
    return "admm" if n_samples <= ADMM_MAX_SAMPLES else "augmented_lagrangian"


__all__ = [
    "CONSTRAINED_SOLVERS",
    "ConstrainedResult",
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
