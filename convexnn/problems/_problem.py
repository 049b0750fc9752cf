r"""A composite problem: an operator, a loss and a penalty.

.. math::
    \min_{W, b}\; P(W, b) = f(AW + \mathbf 1 b^\top) + \alpha\,\Omega(W)

The solver iterates on one tensor ``x`` of shape ``(n_coefs + 1, c)`` when
there is an (unpenalised) intercept ``b`` — its last row — and
``(n_coefs, c)`` otherwise. This class hides that layout from the solver and
computes the duality-gap certificate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch

from .losses import Loss
from .operators import LinearOperator
from .penalties import Penalty

TINY = 1e-300
#: Relative rounding error of an objective accumulated in float64.
ROUNDING = float(torch.finfo(torch.float64).eps)
#: A dual bound above the primal objective by more than this many rounding
#: units of the certificate's precision is a crossing, not rounding: the two
#: objectives are sums over the samples whose terms partly cancel, each
#: accurate to a few units.
CROSSING_UNITS = 100


class CertificateWarning(UserWarning):
    """A certificate whose lower bound lies above its primal objective by more
    than rounding explains (:attr:`Certificate.crossed`): one of the two
    numbers is wrong, and the gap certifies nothing."""


@dataclass(frozen=True)
class Certificate:
    r"""A primal point, its objective, and a lower bound on the optimum.

    ``x`` and ``Z = A x`` are the point, ``primal`` its objective and ``dual``
    the value :math:`-f^*(\Theta)` of a dual-feasible point, so that the
    optimum lies in ``[dual, primal]``. ``violations`` holds, per block, the
    dual constraint's value at that point relative to its bound,
    :math:`\omega^*(A_g^\top\Theta) / (\alpha w_g) \le 1`: blocks near 1 are
    (or are about to be) active, and working sets and screening rank blocks by
    it. ``precision`` is the dtype in which ``primal`` and ``dual`` were
    computed (their products and sums): float64 for every certificate of a
    problem whose operator converts (:meth:`Problem.certifying_problem`),
    float32 problems included. Its rounding unit
    :math:`\varepsilon` sets the smallest gap that can be certified,
    :math:`\varepsilon\,|P|`.

    A ``dual`` above ``primal`` by more than :data:`CROSSING_UNITS` rounding
    units is a *crossing* (:attr:`crossed`): rounding cannot explain it, so
    one of the two numbers is wrong. It is reported as it is — a negative
    :attr:`gap` — with a :class:`CertificateWarning`, never floored to a
    tiny positive gap.
    """

    x: torch.Tensor
    Z: torch.Tensor
    primal: float
    dual: float
    violations: torch.Tensor | None = None
    precision: torch.dtype = torch.float64

    def __post_init__(self):
        if self.crossed:
            warnings.warn(
                f"the certificate's lower bound {self.dual!r} lies above its "
                f"objective {self.primal!r} by {-self.relative_gap:.3g} of it, "
                "beyond rounding: the duality gap certifies nothing",
                CertificateWarning,
                stacklevel=3,
            )

    @property
    def rounding(self) -> float:
        r"""The rounding error :math:`\varepsilon\,|P|` of ``primal`` (and of
        ``dual`` near it) in the certificate's precision."""
        return float(torch.finfo(self.precision).eps) * abs(self.primal)

    @property
    def crossed(self) -> bool:
        """Whether ``dual`` exceeds ``primal`` by more than rounding explains
        (:data:`CROSSING_UNITS` units of :attr:`rounding`)."""
        return self.primal - self.dual < -CROSSING_UNITS * self.rounding

    @property
    def gap(self) -> float:
        """``primal − dual``, but never below :attr:`rounding`: a smaller gap
        cannot be certified. A crossing (:attr:`crossed`) is returned as the
        negative difference it is."""
        difference = self.primal - self.dual
        if self.crossed:
            return difference
        return max(difference, self.rounding)

    @property
    def relative_gap(self) -> float:
        return self.gap / max(abs(self.primal), TINY)

    def improve(self, other: Certificate) -> Certificate:
        """The better primal point of the two (with its violations), with the
        better lower bound, in the coarser of the two precisions."""
        best = other if other.primal < self.primal else self
        precision = max(
            self.precision, other.precision, key=lambda dtype: torch.finfo(dtype).eps
        )
        return Certificate(
            best.x,
            best.Z,
            best.primal,
            max(self.dual, other.dual),
            best.violations,
            precision,
        )


