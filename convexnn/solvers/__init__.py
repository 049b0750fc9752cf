"""Solvers: they see operators, losses and penalties, never neural networks."""

from .fista import SolverResult, fista
from .path import alpha_grid, alpha_max, solve_path
from .working_set import solve

__all__ = ["SolverResult", "alpha_grid", "alpha_max", "fista", "solve", "solve_path"]
