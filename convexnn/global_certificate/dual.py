r"""The dual point of a fit and its dual constraint, one activation pattern at a time.

Both network problems have the dual

.. math::
    \max_\Theta\; -f^*(\Theta) \quad\text{s.t.}\quad
    \mathbf 1^\top\Theta = 0\ \text{(with an intercept)},\qquad
    \rho_D(\Theta) \le 1 \ \text{for every activation pattern } D,

where :math:`f` is the (weighted) mean loss and :math:`\rho_D` the *violation ratio* of
the pattern :math:`D`:

* gated ReLU (group lasso, blocks :math:`U_D \in \mathbb R^{\tilde d\times c}`):
  :math:`\rho_D(\Theta) = \omega^*\bigl((D\tilde X)^\top\Theta\bigr)/\alpha`,
  with :math:`\omega^*` the spectral norm (dual of the nuclear norm) or the
  Frobenius norm, the Euclidean norm for one output;
* convex ReLU (cone-constrained blocks, one network per output column ``k``):
  :math:`\rho_D(\Theta) = \max_{k,\,\sigma=\pm1}\; \max\{\sigma\theta_k^\top
  D\tilde Xu : u\in K_D,\ \|u\|\le1\}/\alpha` over the cone
  :math:`K_D = \{u : (2D - I)\tilde Xu \ge 0\}`. Over all patterns this is
  :math:`\max_{\|u\|\le1}|\theta_k^\top(\tilde Xu)_+|/\alpha`, the dual
  constraint of the ReLU network (Pilanci & Ergen, 2020).

Weak duality needs nothing else: for any feasible primal point,
:math:`P \ge -f^*(\Theta) + \langle\Theta, Z\rangle + \alpha\Omega \ge -f^*(\Theta)`
once every block's term :math:`\langle\Theta, D\tilde XU_D\rangle + \alpha\,\omega(U_D)`
is nonnegative, which is :math:`\rho_D \le 1`.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import nnls

from ..patterns import activation_patterns
from ..problems import LOSSES

NEWTON_STEPS = 100
"""Most Newton steps of the intercept refit."""


def dual_point(
    Z: np.ndarray,
    Y: np.ndarray,
    loss: str,
    fit_intercept: bool,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The loss gradient at the fit's outputs, with the intercept made optimal.

    The constraint :math:`\mathbf 1^\top\Theta = 0` holds for
    :math:`\Theta = \nabla f(Z + \mathbf 1b^\top)` exactly when the intercept
    ``b`` minimises the loss for the fitted coefficients. So the intercept is
    re-fitted first: in closed form for the squared loss
    (:math:`b`, the weighted mean of :math:`Y - Z`), by Newton's method on the ``c``
    intercepts for the cross-entropies. The shifted outputs belong to a point
    no worse than the fit, so this only sharpens the certificate.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_outputs)
        The fit's outputs on its training data.
    Y : ndarray of shape (n_samples, n_outputs)
        The encoded targets.
    loss : str
        Name of the loss (a key of :data:`convexnn.problems.LOSSES`).
    fit_intercept : bool
        Whether the model has an unpenalised intercept.
    sample_weight : ndarray of shape (n_samples,), optional
        The weights of the fit's data term (default: the plain mean).

    Returns
    -------
    Theta : ndarray of shape (n_samples, n_outputs)
        :math:`\nabla f` at the shifted outputs.
    Z : ndarray of shape (n_samples, n_outputs)
        The shifted outputs.
    """
    Y = torch.from_numpy(np.asarray(Y, dtype=np.float64))
    data_loss = LOSSES[loss](Y, sample_weight)
    Z = torch.from_numpy(np.array(Z, dtype=np.float64))
    if fit_intercept:
        Z = Z + _optimal_shift(data_loss, Z)
    Theta = data_loss.gradient(Z)
    if fit_intercept and loss == "squared":
        # exact zero column sums, not up to rounding: Θ − w·(1ᵀΘ) with the
        # weights w summing to one, which leaves rows of weight zero at zero
        Theta = Theta - data_loss.weigh(torch.ones_like(Theta)) * Theta.sum(0)
    return Theta.numpy(), Z.numpy()


def _optimal_shift(data_loss, Z: torch.Tensor) -> torch.Tensor:
    """The intercept change ``δ`` minimising ``f(Z + 1δᵀ)`` (Newton, line search)."""
    n_samples, n_outputs = Z.shape
    shift = torch.zeros(n_outputs, dtype=torch.float64)
    ones = torch.ones(n_samples, 1, 1, dtype=torch.float64)
    for _ in range(NEWTON_STEPS):
        gradient = data_loss.gradient(Z + shift).sum(0)
        if float(gradient.abs().max()) <= 1e-15:
            break
        # Hessian of δ ↦ f(Z + 1δᵀ): the loss Hessian applied to the c
        # directions 1 e_kᵀ, summed over samples
        directions = ones * torch.eye(n_outputs, dtype=torch.float64)
        hessian = data_loss.hessian_product(Z + shift, directions).sum(0)
        # the multinomial Hessian is singular along 1 (softmax invariance):
        # the least-norm step ignores that direction
        solution = torch.linalg.lstsq(hessian, gradient[:, None], driver="gelsd")
        step = -solution.solution[:, 0]
        value = data_loss.value(Z + shift)
        size = 1.0
        while size > 1e-10 and data_loss.value(Z + shift + size * step) > value:
            size /= 2
        if size <= 1e-10:
            break
        shift = shift + size * step
    return shift


