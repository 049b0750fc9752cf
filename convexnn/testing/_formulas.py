r"""The convex models' formulas, written out in NumPy from their fitted attributes.

The assertions of :mod:`convexnn.testing` compare what an estimator reports
(``objective_``, ``to_torch()``) with these formulas, which use neither the
solver's operators nor the estimator's own prediction code:

* gated ReLU: outputs
  :math:`\sum_i D_i\tilde XU_i + \mathbf 1b^\top`, penalty
  :math:`\sum_i\|U_i\|` (nuclear or Frobenius norm);
* convex ReLU (§3.2): outputs :math:`\sum_i D_i\tilde X(v_i - w_i) + \mathbf 1b^\top`,
  penalty :math:`\sum_i\|v_i\| + \|w_i\|` (per output column);
* weighted Lasso (§3.4): outputs :math:`X\beta + \mathbf 1b^\top`, penalty
  :math:`\sum_j w_j\sum_k|\beta_{jk}|`,

with :math:`D_i = \operatorname{diag}(\mathbf 1[\tilde Xg_i > 0])` and the
(weighted) mean losses every estimator shares: :math:`f(Z) = \sum_i
w_i\,\ell(z_i, y_i)` with :math:`w_i = s_i/\sum_j s_j` for sample weights
``s`` (times the class weights of a classifier), :math:`1/n` without.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, logsumexp, softmax, xlogy
from sklearn.base import BaseEstimator

from ..estimators._base import check_sample_weight, encode_labels, weigh_classes
from ..patterns import lift


def formula_kind(estimator) -> str:
    """``"gated"``, ``"cone"`` or ``"lasso"``: which formula ``estimator`` fits."""
    if hasattr(estimator, "gates_") and hasattr(estimator, "coef_"):
        return "gated" if np.ndim(estimator.coef_) == 3 else "cone"
    if hasattr(estimator, "penalty_factors_"):
        return "lasso"
    raise TypeError(
        f"convexnn.testing knows the formulas of the gated ReLU, convex ReLU and "
        f"weighted Lasso estimators; got {type(estimator).__name__}."
    )


def fitted_alpha(estimator) -> float:
    """The ``alpha`` a fitted ``estimator`` solved for: its ``alpha_`` when
    cross-validation chose it, else its ``alpha`` parameter."""
    return float(getattr(estimator, "alpha_", None) or estimator.alpha)


def training_targets(
    estimator: BaseEstimator, y: ArrayLike, sample_weight: ArrayLike | None = None
) -> tuple[np.ndarray, str, np.ndarray]:
    """The targets ``Y`` (n, c), the loss name and the weights ``w`` (n,) of the
    data term a fitted ``estimator`` solved for.

    Regressors fit ``y`` itself with the squared loss; classifiers code their
    labels as the estimators do, with the loss in ``loss_``, and multiply
    ``sample_weight`` by their ``class_weight``. The weights are normalised to
    sum to one (``1/n`` each without ``sample_weight`` or ``class_weight``).
    """
    y = np.asarray(y)
    weights = check_sample_weight(sample_weight, y.reshape(len(y), -1))
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        Y, loss = y.reshape(len(y), -1).astype(np.float64), "squared"
    else:
        labels = np.searchsorted(classes, y)
        labels = np.minimum(labels, len(classes) - 1)
        if not np.array_equal(classes[labels], y):
            raise ValueError(
                "y contains labels that are not in the estimator's classes_."
            )
        loss = estimator.loss_
        weights = weigh_classes(
            getattr(estimator, "class_weight", None), y, labels, weights
        )
        Y = encode_labels(labels, len(classes), loss)
    if weights is None:
        weights = np.ones(len(Y))
    return Y, loss, weights / weights.sum()


def mean_loss(Z: np.ndarray, Y: np.ndarray, loss: str, weights=None) -> float:
    r"""The (weighted) mean data term :math:`f(Z, Y) = \sum_i w_i\ell(z_i, y_i)`
    every estimator uses, with the weights ``w`` summing to one (default
    ``1/n`` each).

    ``"squared"``: :math:`\ell = \frac12\|z - y\|^2`; ``"logistic"``:
    :math:`\log(1 + e^z) - yz`; ``"multinomial"``:
    :math:`\operatorname{logsumexp}(z) - y^\top z`.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if loss == "squared":
        losses = 0.5 * ((Z - Y) ** 2).sum(axis=1)
    elif loss == "logistic":
        losses = (np.logaddexp(0.0, Z) - Y * Z).sum(axis=1)
    elif loss == "multinomial":
        losses = logsumexp(Z, axis=1) - (Y * Z).sum(axis=1)
    else:
        raise ValueError(f"unknown loss {loss!r}.")
    return float(np.average(losses, weights=weights))


def _uniform(weights, n: int) -> np.ndarray:
    """``weights``, or ``1/n`` each when ``None``."""
    return np.full(n, 1.0 / n) if weights is None else weights


