"""The public scikit-learn estimators."""

from ._weighted_lasso_path import weighted_lasso_path
from .convex import ConvexReLUClassifier, ConvexReLURegressor
from .gated import GatedReLUClassifier, GatedReLURegressor
from .lasso import WeightedLasso, WeightedLassoCV
from .llm_lasso import LLMLassoClassifier, LLMLassoRegressor
from .reflection import ReflectionLassoRegressor

__all__ = [
    "ConvexReLUClassifier",
    "ConvexReLURegressor",
    "GatedReLUClassifier",
    "GatedReLURegressor",
    "LLMLassoClassifier",
    "LLMLassoRegressor",
    "ReflectionLassoRegressor",
    "WeightedLasso",
    "WeightedLassoCV",
    "weighted_lasso_path",
]
