"""Newton's method on the block weights: its certificate, its pieces against
dense algebra, and its place in the solver."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from convexnn.problems import (
    L1,
    LOSSES,
    GatedOperator,
    GroupLasso,
    MatrixOperator,
    NuclearGroupLasso,
    Problem,
)
from convexnn.solvers import SolverConfig, fista
from convexnn.solvers.kernel_newton import (
    KernelNewton,
    _Kernel,
    kernel_newton,
    kernel_step_cost,
)
from convexnn.solvers.newton_systems import (
    newton_cost,
    sample_factor,
    system_kind,
)
from convexnn.solvers.phases import runnable
from convexnn.solvers.polish import polished_certificate

CONFIG = SolverConfig()


def tensor(array):
    return torch.as_tensor(np.asarray(array, dtype=np.float64))


def problem_of(
    operator="gated", n=30, d=4, P=10, c=1, alpha=0.05, fit_intercept=True, **kw
):
    rng = np.random.default_rng(n + P + c)
    X = tensor(rng.standard_normal((n, d)))
    gated = GatedOperator.from_gates(X, tensor(rng.standard_normal((P, d))))
    if operator == "gated":
        operator = gated
    else:  # the same blocks, as a dense matrix
        operator = MatrixOperator(gated.columns(torch.arange(gated.n_coefs)))
    Y = X[:, :1] ** 2 - X[:, 1:2] + 0.1 * tensor(rng.standard_normal((n, c)))
    penalty = kw.pop("penalty", GroupLasso(d))
    loss = LOSSES[kw.pop("loss", "squared")](Y)
    return Problem(operator, loss, penalty, alpha, fit_intercept)


@pytest.mark.parametrize("operator", ["gated", "dense"])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("c", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_newton_certifies_the_optimum_from_zero(
    operator, fit_intercept, c, weighted
):
    weights = tensor(np.linspace(0.5, 2.0, 10)) if weighted else None
    problem = problem_of(
        operator, c=c, fit_intercept=fit_intercept, penalty=GroupLasso(4, weights)
    )
    assert runnable(KernelNewton(), problem, CONFIG)
    x, Z, spent = kernel_newton(problem, problem.zeros(), tol=1e-10, config=CONFIG)
    torch.testing.assert_close(Z, problem.matvec(x))
    # the certificate of the whole problem, computed without the kernel's algebra
    certificate = polished_certificate(problem, x, Z)
    assert certificate.relative_gap <= 1e-10
    active = int(problem.active_blocks(x).sum())
    assert 0 < active < problem.n_blocks  # a support to find, not all or nothing
    assert 0 < spent < math.inf


def test_the_weight_function_and_its_derivatives_match_their_definitions():
    # φ(μ) = min over U, b of f + Σ ‖U_g‖²/(2μ_g) + λ² μ_g / 2: a ridge
    # regression, solved densely; its gradient and Hessian by finite differences
    problem = problem_of("dense", n=12, P=5, c=2, fit_intercept=True)
    kernel = _Kernel(problem, CONFIG)
    A = problem.operator.columns(torch.arange(problem.operator.n_coefs))
    Y, n, d = problem.loss.Y, 12, 4
    rng = np.random.default_rng(1)
    mu = tensor(rng.uniform(0.01, 0.2, 5))

    def phi(mu):
        # ½‖AU + 1b − Y‖²/n + ½ Σ ‖U_g‖²/μ_g, minimised over U and b
        design = torch.cat([A, torch.ones(n, 1, dtype=A.dtype)], 1)
        ridge = torch.cat([(1 / mu).repeat_interleave(d), torch.zeros(1)])
        solution = torch.linalg.solve(
            design.T @ design / n + torch.diag(ridge), design.T @ Y / n
        )
        fit = ((design @ solution - Y) ** 2).sum() / (2 * n)
        penalty = 0.5 * ((solution[:-1] ** 2).sum(1) * ridge[:-1]).sum()
        return float(fit + penalty) + 0.5 * problem.alpha**2 * float(mu.sum())

    point = kernel.evaluate(mu)
    assert point.value == pytest.approx(phi(mu), rel=1e-12)
    gradient = point.gradient
    step = 1e-6
    for g in range(5):
        shift = torch.zeros(5, dtype=torch.float64)
        shift[g] = step
        difference = (phi(mu + shift) - phi(mu - shift)) / (2 * step)
        assert float(gradient[g]) == pytest.approx(difference, rel=1e-6, abs=1e-10)
    hessian = kernel.hessian(point, torch.arange(5))
    for g in range(5):
        shift = torch.zeros(5, dtype=torch.float64)
        shift[g] = step
        plus, minus = kernel.evaluate(mu + shift), kernel.evaluate(mu - shift)
        column = (plus.gradient - minus.gradient) / (2 * step)
        torch.testing.assert_close(hessian[:, g], column, rtol=1e-4, atol=1e-9)
    # the primal point U_g = μ_g A_gᵀ r has the objective the kernel reports
    x, Z = kernel.point(point)
    assert problem.objective(x, Z) == pytest.approx(point.primal, rel=1e-12)
    assert point.value >= point.primal - 1e-15  # φ(μ) bounds P(U(μ)) from above


def test_the_first_point_is_never_worse_than_the_start():
    # φ(μ(x)) ≤ P(x) for μ_g = ‖U_g‖/λ_g, and the point of φ(μ) is below φ(μ)
    problem = problem_of()
    rng = np.random.default_rng(2)
    x = tensor(0.1 * rng.standard_normal(problem.shape))
    before = problem.objective(x, problem.matvec(x))
    moved, Z, spent = kernel_newton(problem, x, tol=1e-12, budget=0.0, config=CONFIG)
    assert spent == kernel_step_cost(problem, CONFIG)  # the first evaluation, no step
    assert problem.objective(moved, Z) < before


def test_beyond_the_largest_alpha_the_solution_is_zero():
    problem = problem_of(fit_intercept=True)
    scores = problem.operator.rmatvec(problem.loss.Y - problem.loss.Y.mean(0))
    largest = float(GroupLasso(4)._dual_norms(scores / 30).max())
    problem = problem.with_alpha(1.01 * largest)
    rng = np.random.default_rng(3)
    start = problem.pack(tensor(0.01 * rng.standard_normal((40, 1))), tensor([0.0]))
    x, Z, _ = kernel_newton(problem, start, tol=1e-12, config=CONFIG)
    assert not bool(problem.active_blocks(x).any())
    assert polished_certificate(problem, x, Z).relative_gap <= 1e-12


def test_zero_targets_are_fitted_by_zero():
    problem = problem_of()
    problem = Problem(
        problem.operator,
        LOSSES["squared"](torch.zeros_like(problem.loss.Y)),
        problem.penalty,
        problem.alpha,
    )
    x, Z, _ = kernel_newton(problem, problem.zeros(), tol=1e-12, config=CONFIG)
    assert not bool(x.any()) and problem.objective(x, Z) == 0.0


def test_duplicate_blocks_share_their_weight():
    # two identical patterns: the Hessian is singular along their difference
    problem = problem_of()
    masks = problem.operator.masks
    operator = GatedOperator(problem.operator.X, torch.cat([masks, masks[:, :3]], 1))
    problem = Problem(operator, problem.loss, GroupLasso(4), 0.05)
    x, Z, _ = kernel_newton(problem, problem.zeros(), tol=1e-10, config=CONFIG)
    assert polished_certificate(problem, x, Z).relative_gap <= 1e-10


def test_refinement_makes_single_precision_solves_exact():
    problem = problem_of(n=40, P=12)
    kernel = _Kernel(problem, CONFIG)
    mu = tensor(np.random.default_rng(4).uniform(0, 5, 12))
    support = torch.arange(12)
    single = sample_factor(problem, support, mu, kernel.root, torch.float32)
    double = sample_factor(problem, support, mu, kernel.root, torch.float64)
    assert single.dtype == torch.float32
    refined = kernel._solve(mu, single, kernel.sides)
    exact = torch.cholesky_solve(kernel.sides, double)
    torch.testing.assert_close(refined, exact, rtol=1e-12, atol=1e-13)
    unrefined = torch.cholesky_solve(kernel.sides.float(), single).double()
    assert not torch.allclose(unrefined, exact, rtol=1e-12, atol=1e-13)


def test_supported_problems():
    assert runnable(KernelNewton(), problem_of(), CONFIG)
    assert runnable(KernelNewton(), problem_of(c=3), CONFIG)  # Frobenius norms
    assert not runnable(KernelNewton(), problem_of(loss="logistic"), CONFIG)
    assert not runnable(KernelNewton(), problem_of(penalty=L1()), CONFIG)
    assert not runnable(
        KernelNewton(), problem_of(c=2, penalty=NuclearGroupLasso(4)), CONFIG
    )
    assert runnable(
        KernelNewton(), problem_of(c=1, penalty=NuclearGroupLasso(4)), CONFIG
    )
    unpenalised = GroupLasso(4, tensor([0.0] + [1.0] * 9))
    assert not runnable(KernelNewton(), problem_of(penalty=unpenalised), CONFIG)
    rng = np.random.default_rng(5)
    n = CONFIG.sample_system_max_samples + 1
    wide = Problem(
        MatrixOperator(tensor(rng.standard_normal((n, 4)))),
        LOSSES["squared"](tensor(rng.standard_normal((n, 1)))),
        GroupLasso(2),
        0.1,
    )
    assert not runnable(KernelNewton(), wide, CONFIG)


def test_fista_hands_over_to_the_kernel_newton_early():
    # an ill-conditioned problem with more coefficients than samples, as gated
    # ReLU problems are: a few iterations, then Newton on the block weights
    problem = problem_of(n=60, d=5, P=40, alpha=0.01)
    with_kernel = fista(problem, tol=1e-10)
    without = fista(problem, tol=1e-10, kernel=False)
    assert with_kernel.converged and without.converged
    assert with_kernel.certificate.relative_gap <= 1e-10
    assert with_kernel.n_iter <= 10 < without.n_iter
    assert with_kernel.certificate.primal == pytest.approx(
        without.certificate.primal, rel=1e-9
    )


def test_fista_goes_on_where_the_kernel_newton_falls_short():
    problem = problem_of(n=60, d=5, P=40, alpha=0.01)
    one_step = replace(CONFIG, kernel_newton_max_steps=1)
    result = fista(problem, tol=1e-10, config=one_step)
    assert result.converged and result.n_iter > 10
    assert result.certificate.relative_gap <= 1e-10


@pytest.mark.parametrize("operator", ["gated", "dense"])
def test_a_tolerance_at_the_rounding_level_ends_without_stalling(operator):
    # near the optimum φ stops moving before the gap does: a step that changes
    # φ only by rounding is taken, and a point meeting tol ends the solve
    problem = problem_of(operator)
    x, Z, spent = kernel_newton(problem, problem.zeros(), tol=5e-14, config=CONFIG)
    assert polished_certificate(problem, x, Z).relative_gap <= 1e-13
    assert spent <= 15 * kernel_step_cost(problem, CONFIG)


def test_both_newton_methods_count_the_gram_matrix_of_dense_blocks():
    # a dense operator forms its n × n matrix from n × |S|·d columns, the gated
    # one from its masks and X̃X̃ᵀ: the same blocks cost more densely
    gated, dense = problem_of("gated"), problem_of("dense")
    assert gated.operator.sample_gram_flops(4, 10) == 30**2 * 10
    assert dense.operator.sample_gram_flops(4, 10) == 30**2 * 10 * 4
    assert kernel_step_cost(dense, CONFIG) > kernel_step_cost(gated, CONFIG)
    assert system_kind(dense, 10, CONFIG) == system_kind(gated, 10, CONFIG) == "samples"
    assert newton_cost(dense, 10, CONFIG) > newton_cost(gated, 10, CONFIG)
