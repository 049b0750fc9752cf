"""Data-parallel solves on torch.distributed: two CPU processes (gloo, on the
loopback interface), each holding some of the rows, reach the optimum of the
problem on all the rows, certified by the certificate of the whole problem.

The processes are spawned once for the module; each runs every case and saves
what it found, and the tests compare that with single-process solves of the
full data here.
"""

import datetime
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from convexnn.problems import (
    LOSSES,
    MatrixOperator,
    Problem,
    SquaredLoss,
    gated_problem,
    lasso_problem,
)
from convexnn.problems.cone import convex_relu_problem
from convexnn.problems.constrained import ConstrainedProblem
from convexnn.problems.distributed import ShardedOperator, Shards
from convexnn.solvers import (
    SolverConfig,
    alpha_max,
    solve,
    solve_constrained,
    solve_path,
)

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend",
)

N_PROCESSES = 2
TOL = 1e-10
PATH_CASE = "lasso-squared"
FLOAT32_CASE, FLOAT32_TOL = "gated-squared", 1e-7

#: name: (formulation, loss, rows of the first process, sample weights, outputs)
CASES = {
    "gated-squared": ("gated", "squared", 20, None, 1),
    "gated-logistic-uneven": ("gated", "logistic", 3, None, 1),
    "gated-squared-weighted": ("gated", "squared", 3, "random", 1),
    "gated-squared-two-outputs": ("gated", "squared", 17, None, 2),
    "lasso-squared": ("lasso", "squared", 25, None, 1),
    "lasso-logistic-weighted-by-process": ("lasso", "logistic", 9, "by_process", 1),
}


def _data(name):
    """The full data of a case (the same on every process) and its split."""
    formulation, loss, first_rows, weighting, n_outputs = CASES[name]
    rng = np.random.default_rng(sorted(CASES).index(name))
    n, d = (40, 3) if formulation == "gated" else (50, 8)
    X = rng.standard_normal((n, d))
    signal = np.sin(X @ rng.standard_normal((d, n_outputs))) + 0.5
    Y = signal + 0.1 * rng.standard_normal((n, n_outputs))
    if loss == "logistic":
        Y = (Y > 0.5).astype(float)
    weights = None
    if weighting == "random":
        weights = rng.uniform(0, 2, n)
        weights[[1, 10]] = 0.0
    elif weighting == "by_process":  # uniform on each process, not overall
        weights = np.where(np.arange(n) < first_rows, 1.0, 3.0)
    gates = rng.standard_normal((8, d + 1))
    return X, Y, weights, gates, first_rows


def _problem(name, rows=slice(None), shards=None, dtype=torch.float64):
    """The problem of a case on ``rows`` (sharded over ``shards`` if given)."""
    formulation, loss_name, *_ = CASES[name]
    X, Y, weights, gates, _ = _data(name)
    X, Y = torch.tensor(X[rows], dtype=dtype), torch.tensor(Y[rows], dtype=dtype)
    weights = None if weights is None else torch.tensor(weights[rows])
    loss = LOSSES[loss_name](Y, weights, shards=shards)
    if formulation == "lasso":
        return lasso_problem(X, loss, alpha=0.02)
    lifted = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], 1)
    return gated_problem(lifted, torch.tensor(gates, dtype=dtype), loss, 0.03)


def _solve_shard(name, rank, shards):
    """This process's solve of a case, and the checks made on its way."""
    rows = _rows(name, rank)
    problem = _problem(name, rows, shards)
    result = solve(problem, tol=TOL)
    # the adjoint product of the sharded operator, for a residual of all rows
    residual = torch.randn(
        (len(_data(name)[1]), problem.n_outputs),
        generator=torch.Generator().manual_seed(1),
        dtype=torch.float64,
    )
    return {
        "x": result.x,
        "Z": result.certificate.Z,
        "primal": result.certificate.primal,
        "dual": result.certificate.dual,
        "converged": result.converged,
        "n_iter": result.n_iter,
        "rmatvec": problem.operator.rmatvec(residual[rows]),
        "problem_rmatvec": problem.rmatvec(residual[rows]),
        "alpha_max": alpha_max(problem),
    }


def _rows(name, rank):
    """The rows of process ``rank`` in a case."""
    first_rows = _data(name)[-1]
    return slice(0, first_rows) if rank == 0 else slice(first_rows, None)


def _path(problem):
    """A short warm-started path of ``problem``: its objectives."""
    alphas = [0.5 * problem.alpha, 0.25 * problem.alpha]
    return [
        result.certificate.primal for result in solve_path(problem, alphas, tol=TOL)
    ]


def _in_float32(problem):
    """A float32 problem, certified in float64 (on a sharded float64 copy)."""
    result = solve(problem, tol=FLOAT32_TOL)
    certificate = result.certificate
    return {
        "x": result.x,
        "primal": certificate.primal,
        "gap": certificate.relative_gap,
        "converged": result.converged,
    }


def _deadline_on_one_process(rank, shards):
    """A deadline passed on the first process only: every process stops at
    the same checkpoint (the start) with the same point."""
    config = SolverConfig().with_time_limit(0.0) if rank == 0 else SolverConfig()
    problem = _problem("gated-squared", _rows("gated-squared", rank), shards)
    result = solve(problem, tol=TOL, config=config)
    return {"x": result.x, "converged": result.converged, "n_iter": result.n_iter}


