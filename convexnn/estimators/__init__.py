"""The public scikit-learn estimators."""

from .convex import ConvexReLUClassifier, ConvexReLURegressor
from .gated import GatedReLUClassifier, GatedReLURegressor
from .lasso import WeightedLasso, WeightedLassoCV
from .llm_lasso import LLMLassoClassifier, LLMLassoRegressor

__all__ = [
    "ConvexReLUClassifier",
    "ConvexReLURegressor",
    "GatedReLUClassifier",
    "GatedReLURegressor",
    "LLMLassoClassifier",
    "LLMLassoRegressor",
    "WeightedLasso",
    "WeightedLassoCV",
]