def gated_ratios(
    X_lifted: np.ndarray,
    gates: np.ndarray,
    Theta: np.ndarray,
    alpha: float,
    group_norm: str = "nuclear",
) -> np.ndarray:
    r"""Gated ReLU violation ratios :math:`\omega^*((D_g\tilde X)^\top\Theta)/\alpha`.

    Parameters
    ----------
    X_lifted : ndarray of shape (n_samples, d̃)
    gates : ndarray of shape (m, d̃)
    Theta : ndarray of shape (n_samples, n_outputs)
    alpha : float
    group_norm : {"nuclear", "frobenius"}
        The block norm; its dual is the spectral or the Frobenius norm.

    Returns
    -------
    ndarray of shape (m,)
    """
    masks = activation_patterns(X_lifted, gates).astype(np.float64)
    if Theta.shape[1] == 1:
        blocks = X_lifted.T @ (masks * Theta)  # (d̃, m)
        return np.linalg.norm(blocks, axis=0) / alpha
    blocks = np.einsum("nd,nm,nc->mdc", X_lifted, masks, Theta)
    if group_norm == "nuclear":
        return np.linalg.norm(blocks, ord=2, axis=(1, 2)) / alpha
    return np.linalg.norm(blocks, axis=(1, 2)) / alpha


def cone_ratio(
    X_lifted: np.ndarray, pattern: np.ndarray, Theta: np.ndarray, alpha: float
) -> float:
    r"""Convex ReLU violation ratio of one pattern: a sound upper bound, tight.

    For a vector :math:`c` and the cone :math:`K = \{u : Au \ge 0\}`,
    :math:`A = (2D - I)\tilde X`, every :math:`\lambda \ge 0` gives

    .. math::
        \max_{u\in K,\ \|u\|\le 1} c^\top u
        \;\le\; \max_{\|u\|\le1}(c + A^\top\lambda)^\top u
        = \|c + A^\top\lambda\|,

    since :math:`\lambda^\top Au \ge 0` on :math:`K`. The bound is tight at the
    :math:`\lambda` minimising :math:`\|c + A^\top\lambda\|` (the dual of the
    projection of :math:`c` onto :math:`K`, whose norm is the maximum: Moreau's
    decomposition), a nonnegative least-squares problem solved exactly by the
    Lawson–Hanson active-set method. Whatever its accuracy, the value returned
    is an upper bound; ``λ = 0`` gives the gated ratio, so the cone ratio never
    exceeds it.

    Parameters
    ----------
    X_lifted : ndarray of shape (n_samples, d̃)
    pattern : ndarray of bool, shape (n_samples,)
        ``diag(D)``.
    Theta : ndarray of shape (n_samples, n_outputs)
    alpha : float

    Returns
    -------
    float
        :math:`\max_{k,\sigma}` of the bound above, divided by ``alpha``.
    """
    constraints = np.where(pattern, 1.0, -1.0)[:, None] * X_lifted  # A
    gradients = X_lifted.T @ (pattern[:, None] * Theta)  # X̃ᵀDΘ, (d̃, c)
    best = 0.0
    for c in np.concatenate([gradients, -gradients], axis=1).T:
        if not c.any():
            continue
        # nnls minimises ‖Mλ − b‖ over λ ≥ 0: M = Aᵀ, b = −c
        weights, _ = nnls(constraints.T, -c, maxiter=50 * constraints.shape[0])
        best = max(best, float(np.linalg.norm(c + constraints.T @ weights)))
    return best / alpha


def cone_ratios(
    X_lifted: np.ndarray,
    gates: np.ndarray,
    Theta: np.ndarray,
    alpha: float,
    floor: float = 1.0,
) -> np.ndarray:
    r"""Convex ReLU violation ratios of many patterns, by branch and bound.

    The gated ratio bounds each cone ratio from above and costs one product,
    so patterns are visited in decreasing gated ratio and the cone ratio
    (:func:`cone_ratio`) is solved while the gated ratio exceeds ``floor`` or
    the largest cone ratio found so far. The others keep their gated ratio, an
    upper bound below both: the maximum and every ratio above ``floor`` are
    exact.

    Returns
    -------
    ndarray of shape (m,)
        Upper bounds on the ratios; exact wherever one exceeds ``floor`` and
        at the maximum.
    """
    upper = gated_ratios(X_lifted, gates, Theta, alpha, "frobenius")
    # the Frobenius norm over outputs bounds each output column's norm
    ratios = upper.copy()
    best = 0.0
    patterns = activation_patterns(X_lifted, gates)
    for index in np.argsort(-upper):
        if upper[index] <= min(floor, best):
            break
        ratios[index] = cone_ratio(X_lifted, patterns[:, index], Theta, alpha)
        best = max(best, ratios[index])
    return ratios
