"""The same architectures trained the nonconvex way (Adam), as estimators."""

from .gated import NonconvexGatedReLUClassifier, NonconvexGatedReLURegressor
from .relu import NonconvexReLUClassifier, NonconvexReLURegressor

__all__ = [
    "NonconvexGatedReLUClassifier",
    "NonconvexGatedReLURegressor",
    "NonconvexReLUClassifier",
    "NonconvexReLURegressor",
]
