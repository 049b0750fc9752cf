r"""Choosing a (candidate, alpha) pair from cross-validated path scores.

Candidates are ordered from the least to the most trust in the prior (the
plain Lasso first) and alphas decrease along each grid, so "first" means
"more conservative" everywhere below. With mean held-out scores
:math:`\bar S_{t,a}` (greater is better, for instance minus the mean squared
error) and their standard errors :math:`\sigma_{t,a}`:

* ``"min"`` — the best mean score,
  :math:`(t^*, a^*) = \arg\max_{t,a} \bar S_{t,a}`, ties to the first.
* ``"1se"`` — the one-standard-error rule, conservative in both directions:
  among the pairs within one standard error of the best,
  :math:`\bar S_{t,a} \ge \bar S_{t^*,a^*} - \sigma_{t^*,a^*}`, the least
  trusted candidate, and within it the largest alpha.
* ``"area"`` — the criterion of LLM-Lasso (Zhang et al. 2025): each
  candidate's CV curve is drawn against model size (the mean number of
  selected features :math:`k`), and the candidate whose curve lies furthest
  above the plain Lasso's, in signed area, is kept:

  .. math::
      A_t = \int_{k^t_{\min}}^{k^t_{\max}} \bigl(S_t(k) - S_0(k)\bigr)\,dk,

  by the trapezoidal rule over the candidate's own points, where :math:`S_0`
  (the plain Lasso's curve) is linearly interpolated at them. As in the
  paper's code, points with the same size keep their best score; beyond the
  ends of its range :math:`S_0` is held constant (the paper extrapolates it
  linearly, which can run away from the data). The plain Lasso has
  :math:`A_0 = 0`, so a prior is trusted only when its area is positive. The
  alpha is then the best of that candidate's curve.
"""

from __future__ import annotations

import numpy as np

from ._lasso_cv import CVPaths

SELECTIONS = ("min", "1se", "area")


def select(cv: CVPaths, selection: str) -> tuple[int, int]:
    """Return the chosen ``(candidate, alpha)`` indices under ``selection``."""
    if selection == "min":
        return select_min(cv.mean_scores)
    if selection == "1se":
        return select_one_se(cv.mean_scores, cv.standard_errors)
    if selection == "area":
        return select_area(cv.mean_scores, cv.mean_n_selected)
    raise ValueError(f"selection must be one of {SELECTIONS}; got {selection!r}.")


def select_min(mean: np.ndarray) -> tuple[int, int]:
    """The first pair with the best mean score."""
    candidate, alpha = np.unravel_index(int(np.argmax(mean)), mean.shape)
    return int(candidate), int(alpha)


def select_one_se(mean: np.ndarray, standard_error: np.ndarray) -> tuple[int, int]:
    """The least trusted candidate, largest alpha, within one standard error."""
    best = select_min(mean)
    eligible = mean >= mean[best] - standard_error[best]
    candidate = int(np.flatnonzero(eligible.any(axis=1))[0])
    return candidate, int(np.flatnonzero(eligible[candidate])[0])


def curve_areas(mean: np.ndarray, n_selected: np.ndarray) -> np.ndarray:
    """Signed areas :math:`A_t` between each candidate's curve and the first's."""
    reference = _curve(mean[0], n_selected[0])
    areas = np.zeros(len(mean))
    for t in range(1, len(mean)):
        sizes, scores = _curve(mean[t], n_selected[t])
        gain = scores - np.interp(sizes, *reference)
        # the trapezoidal rule (np.trapezoid, which NumPy 1.x lacks)
        areas[t] = (np.diff(sizes) * (gain[1:] + gain[:-1]) / 2.0).sum()
    return areas


def select_area(mean: np.ndarray, n_selected: np.ndarray) -> tuple[int, int]:
    """The candidate with the largest positive area (else the plain Lasso),
    at its best alpha."""
    areas = curve_areas(mean, n_selected)
    candidate = int(np.argmax(areas)) if areas.max() > 0 else 0
    return candidate, int(np.argmax(mean[candidate]))


def _curve(scores: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A CV curve as increasing distinct sizes and the best score at each."""
    unique, inverse = np.unique(sizes, return_inverse=True)
    best = np.full(len(unique), -np.inf)
    np.maximum.at(best, inverse, scores)
    return unique, best
