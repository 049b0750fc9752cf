"""convexnn: neural networks trained by their exact convex reformulations."""

from .estimators import (
    ConvexReLUClassifier,
    ConvexReLURegressor,
    GatedReLUClassifier,
    GatedReLURegressor,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ConvexReLUClassifier",
    "ConvexReLURegressor",
    "GatedReLUClassifier",
    "GatedReLURegressor",
    "__version__",
]
