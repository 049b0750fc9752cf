"""The way back: convex coefficients of any two-layer network, with the same
outputs and a penalty at most the network's weight decay."""

from __future__ import annotations

import numpy as np

from .._backend import to_numpy
from ..patterns import activation_patterns, lift
from ._two_layer import GatedReLUNetwork, ReLUNetwork


def gated_coefficients(
    network: GatedReLUNetwork,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The convex gated coefficients of a gated ReLU network (the way back).

    Neurons sharing a gate vector are grouped into one block,

    .. math::
        U_i = \sum_{j:\,g_j = g_i} w_j a_j^\top,

    so :math:`\sum_i D_i\tilde XU_i + \mathbf 1b^\top` is the network's output
    on any data. Each block's nuclear norm is at most what its neurons pay,

    .. math::
        \|U_i\|_* \le \sum_{j \to i}\|w_j\|\,\|a_j\|
        \le \frac12\sum_{j \to i}(\|w_j\|^2 + \|a_j\|^2)

    (triangle inequality, then AM–GM), so the convex objective at these
    coefficients is at most the network's loss plus ``alpha`` times its
    weight decay; it is equal for the network
    :meth:`GatedReLUNetwork.from_gated_coefficients` builds, whose neurons
    are the blocks' balanced singular triples. The Frobenius norm is below
    the nuclear norm, so the inequality holds for either group norm.

    Parameters
    ----------
    network : GatedReLUNetwork

    Returns
    -------
    gates : ndarray of shape (P, d̃)
        The distinct gate vectors of the neurons, in sorted order.
    coef : ndarray of shape (P, d̃, c)
        The blocks ``U_i``.
    intercept : ndarray of shape (c,)
    """
    neuron_gates = to_numpy(network.gates)
    hidden, output, intercept = network.numpy_weights()
    gates, group = np.unique(neuron_gates, axis=0, return_inverse=True)
    coef = np.zeros((len(gates), hidden.shape[1], output.shape[1]))
    np.add.at(coef, group.ravel(), hidden[:, :, None] * output[:, None, :])
    return gates, coef, intercept


def cone_coefficients(
    network: ReLUNetwork, X: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The convex ReLU coefficients of a ReLU network on data ``X`` (the way back).

    Neurons are grouped by their activation pattern
    :math:`D_i = \operatorname{diag}(\mathbf 1[\tilde Xw_j > 0])` on ``X``; for
    output ``k`` the block of pattern ``i`` collects the neurons with
    positive and with negative output weight,

    .. math::
        v_{ik} = \sum_{j \to i,\ a_{jk} > 0} a_{jk}\,w_j,\qquad
        w_{ik} = \sum_{j \to i,\ a_{jk} < 0} |a_{jk}|\,w_j .

    Every :math:`w_j` of pattern ``i`` satisfies the cone constraint
    :math:`(2D_i - I)\tilde Xw_j \ge 0`, a convex cone, so the blocks do too,
    and :math:`D_i\tilde X(v_{ik} - w_{ik}) = \sum_{j\to i} a_{jk}(\tilde Xw_j)_+`:
    on ``X`` the convex model's outputs are the network's. The penalty obeys

    .. math::
        \sum_{i,k}\|v_{ik}\| + \|w_{ik}\| \le \sum_j \|w_j\|\,\|a_j\|_1
        \le \frac12\sum_j (\|w_j\|^2 + \|a_j\|_1^2) .

    With one output :math:`\|a_j\|_1 = |a_j|` and the right-hand side is the
    network's weight decay: the convex objective at these coefficients is at
    most the nonconvex one. It is equal when the neurons of each pattern and
    sign are parallel — for instance one per pattern and sign, as in the
    network :meth:`ReLUNetwork.from_cone_coefficients` builds from convex
    blocks whose neurons have distinct patterns on ``X``. With several
    outputs the convex model is one network per output and
    the bound is the weight decay with :math:`\|a_j\|_1` in place of
    :math:`\|a_j\|_2`, which can exceed the shared network's: the outputs
    still agree, the objective bound does not hold in general. Neurons
    inactive on all of ``X`` output zero there and are dropped.

    Parameters
    ----------
    network : ReLUNetwork
    X : ndarray of shape (n_samples, n_features)
        The data (not lifted) on which patterns are read and outputs agree.

    Returns
    -------
    gates : ndarray of shape (P, d̃)
        One hidden weight vector per distinct nonempty pattern; its pattern
        on ``X`` is the pattern of its block.
    coef : ndarray of shape (2, P, d̃, c)
        ``coef[0]`` the blocks ``v_i``, ``coef[1]`` the blocks ``w_i``.
    intercept : ndarray of shape (c,)
    """
    hidden, output, intercept = network.numpy_weights()
    X_lifted = lift(np.asarray(X, dtype=np.float64), network.hidden_bias)
    patterns = activation_patterns(X_lifted, hidden)  # (n, m)
    active = patterns.any(axis=0)
    hidden, output, patterns = hidden[active], output[active], patterns[:, active]
    _, first, group = np.unique(
        patterns.T, axis=0, return_index=True, return_inverse=True
    )
    coef = np.zeros((2, len(first), hidden.shape[1], output.shape[1]))
    contribution = hidden[:, :, None] * output[:, None, :]  # (m, d̃, c)
    np.add.at(coef[0], group.ravel(), np.where(output[:, None, :] > 0, contribution, 0))
    np.add.at(
        coef[1], group.ravel(), np.where(output[:, None, :] < 0, -contribution, 0)
    )
    return hidden[first], coef, intercept
