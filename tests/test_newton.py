"""The active-set Newton finish: its pieces against dense algebra, its results
against plain proximal gradient."""

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
from convexnn.solvers import SolverConfig, fista, newton
from convexnn.solvers.kernel_newton import KernelNewton
from convexnn.solvers.newton import NewtonFinish, newton_finish
from convexnn.solvers.newton_extension import _extend, _ExtendedSystem
from convexnn.solvers.newton_systems import (
    _CoefficientSystem,
    _SampleSystem,
    block_weights,
    sample_factor,
    system_kind,
)
from convexnn.solvers.phases import runnable
from convexnn.solvers.polish import polished_certificate

RNG = np.random.default_rng(0)
CONFIG = SolverConfig()
#: Conjugate gradients of a Newton step run to a tight tolerance.
TIGHT_CG = replace(CONFIG, newton_forcing=1e-13)
#: Extensions of a factorised system cost nothing.
FREE_EXTENSIONS = replace(CONFIG, newton_cg_cost=0.0)


def tensor(array):
    return torch.as_tensor(np.asarray(array, dtype=np.float64))


def gated_problem(loss="squared", n=15, d=4, P=6, c=1, fit_intercept=True, **kw):
    """A small gated ReLU problem; ``n < P·d`` by default, the regime where
    the Newton system is solved in sample space."""
    rng = np.random.default_rng(n + P + c)
    X = tensor(rng.standard_normal((n, d)))
    operator = GatedOperator.from_gates(X, tensor(rng.standard_normal((P, d))))
    if loss == "squared":
        Y = rng.standard_normal((n, c))
    else:
        Y = (rng.standard_normal((n, c)) > 0).astype(float)
    penalty = kw.pop("penalty", GroupLasso(d))
    return Problem(operator, LOSSES[loss](tensor(Y)), penalty, 0.05, fit_intercept)


def dense_blocks(operator):
    """The block matrices ``D_i X̃`` of a gated operator."""
    return [operator.masks[:, [i]] * operator.X for i in range(operator.n_patterns)]


def test_sample_gram_is_the_weighted_sum_of_block_grams():
    operator = gated_problem().operator
    blocks = torch.tensor([0, 2, 5])
    weights = tensor([0.5, 2.0, 3.0])
    gram = operator.sample_gram(operator.n_features, blocks, weights)
    matrices = dense_blocks(operator)
    expected = sum(
        w * matrices[b] @ matrices[b].T for b, w in zip(blocks, weights, strict=True)
    )
    torch.testing.assert_close(gram, expected)
    single = operator.sample_gram(operator.n_features, blocks, weights, torch.float32)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single, expected.float())
    assert operator.sample_gram(1, blocks, weights) is None


def test_dense_sample_gram_is_the_weighted_sum_of_block_grams():
    A = tensor(RNG.standard_normal((10, 12)))
    blocks, weights = torch.tensor([1, 3]), tensor([0.5, 2.0])
    gram = MatrixOperator(A).sample_gram(3, blocks, weights)
    expected = 0.5 * A[:, 3:6] @ A[:, 3:6].T + 2.0 * A[:, 9:12] @ A[:, 9:12].T
    torch.testing.assert_close(gram, expected)
    single = MatrixOperator(A).sample_gram(3, blocks, weights, torch.float32)
    torch.testing.assert_close(single, expected.float())


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_dense_group_lasso_reaches_machine_precision_with_newton(fit_intercept):
    # the reduced problems of the convex ReLU active-set finish are these
    rng = np.random.default_rng(4)
    A, y = tensor(rng.standard_normal((40, 24))), tensor(rng.standard_normal((40, 1)))
    problem = Problem(
        MatrixOperator(A), LOSSES["squared"](y), GroupLasso(3), 0.15, fit_intercept
    )
    assert runnable(NewtonFinish(), problem, CONFIG)
    finished = fista(problem, tol=1e-13, kernel=False)
    plain = fista(problem, tol=1e-13, newton=False, max_iter=100_000)
    assert finished.converged and finished.certificate.relative_gap <= 1e-13
    assert 0 < int(problem.active_blocks(finished.x).sum()) < 8
    assert finished.n_iter < plain.n_iter
    assert finished.certificate.primal == pytest.approx(
        plain.certificate.primal, rel=1e-12
    )


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_hessian_diagonal_matches_the_hessian_product(loss):
    problem = gated_problem(loss, c=2)
    Z = tensor(RNG.standard_normal((15, 2)))
    V = tensor(RNG.standard_normal((15, 3, 2)))
    diagonal = problem.loss.hessian_diagonal(Z)
    torch.testing.assert_close(
        problem.loss.hessian_product(Z, V), diagonal.unsqueeze(1) * V
    )


