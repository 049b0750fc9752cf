"""Intra-op threads during a fit: chosen from the size of the work, or given by
``n_threads``, and the global setting restored afterwards.

``conftest.py`` pins one thread for the suite; tests that need to see a choice
set two threads with the ``two_threads`` fixture, which puts the pin back.
"""

import inspect

import numpy as np
import pytest
import torch

import convexnn
import convexnn.baselines
import convexnn.estimators._gated_fit
from convexnn import GatedReLURegressor
from convexnn._backend import SMALL_WORK, choose_n_threads, intra_op_threads
from convexnn.estimators._fitting import fit_work

PUBLIC_ESTIMATORS = [
    getattr(convexnn, name)
    for name in convexnn.__all__
    if inspect.isclass(getattr(convexnn, name))
] + [getattr(convexnn.baselines, name) for name in convexnn.baselines.__all__]

INVALID = [0, -1, 1.5, "2"]


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        yield 2
    finally:
        torch.set_num_threads(previous)


@pytest.fixture
def threads_in_solve(monkeypatch):
    """Record ``torch.get_num_threads()`` inside the gated estimators' solver."""
    seen = []
    solve = convexnn.estimators._gated_fit.solve

    def recording_solve(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return solve(*args, **kwargs)

    monkeypatch.setattr(convexnn.estimators._gated_fit, "solve", recording_solve)
    return seen


def small_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    return X, X @ np.array([1.0, -1.0, 0.5])


def small_model(**params):
    return GatedReLURegressor(n_patterns=5, random_state=0, device="cpu", **params)


@pytest.mark.parametrize("estimator", PUBLIC_ESTIMATORS, ids=lambda c: c.__name__)
def test_every_estimator_takes_n_threads(estimator):
    assert estimator().get_params()["n_threads"] is None
    assert estimator._parameter_constraints["n_threads"][1] is None
    assert "n_threads : int, default=None" in estimator.__doc__


def test_small_fit_runs_on_one_thread_and_restores_the_setting(
    two_threads, threads_in_solve
):
    small_model().fit(*small_problem())
    assert threads_in_solve == [1]
    assert torch.get_num_threads() == two_threads


@pytest.mark.parametrize("n_threads", [1, 3])
def test_n_threads_is_used_as_given(two_threads, threads_in_solve, n_threads):
    small_model(n_threads=n_threads).fit(*small_problem())
    assert threads_in_solve == [n_threads]
    assert torch.get_num_threads() == two_threads


def test_failed_fit_restores_the_setting(two_threads, monkeypatch):
    seen = []

    def failing_solve(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise RuntimeError("solver failed")

    monkeypatch.setattr(convexnn.estimators._gated_fit, "solve", failing_solve)
    with pytest.raises(RuntimeError, match="solver failed"):
        small_model(n_threads=3).fit(*small_problem())
    assert seen == [3]
    assert torch.get_num_threads() == two_threads


def test_intra_op_threads_restores_on_exception(two_threads):
    with pytest.raises(KeyError), intra_op_threads(1):
        assert torch.get_num_threads() == 1
        raise KeyError
    assert torch.get_num_threads() == two_threads


def test_chooser_takes_one_thread_for_small_work_and_keeps_the_setting_for_large(
    two_threads,
):
    assert choose_n_threads(None, 1) == 1
    assert choose_n_threads(None, SMALL_WORK - 1) == 1
    assert choose_n_threads(None, SMALL_WORK) == two_threads
    assert choose_n_threads(None, 100 * SMALL_WORK) == two_threads
    torch.set_num_threads(1)  # never more than the user's setting
    assert choose_n_threads(None, 100 * SMALL_WORK) == 1


def test_chooser_uses_n_threads_as_given(two_threads):
    assert choose_n_threads(1, 100 * SMALL_WORK) == 1
    assert choose_n_threads(4, 1) == 4


def test_fit_work_counts_the_operator_columns():
    X, Y = np.zeros((10, 3)), np.zeros((10, 2))
    assert fit_work(GatedReLURegressor(n_patterns=5), X, Y) == 10 * 3 * 5 * 2
    gates = np.ones((7, 4))
    assert fit_work(GatedReLURegressor(gates=gates), X, Y) == 10 * 3 * 7 * 2
    assert fit_work(convexnn.WeightedLasso(), X, Y) == 10 * 3 * 2
    neurons = convexnn.baselines.NonconvexReLURegressor(n_neurons=4)
    assert fit_work(neurons, X, Y) == 10 * 3 * 4 * 2


@pytest.mark.parametrize("n_threads", INVALID, ids=repr)
def test_invalid_n_threads_is_rejected_naming_the_parameter(n_threads):
    with pytest.raises(ValueError, match="n_threads"):
        small_model(n_threads=n_threads).fit(*small_problem())
    with pytest.raises(ValueError, match="n_threads"):
        choose_n_threads(n_threads, 1)
