"""Deep narrow networks on one input: the networks of the reflection Lasso."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


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
