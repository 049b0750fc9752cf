r"""Choosing one solution of a Lasso among equally optimal ones.

A squared-loss Lasso has unique fitted values :math:`A w^\star` (up to the
intercept) and a unique dual point :math:`\theta^\star`, but its coefficients
need not be unique when columns are linearly dependent — reflection features
of 1-D dictionaries create such ties. Every solution uses only columns of the
*equicorrelation set* :math:`E = \{j : |a_j^\top\theta^\star| = \alpha\omega_j\}`,
each with the sign :math:`\sigma_j = -\operatorname{sign}(a_j^\top\theta^\star)`,
so with :math:`v = \sigma\odot w_E \ge 0` the optimal set is the polytope

.. math::
    \{v \ge 0 :\; P A_E\,\mathrm{diag}(\sigma)\, v = P A w^\star\}

on which :math:`\omega^\top v` (the penalty) is constant. Positive sample
weights change neither the uniqueness of the fitted values nor this set (its
directions are the null space of :math:`PA_E`, whatever the weights of the
centring); only the intercept refit is weighted. From an approximate
solution ``w`` this module takes the :math:`E` that the Gap Safe sphere
(Fercoq, Gramfort & Salmon, 2015) cannot exclude — a superset, so the
constraint :math:`\omega^\top v \le \omega^\top v_0` keeps the penalty from
growing — and the fitted values of ``w``, and returns

* ``"min_norm"``: the point of minimum Euclidean norm, which is unique: the
  equality constraints are written through the null space of the Gram matrix
  and the rest is a least-distance problem solved exactly by non-negative
  least squares (Lawson & Hanson, 1974, ch. 23);
* ``"sparse"``: a vertex of the polytope (HiGHS dual simplex on
  :math:`\min\omega^\top v`): its columns are linearly independent, so no
  unit can be dropped — a *minimal* support, not necessarily the smallest.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize
import torch

from ..problems import Problem
from .config import SolverConfig
from .polish import polished_certificate

SELECTIONS = ("min_norm", "sparse")


def select_solution(
    problem: Problem,
    x: torch.Tensor,
    selection: str,
    config: SolverConfig = SolverConfig(),
) -> torch.Tensor:
    """Replace ``x`` by the ``selection`` among the solutions with its fitted values.

    Parameters
    ----------
    problem : Problem
        A squared-loss problem with an :class:`~convexnn.problems.L1` penalty.
    x : tensor
        An (approximate) solution in the layout of ``problem.shape``.
    selection : {"min_norm", "sparse"}
        See the module docstring.
    config : SolverConfig
        How many candidate columns are considered, how they are decomposed
        and when a singular value counts as zero.

    Returns
    -------
    tensor
        The selected point (intercept re-optimised).
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection={selection!r} is not one of {SELECTIONS}.")
    certificate = polished_certificate(problem, x, problem.matvec(x))
    x = certificate.x
    coef, intercept = problem.split(x)
    theta = problem.loss.gradient(certificate.Z)
    correlation = problem.operator.rmatvec(theta)
    # the dual objective is 1/L-strongly concave (L: the loss's Lipschitz
    # constant, 1/n without weights)
    radius = float(np.sqrt(2.0 * certificate.gap * problem.loss.lipschitz()))
    weights = problem.penalty.weights
    thresholds = problem.alpha * (
        torch.ones(len(coef), dtype=torch.float64, device=coef.device)
        if weights is None
        else weights.to(torch.float64)
    )
    selected = coef.clone()
    for k in range(coef.shape[1]):
        candidates = _equicorrelation_candidates(
            problem, correlation[:, k], coef[:, k], thresholds, radius, config
        )
        if len(candidates) == 0:
            continue
        signs = torch.where(
            coef[candidates, k] != 0,
            coef[candidates, k].sign(),
            -correlation[candidates, k].sign(),
        ).to(torch.float64)
        start = (signs * coef[candidates, k].to(torch.float64)).clamp(min=0)
        span, kernel = _column_space(problem, candidates, signs, config)
        v = _select_on_face(
            span,
            kernel,
            start.cpu().numpy(),
            thresholds[candidates].cpu().numpy(),
            selection,
            config,
        )
        column = torch.zeros_like(coef[:, k])
        column[candidates] = (signs * torch.as_tensor(v, device=signs.device)).to(
            column.dtype
        )
        selected[:, k] = column
    if intercept is not None:  # the faces fix the centred fit: refit the mean
        outputs = problem.operator.matvec(selected)
        mean = problem.loss.average(problem.loss.Y - outputs)  # weighted
        intercept = mean.to(intercept.dtype)
    return problem.pack(selected, intercept)


