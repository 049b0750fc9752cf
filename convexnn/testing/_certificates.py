r"""Checking that a fit's certificate says what ``converged_`` claims.

The certificate is recomputed here, in NumPy and float64, from the fitted
attributes and the training data alone (:mod:`._formulas` writes the outputs
and penalties out): neither the solver's operators nor its certificate code
are used, so a model whose ``dual_gap_`` or KKT residuals were misreported is
caught.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._backend import Backend
from ..estimators._base import check_sample_weight
from ._formulas import (
    _uniform,
    convex_objective,
    convex_outputs,
    fitted_alpha,
    formula_kind,
    lifted_masks,
    loss_conjugate,
    loss_gradient,
    training_targets,
)

KKT_RESIDUALS = ("stationarity_", "constraint_violation_", "complementarity_")
"""The convex ReLU estimators' relative KKT residuals."""

TINY = 1e-300
ROUNDING = float(np.finfo(np.float64).eps)
"""Relative rounding error of a float64 objective: no smaller gap is certified."""

SLACK = {np.float64: 1e-12, np.float32: 1e-5}
"""What a recomputed measure may exceed ``tol`` by, per solver precision: the
float64 recomputation differs from the solver's by the solver's rounding."""


def _certificate(estimator) -> dict[str, float]:
    """The relative optimality measures ``converged_`` is about, by attribute name."""
    if hasattr(estimator, KKT_RESIDUALS[0]):
        return {name: float(getattr(estimator, name)) for name in KKT_RESIDUALS}
    return {"dual_gap_": float(estimator.dual_gap_)}


def _precision(estimator) -> type:
    """``np.float32`` or ``np.float64``: the precision the estimator was solved in."""
    try:
        backend = Backend.from_params(
            getattr(estimator, "device", "cpu"), getattr(estimator, "dtype", None)
        )
    except (ValueError, TypeError, RuntimeError):
        return np.float64
    return np.float32 if str(backend.dtype) == "torch.float32" else np.float64


def _free_columns(estimator, X: np.ndarray) -> np.ndarray:
    """The columns whose coefficients are unpenalised: ``1`` (the intercept)
    and, for the Lasso, the features with penalty factor 0."""
    n = len(X)
    columns = []
    if getattr(estimator, "fit_intercept", True):
        columns.append(np.ones((n, 1)))
    if formula_kind(estimator) == "lasso":
        factors = np.asarray(estimator.penalty_factors_, dtype=np.float64)
        columns.append(X[:, factors == 0])
    return np.hstack(columns) if columns else np.zeros((n, 0))


