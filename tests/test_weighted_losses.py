"""Weighted losses and the solver's phases on weighted problems.

A sample weight is a multiplicity: the loss with integer weights must equal
the loss of the rows repeated that many times, in value, gradient, Hessian and
conjugate, and every solver method must reach the optimum of the repeated
rows or be skipped when it cannot handle weights.
"""

import numpy as np
import pytest
import torch

from convexnn.problems import LOSSES, GatedOperator, GroupLasso, Problem, lasso_problem
from convexnn.solvers import SolverConfig, fista, solve
from convexnn.solvers.kernel_newton import KernelNewton, kernel_newton
from convexnn.solvers.newton import newton_finish
from convexnn.solvers.phases import runnable
from convexnn.solvers.polish import polished_certificate
from convexnn.solvers.working_set import GramForm

RNG = np.random.default_rng(0)
X = RNG.standard_normal((20, 2))
Y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
WEIGHTS = RNG.integers(0, 4, 20)
REPEATED = np.repeat(np.arange(20), WEIGHTS)


# --- the losses ----------------------------------------------------------------


def loss_data(name, n=7, seed=0):
    generator = torch.Generator().manual_seed(seed)
    if name == "squared":
        Y = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    elif name == "logistic":
        Y = torch.randint(0, 2, (n, 1), generator=generator).double()
    else:
        Y = torch.eye(3, dtype=torch.float64)[
            torch.randint(0, 3, (n,), generator=generator)
        ]
    Z = torch.randn(Y.shape, generator=generator, dtype=torch.float64)
    return Y, Z


@pytest.mark.parametrize("name", ["squared", "logistic", "multinomial"])
def test_weighted_loss_is_the_loss_of_the_repeated_rows(name):
    Y, Z = loss_data(name)
    counts = torch.tensor([0, 2, 1, 3, 0, 1, 2])
    rows = torch.repeat_interleave(torch.arange(len(Y)), counts)
    weighted, repeated = LOSSES[name](Y, counts), LOSSES[name](Y[rows])
    assert weighted.value(Z) == pytest.approx(repeated.value(Z[rows]), rel=1e-14)
    # the gradient of a row is the sum over its copies
    summed = torch.zeros_like(Z).index_add_(0, rows, repeated.gradient(Z[rows]))
    torch.testing.assert_close(weighted.gradient(Z), summed, rtol=1e-13, atol=1e-16)
    generator = torch.Generator().manual_seed(1)
    V = torch.randn(len(Y), 2, Y.shape[1], generator=generator, dtype=torch.float64)
    products = repeated.hessian_product(Z[rows], V[rows])
    torch.testing.assert_close(
        weighted.hessian_product(Z, V),
        torch.zeros_like(V).index_add_(0, rows, products),
        rtol=1e-13,
        atol=1e-16,
    )
    # the conjugate at a (scaled) gradient: Fenchel–Young holds with equality,
    # and rows of weight zero (zero gradient) add nothing
    for scale in (1.0, 0.5):
        Theta = scale * weighted.gradient(Z)
        fenchel = repeated.conjugate(scale * repeated.gradient(Z[rows]))
        assert weighted.conjugate(Theta) == pytest.approx(fenchel, rel=1e-12, abs=1e-15)
    Theta = weighted.gradient(Z)
    young = weighted.value(Z) + weighted.conjugate(Theta) - float((Theta * Z).sum())
    assert abs(young) <= 1e-14


@pytest.mark.parametrize("name", ["squared", "logistic", "multinomial"])
def test_weights_rescale_and_bound_the_curvature(name):
    Y, Z = loss_data(name)
    weights = torch.tensor([0.5, 1.0, 2.0, 0.0, 1.0, 3.0, 0.5], dtype=torch.float64)
    loss = LOSSES[name](Y, weights)
    assert float(loss.sample_weight.sum()) == pytest.approx(len(Y))  # rescaled to n
    assert LOSSES[name](Y, 7 * weights).value(Z) == pytest.approx(loss.value(Z))
    # the Lipschitz constant bounds the Hessian's largest eigenvalue
    with torch.enable_grad():
        dense = torch.autograd.functional.hessian(
            lambda z: loss(z.view_as(Z)), Z.reshape(-1)
        )
    assert float(torch.linalg.eigvalsh(dense).max()) <= loss.lipschitz() * (1 + 1e-12)
    assert "unweighted" not in loss.capabilities
    assert "shared_curvature" not in loss.capabilities  # a zero weight
    uniform = LOSSES[name](Y, torch.full((len(Y),), 3.0))
    assert uniform.sample_weight is None and "unweighted" in uniform.capabilities
    assert loss.astype(torch.float32).sample_weight is loss.sample_weight


