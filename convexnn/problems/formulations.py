r"""One constructor per formulation: the problems the estimators solve.

* :func:`gated_problem`, the gated ReLU network,
  :math:`\min f\bigl(\sum_i D_i\tilde XU_i + \mathbf 1b^\top\bigr)
  + \alpha\sum_i\|U_i\|` with the nuclear or Frobenius norm;
* :func:`lasso_problem`, the weighted Lasso or sparse GLM,
  :math:`\min f(XW + \mathbf 1b^\top) + \alpha\sum_j w_j\|W_j\|_1`;
* :func:`reflection_problem`, the Lasso over a 1-D dictionary (parallel deep
  narrow networks), squared loss.

The convex ReLU program is built in
:mod:`convexnn.problems.cone`.

The gated and Lasso problems also solve data split by rows over the processes
of a :mod:`torch.distributed` process group: with a loss built with
``shards`` each process passes its own rows, and the operator of those rows
is wrapped so that sums over the samples cover every process
(:mod:`convexnn.problems.distributed`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ._problem import Problem
from .basis import BasisOperator
from .distributed import shard_operator
from .gated import GatedOperator
from .losses import Loss, SquaredLoss
from .operators import MatrixOperator
from .penalties import L1, GroupLasso, NuclearGroupLasso

if TYPE_CHECKING:
    from ..dictionaries import Features

GROUP_NORMS = ("nuclear", "frobenius")
"""Norms of the gated ReLU blocks :math:`U_i`."""


def gated_problem(
    X: torch.Tensor,
    gates: torch.Tensor,
    loss: Loss,
    alpha: float,
    *,
    group_norm: str = "nuclear",
    fit_intercept: bool = True,
) -> Problem:
    """The gated ReLU problem of the gates ``gates``.

    Parameters
    ----------
    X : tensor of shape (n_samples, d̃)
        The lifted data ``X̃`` (this process's rows when ``loss`` has
        ``shards``).
    gates : tensor of shape (P, d̃)
        The gate vectors; pattern ``i`` is ``X̃ gᵢ > 0``. When ``loss`` has
        ``shards``, the first process's gates are used on every process
        (:meth:`~convexnn.problems.distributed.Shards.broadcast`), so that
        all of them share the patterns' gates.
    loss : Loss
        The data loss, holding the targets.
    alpha : float
        Regularisation strength.
    group_norm : {"nuclear", "frobenius"}
        The norm of each block ``U_i`` (shape ``(d̃, n_outputs)``).
    fit_intercept : bool
        Whether an unpenalised output intercept is fitted.

    Returns
    -------
    Problem
        Its coefficients are ``[U_1 … U_P]`` stacked by rows. Its operator
        (:meth:`GatedOperator.from_gates`) keeps large masks bit-packed
        (``P · ⌈n/8⌉`` bytes beside ``X``) and computes its products by
        chunks of samples, whose workspace does not grow with ``n``.
    """
    if group_norm not in GROUP_NORMS:
        raise ValueError(
            f"group_norm must be one of {GROUP_NORMS}; got {group_norm!r}."
        )
    n_features = X.shape[1]
    penalty = (
        NuclearGroupLasso(n_features)
        if group_norm == "nuclear"
        else GroupLasso(n_features)
    )
    if loss.shards is not None:
        gates = loss.shards.broadcast(gates)
    operator = shard_operator(GatedOperator.from_gates(X, gates), loss.shards)
    return Problem(operator, loss, penalty, alpha, fit_intercept)


def lasso_problem(
    X: torch.Tensor,
    loss: Loss,
    factors: torch.Tensor | None = None,
    *,
    alpha: float = 1.0,
    fit_intercept: bool = True,
) -> Problem:
    """The weighted Lasso (or sparse GLM) over the columns of ``X``.

    Parameters
    ----------
    X : tensor of shape (n_samples, n_features)
        The design (this process's rows when ``loss`` has ``shards``);
        callers fitting an intercept pass it centred.
    loss : Loss
        The data loss, holding the targets.
    factors : tensor of shape (n_features,), optional
        Nonnegative penalty factors ``w_j`` (default all ones; 0 leaves a
        feature unpenalised).
    alpha : float
        Regularisation strength.
    fit_intercept : bool
        Whether an unpenalised output intercept is fitted.
    """
    operator = shard_operator(MatrixOperator(X), loss.shards)
    return Problem(operator, loss, L1(factors), alpha, fit_intercept)


def reflection_problem(
    features: Features,
    x: torch.Tensor,
    Y: torch.Tensor,
    alpha: float,
    *,
    fit_intercept: bool = True,
    sample_weight: torch.Tensor | None = None,
) -> Problem:
    """The squared-loss Lasso over the dictionary ``features`` at the inputs ``x``.

    Parameters
    ----------
    features : Features
        The columns (:func:`convexnn.dictionaries.build_dictionary`).
    x : tensor of shape (n_samples,)
        The training inputs, sorted in increasing order.
    Y : tensor of shape (n_samples, n_outputs)
        The targets, in the order of ``x``.
    alpha : float
        Regularisation strength.
    fit_intercept : bool
        Whether an unpenalised output intercept is fitted.
    sample_weight : array-like of shape (n_samples,), optional
        Weights of the samples in the squared loss (:class:`SquaredLoss`).
    """
    return Problem(
        BasisOperator(features, x),
        SquaredLoss(Y, sample_weight),
        L1(),
        alpha,
        fit_intercept,
    )
