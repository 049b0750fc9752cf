"""Solver phases: needs checked before solving, never entered when unmet.

Each test takes away one capability of an operator (the declaration and the
method, which then fails if called) and checks that the solve still reaches a
certified optimum without entering the phase that needs it, and that asking
for that phase by name is a clear error.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch

from convexnn.problems import LOSSES, GatedOperator, GroupLasso, Problem
from convexnn.problems.cone import ConeOperator, convex_relu_problem
from convexnn.problems.constrained import ConstrainedProblem
from convexnn.solvers import SolverConfig, solve, solve_constrained
from convexnn.solvers.admm import Admm
from convexnn.solvers.kernel_newton import KernelNewton
from convexnn.solvers.newton import NewtonFinish
from convexnn.solvers.phases import require, runnable
from convexnn.solvers.precision import LowerPrecisionStart, phases
from convexnn.solvers.working_set import Screening, WorkingSets

CONFIG = SolverConfig()
CAPABILITIES = ["restrict", "astype", "sample_gram", "block_kernel", "block_norms"]


def _lower_precision(problem):
    return LowerPrecisionStart(problem, phases(problem)[1])


#: The phases each capability opens, for a squared-loss gated problem (each
#: built for the problem it is to run on).
PHASES = {
    "restrict": [lambda _: WorkingSets(), lambda _: NewtonFinish()],
    "astype": [_lower_precision],
    "sample_gram": [lambda _: KernelNewton()],
    "block_kernel": [],
    "block_norms": [lambda _: Screening()],
}


def _without(capability):
    """A gated operator lacking ``capability``: undeclared, and failing if
    its method is called anyway."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"{capability} called on an operator without it")

    def capabilities(self, group_size):
        return GatedOperator.capabilities(self, group_size) - {capability}

    methods = {"capabilities": capabilities, capability: refuse}
    return type(f"GatedOperatorWithout_{capability}", (GatedOperator,), methods)


def _problem(operator_type=GatedOperator, loss="squared", n=60, d=4, P=120, seed=0):
    rng = np.random.default_rng(seed)
    X = torch.tensor(rng.standard_normal((n, d)))
    gates = torch.tensor(rng.standard_normal((P, d)))
    operator = operator_type(X, (X @ gates.T > 0).to(X.dtype))
    if loss == "squared":
        Y = rng.standard_normal((n, 1))
    else:
        Y = (rng.standard_normal((n, 1)) > 0).astype(float)
    return Problem(operator, LOSSES[loss](torch.tensor(Y)), GroupLasso(d), 0.02)


def test_a_gated_problem_declares_what_its_parts_provide():
    assert _problem().capabilities == {
        *CAPABILITIES,
        "quadratic",
        "diagonal_hessian",
        "shared_curvature",
        "unweighted",
        "all_samples",
        "euclidean",
        "single_output",
    }
    assert _problem(loss="logistic").capabilities == {
        *CAPABILITIES,
        "diagonal_hessian",
        "unweighted",
        "all_samples",
        "euclidean",
        "single_output",
    }


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_a_phase_whose_needs_are_unmet_is_never_entered(capability):
    problem = _problem(_without(capability))
    assert capability not in problem.capabilities
    for phase in PHASES[capability]:
        assert not runnable(phase(problem), problem, CONFIG)
        with pytest.raises(ValueError, match=f"needs .*{capability}"):
            require(phase(problem), problem, CONFIG)
    result = solve(problem, tol=1e-8)  # the refusing method is never called
    reference = solve(_problem(), tol=1e-8)
    assert result.converged and result.certificate.relative_gap <= 1e-8
    assert result.certificate.primal == pytest.approx(
        reference.certificate.primal, rel=1e-7
    )


def test_every_phase_runs_where_its_needs_are_met():
    problem = _problem()
    for phases_of_a_capability in PHASES.values():
        for phase in phases_of_a_capability:
            assert runnable(phase(problem), problem, CONFIG)
            require(phase(problem), problem, CONFIG)


def test_a_loss_without_the_structure_keeps_the_newton_phases_out():
    logistic = _problem(loss="logistic")
    assert runnable(NewtonFinish(), logistic, CONFIG)
    assert not runnable(KernelNewton(), logistic, CONFIG)
    with pytest.raises(ValueError, match="quadratic, shared_curvature"):
        require(KernelNewton(), logistic, CONFIG)


def test_a_phase_beyond_the_memory_budget_is_left_out():
    problem = _problem()
    tight = replace(CONFIG, memory_budget=1e3)
    assert not runnable(KernelNewton(), problem, tight)
    with pytest.raises(ValueError, match="memory_budget"):
        require(KernelNewton(), problem, tight)
    result = solve(problem, tol=1e-8, config=tight)
    assert result.converged


class _PlainCone(ConeOperator):
    """Cone constraints that do not offer their block Gram matrix."""

    def capabilities(self, group_size):
        return frozenset()

    def block_gram(self):
        raise AssertionError("block_gram called on a constraint without it")


def _cone_problem(constraint_type=ConeOperator):
    rng = np.random.default_rng(3)
    X = torch.tensor(np.c_[rng.standard_normal((30, 3)), np.ones(30)])
    masks = (X @ torch.tensor(rng.standard_normal((4, 4))).T > 0).to(X.dtype)
    Y = torch.tensor(rng.standard_normal((30, 1)))
    problem = convex_relu_problem(X, masks, LOSSES["squared"](Y), 0.05, True)
    constraint = constraint_type(X, problem.constraint.signs)
    return ConstrainedProblem(problem.problem, constraint)


def test_constrained_methods_are_chosen_by_their_needs():
    method, result = solve_constrained(_cone_problem(), tol=1e-6)
    assert method == "admm" and result.converged
    problem = _cone_problem(_PlainCone)
    assert not runnable(Admm(), problem, CONFIG)
    method, plain = solve_constrained(problem, tol=1e-6)
    assert method == "augmented_lagrangian" and plain.converged
    assert plain.kkt.objective == pytest.approx(result.kkt.objective, rel=1e-5)
    with pytest.raises(ValueError, match="ADMM phase needs constraint_block_gram"):
        solve_constrained(problem, method="admm")
    with pytest.raises(ValueError, match="method must be 'auto' or one of"):
        solve_constrained(problem, method="newton")
