"""The public scikit-learn estimators."""

from ._weighted_lasso_path import weighted_lasso_path
from .convex import ConvexReLUClassifier, ConvexReLURegressor
from .convex_cv import ConvexReLUClassifierCV, ConvexReLURegressorCV
from .gated import GatedReLUClassifier, GatedReLURegressor
from .gated_cv import GatedReLUClassifierCV, GatedReLURegressorCV
from .lasso import WeightedLasso, WeightedLassoCV
from .llm_lasso import LLMLassoClassifier, LLMLassoRegressor
from .reflection import ReflectionLassoRegressor

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
    "weighted_lasso_path",
]
