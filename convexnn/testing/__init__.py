"""Assertions for property tests of convex fits, in your own test suite.

Each assertion raises :class:`AssertionError` with both sides of the failed
comparison in its message, so it reads well under pytest::

    from convexnn import GatedReLURegressor
    from convexnn.baselines import NonconvexGatedReLURegressor
    from convexnn.testing import (
        assert_below_nonconvex,
        assert_certified,
        assert_network_reproduces,
    )

    def test_convex_fit(X, y):
        convex = GatedReLURegressor(alpha=1e-2)
        baseline = NonconvexGatedReLURegressor(alpha=1e-2)
        convex, baseline = assert_below_nonconvex(convex, baseline, X, y)
        assert_certified(convex, X, y)
        assert_network_reproduces(convex, X, y)

Hypothesis strategies for small data sets are in
:mod:`convexnn.testing.strategies`, which needs ``hypothesis`` (a test extra,
not a dependency of convexnn).
"""

from ._baselines import assert_below_nonconvex
from ._certificates import assert_certified
from ._formulas import convex_objective, convex_outputs
from ._networks import assert_network_reproduces
from ._problems import KINDS, make_problem

__all__ = [
    "KINDS",
    "assert_below_nonconvex",
    "assert_certified",
    "assert_network_reproduces",
    "convex_objective",
    "convex_outputs",
    "make_problem",
]