def _without_zero_weights(X: ArrayLike, y: ArrayLike, sample_weight):
    """``X``, ``y`` and ``sample_weight`` without the samples of weight zero,
    which ``fit`` leaves out too (a convex ReLU fit has no constraints or
    multipliers for them)."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    sample_weight = check_sample_weight(sample_weight, X)
    if sample_weight is None:
        return X, y, None
    keep = sample_weight > 0
    return X[keep], y[keep], sample_weight[keep]


def _into_domain(Theta, Y: np.ndarray, loss: str, free: np.ndarray, weights=None):
    """``Θ`` moved into the conjugate's domain keeping the free conditions,
    or ``None`` when this is not possible here.

    ``Q = Θ/w + Y`` is mixed with the weighted class frequencies ``Ȳ`` (the
    dual point ``w(Ȳ − Y)``, which meets the intercept condition) by the least
    weight that puts ``Q`` in ``[0, 1]``; with unpenalised features that point
    does not meet their conditions, and ``None`` is returned.
    """
    weights = _uniform(weights, len(Theta))
    Q = Theta / weights[:, None] + Y
    if loss == "squared" or (Q.min() >= 0 and Q.max() <= 1):
        return Theta
    if free.shape[1] > 1:
        return None
    Ybar = np.broadcast_to(np.average(Y, axis=0, weights=weights), Q.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(Q < 0, -Q / (Ybar - Q), 0.0)
        high = np.where(Q > 1, (Q - 1) / (Q - Ybar), 0.0)
    weight = float(max(low.max(), high.max()))
    if not 0 <= weight < 1:
        return None
    return ((1 - weight) * Q + weight * Ybar - Y) * weights[:, None]


def _dual_norm(estimator, X: np.ndarray, Theta: np.ndarray) -> float:
    r""":math:`\Omega^*(A^\top\Theta)` over the penalised blocks."""
    if formula_kind(estimator) == "lasso":
        factors = np.asarray(estimator.penalty_factors_, dtype=np.float64)
        scores = np.abs(X.T @ Theta).max(axis=1)  # (p,)
        penalised = (factors > 0) & np.isfinite(factors)
        if not penalised.any():
            return 0.0
        return float((scores[penalised] / factors[penalised]).max())
    X_lifted, masks = lifted_masks(estimator, X)
    blocks = np.einsum(
        "nd,np,nc->pdc", X_lifted, masks, Theta, optimize=True
    )  # (D_i X̃)ᵀΘ
    order = 2 if estimator.group_norm == "nuclear" else "fro"
    return float(np.linalg.norm(blocks, ord=order, axis=(1, 2)).max())


def duality_gap(
    estimator, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
) -> tuple[float, str]:
    r"""The relative duality gap of a gated ReLU or weighted Lasso fit,
    recomputed from its fitted attributes, and a note on its dual point.

    :math:`\Theta = \nabla f(Z)` at the fitted outputs, projected onto the
    conditions of the unpenalised coordinates (:math:`F^\top\Theta = 0` for
    the columns :math:`F` of the intercept and the unpenalised features),
    moved into the conjugate's domain when needed, and scaled by
    :math:`s = \min(1, \alpha/\Omega^*(A^\top\Theta))`: the gap is
    :math:`\max(P + f^*(s\Theta), \varepsilon P) / P` with :math:`P` the
    recomputed objective (``inf`` when no dual point is found).
    """
    X, y, sample_weight = _without_zero_weights(X, y, sample_weight)
    Y, loss, weights = training_targets(estimator, y, sample_weight)
    Z = convex_outputs(estimator, X)
    Theta = loss_gradient(Z, Y, loss, weights)
    free = _free_columns(estimator, X)
    note = ""
    if free.shape[1]:
        residual = free.T @ Theta
        scale = np.outer(np.linalg.norm(free, axis=0), np.linalg.norm(Theta, axis=0))
        scale = scale + TINY  # Cauchy-Schwarz: |F_jᵀΘ_k| ≤ ‖F_j‖‖Θ_k‖
        violation = float((np.abs(residual) / scale).max())
        note = (
            f"; the unpenalised coordinates (intercept, features with penalty "
            f"factor 0) are not optimal: relative |Fᵀ∇f| up to {violation:.3g}"
            if violation > 1e-6
            else ""
        )
        Theta = Theta - free @ np.linalg.lstsq(free, Theta, rcond=None)[0]
    Theta = _into_domain(Theta, Y, loss, free, weights)
    primal = convex_objective(estimator, X, y, sample_weight)
    if Theta is None:
        return np.inf, note + "; no dual point in the conjugate's domain"
    dual_norm = _dual_norm(estimator, X, Theta)
    alpha = fitted_alpha(estimator)
    scale = 1.0 if dual_norm <= alpha else alpha / dual_norm
    dual = -loss_conjugate(scale * Theta, Y, loss, weights)
    gap = max(primal - dual, ROUNDING * abs(primal))
    return gap / max(abs(primal), TINY), note


def _require_multipliers(estimator) -> None:
    """Raise ``ValueError`` unless ``estimator`` kept its solver's multipliers."""
    if not hasattr(estimator, "multipliers_"):
        raise ValueError(
            f"{type(estimator).__name__} was fitted without the solver's "
            "multipliers, from which its KKT residuals are recomputed: fit it "
            "with keep_multipliers=True."
        )


def _pruned(estimator) -> bool:
    """Whether a convex ReLU model was pruned after fitting: it keeps the
    residuals of the fit before pruning, which are read back."""
    return bool(getattr(estimator, "n_neurons_removed_", 0))


