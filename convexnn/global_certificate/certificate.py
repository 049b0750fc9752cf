r"""The global certificate: a fit against every activation pattern of its data.

Let :math:`\Theta = \nabla f(Z)` at the fit's outputs ``Z`` (intercept made
optimal, :func:`~convexnn.global_certificate.dual.dual_point`) and
:math:`\rho = \max_D \rho_D(\Theta)` the largest violation ratio over *all*
activation patterns. Since each :math:`\rho_D` is a norm of
:math:`\Theta`, the scaled point :math:`\Theta/\max(1, \rho)` satisfies every
dual constraint, and weak duality gives

.. math::
    L = -f^*\bigl(\Theta/\max(1, \rho)\bigr) \;\le\; \min P_{\text{all patterns}}
    \;\le\; P(\text{fit}),

so ``global_gap = P(fit) − L`` bounds how far the fit is from the optimum of
the whole network. Conversely a pattern with :math:`\rho_D > 1` proves the fit
is *not* that optimum: a small block on that pattern along the top singular
direction of :math:`-(D\tilde X)^\top\Theta` (or the cone's maximiser) has
directional derivative :math:`\alpha(1 - \rho_D) < 0`.

The lower bound is certified when the search over patterns is exhaustive
(``exact``); after a heuristic search :math:`\rho` may be underestimated and
``L`` is only what the bound would be if no pattern was missed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..patterns import activation_patterns
from ..problems import LOSSES
from ..problems._problem import ROUNDING, TINY
from .dual import cone_ratios, dual_point, gated_ratios
from .search import exhaustive_gates, heuristic_gates, unique_patterns

SEARCHES = ("auto", "exact", "heuristic")


@dataclass(frozen=True)
class GlobalCertificate:
    r"""How close a fit is to the optimum over all activation patterns.

    Attributes
    ----------
    primal : float
        The fit's objective on the given data: an upper bound on the optimum
        of the whole network (for convex ReLU, the objective of the converted
        ReLU network, which is feasible whatever the solver's accuracy).
    lower_bound : float
        :math:`-f^*(\Theta/\max(1, \rho))`, a lower bound on the optimum over
        all patterns when ``exact``.
    sampled_lower_bound : float
        The same with :math:`\rho` over the fit's own patterns only: a lower
        bound on the optimum over those patterns.
    max_violation : float
        :math:`\rho`, the largest ratio :math:`\rho_D(\Theta)` of the dual
        constraint over the patterns searched (the fit's own patterns
        included); at most 1 means no pattern violates it.
    sampled_violation : float
        The largest ratio over the fit's own patterns (about 1 at an optimum).
    exact : bool
        Whether every pattern of the data was searched (so ``max_violation``
        and ``lower_bound`` are certified) rather than a heuristic sample.
    n_patterns_searched : int
        Distinct nonempty patterns whose ratio was evaluated.
    violating_gates : ndarray of shape (m, d̃)
        One gate per pattern outside the fit's own with ratio above 1, most
        violated first.
    violations : ndarray of shape (m,)
        Their ratios.
    """

    primal: float
    lower_bound: float
    sampled_lower_bound: float
    max_violation: float
    sampled_violation: float
    exact: bool
    n_patterns_searched: int
    violating_gates: np.ndarray = field(repr=False)
    violations: np.ndarray = field(repr=False)

    @property
    def global_gap(self) -> float:
        """``primal − lower_bound``, never below the float64 rounding of the
        objectives."""
        return max(self.primal - self.lower_bound, ROUNDING * abs(self.primal))

    @property
    def relative_global_gap(self) -> float:
        """``global_gap / primal``, comparable with an estimator's ``tol``."""
        return self.global_gap / max(abs(self.primal), TINY)

    def certifies(self, tol: float) -> bool:
        """Whether the fit is proved within ``tol`` (relative) of the optimum
        of the whole network: an exhaustive search and a small enough gap."""
        return self.exact and self.relative_global_gap <= tol


def certify_patterns(
    X_lifted: np.ndarray,
    Z: np.ndarray,
    Y: np.ndarray,
    *,
    loss: str,
    alpha: float,
    fit_intercept: bool,
    primal: float,
    fitted_gates: np.ndarray,
    formulation: str,
    group_norm: str = "nuclear",
    sample_weight: np.ndarray | None = None,
    search: str = "auto",
    max_candidates: int = 1_000_000,
    n_random: int = 2000,
    random_state=None,
) -> GlobalCertificate:
    """Search the patterns of ``X_lifted`` for violations of the fit's dual point.

    Parameters
    ----------
    X_lifted : ndarray of shape (n_samples, d̃)
        The lifted training data.
    Z : ndarray of shape (n_samples, n_outputs)
        The fit's outputs on it.
    Y : ndarray of shape (n_samples, n_outputs)
        The encoded targets.
    loss : str
        The loss name.
    alpha : float
        Regularisation strength.
    fit_intercept : bool
        Whether an unpenalised intercept is fitted.
    primal : float
        The fit's objective.
    fitted_gates : ndarray of shape (P, d̃)
        The fit's gates.
    formulation : {"gated", "cone"}
        Gated ReLU (group lasso) or convex ReLU (cone-constrained) dual.
    group_norm : {"nuclear", "frobenius"}
        The gated block norm.
    sample_weight : ndarray of shape (n_samples,), optional
        The weights of the fit's data term (default: the plain mean).
    search : {"auto", "exact", "heuristic"}
        ``"exact"`` enumerates every pattern (an error when too many or the
        data are degenerate), ``"heuristic"`` searches
        (:func:`~convexnn.global_certificate.search.heuristic_gates`),
        ``"auto"`` enumerates when at most ``max_candidates`` candidate gates
        suffice and searches otherwise.
    max_candidates : int
        Largest enumeration attempted.
    n_random : int
        Random gates of the heuristic search.
    random_state : int, RandomState instance or None
        Seeds the heuristic search.

    Returns
    -------
    GlobalCertificate
    """
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}; got {search!r}.")
    Theta, _ = dual_point(Z, Y, loss, fit_intercept, sample_weight)

    def score(gates: np.ndarray) -> np.ndarray:
        if formulation == "gated":
            return gated_ratios(X_lifted, gates, Theta, alpha, group_norm)
        # the gated ratio bounds the cone ratio: cheap and good enough to rank
        return gated_ratios(X_lifted, gates, Theta, alpha, "frobenius")

    exact = False
    enumerated = (
        None if search == "heuristic" else exhaustive_gates(X_lifted, max_candidates)
    )
    if enumerated is not None:
        gates, exact = enumerated
    if search == "exact" and not exact:
        raise ValueError(
            "the activation patterns of X cannot be enumerated exactly: "
            "too many candidate gates (more than max_candidates="
            f"{max_candidates}), rows not spanning R^d̃, or hyperplanes not in "
            "general position; use search='heuristic'."
        )
    if not exact:  # degenerate enumerations still contribute their patterns
        searched = heuristic_gates(
            X_lifted,
            Theta,
            fitted_gates,
            score,
            crossing=formulation == "gated",
            n_random=n_random,
            random_state=random_state,
        )
        gates = searched if enumerated is None else np.concatenate([gates, searched])
    gates = unique_patterns(X_lifted, np.concatenate([fitted_gates, gates]))

    data_loss = LOSSES[loss](
        torch.from_numpy(np.asarray(Y, dtype=np.float64)), sample_weight
    )
    return _certificate(
        X_lifted,
        gates,
        fitted_gates,
        Theta,
        data_loss,
        alpha,
        primal,
        exact,
        formulation,
        group_norm,
    )


