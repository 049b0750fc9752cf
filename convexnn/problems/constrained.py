r"""Problems with linear inequality constraints, and their certificates.

.. math::
    \min_{W, b}\; f(AW + \mathbf 1 b^\top) + \alpha\,\Omega(W)
    \quad\text{s.t.}\quad KW \ge 0

With multipliers :math:`\Lambda \ge 0` for :math:`KW \ge 0` the KKT conditions
are

.. math::
    K^\top\Lambda - A^\top\nabla f(Z) \in \alpha\,\partial\Omega(W),\quad
    \mathbf 1^\top \nabla f(Z) = 0,\quad KW \ge 0,\quad
    \langle \Lambda, KW\rangle = 0,

and any :math:`\Lambda \ge 0`, :math:`\Theta` with :math:`\mathbf 1^\top\Theta = 0`
and :math:`\Omega^*(K^\top\Lambda - A^\top\Theta) \le \alpha` gives the lower
bound :math:`-f^*(\Theta)` on the optimum (Lagrange duality). Solvers only
produce ``(W, Λ)``; this module measures how far they are from the KKT
conditions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._problem import TINY, Problem
from .losses import _float64_sum
from .operators import LinearOperator


@dataclass
class KKTResiduals:
    """How far a primal-dual pair is from the KKT conditions (all relative).

    Attributes
    ----------
    x : tensor
        The primal point.
    objective : float
        Objective at ``x`` (constraints not included).
    dual : float
        Lagrange dual objective of the multipliers scaled to dual
        feasibility: a lower bound on the constrained optimum.
    stationarity : float
        Largest distance of a group of :math:`K^\\top\\Lambda - A^\\top\\nabla f`
        to :math:`\\alpha\\partial\\Omega`, divided by ``alpha``.
    violation : float
        :math:`\\max (-KW)_+ / \\max |KW|`.
    complementarity : float
        :math:`\\sum \\Lambda\\,|KW|` divided by the objective.
    """

    x: torch.Tensor
    objective: float
    dual: float
    stationarity: float
    violation: float
    complementarity: float

    @property
    def largest(self) -> float:
        """The largest of the three residuals (what ``tol`` is compared with)."""
        return max(self.stationarity, self.violation, self.complementarity)

    @property
    def relative_gap(self) -> float:
        """``(objective − dual) / objective``; certifies optimality up to the
        violation."""
        return max(self.objective - self.dual, 0.0) / max(abs(self.objective), TINY)

    def __str__(self) -> str:
        return (
            f"objective {self.objective:.10e}  stationarity {self.stationarity:.2e}  "
            f"violation {self.violation:.2e}  complementarity "
            f"{self.complementarity:.2e}"
        )


class ConstrainedProblem:
    """A :class:`Problem` with the constraints ``K W ≥ 0`` on its coefficients.

    Parameters
    ----------
    problem : Problem
        Operator, loss, penalty and intercept of the objective. The penalty
        must provide ``subgradient_distance`` (as
        :class:`~convexnn.problems.composite.OutputwiseGroupLasso` does).
    constraint : LinearOperator
        ``K``, mapping the coefficients to the quantities kept nonnegative.
    """

    def __init__(self, problem: Problem, constraint: LinearOperator):
        if constraint.n_coefs != problem.operator.n_coefs:
            raise ValueError(
                f"the constraint acts on {constraint.n_coefs} coefficients, the "
                f"objective on {problem.operator.n_coefs}."
            )
        self.problem = problem
        self.constraint = constraint

    @property
    def capabilities(self) -> frozenset[str]:
        """The objective's capabilities (:attr:`Problem.capabilities`) and the
        constraint map's, the latter prefixed ``"constraint_"``."""
        group_size = self.problem.penalty.group_size
        constraint = self.constraint.capabilities(group_size)
        return self.problem.capabilities | {"constraint_" + name for name in constraint}

    def with_alpha(self, alpha: float) -> ConstrainedProblem:
        """The same constraints and objective (sharing their data) at another
        regularisation strength."""
        return ConstrainedProblem(self.problem.with_alpha(alpha), self.constraint)

    def output(self, k: int) -> ConstrainedProblem:
        """The problem of output column ``k`` alone (:meth:`Problem.output`),
        under the same constraints, which act on each column alike."""
        return ConstrainedProblem(self.problem.output(k), self.constraint)

    def multipliers_like(self) -> torch.Tensor:
        """Zero multipliers, shape ``(n_constraints, n_outputs)``."""
        return torch.zeros(
            (self.constraint.n_samples, self.problem.n_outputs),
            dtype=self.constraint.dtype,
            device=self.constraint.device,
        )

    @staticmethod
    def relative_violation(constrained: torch.Tensor) -> float:
        """:math:`\\max(-S)_+ / \\max|S|` for constraint values ``S = KW``."""
        scale = float(constrained.abs().max()) if constrained.numel() else 0.0
        worst = float((-constrained).clamp(min=0).max()) if constrained.numel() else 0.0
        return worst / max(scale, TINY)

    def kkt(
        self,
        x: torch.Tensor,
        multipliers: torch.Tensor,
        Z: torch.Tensor | None = None,
    ) -> KKTResiduals:
        r"""KKT residuals and the Lagrange dual bound at ``(x, multipliers)``,
        where ``x``'s outputs are ``Z`` (computed when not given).

        The bound needs :math:`\mathbf 1^\top\nabla f = 0`, an optimal
        intercept: solvers measure points whose intercept they re-optimised
        (:func:`convexnn.solvers.polish.polished_kkt`).
        """
        problem = self.problem
        if Z is None:
            Z = problem.matvec(x)
        coef, _ = problem.split(x)
        Theta = problem.loss.gradient(Z)
        constrained = self.constraint.matvec(coef)
        direction = self.constraint.rmatvec(multipliers) - problem.operator.rmatvec(
            Theta
        )
        objective = problem.objective(x, Z)
        return KKTResiduals(
            x=x,
            objective=objective,
            dual=problem.scaled_dual(Theta, direction)[0],
            stationarity=problem.penalty.subgradient_distance(
                coef, direction, problem.alpha
            )
            / problem.alpha,
            violation=self.relative_violation(constrained),
            complementarity=_float64_sum(multipliers * constrained.abs())
            / max(abs(objective), TINY),
        )
