"""The gated operator with bit-packed masks and products by chunks of samples,
against the dense unchunked one, and fits that use it against fits that do not."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from convexnn import GatedReLUClassifier
from convexnn.patterns import activation_patterns, packed_patterns, sample_gates
from convexnn.problems import LOSSES, GatedOperator, GroupLasso, Problem, gated
from convexnn.problems.gated import PackedMasks
from convexnn.solvers import polish as polish_module
from convexnn.solvers import solve
from convexnn.solvers.polish import polish
from convexnn.testing import assert_certified

RNG = np.random.default_rng(0)
N, D, P = 53, 4, 7  # 53 samples: six chunks of 8 and a last one of 5


def tensor(array):
    return torch.as_tensor(np.asarray(array, dtype=np.float64))


def operators():
    """The dense unchunked operator and two chunked ones (chunks of 8 samples):
    bit-packed masks, and the same dense masks by chunks."""
    X = tensor(RNG.standard_normal((N, D)))
    gates = tensor(RNG.standard_normal((P, D)))
    dense = GatedOperator.from_gates(X, gates)
    packed = GatedOperator.from_gates(X, gates, chunk_bytes=1)
    chunked = GatedOperator(X, dense.masks, chunk_bytes=1)
    assert not dense.packed and packed.packed and not chunked.packed
    assert len(packed.sample_slices(8)) == 7
    return dense, {"packed": packed, "chunked": chunked}


def test_packed_masks_hold_the_patterns_bit_for_bit():
    masks = torch.as_tensor(RNG.random((N, P)) > 0.5)
    packed = PackedMasks.pack(masks)
    assert packed.bits.shape == (P, 7) and packed.bits.dtype == torch.uint8
    assert packed.shape == (N, P)
    expected = masks.to(torch.float64)
    torch.testing.assert_close(packed.rows(slice(0, N), torch.float64), expected)
    torch.testing.assert_close(
        packed.rows(slice(16, 45), torch.float64), expected[16:45]
    )
    chosen = torch.tensor([5, 0, 3])
    torch.testing.assert_close(
        packed.select(chosen).rows(slice(8, N), torch.float32),
        expected[8:, chosen].to(torch.float32),
    )
    tail = packed.samples(slice(40, N))
    torch.testing.assert_close(tail.rows(slice(0, 13), torch.float64), expected[40:])
    # NumPy's bit order along the samples, little-endian within a byte
    reference = np.packbits(masks.numpy().T, axis=1, bitorder="little")
    np.testing.assert_array_equal(packed.bits.numpy(), reference)


@pytest.mark.parametrize("name", ["packed", "chunked"])
@pytest.mark.parametrize("c", [1, 3])
def test_chunked_products_equal_the_dense_ones(name, c):
    dense, chunked = operators()
    operator = chunked[name]
    torch.testing.assert_close(operator.masks, dense.masks)
    W = tensor(RNG.standard_normal((dense.n_coefs, c)))
    R = tensor(RNG.standard_normal((N, c)))
    torch.testing.assert_close(operator.matvec(W), dense.matvec(W))
    torch.testing.assert_close(operator.rmatvec(R), dense.rmatvec(R))
    # adjoint of each other
    assert float((operator.matvec(W) * R).sum()) == pytest.approx(
        float((W * operator.rmatvec(R)).sum()), rel=1e-12
    )
    blocks = torch.tensor([6, 1, 4])
    torch.testing.assert_close(
        operator.block_outputs(W, D, blocks), dense.block_outputs(W, D, blocks)
    )
    rows = (blocks[:, None] * D + torch.arange(D)).view(-1)
    for chosen, coef in ((blocks, W[rows]), (blocks[:0], W[:0])):
        restricted, reference = operator.restrict(D, chosen), dense.restrict(D, chosen)
        assert restricted.packed == operator.packed
        torch.testing.assert_close(restricted.matvec(coef), reference.matvec(coef))
        torch.testing.assert_close(restricted.rmatvec(R), reference.rmatvec(R))
    torch.testing.assert_close(operator.block_norms(D), dense.block_norms(D))
    columns = torch.tensor([0, 9, 27, 13])
    torch.testing.assert_close(operator.columns(columns), dense.columns(columns))
    weights = tensor(RNG.random(3))
    torch.testing.assert_close(
        operator.sample_gram(D, blocks, weights), dense.sample_gram(D, blocks, weights)
    )
    single = operator.astype(torch.float32)
    torch.testing.assert_close(
        single.matvec(W.float()), dense.astype(torch.float32).matvec(W.float())
    )
    part = operator.sample_slices(8)[2]
    torch.testing.assert_close(
        operator.on_samples(part).matvec(W), dense.matvec(W)[part]
    )


def test_patterns_by_chunks_keep_the_same_gates():
    X = RNG.standard_normal((N, D))
    gates = RNG.standard_normal((40, D))
    whole = np.packbits(activation_patterns(X, gates).T, axis=1)
    np.testing.assert_array_equal(packed_patterns(X, gates, chunk_bytes=1), whole)
    np.testing.assert_array_equal(packed_patterns(X, gates), whole)
    kept = sample_gates(X, 40, random_state=0)
    assert len(kept) <= 40
    assert len(np.unique(activation_patterns(X, kept), axis=1).T) == len(kept)


def logistic_problem(operator):
    y = (RNG.standard_normal((operator.n_samples, 1)) > 0).astype(float)
    loss = LOSSES["logistic"](tensor(y).to(operator.dtype))
    return Problem(operator, loss, GroupLasso(D), 0.02)


@pytest.mark.parametrize("keep", [True, False])
def test_polish_by_chunks_equals_the_dense_polish(keep, monkeypatch):
    if not keep:  # the directions are formed again at every product
        monkeypatch.setattr(polish_module, "KEPT_BYTES", 0)
    dense, chunked = operators()
    problem = logistic_problem(dense)
    by_chunks = Problem(chunked["packed"], problem.loss, problem.penalty, 0.02)
    x = tensor(RNG.standard_normal(problem.shape))
    expected = polish(problem, x, problem.matvec(x))
    result = polish(by_chunks, x, by_chunks.matvec(x))
    torch.testing.assert_close(result[0], expected[0])
    torch.testing.assert_close(result[1], expected[1])
    assert result[2] and expected[2]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_fit_by_chunks_reaches_the_certified_optimum_of_the_dense_fit(dtype):
    dense, chunked = operators()
    problem = logistic_problem(dense.astype(dtype))
    by_chunks = Problem(
        chunked["packed"].astype(dtype), problem.loss, problem.penalty, 0.02
    )
    tol = 1e-8
    expected = solve(problem, tol=tol, max_iter=20_000)
    result = solve(by_chunks, tol=tol, max_iter=20_000)
    assert expected.converged and result.converged
    assert result.certificate.relative_gap <= tol
    # each certified within tol of the optimum: the objectives agree that well
    np.testing.assert_allclose(
        result.certificate.primal, expected.certificate.primal, rtol=2 * tol
    )


def test_an_estimator_fit_by_chunks_is_certified_and_equals_the_dense_fit(
    monkeypatch,
):
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    params = dict(alpha=1e-2, n_patterns=30, tol=1e-8, random_state=0)
    dense = GatedReLUClassifier(**params).fit(X, y)
    monkeypatch.setattr(gated, "CHUNK_BYTES", 64)  # 8 samples a chunk, packed masks
    by_chunks = GatedReLUClassifier(**params).fit(X, y)
    assert by_chunks.converged_
    assert_certified(by_chunks, X, y)
    np.testing.assert_array_equal(by_chunks.gates_, dense.gates_)
    np.testing.assert_allclose(by_chunks.objective_, dense.objective_, rtol=1e-7)
    np.testing.assert_allclose(
        by_chunks.decision_function(X), dense.decision_function(X), atol=1e-3
    )
