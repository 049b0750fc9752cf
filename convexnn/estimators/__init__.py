"""The public scikit-learn estimators."""

from .gated import GatedReLUClassifier, GatedReLURegressor
from .reflection import ReflectionLassoRegressor

__all__ = ["GatedReLUClassifier", "GatedReLURegressor", "ReflectionLassoRegressor"]