def kkt_residuals(
    estimator, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
) -> dict[str, float]:
    r"""The relative KKT residuals of a convex ReLU fit, recomputed from
    ``coef_``, ``gates_``, ``intercept_`` and ``multipliers_`` (kept by a fit
    with ``keep_multipliers=True``; a ``ValueError`` says so otherwise).

    With :math:`S_i = 2D_i - I`, the constraint values
    :math:`c_{ik} = S_i\tilde Xv_{ik}` (and likewise for :math:`w_{ik}`), the
    multipliers :math:`\lambda_{ik}` and :math:`\Theta = \nabla f(Z)`:

    * ``constraint_violation_`` :math:`= \max(-c)_+ / \max|c|`;
    * ``complementarity_`` :math:`= \sum\lambda|c| / P`;
    * ``stationarity_``: the largest distance of
      :math:`g_{ik} = \tilde X^\top(S_i\lambda_{ik} \mp D_i\Theta_k)` (``−`` for
      :math:`v`, ``+`` for :math:`w`) to :math:`\alpha\partial\|\cdot\|` at the
      block, divided by :math:`\alpha`.
    """
    _require_multipliers(estimator)
    X, y, sample_weight = _without_zero_weights(X, y, sample_weight)
    Y, loss, weights = training_targets(estimator, y, sample_weight)
    Theta = loss_gradient(convex_outputs(estimator, X), Y, loss, weights)
    primal = convex_objective(estimator, X, y, sample_weight)
    X_lifted, masks = lifted_masks(estimator, X)
    signs = 2 * masks - 1
    coef = np.asarray(estimator.coef_, dtype=np.float64)  # (2, P, d, c)
    multipliers = np.asarray(estimator.multipliers_, dtype=np.float64)  # (2, P, n, c)
    constrained = np.einsum("np,nd,jpdc->jpnc", signs, X_lifted, coef, optimize=True)
    scale = float(np.abs(constrained).max()) if constrained.size else 0.0
    worst = float(np.maximum(-constrained, 0).max()) if constrained.size else 0.0
    gradient_part = np.einsum("nd,np,nc->pdc", X_lifted, masks, Theta, optimize=True)
    directions = np.einsum(
        "nd,np,jpnc->jpdc", X_lifted, signs, multipliers, optimize=True
    )
    directions = directions + np.stack([-gradient_part, gradient_part])
    alpha = fitted_alpha(estimator)
    norms = np.linalg.norm(coef, axis=2, keepdims=True)  # (2, P, 1, c)
    aligned = alpha * coef / np.where(norms > 0, norms, 1.0)
    distance = np.where(
        norms[:, :, 0] > 0,
        np.linalg.norm(directions - aligned, axis=2),
        np.maximum(np.linalg.norm(directions, axis=2) - alpha, 0.0),
    )
    return {
        "stationarity_": float(distance.max()) / alpha if distance.size else 0.0,
        "constraint_violation_": worst / max(scale, TINY),
        "complementarity_": float((multipliers * np.abs(constrained)).sum())
        / max(abs(primal), TINY),
    }


def recomputed_certificate(
    estimator, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
) -> tuple[dict[str, float], str]:
    """The measures of :func:`_certificate`, recomputed (and a note on the
    dual point): pruned convex ReLU models keep the residuals of the fit
    before pruning, which are read back."""
    if formula_kind(estimator) != "cone":
        gap, note = duality_gap(estimator, X, y, sample_weight)
        return {"dual_gap_": gap}, note
    if _pruned(estimator):
        return _certificate(estimator), "; read back (pruned model)"
    return kkt_residuals(estimator, X, y, sample_weight), ""