class Problem:
    """Data, loss and penalty of one convex fit.

    Parameters
    ----------
    operator : LinearOperator
        The map ``W ↦ AW`` from coefficients ``(n_coefs, c)`` to outputs.
    loss : Loss
        The smooth data term, holding the targets.
    penalty : Penalty
        The regulariser ``Ω``.
    alpha : float
        Regularisation strength (``> 0``).
    fit_intercept : bool
        Whether an unpenalised output intercept is fitted.

    Raises
    ------
    ValueError
        If the loss holds one process's samples of data split over several
        (its ``shards``) and the operator is not split over the same
        processes (:class:`~convexnn.problems.distributed.ShardedOperator`),
        or the other way round.
    """

    def __init__(
        self,
        operator: LinearOperator,
        loss: Loss,
        penalty: Penalty,
        alpha: float,
        fit_intercept: bool = True,
    ):
        if getattr(operator, "shards", None) is not loss.shards:
            raise ValueError(
                "the operator and the loss must hold the samples of the same "
                "processes: build the problem with gated_problem or "
                "lasso_problem from a loss with shards, or wrap the operator "
                "of this process's rows in a ShardedOperator with the loss's "
                "shards."
            )
        self.operator = operator
        self.loss = loss
        self.penalty = penalty
        self.alpha = float(alpha)
        self.fit_intercept = fit_intercept
        self.n_outputs = loss.Y.shape[1]
        # the float64 copy certificates are computed on, built at the first
        # certificate (see certifying_problem)
        self._certifying: Problem | None = None

    def with_alpha(self, alpha: float) -> Problem:
        """The same problem (sharing its data) at another regularisation
        strength; it shares the float64 copy of :meth:`certifying_problem`
        too, once that exists."""
        problem = Problem(
            self.operator, self.loss, self.penalty, alpha, self.fit_intercept
        )
        if self._certifying is not None and self._certifying is not self:
            problem._certifying = self._certifying.with_alpha(alpha)
        return problem

    def certifying_problem(self) -> Problem:
        """The problem certificates of this one are computed on: itself in
        float64, or a float64 copy of its data (:meth:`astype`) for a
        lower-precision problem whose operator converts
        (:meth:`LinearOperator.in_float64`), built once and kept,
        so that every checkpoint of a solve reuses it. A problem whose
        operator does not convert is certified in its own precision
        (:attr:`Certificate.precision` says which)."""
        if self._certifying is None:
            operator = None
            if self.operator.dtype != torch.float64:
                operator = self.operator.in_float64()
            self._certifying = self
            if operator is not None:
                self._certifying = Problem(
                    operator,
                    self.loss.astype(torch.float64),
                    self.penalty.astype(torch.float64),
                    self.alpha,
                    self.fit_intercept,
                )
        return self._certifying

    def output(self, k: int) -> Problem:
        """The problem of output column ``k`` alone (:meth:`Loss.output`): where
        the loss is a sum over entries and the penalty one over output columns
        (capabilities ``"diagonal_hessian"`` and ``"outputwise"``), the
        problem is the sum of these over the columns, each with its own
        coefficients."""
        return Problem(
            self.operator,
            self.loss.output(k),
            self.penalty,
            self.alpha,
            self.fit_intercept,
        )

    def astype(self, dtype: torch.dtype) -> Problem | None:
        """The same problem with its data converted to ``dtype``, or ``None``
        when the operator does not convert (:meth:`LinearOperator.astype`)."""
        operator = self.operator.astype(dtype)
        if operator is None:
            return None
        return Problem(
            operator,
            self.loss.astype(dtype),
            self.penalty.astype(dtype),
            self.alpha,
            self.fit_intercept,
        )

    @property
    def capabilities(self) -> frozenset[str]:
        """What the parts of this problem provide, for a solver method to check
        its needs against before it runs: the operator's optional methods for
        the penalty's blocks (:meth:`LinearOperator.capabilities`), the loss's
        structure (:attr:`Loss.capabilities`), the penalty's
        (:meth:`Penalty.capabilities`), and ``"single_output"``."""
        operator = self.operator.capabilities(self.penalty.group_size)
        penalty = self.penalty.capabilities(self.n_outputs)
        single = {"single_output"} if self.n_outputs == 1 else set()
        return operator | self.loss.capabilities | penalty | single

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the solver's variable ``x``."""
        return (self.operator.n_coefs + self.fit_intercept, self.n_outputs)

    @property
    def n_blocks(self) -> int:
        """Number of penalty blocks (groups of ``penalty.group_size`` rows)."""
        return self.operator.n_coefs // self.penalty.group_size

    def restrict(self, blocks: torch.Tensor) -> Problem | None:
        """The problem on the selected blocks alone (the others held at zero),
        or ``None`` when the operator cannot be restricted."""
        operator = self.operator.restrict(self.penalty.group_size, blocks)
        if operator is None:
            return None
        penalty = self.penalty.restrict(blocks)
        problem = Problem(operator, self.loss, penalty, self.alpha, self.fit_intercept)
        if self._certifying is not None and self._certifying is not self:
            # restricting the float64 copy costs what converting would
            problem._certifying = self._certifying.restrict(blocks) or problem
        return problem

    def rows(self, blocks: torch.Tensor) -> torch.Tensor:
        """Indices of the coefficient rows of ``blocks``, block after block."""
        size = self.penalty.group_size
        offsets = torch.arange(size, device=blocks.device)
        return (blocks.unsqueeze(1) * size + offsets).view(-1)

    def take(self, x: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
        """The variable of :meth:`restrict` ``(blocks)`` holding ``x``'s values."""
        coef, intercept = self.split(x)
        coef = coef[self.rows(blocks)]
        return coef if intercept is None else torch.cat([coef, intercept[None]])

    def put(self, x: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`take`: the full variable, zero off ``blocks``."""
        full = self.zeros()
        rows = self.rows(blocks)
        full[rows] = x[: len(rows)]
        if self.fit_intercept:
            full[-1] = x[-1]
        return full

    def active_blocks(self, x: torch.Tensor) -> torch.Tensor:
        """Boolean mask of the blocks of ``x`` that are not zero."""
        coef, _ = self.split(x)
        size = self.penalty.group_size * self.n_outputs
        return coef.reshape(self.n_blocks, size).abs().amax(1) > 0

    def zeros(self) -> torch.Tensor:
        return torch.zeros(
            self.shape, dtype=self.operator.dtype, device=self.operator.device
        )

    def pack(self, coef: torch.Tensor, intercept: torch.Tensor | None) -> torch.Tensor:
        """Stack ``coef`` and ``intercept`` into the solver's variable."""
        coef = coef.reshape(self.operator.n_coefs, self.n_outputs)
        if not self.fit_intercept:
            return coef
        return torch.cat([coef, intercept.reshape(1, self.n_outputs)])

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(coef, intercept)``; ``intercept`` is ``None`` without one."""
        if not self.fit_intercept:
            return x, None
        return x[:-1], x[-1]

    def matvec(self, x: torch.Tensor) -> torch.Tensor:
        """Return the outputs ``Z = AW + 1bᵀ``."""
        coef, intercept = self.split(x)
        Z = self.operator.matvec(coef)
        return Z if intercept is None else Z + intercept

    def rmatvec(self, Theta: torch.Tensor) -> torch.Tensor:
        """Adjoint of :meth:`matvec`; the intercept's part sums ``Theta``
        over the samples (of every process, :meth:`Loss.reduce`)."""
        grad = self.operator.rmatvec(Theta)
        if not self.fit_intercept:
            return grad
        return torch.cat([grad, self.loss.reduce(Theta.sum(0, keepdim=True))])

    def prox(self, x: torch.Tensor, step: float) -> torch.Tensor:
        """Proximal step of ``step · α Ω`` on the coefficients only."""
        coef, intercept = self.split(x)
        coef = self.penalty.prox(coef, step * self.alpha)
        return coef if intercept is None else torch.cat([coef, intercept[None]])

    def objective(self, x: torch.Tensor, Z: torch.Tensor) -> float:
        """Primal objective at ``x`` whose outputs are ``Z``."""
        coef, _ = self.split(x)
        return self.loss.value(Z) + self.alpha * self.penalty.value(coef)

    def lipschitz(self, n_iter: int = 10, seed: int = 0) -> float:
        r"""Estimate the Lipschitz constant of :math:`x \mapsto \nabla f(\mathcal A x)`.

        :math:`L_f\|\mathcal A\|_2^2` with the Lipschitz constant :math:`L_f` of
        the loss's gradient (:meth:`Loss.lipschitz`, :math:`\kappa/n` for a
        mean loss of curvature ``κ``) and the operator norm from power
        iteration (an estimate from below; the solver's line search corrects
        it).
        """
        generator = torch.Generator().manual_seed(seed)
        vector = torch.randn(self.shape, generator=generator, dtype=torch.float64)
        vector = vector.to(device=self.operator.device, dtype=self.operator.dtype)
        squared_norm = 0.0
        for _ in range(n_iter):
            norm = torch.linalg.vector_norm(vector)
            if norm == 0:
                break
            vector = self.rmatvec(self.matvec(vector / norm))
            squared_norm = float(torch.linalg.vector_norm(vector))
        return self.loss.lipschitz() * squared_norm

    def free_blocks(self) -> torch.Tensor:
        """Boolean mask of the unpenalised blocks (weight 0)."""
        weights = self.penalty.weights
        if weights is None:
            return torch.zeros(
                self.n_blocks, dtype=torch.bool, device=self.operator.device
            )
        return weights == 0

    def certificate(
        self, x: torch.Tensor, Z: torch.Tensor, *, exact: bool
    ) -> Certificate:
        r"""Duality gap at ``x`` (outputs ``Z``).

        The gradient :math:`\Theta = \nabla f(Z)` is scaled into the
        dual-feasible set :math:`\{\Omega^*(A^\top\Theta)\le\alpha\}`; its
        dual objective :math:`-f^*(s\Theta)` is a lower bound on the optimum
        when :math:`\Theta` also meets the dual constraints of the free
        coordinates (the intercept and the unpenalised blocks), that is when
        they are optimal at ``x``: ``exact`` says whether they are. Otherwise
        no bound is claimed (``dual = -inf``). Solvers certify polished points
        (:func:`convexnn.solvers.polish.polished_certificate`), whose free
        coordinates are fitted exactly and whose gap closes at the speed of
        the primal objective.

        A lower-precision problem is certified on its float64 copy
        (:meth:`certifying_problem`): ``x`` is converted (exactly) and its
        outputs are computed anew there, so that ``primal`` is the float64
        objective of ``x`` itself and ``dual`` carries no float32 rounding of
        the products; ``Z`` is returned as given.
        """
        certifying = self.certifying_problem()
        if certifying is not self:
            x_full = x.to(certifying.operator.dtype)
            full = certifying.certificate(
                x_full, certifying.matvec(x_full), exact=exact
            )
            return Certificate(
                x, Z, full.primal, full.dual, full.violations.to(x.dtype)
            )
        Theta = self.loss.gradient(Z)
        dual, violations = self.scaled_dual(Theta, self.operator.rmatvec(Theta))
        return Certificate(
            x=x,
            Z=Z,
            primal=self.objective(x, Z),
            dual=dual if exact else -math.inf,
            violations=violations,
            precision=self.operator.dtype,
        )

    def scaled_dual(
        self, Theta: torch.Tensor, scores: torch.Tensor
    ) -> tuple[float, torch.Tensor]:
        r"""The dual objective :math:`-f^*(s\Theta)` of a scaled gradient
        ``Theta``, with the largest :math:`s \le 1` that makes
        :math:`\Omega^*(s\,\text{scores}) \le \alpha`, and each block's
        dual-constraint value at :math:`s\Theta` relative to its bound.
        ``scores`` is what the dual constraint bounds: :math:`A^\top\Theta`
        (up to sign), less the constraints' part in a constrained problem. The
        dual objective bounds the optimum from below when the unpenalised
        coordinates' constraints (:math:`\mathbf 1^\top\Theta = 0`) hold."""
        dual_norms = self.penalty.block_dual_norms(scores)
        dual_norm = float(dual_norms.max()) if dual_norms.numel() else 0.0
        scale = 1.0 if dual_norm <= self.alpha else self.alpha / dual_norm
        return -self.loss.conjugate(scale * Theta), dual_norms * (scale / self.alpha)
