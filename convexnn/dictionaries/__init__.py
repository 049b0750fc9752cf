r"""Dictionaries of 1-D features: the Lasso columns of deep narrow networks.

A *feature* is what one unit of a parallel deep narrow network (every hidden
layer of width one) computes once its weights are normalised to ``±1``:

.. math::
    h_1 = x, \qquad h_{l+1} = \sigma\bigl(s_l\,(h_l - c_l)\bigr)\quad (l = 1..L-1),
    \qquad \varphi(x) = o + \varepsilon\, h_L(x),

with signs :math:`s_l \in \{\pm1\}`, *levels* :math:`c_l` (the biases), an
orientation :math:`\varepsilon = \pm1` and an offset ``o`` (a constant the
network's output bias absorbs). With free biases and the weight penalty
:math:`\frac\alpha L\sum|w|^L`, a unit :math:`z\,\varphi` costs exactly
:math:`\alpha|z|` (balance the weights at :math:`|z|^{1/L}`), so training the
network is the Lasso over every such feature; the families below are finite
sets of features that reach the same optimum (see
:class:`~convexnn.ReflectionLassoRegressor` for the table of which are exact).

Every feature is stored twice:

* as the chain above (``signs``, ``levels``, ``orient``, ``offset``): this is
  what :meth:`Features.evaluate` computes at new points and what
  :meth:`~convexnn.ReflectionLassoRegressor.to_torch` turns into a network;
* as a *basis expansion* :math:`\varphi(x) = a\,x + b + \sum_k \beta_k\,
  \psi(x - t_k)` with ramps :math:`\psi(u) = (u)_+` (piecewise-linear
  activations) or steps :math:`\psi(u) = \mathbf 1[u \ge 0]` (threshold, sign)
  at a few knots :math:`t_k`. :class:`BasisOperator` applies a whole dictionary
  through this form with cumulative sums, in :math:`O(N + K + \text{nnz})`
  operations per product, without forming the matrix.

The expansion is computed from the chain (slopes at the midpoints between the
candidate kinks), so the two representations agree to rounding; tests check
that the implicit operator equals the dense matrix of :meth:`Features.evaluate`.
"""

from __future__ import annotations

# re-exported: a dictionary's implicit operator lives with the other operators
from ..problems.basis import BasisOperator as BasisOperator
from ._build import (
    build_dictionary,
    check_family,
    continuous_family,
    dictionary_size,
    duplicate_free,
)
from ._features import (
    ACTIVATIONS,
    MAX_ABS_DEPTH,
    MAX_COLUMNS,
    STEP_ACTIVATIONS,
    Features,
    activation,
)

__all__ = [
    "ACTIVATIONS",
    "MAX_ABS_DEPTH",
    "MAX_COLUMNS",
    "STEP_ACTIVATIONS",
    "BasisOperator",
    "Features",
    "activation",
    "build_dictionary",
    "check_family",
    "continuous_family",
    "dictionary_size",
    "duplicate_free",
]