def assert_certified(
    estimator: BaseEstimator,
    X: ArrayLike,
    y: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    rtol: float = 1e-8,
) -> None:
    r"""Assert that a fitted convex estimator's certificate is honest.

    The certificate is recomputed from the fitted attributes and the training
    data, in NumPy and float64, independently of the solver:

    * gated ReLU and weighted Lasso, :math:`\min_{W,b} P(W, b) =
      f(AW + \mathbf 1b^\top) + \alpha\Omega(W)` with the weighted mean
      loss :math:`f(Z) = \sum_i w_i\ell(z_i, y_i)`, :math:`w_i = s_i /
      \sum_j s_j` for the sample weights ``s`` (times a classifier's
      ``class_weight``; :math:`1/n` without): the dual point is the
      gradient of the loss at the fitted outputs :math:`Z`,
      :math:`\Theta = \nabla f(Z)` (rows :math:`w_i(z_i - y_i)` for the
      squared loss, :math:`w_i(\sigma(z_i) - y_i)` logistic,
      :math:`w_i(\operatorname{softmax}(z_i) - y_i)` multinomial). It is
      projected onto the conditions of the
      unpenalised coordinates, :math:`F^\top\Theta = 0` for the columns
      :math:`F` of the intercept (:math:`\mathbf 1`) and of the Lasso's
      features with penalty factor 0 (for the logistic and multinomial losses
      it is then mixed, if needed, with the rows :math:`w_i(\bar y - y_i)`,
      :math:`\bar y` the weighted class frequencies, to keep
      :math:`q_i = \theta_i/w_i + y_i` in :math:`[0, 1]`), and scaled by
      :math:`s = \min(1, \alpha/\Omega^*(A^\top\Theta))`, where
      :math:`\Omega^*` is the largest over the penalised blocks of the dual
      norm: :math:`\|(D_i\tilde X)^\top\Theta\|_2` (spectral) for the nuclear
      group norm, :math:`\|\cdot\|_F` for ``"frobenius"`` (both Euclidean
      for one output), :math:`\max_k|x_j^\top\Theta_k| / w_j` for the Lasso
      (features with :math:`w_j = \infty` are excluded). The dual objective
      :math:`D = -f^*(s\Theta)` uses
      :math:`f^*(\Theta) = \sum_i \|\theta_i\|^2/(2w_i) + \langle\Theta,
      Y\rangle` (squared; :math:`\frac n2\|\Theta\|_F^2 + \langle\Theta,
      Y\rangle` without weights) and :math:`f^*(\Theta) = \sum_i w_i
      h(q_i)` with :math:`h(q) = q\log q + (1 - q)\log(1 - q)` (logistic)
      or :math:`h(q) = \sum_k q_k\log q_k` (multinomial), and the relative
      gap is
      :math:`\max(P - D, \varepsilon P) / P` with :math:`P` the recomputed
      objective and :math:`\varepsilon` the float64 rounding error.
    * convex ReLU: the KKT residuals, from ``coef_``, ``gates_``,
      ``intercept_`` and the solver's multipliers ``multipliers_``
      :math:`\Lambda\ge0` (read back: they are the certificate's witness,
      kept by a fit with ``keep_multipliers=True``),
      with :math:`c = (2D_i - I)\tilde Xv_{ik}` for every block (and likewise
      :math:`w_{ik}`): the constraint violation
      :math:`\max(-c)_+ / \max|c|`, the complementary slackness
      :math:`\sum\Lambda|c| / P`, and the stationarity
      :math:`\max \operatorname{dist}(g, \alpha\partial\|\cdot\|) / \alpha` of
      :math:`g = \tilde X^\top((2D_i - I)\lambda_{ik} \mp D_i\Theta_k)`.
      A model pruned after fitting (``n_neurons_removed_ > 0``) keeps the
      residuals of the fit before pruning, which are read back.
      The intercept's condition :math:`\mathbf 1^\top\Theta = 0` is not
      part of these residuals.

    Then:

    1. every reported measure (``dual_gap_``, or ``stationarity_``,
       ``constraint_violation_``, ``complementarity_``) is nonnegative, and
       ``converged_`` implies that each reported measure is within ``tol``
       and that each recomputed one is within ``tol`` plus the rounding slack
       of the solver's precision (``1e-12`` for float64 fits, ``1e-5`` for
       float32 ones);
    2. a convex ReLU model's ``lower_bound_`` (a dual objective) is not above
       ``objective_``;
    3. ``objective_`` equals the objective recomputed on the training data from
       the fitted attributes (:func:`convex_objective`) up to ``rtol``, so the
       certificate is about the model that was returned.

    Parameters
    ----------
    estimator : fitted gated ReLU, convex ReLU or weighted Lasso estimator
    X, y : array-like
        The training data.
    sample_weight : array-like of shape (n_samples,), optional
        The weights passed to ``fit``; the certificate is recomputed for the
        weighted objective, the samples of weight zero left out as ``fit``
        leaves them out.
    rtol : float, default=1e-8
        Relative tolerance of check 3.

    Raises
    ------
    AssertionError
        Naming the measure, its value and ``tol``, or both objectives.
    ValueError
        For a convex ReLU model fitted without ``keep_multipliers=True`` (and
        not pruned since).
    """
    check_is_fitted(estimator)
    if formula_kind(estimator) == "cone" and not _pruned(estimator):
        _require_multipliers(estimator)
    name = type(estimator).__name__
    measures = _certificate(estimator)
    negative = {key: value for key, value in measures.items() if not value >= 0}
    if negative:
        raise AssertionError(f"{name} reports negative (or NaN) measures {negative}.")
    if estimator.converged_:
        above = {key: v for key, v in measures.items() if v > estimator.tol}
        if above:
            raise AssertionError(
                f"{name} reports converged_=True but {above} exceed "
                f"tol={estimator.tol:g}."
            )
    lower_bound = getattr(estimator, "lower_bound_", -np.inf)
    if lower_bound > estimator.objective_ * (1 + rtol):
        raise AssertionError(
            f"{name}'s certified lower bound lower_bound_ = {lower_bound:.12g} is "
            f"above its objective_ = {estimator.objective_:.12g}."
        )
    recomputed = convex_objective(estimator, X, y, sample_weight)
    reported = estimator.objective_
    assert_relatively_close(
        recomputed,
        reported,
        rtol,
        f"{name}.objective_ = {reported:.12g} but the objective of its fitted "
        f"attributes on the training data is {recomputed:.12g}",
    )
    if estimator.converged_:
        measured, note = recomputed_certificate(estimator, X, y, sample_weight)
        limit = estimator.tol + SLACK[_precision(estimator)]
        above = {key: v for key, v in measured.items() if not v <= limit}
        if above:
            raise AssertionError(
                f"{name} reports converged_=True ({measures}) but the certificate "
                f"recomputed from its fitted attributes is {above}, above "
                f"tol={estimator.tol:g}{note}."
            )


def assert_relatively_close(
    value: float, reference: float, rtol: float, statement: str
) -> None:
    """Raise ``AssertionError("<statement>; relative difference … > rtol")``
    unless ``|value - reference| ≤ rtol · |reference|`` (scaled by the
    reference, so an infinite ``value`` fails)."""
    if not abs(value - reference) <= rtol * abs(reference):
        raise AssertionError(
            f"{statement}; relative difference "
            f"{abs(value - reference) / abs(reference):.3g} > rtol={rtol:g}."
        )