def _equicorrelation_candidates(
    problem, correlation, coef, thresholds, radius, config: SolverConfig
):
    """Columns that the Gap Safe sphere cannot exclude from the equicorrelation set.

    ``|a_jᵀθ*| ≥ |a_jᵀθ| − ‖Pa_j‖ r``; a first pass keeps the columns within
    a factor 0.9 of their threshold, whose norms are then computed. At most
    ``config.optimal_set_max_candidates`` columns are kept: the support, then
    the columns whose correlation is closest to their threshold.
    """
    near = (correlation.abs() >= 0.9 * thresholds) | (coef != 0)
    candidates = torch.nonzero(near).ravel()
    if len(candidates) == 0:
        return candidates
    norms = problem.operator.column_norms(problem.fit_intercept, candidates)
    ratio = correlation[candidates].abs().to(torch.float64) / thresholds[candidates]
    reach = ratio + norms * radius / thresholds[candidates]
    ratio[coef[candidates] != 0] = math.inf
    keep = (reach >= 1 - 1e-9) | (coef[candidates] != 0)
    candidates, ratio = candidates[keep], ratio[keep]
    most = config.optimal_set_max_candidates
    if len(candidates) > most:
        candidates = candidates[torch.topk(ratio, most).indices]
    return candidates.sort().values


def _column_space(problem, candidates, signs, config: SolverConfig):
    """Orthonormal bases of the row space and the null space of ``P A_E diag(σ)``.

    From the SVD of the centred columns when ``config.optimal_set_dense_limit``
    allows, otherwise from the eigendecomposition of their Gram matrix;
    singular values below ``config.optimal_set_null_rtol`` times the largest
    count as zero.
    """
    n, size = problem.operator.n_samples, len(candidates)
    if n * size**2 <= config.optimal_set_dense_limit:
        columns = problem.operator.columns(candidates).to(torch.float64)
        if problem.fit_intercept:
            columns = columns - columns.mean(0)
        columns = (columns * signs).cpu().numpy()
        _, singular, Vt = np.linalg.svd(columns, full_matrices=n < size)
        singular = np.concatenate([singular, np.zeros(len(Vt) - len(singular))])
    else:
        G = problem.operator.gram(candidates, problem.fit_intercept)
        G = (signs[:, None] * G * signs[None, :]).cpu().numpy()
        eigenvalues, V = np.linalg.eigh(G)
        singular, Vt = np.sqrt(np.maximum(eigenvalues, 0.0)), V.T
    null = singular <= config.optimal_set_null_rtol * singular.max(initial=0.0)
    return Vt[~null].T, Vt[null].T


def _select_on_face(span, kernel, start, weights, selection, config: SolverConfig):
    """Minimum-norm point or vertex of the optimal face.

    The vertex minimises ``wᵀv`` over ``{v ≥ 0 : spanᵀv = spanᵀstart}`` (the
    penalty, constant on the true optimal face, so this also drops columns
    that are only nearly equicorrelated). The minimum-norm point is then taken
    on ``{v ≥ 0 : Bv = β}`` with ``B = [spanᵀ; wᵀ]`` and the vertex's ``β``
    (:func:`_least_norm_nonnegative`).
    """
    vertex = scipy.optimize.linprog(
        weights,
        A_eq=span.T,
        b_eq=span.T @ start,
        bounds=(0, None),
        method="highs-ds",
    )
    if vertex.status != 0:
        return start
    if selection == "sparse" or kernel.shape[1] == 0:
        return vertex.x
    B = np.vstack([span.T, weights[None, :]])
    return _least_norm_nonnegative(B, vertex.x, config)


def _least_norm_nonnegative(B, start, config: SolverConfig, max_steps=None, rtol=1e-12):
    r"""``argmin ‖v‖ s.t. Bv = B·start, v ≥ 0``, by a primal active-set method.

    From the feasible ``start``, with the coordinates fixed at zero in ``W``:
    step towards the least-norm solution of :math:`B_F v_F = \beta` on the
    free coordinates ``F``, stopping where a coordinate reaches zero (it joins
    ``W``); at that least-norm point, the multipliers
    :math:`\nu_W = -(B^\top\mu)_W` of :math:`v_F = B_F^\top\mu` are all
    nonnegative at the optimum, otherwise the most negative leaves ``W``
    (Nocedal & Wright, 2006, §16.5). Every step keeps ``v`` feasible and never
    increases ``‖v‖``. The least-squares solves cut singular values below
    ``config.optimal_set_null_rtol`` times the largest.
    """
    v = np.array(start, dtype=np.float64)
    beta = B @ v
    fixed = v <= 0
    v[fixed] = 0.0
    scale = max(np.linalg.norm(v), np.finfo(float).tiny)
    limit = max_steps if max_steps is not None else 4 * len(v) + 10
    null_rtol = config.optimal_set_null_rtol
    for _ in range(limit):
        free = ~fixed
        target = np.zeros_like(v)
        target[free] = np.linalg.lstsq(B[:, free], beta, rcond=null_rtol)[0]
        direction = target - v
        if np.abs(direction).max(initial=0.0) <= rtol * scale:
            if not fixed.any():
                return v
            mu = np.linalg.lstsq(B[:, free].T, v[free], rcond=null_rtol)[0]
            multipliers = -(B[:, fixed].T @ mu)
            worst = int(multipliers.argmin())
            if multipliers[worst] >= -rtol * scale:
                return v
            fixed[np.flatnonzero(fixed)[worst]] = False
            continue
        blocking = free & (direction < 0)
        ratios = np.full_like(v, np.inf)
        ratios[blocking] = -v[blocking] / direction[blocking]
        j = int(ratios.argmin())
        step = min(1.0, ratios[j])
        v = np.maximum(v + step * direction, 0.0)
        if step < 1.0:
            v[j] = 0.0
            fixed[j] = True
    return v