def _certificate(
    X_lifted,
    gates,
    fitted_gates,
    Theta,
    data_loss,
    alpha,
    primal,
    exact,
    formulation,
    group_norm,
) -> GlobalCertificate:
    """The certificate of the dual point ``Theta`` over the searched ``gates``
    and over the fit's own: the largest dual ratios, the violating new
    patterns worst first, and the lower bounds of the scaled dual point."""
    if formulation == "gated":
        ratios = gated_ratios(X_lifted, gates, Theta, alpha, group_norm)
        own = gated_ratios(X_lifted, fitted_gates, Theta, alpha, group_norm)
    else:
        ratios = cone_ratios(X_lifted, gates, Theta, alpha)
        own = cone_ratios(X_lifted, fitted_gates, Theta, alpha)
    rho = float(ratios.max(initial=0.0))
    rho_own = float(own.max(initial=0.0))

    new = ~_is_fitted_pattern(X_lifted, gates, fitted_gates)
    order = np.argsort(-ratios)
    order = order[(ratios[order] > 1) & new[order]]

    Theta_tensor = torch.from_numpy(Theta)
    return GlobalCertificate(
        primal=float(primal),
        lower_bound=-data_loss.conjugate(Theta_tensor / max(1.0, rho)),
        sampled_lower_bound=-data_loss.conjugate(Theta_tensor / max(1.0, rho_own)),
        max_violation=rho,
        sampled_violation=rho_own,
        exact=exact,
        n_patterns_searched=len(gates),
        violating_gates=gates[order],
        violations=ratios[order],
    )


def _is_fitted_pattern(
    X_lifted: np.ndarray, gates: np.ndarray, fitted_gates: np.ndarray
) -> np.ndarray:
    """Whether each gate's pattern is one of the fitted gates' patterns."""
    known = {
        column.tobytes() for column in activation_patterns(X_lifted, fitted_gates).T
    }
    patterns = activation_patterns(X_lifted, gates).T
    return np.array([column.tobytes() in known for column in patterns], dtype=bool)
