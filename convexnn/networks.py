r"""Two-layer networks as :class:`torch.nn.Module`; conversion to and from convex fits.

A gated ReLU network with fixed gates :math:`g_j` computes

.. math::
    \hat y(x) = \sum_{j=1}^m \mathbf 1[\tilde x^\top g_j > 0]\,
    (\tilde x^\top w_j)\,a_j + b,

and its weight decay is :math:`\frac12\sum_j (\|w_j\|^2 + \|a_j\|^2)`. A convex
gated coefficient block :math:`U_i = \sum_k \sigma_k u_k v_k^\top` (its SVD)
splits into the neurons :math:`w = \sqrt{\sigma_k} u_k`,
:math:`a = \sqrt{\sigma_k} v_k`, which reproduce :math:`\tilde x^\top U_i`
exactly and have weight decay :math:`\sum_k\sigma_k = \|U_i\|_*`; with one
output this is :math:`w = u/\sqrt{\|u\|}`, :math:`a = \sqrt{\|u\|}`.
:func:`gated_coefficients` and :func:`cone_coefficients` go the other way,
from any network to convex coefficients whose penalty is at most the
network's weight decay.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._backend import to_numpy
from .patterns import activation_patterns, lift


def lift_tensor(X: torch.Tensor, hidden_bias: bool) -> torch.Tensor:
    """``X`` with a trailing column of ones when ``hidden_bias`` (torch version)."""
    if not hidden_bias:
        return X
    return torch.cat([X, X.new_ones(X.shape[0], 1)], dim=1)


class _TwoLayerNetwork(nn.Module):
    """The trainable weights ``w_j``, ``a_j``, ``b`` of a two-layer network
    and their weight decay (parameters as in :class:`ReLUNetwork`);
    subclasses define ``forward``."""

    def __init__(self, hidden_weight, output_weight, bias, hidden_bias: bool):
        super().__init__()
        self.hidden_bias = hidden_bias
        self.hidden_weight = nn.Parameter(torch.as_tensor(hidden_weight))
        self.output_weight = nn.Parameter(torch.as_tensor(output_weight))
        self.bias = nn.Parameter(torch.as_tensor(bias))

    activation = "relu"

    @property
    def in_features(self) -> int:
        """Input features ``d`` (``d̃`` less the column of ones, if any)."""
        return self.hidden_weight.shape[1] - int(self.hidden_bias)

    @property
    def hidden(self) -> int:
        """Hidden neurons ``m``."""
        return self.hidden_weight.shape[0]

    @property
    def out_features(self) -> int:
        """Outputs ``c``."""
        return self.output_weight.shape[1]

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, hidden={self.hidden}, "
            f"out_features={self.out_features}, activation={self.activation}, "
            f"hidden_bias={self.hidden_bias}"
        )

    def weight_decay(self) -> torch.Tensor:
        r"""Weight decay :math:`\frac12(\|W\|_F^2 + \|a\|_F^2)`.

        The network's penalty is ``alpha`` times it.
        """
        return 0.5 * (self.hidden_weight.pow(2).sum() + self.output_weight.pow(2).sum())

    def numpy_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``w_j`` (rows), ``a_j`` (rows) and ``b`` as float64 NumPy copies."""
        weights = (self.hidden_weight, self.output_weight, self.bias)
        return tuple(np.array(to_numpy(weight)) for weight in weights)


class GatedReLUNetwork(_TwoLayerNetwork):
    """Gated ReLU network with fixed gates (buffers) and trainable weights.

    Parameters
    ----------
    gates : tensor of shape (m, d̃)
        Gate vector of each neuron.
    hidden_weight, output_weight, bias, hidden_bias
        As in :class:`ReLUNetwork`.
    """

    activation = "gated_relu"

    def __init__(self, gates, hidden_weight, output_weight, bias, hidden_bias: bool):
        super().__init__(hidden_weight, output_weight, bias, hidden_bias)
        self.register_buffer("gates", torch.as_tensor(gates))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gates={tuple(self.gates.shape)}"

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X_lifted = lift_tensor(X, self.hidden_bias)
        active = (X_lifted @ self.gates.T > 0).to(X_lifted.dtype)
        return (active * (X_lifted @ self.hidden_weight.T)) @ self.output_weight + (
            self.bias
        )

    @classmethod
    def from_gated_coefficients(
        cls,
        gates: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        hidden_bias: bool,
    ) -> GatedReLUNetwork:
        """Build the network equivalent to a fitted convex gated model.

        Parameters
        ----------
        gates : ndarray of shape (P, d̃)
        coef : ndarray of shape (P, d̃, c)
            The blocks ``U_i``.
        intercept : ndarray of shape (c,)
        hidden_bias : bool
        """
        pattern, hidden, output = split_blocks(coef)
        return cls(
            torch.from_numpy(np.ascontiguousarray(gates[pattern], dtype=np.float64)),
            torch.from_numpy(hidden),
            torch.from_numpy(output),
            torch.from_numpy(np.asarray(intercept, dtype=np.float64).copy()),
            hidden_bias,
        )


