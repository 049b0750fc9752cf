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

from ._deep_narrow import DeepNarrowNetwork
from ._to_convex import cone_coefficients, gated_coefficients
from ._two_layer import (
    GatedReLUNetwork,
    ReLUNetwork,
    count_neurons,
    lift_tensor,
    split_blocks,
    split_cone_blocks,
)

__all__ = [
    "DeepNarrowNetwork",
    "GatedReLUNetwork",
    "ReLUNetwork",
    "cone_coefficients",
    "count_neurons",
    "gated_coefficients",
    "lift_tensor",
    "split_blocks",
    "split_cone_blocks",
]
