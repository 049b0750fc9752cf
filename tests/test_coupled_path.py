"""The barrier method with outputs coupled by the multinomial loss: its joint
Newton system, solved by conjugate gradients with a two-level preconditioner,
its optimum, and where it hands over to ADMM."""

import numpy as np
import pytest
import torch
from test_convex_relu import FAST, classification, cvxpy_optimum
from test_interior_point import cone_problem

from convexnn import ConvexReLUClassifier
from convexnn.patterns import lift
from convexnn.solvers import SolverConfig, solve_constrained
from convexnn.solvers._coupled_path import CoupledPath, JointSystem


def moved_path(problem, seed=1):
    """The path at a point inside the cones away from its start."""
    path = CoupledPath(problem)
    rng = np.random.default_rng(seed)
    path.u = path.u + 0.01 * torch.tensor(rng.standard_normal(path.u.shape))
    path.b = path.b + torch.tensor(rng.standard_normal(path.b.shape))
    return path


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_the_newton_step_solves_the_coupled_barrier_newton_system(fit_intercept):
    # against the Hessian and gradient of F_tau by automatic differentiation;
    # the intercepts' common shift is free (the softmax does not see it), and
    # neither step has any
    problem = cone_problem("multinomial", fit_intercept=fit_intercept)
    path, tau = moved_path(problem), 37.0
    if not fit_intercept:
        path.b = torch.zeros_like(path.b)
    c = path.n_outputs if fit_intercept else 0

    def barrier(flat):
        u = flat[: path.u.numel()].view_as(path.u)
        b = flat[path.u.numel() :] if fit_intercept else path.b
        ta, r = tau * path.alpha, u.norm(dim=-1)
        t = (1 + torch.sqrt(1 + (ta * r) ** 2)) / ta
        cone = (ta * t - torch.log(t**2 - r**2)).sum()
        return tau * path.loss(path.outputs(u, b)) + cone - path.slacks(u).log().sum()

    flat = torch.cat([path.u.reshape(-1), path.b[:c]])
    gradient = torch.func.grad(barrier)(flat)
    hessian = torch.func.hessian(barrier)(flat)
    # curvature along the intercepts' common shift, where the gradient is zero
    hessian[path.u.numel() :, path.u.numel() :] += 1.0
    exact = torch.linalg.solve(hessian, -gradient)
    step, db, decrement = path._newton_step(tau)
    torch.testing.assert_close(torch.cat([step.reshape(-1), db[:c]]), exact)
    assert decrement == pytest.approx(float(-gradient @ exact), rel=1e-9)
    assert path.cg_iterations[0] < 30
    if not fit_intercept:
        assert not db.any()


def test_the_two_level_preconditioner_solves_the_joint_system():
    # conjugate gradients with the block-Jacobi and common-shift levels reach
    # the dense solve of the joint system, and in fewer iterations than block
    # Jacobi alone, which sees the common shift only through the barrier
    from convexnn.solvers._central_path import eliminate
    from convexnn.solvers.linalg import conjugate_gradients

    problem = cone_problem("multinomial")
    path, tau = moved_path(problem), 1e4
    Z = path.outputs(path.u, path.b)
    _, hessian = path._block_terms(tau)
    half = path.half
    rng = np.random.default_rng(2)
    residuals = torch.tensor(rng.standard_normal((2, *path.u[:, :half].shape)))
    _, C_inverse, _ = eliminate(hessian[:, :half], hessian[:, half:], *residuals)
    system = JointSystem(path, tau, Z, C_inverse)
    size = path.n_outputs * (path.B.shape[1] + 1)
    dense = torch.cat([system.apply(column) for column in torch.eye(size).double()], 1)
    torch.testing.assert_close(dense, dense.T)
    rhs = torch.tensor(rng.standard_normal((size, 1)))
    rhs.view(path.n_outputs, -1)[:, -1] -= rhs.view(path.n_outputs, -1)[:, -1].mean()
    options = {"tol": 1e-11, "max_iter": 500}
    two_level, n_two_level = conjugate_gradients(
        system.apply, rhs, system.precondition, x0=system.start(rhs), **options
    )
    torch.testing.assert_close(two_level, torch.linalg.solve(dense, rhs))
    _, n_jacobi = conjugate_gradients(system.apply, rhs, system._jacobi, **options)
    assert n_two_level < n_jacobi


def test_three_classes_match_cvxpy():
    X, y = classification()
    y = y + (X[:, 1] > 0.5)  # a third class
    model = ConvexReLUClassifier(
        0.02, loss="multinomial", solver="interior_point", tol=1e-7, **FAST
    ).fit(X, y)
    targets = (y[:, None] == np.unique(y)).astype(float)
    reference = cvxpy_optimum(lift(X, True), model.gates_, targets, 0.02, "multinomial")
    assert model.solver_ == "interior_point"
    assert model.converged_
    assert model.objective_ == pytest.approx(reference, rel=1e-6)
    assert model.constraint_violation_ <= 1e-7


def test_a_coupled_problem_is_certified_and_past_the_size_limit_goes_to_admm():
    problem = cone_problem("multinomial", n_patterns=4)
    method, result = solve_constrained(problem)
    assert method == "interior_point"
    kkt = problem.kkt(result.x, result.multipliers)
    assert result.converged and kkt.largest <= 1e-6
    # the limit of one output's work does not apply to coupled outputs
    one_output_limit = SolverConfig(interior_point_max_flops=1e3)
    assert solve_constrained(problem, config=one_output_limit)[0] == "interior_point"
    small = SolverConfig(interior_point_coupled_max_flops=1e3)
    method, result = solve_constrained(problem, config=small)
    assert method == "admm"
    assert problem.kkt(result.x, result.multipliers).largest <= 1e-6
