"""Two-layer gated ReLU and ReLU networks as :class:`torch.nn.Module`, built from
convex coefficient blocks."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._backend import to_numpy


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