def loss_gradient(Z: np.ndarray, Y: np.ndarray, loss: str, weights=None) -> np.ndarray:
    r"""The gradient :math:`\nabla f(Z)` of the weighted mean loss (weights
    ``w`` summing to one, default ``1/n`` each), shape of ``Z``:
    :math:`w_i(z_i - y_i)` (squared),
    :math:`w_i(\sigma(z_i) - y_i)` (logistic) or
    :math:`w_i(\operatorname{softmax}(z_i) - y_i)` (multinomial)."""
    if loss == "squared":
        residual = Z - Y
    elif loss == "logistic":
        residual = expit(Z) - Y
    elif loss == "multinomial":
        residual = softmax(Z, axis=1) - Y
    else:
        raise ValueError(f"unknown loss {loss!r}.")
    return _uniform(weights, len(Z))[:, None] * residual


def loss_conjugate(Theta: np.ndarray, Y: np.ndarray, loss: str, weights=None) -> float:
    r"""The conjugate :math:`f^*(\Theta) = \sum_i w_i\ell^*(\theta_i/w_i)` of
    the weighted mean loss (positive weights ``w`` summing to one, default
    ``1/n`` each).

    Squared: :math:`\sum_i \|\theta_i\|^2/(2w_i) + \langle\Theta, Y\rangle`;
    logistic: :math:`\sum_i w_i\,(q_i\log q_i + (1-q_i)\log(1-q_i))`;
    multinomial: :math:`\sum_i w_i\sum_k q_{ik}\log q_{ik}`, with
    :math:`q_i = \theta_i/w_i + y_i`, which must lie in :math:`[0, 1]` (rows
    in the simplex for the multinomial loss).
    """
    weights = _uniform(weights, len(Theta))
    if loss == "squared":
        return 0.5 * float((Theta**2 / weights[:, None]).sum()) + float(
            (Theta * Y).sum()
        )
    Q = np.clip(Theta / weights[:, None] + Y, 0.0, 1.0)  # only rounding is clipped
    entropy = xlogy(Q, Q)
    if loss == "logistic":
        entropy = entropy + xlogy(1 - Q, 1 - Q)
    return float(weights @ entropy.sum(axis=1))


def lifted_masks(estimator: BaseEstimator, X: ArrayLike):
    """``X̃`` (``X`` with the hidden bias column where the model has one) and
    the activation patterns ``1[X̃ g_i > 0]`` of the model's gates, ``(n, P)``."""
    X_lifted = lift(np.asarray(X, dtype=np.float64), estimator.hidden_bias)
    return X_lifted, (X_lifted @ estimator.gates_.T > 0).astype(np.float64)


def convex_outputs(estimator: BaseEstimator, X: ArrayLike) -> np.ndarray:
    """The convex model's outputs ``(n_samples, n_outputs)`` from its fitted attributes.

    For convex ReLU models these are the outputs of the convex formula, which
    equal the network's (and the predictions') where the cone constraints hold,
    that is on the training data.

    Parameters
    ----------
    estimator : fitted gated ReLU, convex ReLU or weighted Lasso estimator
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    outputs : ndarray of shape (n_samples, n_outputs)
        Raw outputs: predictions of a regressor, scores (logits) of a
        classifier.

    Raises
    ------
    TypeError
        For an estimator whose formula is not one of the three above.
    """
    kind = formula_kind(estimator)
    if kind == "lasso":
        X = np.asarray(X, dtype=np.float64)
        return X @ np.atleast_2d(estimator.coef_).T + np.atleast_1d(
            estimator.intercept_
        )
    X_lifted, masks = lifted_masks(estimator, X)
    coef = estimator.coef_
    if kind == "cone":
        coef = coef[0] - coef[1]
    per_pattern = np.einsum("nd,pdc->npc", X_lifted, coef)
    return np.einsum("np,npc->nc", masks, per_pattern) + estimator.intercept_


def convex_penalty(estimator: BaseEstimator) -> float:
    """The penalty (without ``alpha``) of the fitted convex model."""
    kind = formula_kind(estimator)
    if kind == "gated":
        order = "nuc" if estimator.group_norm == "nuclear" else "fro"
        return float(np.linalg.norm(estimator.coef_, ord=order, axis=(1, 2)).sum())
    if kind == "cone":
        return float(np.linalg.norm(estimator.coef_, axis=2).sum())
    coef = np.atleast_2d(estimator.coef_)  # (c, p)
    factors = np.broadcast_to(estimator.penalty_factors_, coef.shape)
    # excluded features (infinite factor) have zero coefficients and cost 0
    return float((np.abs(coef) * np.where(coef != 0, factors, 0.0)).sum())


def convex_objective(
    estimator: BaseEstimator,
    X: ArrayLike,
    y: ArrayLike,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Objective of the fitted convex model on its training data.

    The (weighted) mean loss of :func:`convex_outputs` against the targets the
    estimator fits (``y`` itself, or the classifier's coding of the labels),
    plus ``alpha`` times the penalty of the fitted coefficients (module
    docstring). It is what ``objective_`` should report.

    Parameters
    ----------
    estimator : fitted gated ReLU, convex ReLU or weighted Lasso estimator
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets or class labels, as passed to ``fit``.
    sample_weight : array-like of shape (n_samples,), optional
        The weights passed to ``fit`` (a classifier's ``class_weight`` is
        applied on top, as ``fit`` does).

    Returns
    -------
    objective : float
    """
    Y, loss, weights = training_targets(estimator, y, sample_weight)
    data_term = mean_loss(convex_outputs(estimator, X), Y, loss, weights)
    return data_term + fitted_alpha(estimator) * convex_penalty(estimator)
