"""What a solve returns: the certified point and how it was reached."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..problems import Certificate
from ..problems.constrained import KKTResiduals


@dataclass
class SolverResult:
    """Outcome of an unconstrained solve.

    ``x`` is the best point found, in the layout of ``problem.shape``;
    ``certificate`` its certificate (``certificate.dual`` the best lower bound
    met); ``n_iter`` counts proximal-gradient iterations; ``lipschitz`` is the
    last step-size estimate (to warm-start a nearby solve).
    """

    x: torch.Tensor
    certificate: Certificate
    n_iter: int
    converged: bool
    lipschitz: float


@dataclass
class ConstrainedResult:
    """Outcome of a constrained solve.

    ``x`` is the primal point in the layout of ``problem.problem.shape``,
    ``multipliers`` the constraint multipliers ``Λ ≥ 0``, ``kkt`` their
    residuals; ``n_iter`` counts inner iterations (or ADMM steps),
    ``n_outer`` multiplier updates; ``rho`` is the last penalty.
    """

    x: torch.Tensor
    multipliers: torch.Tensor
    kkt: KKTResiduals
    n_iter: int
    n_outer: int
    converged: bool
    rho: float
