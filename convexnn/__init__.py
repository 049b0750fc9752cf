"""convexnn: neural networks trained by their exact convex reformulations."""

from .estimators import (
    GatedReLUClassifier,
    GatedReLURegressor,
    ReflectionLassoRegressor,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "GatedReLUClassifier",
    "GatedReLURegressor",
    "ReflectionLassoRegressor",
    "__version__",
]