def split_blocks(coef: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split coefficient blocks ``U_i`` into rank-one neurons by their SVD.

    Parameters
    ----------
    coef : ndarray of shape (P, d̃, c)

    Returns
    -------
    pattern : ndarray of int, shape (m,)
        Index of the block (gate) each neuron comes from.
    hidden : ndarray of shape (m, d̃)
        ``√σ u`` for each retained singular triple.
    output : ndarray of shape (m, c)
        ``√σ v`` for each retained singular triple.
    """
    coef = np.asarray(coef, dtype=np.float64)
    _, n_features, n_outputs = coef.shape
    U, S, Vh = np.linalg.svd(coef, full_matrices=False)
    largest = S.max(initial=0.0)
    cutoff = largest * max(n_features, n_outputs) * np.finfo(np.float64).eps
    block, rank = np.nonzero((S > cutoff) & (S > 0))
    root = np.sqrt(S[block, rank])
    hidden = U[block, :, rank] * root[:, None]
    output = Vh[block, rank, :] * root[:, None]
    if n_outputs == 1:
        # fix the SVD's sign freedom so single-output neurons have a_j > 0
        sign = np.sign(output[:, :1])
        hidden, output = hidden * sign, output * sign
    return block, np.ascontiguousarray(hidden), np.ascontiguousarray(output)


def count_neurons(coef: np.ndarray) -> int:
    """Number of neurons of the network equivalent to gated coefficients ``coef``."""
    return len(split_blocks(coef)[0])


class ReLUNetwork(_TwoLayerNetwork):
    r"""Two-layer ReLU network :math:`\hat y(x) = \sum_j (\tilde x^\top w_j)_+ a_j + b`.

    Its weight decay is :math:`\frac12\sum_j (\|w_j\|^2 + \|a_j\|^2)`.

    Parameters
    ----------
    hidden_weight : tensor of shape (m, d̃)
        First-layer weights ``w_j``.
    output_weight : tensor of shape (m, c)
        Second-layer weights ``a_j``.
    bias : tensor of shape (c,)
        Output intercept ``b`` (not penalised).
    hidden_bias : bool
        Whether inputs are lifted with a column of ones (whose weight, the
        last entry of each ``w_j``, is penalised like any other).
    """

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(lift_tensor(X, self.hidden_bias) @ self.hidden_weight.T)
        return hidden @ self.output_weight + self.bias

    @classmethod
    def from_cone_coefficients(
        cls, coef: np.ndarray, intercept: np.ndarray, hidden_bias: bool
    ) -> ReLUNetwork:
        """Build the network equivalent to a fitted convex ReLU model.

        Parameters
        ----------
        coef : ndarray of shape (2, P, d̃, c)
            The blocks ``v_i`` (``coef[0]``) and ``w_i`` (``coef[1]``), one
            network per output column.
        intercept : ndarray of shape (c,)
        hidden_bias : bool
        """
        hidden, output = split_cone_blocks(coef)
        return cls(
            torch.from_numpy(hidden),
            torch.from_numpy(output),
            torch.from_numpy(np.asarray(intercept, dtype=np.float64).copy()),
            hidden_bias,
        )


def split_cone_blocks(coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Turn convex ReLU blocks into neurons.

    Each nonzero ``v = coef[0, i, :, k]`` becomes the neuron
    :math:`(v/\sqrt{\|v\|},\ +\sqrt{\|v\|}\,e_k)` and each nonzero
    ``w = coef[1, i, :, k]`` the neuron :math:`(w/\sqrt{\|w\|},\ -\sqrt{\|w\|}\,e_k)`:
    :math:`(\tilde x^\top v)_+` equals :math:`\tilde x^\top D_i v` wherever the
    cone constraint holds, and each neuron's weight decay equals the block's
    norm.

    Parameters
    ----------
    coef : ndarray of shape (2, P, d̃, c)

    Returns
    -------
    hidden : ndarray of shape (m, d̃)
    output : ndarray of shape (m, c)
    """
    coef = np.asarray(coef, dtype=np.float64)
    n_outputs = coef.shape[3]
    norms = np.linalg.norm(coef, axis=2)  # (2, P, c)
    sign, block, output = np.nonzero(norms > 0)
    root = np.sqrt(norms[sign, block, output])
    hidden = coef[sign, block, :, output] / root[:, None]
    weights = np.zeros((len(root), n_outputs))
    weights[np.arange(len(root)), output] = np.where(sign == 0, root, -root)
    return np.ascontiguousarray(hidden), weights


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


# --------------------------------------------------------------------------
# Deep narrow networks on one input (the reflection Lasso's networks)


def _deep_narrow_activation(name: str, negative_slope: float):
    """The activation of :class:`DeepNarrowNetwork` as a torch function."""
    if name == "relu":
        return torch.relu
    if name == "leaky_relu":
        return lambda u: torch.nn.functional.leaky_relu(u, negative_slope)
    if name == "abs":
        return torch.abs
    if name == "threshold":
        return lambda u: (u >= 0).to(u.dtype)
    if name == "sign":
        return lambda u: torch.where(u >= 0, 1.0, -1.0).to(u.dtype)
    raise ValueError(f"activation={name!r} is not supported.")


class DeepNarrowNetwork(nn.Module):
    r"""A parallel network of deep narrow units on scalar inputs.

    Unit ``j`` is a chain of width one and depth ``L``,

    .. math::
        h_1 = x,\quad h_{l+1} = \sigma(w_{jl} h_l + b_{jl})\ (l < L),\quad
        u_j(x) = w_{jL}\,a_j\,h_L,

    with an amplitude :math:`a_j` only for the threshold and sign activations
    (``a_j = 1`` otherwise), and output ``k`` is :math:`\xi_k + \sum_{j \to k}
    u_j(x)` over the units wired to it (``output_index``). Its weight penalty
    (:meth:`weight_decay`, the training objective adds ``alpha`` times it) is

    * :math:`\frac1L\sum_j\sum_{l=1}^L |w_{jl}|^L` for ReLU, leaky ReLU and
      absolute value — weight decay :math:`\frac12\sum w^2` when ``L = 2``;
    * :math:`\frac12\sum_j (a_j^2 + w_{jL}^2)` for threshold and sign, whose
      hidden weights are scale-free (only the sign of :math:`w h + b`
      matters) and therefore not penalised.

    Biases and the output intercept :math:`\xi` are not penalised.

    Parameters
    ----------
    activation : {"relu", "leaky_relu", "abs", "threshold", "sign"}
        ``threshold(0) = 1`` and ``sign(0) = 1``.
    weights : tensor of shape (m, L)
        Hidden weights :math:`w_{j1..j,L-1}` and the output weight :math:`w_{jL}`.
    biases : tensor of shape (m, L-1)
    output_index : tensor of int, shape (m,)
        The output each unit feeds.
    intercept : tensor of shape (n_outputs,)
    amplitude : tensor of shape (m,), optional
        Required for threshold and sign, ignored otherwise.
    negative_slope : float
        Leaky ReLU slope.
    """

    def __init__(
        self,
        activation: str,
        weights,
        biases,
        output_index,
        intercept,
        amplitude=None,
        negative_slope: float = 0.01,
    ):
        super().__init__()
        self.activation = activation
        self.negative_slope = float(negative_slope)
        self._sigma = _deep_narrow_activation(activation, self.negative_slope)
        self.weights = nn.Parameter(torch.as_tensor(weights))
        self.biases = nn.Parameter(torch.as_tensor(biases))
        self.intercept = nn.Parameter(torch.as_tensor(intercept))
        self.register_buffer("output_index", torch.as_tensor(output_index).long())
        self.scale_free = activation in ("threshold", "sign")
        if self.scale_free:
            self.amplitude = nn.Parameter(torch.as_tensor(amplitude))
        else:
            self.amplitude = None

    @property
    def depth(self) -> int:
        return self.weights.shape[1]

    def extra_repr(self) -> str:
        slope = (
            f", negative_slope={self.negative_slope}"
            if self.activation == "leaky_relu"
            else ""
        )
        return (
            f"in_features=1, units={self.weights.shape[0]}, depth={self.depth}, "
            f"out_features={self.intercept.shape[0]}, "
            f"activation={self.activation}{slope}"
        )

    def units(self, X: torch.Tensor) -> torch.Tensor:
        """Outputs of the units, shape ``(n_samples, m)``."""
        h = X[:, :1]
        for layer in range(self.depth - 1):
            h = self._sigma(h * self.weights[:, layer] + self.biases[:, layer])
        out = h * self.weights[:, -1]
        return out * self.amplitude if self.scale_free else out

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        units = self.units(X)
        out = self.intercept.expand(X.shape[0], -1).clone()
        return out.index_add(1, self.output_index, units)

    def weight_decay(self) -> torch.Tensor:
        """The weight penalty (class docstring); objectives add ``alpha`` times it."""
        if self.scale_free:
            output = self.weights[:, -1]
            return 0.5 * (self.amplitude.pow(2).sum() + output.pow(2).sum())
        return self.weights.abs().pow(self.depth).sum() / self.depth

    @classmethod
    def from_lasso(
        cls,
        features,
        coef: np.ndarray,
        intercept: np.ndarray,
    ) -> DeepNarrowNetwork:
        r"""The network whose units are the nonzero Lasso terms :math:`z\varphi`.

        A feature :math:`\varphi = o + \varepsilon h_L` (unit weights ``±1``,
        see :mod:`convexnn.dictionaries`) with coefficient ``z`` becomes a unit
        with every weight of magnitude :math:`\rho = |z|^{1/L}` (biases
        :math:`b_l = -s_l c_l \rho^l`, by homogeneity :math:`h_l = \rho^{l-1}`
        times the normalised value) and output sign
        :math:`\operatorname{sign}(\varepsilon z)`; its penalty is
        :math:`\frac1L L\rho^L = |z|`. Threshold and sign units keep their
        normalised hidden layers and carry :math:`\sqrt{|z|}` in the amplitude
        and the output weight (penalty :math:`|z|`). The offsets :math:`z o`
        go to the intercept. The network then computes the Lasso model exactly
        and ``alpha * weight_decay()`` equals :math:`\alpha\|z\|_1`.

        Parameters
        ----------
        features : Features
            The dictionary columns (rows of ``coef``).
        coef : ndarray of shape (n_columns, n_outputs)
        intercept : ndarray of shape (n_outputs,)
        """
        coef = np.asarray(coef, dtype=np.float64).reshape(len(features), -1)
        column, output = np.nonzero(coef)
        z = coef[column, output]
        signs = features.signs[column].astype(np.float64)
        levels = features.levels[column]
        depth = features.depth
        unit_sign = np.sign(z * features.orient[column])
        intercept = np.asarray(intercept, dtype=np.float64) + np.bincount(
            output, weights=z * features.offset[column], minlength=coef.shape[1]
        )
        if features.activation in ("threshold", "sign"):
            root = np.sqrt(np.abs(z))
            weights = np.column_stack([signs, unit_sign * root])
            biases = -signs * levels
            amplitude = root
        else:
            rho = np.abs(z) ** (1.0 / depth)
            powers = rho[:, None] ** np.arange(1, depth)
            weights = np.column_stack([signs * rho[:, None], unit_sign * rho])
            biases = -signs * levels * powers
            amplitude = None

        def as_tensor(array):
            if array is None:
                return None
            return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))

        return cls(
            features.activation,
            as_tensor(weights.reshape(len(z), depth)),
            as_tensor(biases.reshape(len(z), depth - 1)),
            torch.from_numpy(output.astype(np.int64)),
            as_tensor(intercept),
            as_tensor(amplitude),
            features.negative_slope,
        )

    @classmethod
    def random(
        cls,
        activation: str,
        depth: int,
        n_units: int,
        n_outputs: int = 1,
        *,
        scale: float = 1.0,
        negative_slope: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> DeepNarrowNetwork:
        """A random network: Gaussian weights and biases times ``scale``."""

        def normal(*shape):
            return scale * torch.randn(*shape, generator=generator, dtype=torch.float64)

        return cls(
            activation,
            normal(n_units, depth),
            normal(n_units, depth - 1),
            torch.arange(n_units) % n_outputs,
            torch.zeros(n_outputs, dtype=torch.float64),
            normal(n_units) if activation in ("threshold", "sign") else None,
            negative_slope,
        )
