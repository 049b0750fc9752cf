"""Problems: a linear operator, a smooth loss and a penalty."""

from ._problem import Certificate, Problem
from .basis import BasisOperator
from .formulations import gated_problem, lasso_problem, reflection_problem
from .gated import GatedOperator
from .losses import LOSSES, LogisticLoss, Loss, MultinomialLoss, SquaredLoss
from .operators import LinearOperator, MatrixOperator
from .penalties import L1, GroupLasso, NuclearGroupLasso, Penalty

__all__ = [
    "L1",
    "LOSSES",
    "BasisOperator",
    "Certificate",
    "GatedOperator",
    "GroupLasso",
    "LinearOperator",
    "LogisticLoss",
    "Loss",
    "MatrixOperator",
    "MultinomialLoss",
    "NuclearGroupLasso",
    "Penalty",
    "Problem",
    "SquaredLoss",
    "gated_problem",
    "lasso_problem",
    "reflection_problem",
]
