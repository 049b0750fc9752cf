"""Solvers: they see operators, losses and penalties, never neural networks.

:func:`solve` and :func:`solve_constrained` (:mod:`~convexnn.solvers.driver`)
are the entry points the estimators use; the methods they choose between are
phases (:mod:`~convexnn.solvers.phases`), each also callable on its own.
"""

from .admm import admm
from .augmented_lagrangian import augmented_lagrangian
from .config import SolverConfig
from .driver import CONSTRAINED_METHODS, solve, solve_constrained
from .fista import fista
from .path import alpha_grid, alpha_max, solve_constrained_path, solve_path
from .results import ConstrainedResult, SolverResult

__all__ = [
    "CONSTRAINED_METHODS",
    "ConstrainedResult",
    "SolverConfig",
    "SolverResult",
    "admm",
    "alpha_grid",
    "alpha_max",
    "augmented_lagrangian",
    "fista",
    "solve",
    "solve_constrained",
    "solve_constrained_path",
    "solve_path",
]
