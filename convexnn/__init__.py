"""convexnn: neural networks trained by their exact convex reformulations."""

from .estimators import (
    GatedReLUClassifier,
    GatedReLURegressor,
    LLMLassoClassifier,
    LLMLassoRegressor,
    ReflectionLassoRegressor,
    WeightedLasso,
    WeightedLassoCV,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "GatedReLUClassifier",
    "GatedReLURegressor",
    "LLMLassoClassifier",
    "LLMLassoRegressor",
    "ReflectionLassoRegressor",
    "WeightedLasso",
    "WeightedLassoCV",
    "__version__",
]
