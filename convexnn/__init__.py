"""convexnn: neural networks trained by their exact convex reformulations."""

from .estimators import (
    ConvexReLUClassifier,
    ConvexReLUClassifierCV,
    ConvexReLURegressor,
    ConvexReLURegressorCV,
    GatedReLUClassifier,
    GatedReLUClassifierCV,
    GatedReLURegressor,
    GatedReLURegressorCV,
    LLMLassoClassifier,
    LLMLassoRegressor,
    ReflectionLassoRegressor,
    WeightedLasso,
    WeightedLassoCV,
    weighted_lasso_path,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ConvexReLUClassifier",
    "ConvexReLUClassifierCV",
    "ConvexReLURegressor",
    "ConvexReLURegressorCV",
    "GatedReLUClassifier",
    "GatedReLUClassifierCV",
    "GatedReLURegressor",
    "GatedReLURegressorCV",
    "LLMLassoClassifier",
    "LLMLassoRegressor",
    "ReflectionLassoRegressor",
    "WeightedLasso",
    "WeightedLassoCV",
    "__version__",
    "weighted_lasso_path",
]
