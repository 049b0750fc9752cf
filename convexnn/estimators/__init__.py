"""The public scikit-learn estimators."""

from .convex import ConvexReLUClassifier, ConvexReLURegressor
from .gated import GatedReLUClassifier, GatedReLURegressor

__all__ = [
    "ConvexReLUClassifier",
    "ConvexReLURegressor",
    "GatedReLUClassifier",
    "GatedReLURegressor",
]
