"""The tests' CVXPY reference solves: one failing solver build is no verdict."""

import cvxpy as cp
import numpy as np
import pytest
from reference import solve_reference

STOPPED = ("CLARABEL", {"max_iter": 1})  # reports "user_limit"


def _norms():
    """min ||x - a|| + ||x||_1: x = 0 is optimal since |a_i| / ||a|| < 1."""
    x = cp.Variable(3)
    a = np.array([1.0, 2.0, 3.0])
    return cp.Problem(cp.Minimize(cp.norm(x - a) + cp.norm1(x))), x


def test_a_solver_that_stops_short_hands_over_to_the_next():
    problem, x = _norms()
    scs = ("SCS", {"eps_abs": 1e-10, "eps_rel": 1e-10, "max_iters": 200_000})
    value = solve_reference(problem, solvers=[("NO_SUCH_SOLVER", {}), STOPPED, scs])
    assert value == pytest.approx(np.sqrt(14.0), rel=1e-7)
    assert x.value == pytest.approx(np.zeros(3), abs=1e-6)


def test_no_solver_that_solves_skips_and_says_why():
    problem, _ = _norms()
    with pytest.raises(pytest.skip.Exception, match="CLARABEL: status user_limit"):
        solve_reference(problem, solvers=[STOPPED])
