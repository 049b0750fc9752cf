"""The public scikit-learn estimators."""

from .gated import GatedReLUClassifier, GatedReLURegressor
from .lasso import WeightedLasso, WeightedLassoCV
from .llm_lasso import LLMLassoClassifier, LLMLassoRegressor
from .reflection import ReflectionLassoRegressor

__all__ = [
    "GatedReLUClassifier",
    "GatedReLURegressor",
    "LLMLassoClassifier",
    "LLMLassoRegressor",
    "ReflectionLassoRegressor",
    "WeightedLasso",
    "WeightedLassoCV",
]