def _refusals(rank, shards):
    """The errors a sharded problem raises where it cannot be solved alike."""
    X = torch.ones(3, 2, dtype=torch.float64)
    errors = {}
    try:  # a sharded loss with an operator of this process's rows alone
        Problem(MatrixOperator(X), SquaredLoss(X[:, :1], shards=shards), None, 1.0)
    except ValueError as error:
        errors["mismatch"] = str(error)
    try:  # weights invalid on one process only: every process raises
        weights = torch.tensor([1.0, -1.0, 1.0] if rank == 1 else [1.0] * 3)
        SquaredLoss(X[:, :1], weights, shards=shards)
    except ValueError as error:
        errors["weights"] = str(error)
    cone = convex_relu_problem(X, X[:, :1], SquaredLoss(X[:, :1]), 0.1)
    objective = Problem(
        ShardedOperator(cone.problem.operator, shards),
        SquaredLoss(X[:, :1], shards=shards),
        cone.problem.penalty,
        0.1,
    )
    try:
        solve_constrained(ConstrainedProblem(objective, cone.constraint))
    except ValueError as error:
        errors["constrained"] = str(error)
    return errors


def _worker(rank, port, folder):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=N_PROCESSES,
        timeout=datetime.timedelta(seconds=120),  # a deadlock fails, not hangs
    )
    try:
        shards = Shards()
        found = {name: _solve_shard(name, rank, shards) for name in CASES}
        found["deadline"] = _deadline_on_one_process(rank, shards)
        found["path"] = _path(_problem(PATH_CASE, _rows(PATH_CASE, rank), shards))
        rows = _rows(FLOAT32_CASE, rank)
        found["float32"] = _in_float32(
            _problem(FLOAT32_CASE, rows, shards, torch.float32)
        )
        found["refusals"] = _refusals(rank, shards)
        torch.save(found, f"{folder}/{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def shards_found(tmp_path_factory):
    """What each process found, by process rank."""
    folder = tmp_path_factory.mktemp("torch_distributed")
    mp.spawn(_worker, args=(_free_port(), str(folder)), nprocs=N_PROCESSES)
    return [torch.load(folder / f"{rank}.pt") for rank in range(N_PROCESSES)]


@pytest.fixture(scope="module")
def references():
    """The single-process solve of each case's full data."""
    return {name: solve(_problem(name), tol=TOL) for name in CASES}


@pytest.mark.parametrize("name", CASES)
def test_a_sharded_solve_reaches_the_single_process_optimum(
    name, shards_found, references
):
    found = shards_found[0][name]
    full = _problem(name)
    reference = references[name]
    assert found["converged"] and reference.converged
    assert (found["primal"] - found["dual"]) <= TOL * found["primal"]
    # its objective, recomputed on the full data in one process
    Z = full.matvec(found["x"])
    assert full.objective(found["x"], Z) == pytest.approx(found["primal"], rel=1e-12)
    # both are within the gap of the optimum, so within it of each other, and
    # each lower bound is below the other's objective: a bound of the whole
    # problem's optimum
    primal, rounding = reference.certificate.primal, 1e-14 * found["primal"]
    assert abs(found["primal"] - primal) <= TOL * primal
    assert found["dual"] <= primal + rounding
    assert reference.certificate.dual <= found["primal"] + rounding
    # the optimal outputs are unique (strictly convex losses)
    np.testing.assert_allclose(Z, reference.certificate.Z, atol=1e-4)
    if CASES[name][0] == "lasso":  # full-rank design: unique coefficients
        np.testing.assert_allclose(found["x"], reference.x, atol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_every_process_returns_the_same_coefficients(name, shards_found):
    first, second = (found[name] for found in shards_found)
    assert torch.equal(first["x"], second["x"])
    assert first["primal"] == second["primal"] and first["dual"] == second["dual"]
    assert first["n_iter"] == second["n_iter"]
    # each holds the outputs of its own rows
    assert len(first["Z"]) == _data(name)[-1]
    np.testing.assert_allclose(
        torch.cat([first["Z"], second["Z"]]), _problem(name).matvec(first["x"])
    )


@pytest.mark.parametrize("name", CASES)
def test_the_sharded_adjoint_is_the_adjoint_of_all_rows(name, shards_found):
    full = _problem(name)
    residual = torch.randn(
        (full.operator.n_samples, full.n_outputs),
        generator=torch.Generator().manual_seed(1),
        dtype=torch.float64,
    )
    for found in shards_found:
        torch.testing.assert_close(
            found[name]["rmatvec"], full.operator.rmatvec(residual)
        )
        torch.testing.assert_close(
            found[name]["problem_rmatvec"], full.rmatvec(residual)
        )
        assert found[name]["alpha_max"] == pytest.approx(alpha_max(full), rel=1e-12)


def test_a_deadline_on_one_process_stops_them_all(shards_found):
    first, second = (found["deadline"] for found in shards_found)
    assert not first["converged"] and not second["converged"]
    assert first["n_iter"] == second["n_iter"] == 0
    assert torch.equal(first["x"], second["x"])


def test_what_cannot_run_sharded_is_refused_on_every_process(shards_found):
    for found in shards_found:
        errors = found["refusals"]
        assert "same processes" in errors["mismatch"]
        assert "sample_weight" in errors["weights"]
        assert "runs on one process" in errors["constrained"]
    assert shards_found[1]["refusals"]["weights"].endswith("nonnegative.")
    assert "another process" in shards_found[0]["refusals"]["weights"]


def test_a_sharded_path_reaches_the_single_process_optima(shards_found):
    expected = _path(_problem(PATH_CASE))
    for found in shards_found:
        np.testing.assert_allclose(found["path"], expected, rtol=TOL)


def test_a_sharded_float32_solve_is_certified_in_float64(shards_found, references):
    first, second = (found["float32"] for found in shards_found)
    assert first["x"].dtype == torch.float32 and torch.equal(first["x"], second["x"])
    assert first["converged"] and first["gap"] <= FLOAT32_TOL
    primal = references[FLOAT32_CASE].certificate.primal
    assert abs(first["primal"] - primal) <= FLOAT32_TOL * primal