def test_positive_weights_keep_the_shared_curvature():
    Y, _ = loss_data("squared")
    loss = LOSSES["squared"](Y, torch.linspace(0.5, 2.0, len(Y)))
    assert {"quadratic", "shared_curvature"} <= loss.capabilities


@pytest.mark.parametrize(
    "weights, message",
    [
        ([1.0, -1.0, 1.0], "nonnegative"),
        ([0.0, 0.0, 0.0], "all zero"),
        ([1.0, 1.0], "shape"),
        ([1.0, np.nan, 1.0], "finite"),
    ],
)
def test_loss_refuses_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        LOSSES["squared"](torch.zeros(3, 1, dtype=torch.float64), weights)


# --- the solver's phases -------------------------------------------------------


def gated_problems(counts, loss="squared", alpha=0.02):
    """The gated problem with weights ``counts`` and with its rows repeated."""
    rng = np.random.default_rng(3)
    Xs = torch.as_tensor(
        np.c_[rng.standard_normal((len(counts), 2)), np.ones(len(counts))]
    )
    gates = torch.as_tensor(rng.standard_normal((8, 3)))
    Y = Xs[:, :1] ** 2 - Xs[:, 1:2]
    if loss == "logistic":
        Y = (Y > Y.median()).double()
    rows = np.repeat(np.arange(len(counts)), counts)

    def problem(X, Y, weights=None):
        operator = GatedOperator.from_gates(X, gates)
        return Problem(operator, LOSSES[loss](Y, weights), GroupLasso(3), alpha)

    return problem(Xs, Y, torch.as_tensor(counts)), problem(Xs[rows], Y[rows])


COUNTS = np.random.default_rng(2).integers(1, 4, 30)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_solve_reaches_the_optimum_of_the_repeated_rows(loss):
    weighted, repeated = gated_problems(COUNTS, loss)
    result, reference = solve(weighted, tol=1e-12), solve(repeated, tol=1e-12)
    assert result.converged and reference.converged
    assert result.certificate.primal == pytest.approx(
        reference.certificate.primal, rel=1e-10
    )


def test_kernel_newton_and_newton_finish_with_weights():
    weighted, repeated = gated_problems(COUNTS)
    config = SolverConfig()
    optimum = solve(repeated, tol=1e-13).certificate.primal
    assert runnable(KernelNewton(), weighted, config)  # positive weights
    x, Z, _ = kernel_newton(weighted, weighted.zeros(), tol=1e-12, config=config)
    certificate = polished_certificate(weighted, x, Z)
    assert certificate.relative_gap <= 1e-12
    assert certificate.primal == pytest.approx(optimum, rel=1e-10)
    rough = fista(weighted, tol=1e-3, config=config)
    x, Z, _ = newton_finish(
        weighted, rough.x, rough.certificate.Z, rough.lipschitz, 1e-13, config
    )
    assert polished_certificate(weighted, x, Z).primal == pytest.approx(
        optimum, rel=1e-10
    )
    zero = COUNTS.copy()
    zero[0] = 0
    assert not runnable(KernelNewton(), gated_problems(zero)[0], config)


def test_gram_form_needs_unweighted_samples():
    """Its Gram matrices are those of the plain mean: weights skip it."""
    design = torch.as_tensor(X)
    target = torch.as_tensor(Y[:, None])
    plain = lasso_problem(design, LOSSES["squared"](target), alpha=0.1)
    weighted = lasso_problem(design, LOSSES["squared"](target, WEIGHTS), alpha=0.1)
    assert runnable(GramForm(), plain, SolverConfig())
    assert not runnable(GramForm(), weighted, SolverConfig())
    # the exact subproblems asked for fall back to iterations, to the optimum
    result = solve(weighted, tol=1e-12, exact=True)
    reference = solve(
        lasso_problem(design[REPEATED], LOSSES["squared"](target[REPEATED]), alpha=0.1),
        tol=1e-12,
        exact=True,
    )
    assert result.certificate.primal == pytest.approx(
        reference.certificate.primal, rel=1e-10
    )