def test_newton_applies_only_where_its_structure_is_there():
    assert runnable(NewtonFinish(), gated_problem(), CONFIG)
    assert runnable(NewtonFinish(), gated_problem("logistic"), CONFIG)
    assert runnable(NewtonFinish(), gated_problem(penalty=NuclearGroupLasso(4)), CONFIG)
    assert not runnable(
        NewtonFinish(), gated_problem(penalty=NuclearGroupLasso(4), c=2), CONFIG
    )
    assert not runnable(NewtonFinish(), gated_problem(penalty=L1()), CONFIG)
    assert not runnable(NewtonFinish(), gated_problem("multinomial", c=3), CONFIG)
    free = GroupLasso(4, tensor([1.0, 0.0, 1.0, 1.0, 1.0, 1.0]))
    assert not runnable(NewtonFinish(), gated_problem(penalty=free), CONFIG)


def _system(problem, x, Z, blocks, kind="samples", precision=None):
    """The system of ``kind`` at ``x``; a sample-space one factorised in
    ``precision`` (default the problem's)."""
    scale = block_weights(problem, x, blocks)
    if kind == "coefficients":
        return _CoefficientSystem(problem, x, Z, blocks, scale)
    root = problem.loss.hessian_diagonal(Z).sqrt()
    factor = sample_factor(
        problem, blocks, scale, root, precision or problem.operator.dtype
    )
    return _SampleSystem(problem, x, Z, blocks, scale, factor)


def smooth_objective(problem, x):
    """``F(x)`` as a differentiable function (every block nonzero)."""
    coef, intercept = problem.split(x)
    Z = problem.operator.matvec(coef)
    if intercept is not None:
        Z = Z + intercept
    norms = torch.linalg.vector_norm(coef.view(problem.n_blocks, -1), dim=1)
    return problem.loss(Z) + problem.alpha * norms.sum()


@pytest.mark.parametrize("kind", ["samples", "coefficients"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("n", [15, 60])
def test_newton_step_solves_the_dense_hessian_system(loss, fit_intercept, n, kind):
    problem = gated_problem(loss, n=n, fit_intercept=fit_intercept)
    x = tensor(RNG.standard_normal(problem.shape))
    Z = problem.matvec(x)
    blocks = torch.arange(problem.n_blocks)
    step, decrement, iterations = _system(problem, x, Z, blocks, kind).step(
        x, Z, CONFIG
    )
    assert iterations == 0  # at the point it was factorised at: the factors solve

    flat = x.view(-1).clone()
    gradient = torch.func.grad(lambda v: smooth_objective(problem, v.view(x.shape)))(
        flat
    )
    hessian = torch.func.hessian(lambda v: smooth_objective(problem, v.view(x.shape)))(
        flat
    )
    expected = torch.linalg.solve(hessian, gradient)
    torch.testing.assert_close(step.view(-1), expected, rtol=1e-7, atol=1e-9)
    assert decrement == pytest.approx(float(gradient @ expected), rel=1e-7)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_float32_factors_precondition_the_float64_step(loss, fit_intercept):
    # the finish factorises sample-space systems in float32: conjugate gradients
    # make the step exact, and one iteration is enough at the default forcing
    problem = gated_problem(loss, n=60, fit_intercept=fit_intercept)
    x = tensor(RNG.standard_normal(problem.shape))
    Z = problem.matvec(x)
    blocks = torch.arange(problem.n_blocks)
    system = _system(problem, x, Z, blocks, precision=torch.float32)
    assert system.factor.dtype == torch.float32 and not system.exact
    assert system.step(x, Z, CONFIG)[2] == 1
    step, decrement, iterations = system.step(x, Z, TIGHT_CG)
    assert 1 < iterations < CONFIG.newton_max_cg
    expected, expected_decrement, _ = _system(problem, x, Z, blocks).step(x, Z, CONFIG)
    torch.testing.assert_close(step, expected, rtol=1e-9, atol=1e-12)
    assert decrement == pytest.approx(expected_decrement, rel=1e-10)


def test_a_float32_factorisation_that_fails_is_redone_in_float64():
    # K = I + Q^½ A Λ⁻¹ Aᵀ Q^½ ⪰ I, but with blocks of norm 1e10 float32 rounding
    # of its entries is far larger than I
    problem = gated_problem(n=60, fit_intercept=False)
    x = 1e10 * tensor(RNG.standard_normal(problem.shape))
    blocks = torch.arange(problem.n_blocks)
    scale = block_weights(problem, x, blocks)
    gram = problem.operator.sample_gram(4, blocks, scale, torch.float32)
    K = (gram / problem.operator.n_samples).to(torch.float64)
    K.diagonal().add_(1.0)
    assert torch.linalg.cholesky_ex(K.float()).info > 0
    system = _system(problem, x, problem.matvec(x), blocks, precision=torch.float32)
    assert system.factor.dtype == torch.float64 and system.exact


@pytest.mark.parametrize("kind", ["samples", "coefficients"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_step_from_an_earlier_factorisation_solves_the_current_system(
    loss, fit_intercept, kind
):
    # conjugate gradients on the Hessian at x, preconditioned by the one
    # factorised at another point with the same blocks, to a tight tolerance
    problem = gated_problem(loss, n=60, fit_intercept=fit_intercept)
    earlier = tensor(RNG.standard_normal(problem.shape))
    x = earlier * tensor(RNG.uniform(0.99, 1.01, problem.shape))
    blocks = torch.arange(problem.n_blocks)
    system = _system(problem, earlier, problem.matvec(earlier), blocks, kind)
    Z = problem.matvec(x)
    step, decrement, iterations = system.step(x, Z, TIGHT_CG)
    assert 0 < iterations < CONFIG.newton_max_cg
    expected, expected_decrement, _ = _system(problem, x, Z, blocks, kind).step(
        x, Z, CONFIG
    )
    torch.testing.assert_close(step, expected, rtol=1e-10, atol=1e-12)
    assert decrement == pytest.approx(expected_decrement, rel=1e-10)


def _entering(problem, kind, entering=(2, 4), norm=1e-3):
    """A system factorised at a point without ``entering`` and the point with
    them, small (of norm ``norm``)."""
    x = tensor(RNG.standard_normal(problem.shape))
    rows = problem.rows(torch.tensor(entering))
    x[rows] = 0
    blocks = problem.active_blocks(x).nonzero().squeeze(1)
    system = _system(problem, x, problem.matvec(x), blocks, kind)
    grown = x.clone()
    small = tensor(RNG.standard_normal((len(entering), problem.penalty.group_size)))
    small = norm * small / torch.linalg.vector_norm(small, dim=1, keepdim=True)
    grown[rows] = small.view(-1, 1)
    return system, x, grown


@pytest.mark.parametrize("kind", ["samples", "coefficients"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_extended_preconditioner_is_the_bordered_inverse(loss, fit_intercept, kind):
    # base's Hessian M at its point, bordered by the entering blocks' units at
    # the new point, c_g across them: assembled densely and inverted
    problem = gated_problem(loss, n=60, fit_intercept=fit_intercept)
    system, x, grown = _entering(problem, kind)
    Z = problem.matvec(grown)
    blocks = torch.arange(problem.n_blocks)
    extended = _ExtendedSystem(system, grown, Z, blocks)
    size = problem.rows(system.blocks)
    free = torch.cat([size, torch.arange(problem.operator.n_coefs, x.numel())])

    def objective(v):  # F on base's blocks and the intercept, the rest at zero
        y = x.view(-1).index_put((free,), v)
        coef, intercept = problem.split(y.view(x.shape))
        outputs = problem.operator.matvec(coef)
        if intercept is not None:
            outputs = outputs + intercept
        norms = torch.linalg.vector_norm(coef.view(problem.n_blocks, -1), dim=1)
        return problem.loss(outputs) + problem.alpha * norms[system.blocks].sum()

    M = torch.func.hessian(objective)(x.view(-1)[free])
    d = problem.penalty.group_size
    units = problem.split(grown)[0].view(problem.n_blocks, d)[[2, 4]]
    units = units / torch.linalg.vector_norm(units, dim=1, keepdim=True)
    A = dense_blocks(problem.operator)
    outputs = torch.stack([A[g] @ units[i] for i, g in enumerate((2, 4))], dim=1)
    weighted = problem.loss.hessian_diagonal(Z) * outputs
    columns = torch.cat([A[g] for g in system.blocks.tolist()], dim=1)
    if fit_intercept:
        columns = torch.cat([columns, torch.ones(len(columns), 1)], dim=1)
    B, D = columns.T @ weighted, outputs.T @ weighted
    # the dense matrix in the coordinates (base's, entering units, across)
    m = len(free)
    T = torch.zeros(m + 2 * d, m + 2 * d, dtype=torch.float64)
    T[:m, :m], T[:m, m : m + 2], T[m : m + 2, :m] = M, B, B.T
    T[m : m + 2, m : m + 2] = D
    curvatures = problem.alpha / 1e-3 * torch.ones(2, dtype=torch.float64)
    v = tensor(RNG.standard_normal(extended.rows.numel() + fit_intercept))
    expected = torch.zeros_like(v)
    # v in the dense coordinates, solved, and back
    V = v[: extended.rows.numel()].view(problem.n_blocks, d)
    E = V[[2, 4]]
    along = (E * units).sum(1)
    base_part = torch.cat([V[system.blocks].view(-1), v[extended.rows.numel() :]])
    solved = torch.linalg.solve(T[: m + 2, : m + 2], torch.cat([base_part, along]))
    across = (E - along[:, None] * units) / curvatures[:, None]
    out = expected[: extended.rows.numel()].view(problem.n_blocks, d)
    out[system.blocks] = solved[: len(size)].view(-1, d)
    expected[extended.rows.numel() :] = solved[len(size) : m]
    out[[2, 4]] = across + solved[m:, None] * units
    torch.testing.assert_close(extended.precondition(v), expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_a_grown_support_extends_the_system(loss):
    # conjugate gradients with the extension solve the system at the new point,
    # in few iterations where the entering blocks are small
    problem = gated_problem(loss, n=60)
    system, _, grown = _entering(problem, "samples", norm=1e-6)
    Z = problem.matvec(grown)
    blocks = torch.arange(problem.n_blocks)
    # a factorisation of this tiny system costs less than the extension's solves
    assert _extend(system, grown, Z, blocks, CONFIG) is None
    extended = _extend(system, grown, Z, blocks, FREE_EXTENSIONS)
    assert isinstance(extended, _ExtendedSystem)
    step, decrement, iterations = extended.step(grown, Z, TIGHT_CG)
    assert 0 < iterations < CONFIG.newton_max_cg
    expected, expected_decrement, _ = _system(problem, grown, Z, blocks).step(
        grown, Z, CONFIG
    )
    # (both to the rounding of a system whose curvatures c_g reach 1e5)
    torch.testing.assert_close(step, expected, rtol=1e-8, atol=1e-10)
    assert decrement == pytest.approx(expected_decrement, rel=1e-8)
    # not where a block has left, nor once the factorised curvatures are stale
    assert _extend(system, grown, Z, blocks[1:], FREE_EXTENSIONS) is None
    stale = grown.clone()
    stale[problem.rows(torch.tensor([0]))] *= 2.5
    assert (
        _extend(system, stale, problem.matvec(stale), blocks, FREE_EXTENSIONS) is None
    )


def test_newton_step_keeps_zero_blocks_at_zero():
    problem = gated_problem(fit_intercept=False)
    x = tensor(RNG.standard_normal(problem.shape))
    x[4:12] = 0  # blocks 1 and 2
    Z = problem.matvec(x)
    blocks = problem.active_blocks(x).nonzero().squeeze(1)
    step, _, _ = _system(problem, x, Z, blocks).step(x, Z, CONFIG)
    assert bool((step[4:12] == 0).all()) and bool((step[:4] != 0).all())


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_newton_finish_only_lowers_the_objective(loss):
    problem = gated_problem(loss, n=40)
    x = tensor(RNG.standard_normal(problem.shape))
    Z = problem.matvec(x)
    finished, finished_Z, spent = newton_finish(
        problem, x, Z, 10.0, tol=1e-12, config=CONFIG
    )
    torch.testing.assert_close(finished_Z, problem.matvec(finished))
    assert problem.objective(finished, finished_Z) < problem.objective(x, Z)
    assert spent > 0


@pytest.mark.parametrize("cap", [1, 2])
def test_newton_finish_stops_refactorising_a_changing_support(cap, monkeypatch):
    factorised = []
    for name in ["_SampleSystem", "_CoefficientSystem"]:

        class Counting(getattr(newton, name)):
            def _factorise(self, curvature, factor):
                factorised.append(len(self.blocks))
                super()._factorise(curvature, factor)

        monkeypatch.setattr(newton, name, Counting)
    problem = gated_problem(n=40)
    x = tensor(RNG.standard_normal(problem.shape))
    Z = problem.matvec(x)
    uncapped = replace(CONFIG, newton_max_factorisations=100)
    newton_finish(problem, x, Z, 10.0, tol=1e-24, config=uncapped)
    assert len(factorised) > cap  # from a random point the support keeps changing
    factorised.clear()
    capped = replace(CONFIG, newton_max_factorisations=cap)
    finished, finished_Z, _ = newton_finish(
        problem, x, Z, 10.0, tol=1e-24, config=capped
    )
    assert len(factorised) == cap
    assert problem.objective(finished, finished_Z) < problem.objective(x, Z)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_newton_finish_from_a_rough_point_reaches_the_optimum(loss):
    problem = gated_problem(loss, n=40)
    rough = fista(problem, tol=1e-4, newton=False)  # the support, not the digits
    finished, Z, _ = newton_finish(
        problem, rough.x, problem.matvec(rough.x), rough.lipschitz, 1e-24, CONFIG
    )
    assert polished_certificate(problem, finished, Z).relative_gap <= 1e-10


def test_newton_finish_through_an_extended_system(monkeypatch):
    # blocks enter during this finish (with extensions as cheap as solves)
    extended = []

    def extend(*args):
        extended.append(_extend(*args))
        return extended[-1]

    monkeypatch.setattr(newton, "_extend", extend)
    problem = gated_problem(n=40)
    rough = fista(problem, tol=1e-3, newton=False)
    Z = problem.matvec(rough.x)
    finished, Z, _ = newton_finish(
        problem, rough.x, Z, rough.lipschitz, tol=1e-24, config=FREE_EXTENSIONS
    )
    assert any(system is not None for system in extended)
    assert polished_certificate(problem, finished, Z).relative_gap <= 1e-10


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("kernel", [False, True])  # squared: a Newton on the weights
def test_fista_with_newton_certifies_the_optimum_of_plain_fista(
    loss, fit_intercept, kernel
):
    rng = np.random.default_rng(3)
    X = tensor(rng.standard_normal((80, 5)))
    operator = GatedOperator.from_gates(X, tensor(rng.standard_normal((30, 5))))
    if loss == "squared":
        Y = X[:, :1] ** 2 - X[:, 1:2] + 0.1 * tensor(rng.standard_normal((80, 1)))
    else:
        Y = (X[:, :1] * X[:, 1:2] > 0).to(torch.float64)
    problem = Problem(operator, LOSSES[loss](Y), GroupLasso(5), 0.02, fit_intercept)
    plain = fista(problem, tol=1e-9, newton=False, max_iter=100_000)
    finished = fista(problem, tol=1e-9, kernel=kernel)
    assert plain.converged and finished.converged
    assert finished.certificate.relative_gap <= 1e-9
    assert finished.certificate.primal == pytest.approx(
        plain.certificate.primal, rel=2e-9
    )
    assert finished.n_iter < plain.n_iter


def test_the_smaller_newton_system_is_chosen():
    problem = gated_problem(n=15)  # blocks of 4 coefficients
    assert system_kind(problem, 3, CONFIG) == "coefficients"  # 12 unknowns < 15 samples
    assert system_kind(problem, 4, CONFIG) == "samples"  # 16 unknowns
    rng = np.random.default_rng(5)
    n = CONFIG.sample_system_max_samples + 1
    A = tensor(rng.standard_normal((n, 8)))
    wide = Problem(MatrixOperator(A), problem.loss, GroupLasso(2), 0.1)
    assert system_kind(wide, 4, CONFIG) == "coefficients"


def test_gated_columns_are_the_columns_of_the_operator():
    operator = gated_problem().operator
    indices = torch.tensor([0, 5, 23, 7])
    identity = torch.eye(operator.n_coefs, dtype=torch.float64)
    torch.testing.assert_close(
        operator.columns(indices), operator.matvec(identity[:, indices])
    )


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_newton_finish_beyond_the_sample_limit(loss, dense):
    # more samples than a sample-space system takes: the finish solves in
    # coefficient space (|S|·d unknowns) instead of being switched off; dense
    # operators are the reduced problems of the convex ReLU active-set finish
    rng = np.random.default_rng(6)
    n, d = CONFIG.sample_system_max_samples + 904, 4
    X = tensor(rng.standard_normal((n, d)))
    operator = GatedOperator.from_gates(X, tensor(rng.standard_normal((12, d))))
    if dense:
        operator = MatrixOperator(operator.columns(torch.arange(operator.n_coefs)))
    if loss == "squared":
        Y = X[:, :1] ** 2 - X[:, 1:2] + 0.1 * tensor(rng.standard_normal((n, 1)))
    else:
        Y = (X[:, :1] * X[:, 1:2] > 0).to(torch.float64)
    problem = Problem(operator, LOSSES[loss](Y), GroupLasso(d), 1e-3, True)
    assert runnable(NewtonFinish(), problem, CONFIG)
    assert system_kind(problem, problem.n_blocks, CONFIG) == "coefficients"
    finished = fista(problem, tol=1e-10)
    plain = fista(problem, tol=1e-10, newton=False, max_iter=100_000)
    assert finished.converged and finished.certificate.relative_gap <= 1e-10
    assert finished.n_iter < plain.n_iter / 2
    assert finished.certificate.primal == pytest.approx(
        plain.certificate.primal, rel=1e-9
    )


class _NoGram(GatedOperator):
    """A gated operator that does not form its sample-space Gram matrix."""

    def capabilities(self, group_size):
        return super().capabilities(group_size) - {"sample_gram"}

    def sample_gram(self, group_size, blocks, weights, dtype=None):
        raise AssertionError("sample_gram called on an operator without it")


def test_newton_methods_do_without_a_gram_matrix(monkeypatch):
    problem = gated_problem()
    operator = _NoGram(problem.operator.X, problem.operator.masks)
    problem = Problem(operator, problem.loss, problem.penalty, problem.alpha)
    x = tensor(RNG.standard_normal(problem.shape))
    Z = problem.matvec(x)
    # a sample-space system is due: the finish reports work it cannot do
    finished, _, spent = newton_finish(problem, x, Z, 10.0, tol=1e-12, config=CONFIG)
    assert spent == float("inf") and finished is x
    assert not runnable(KernelNewton(), problem, CONFIG)
    result = fista(problem, tol=1e-8)  # proximal gradient and coefficient systems
    assert result.converged
