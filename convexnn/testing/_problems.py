r"""Small random problems for tests of the estimators."""

from __future__ import annotations

import numpy as np

KINDS = ("regression", "multioutput", "binary", "multiclass")
"""Problem kinds of :func:`make_problem`."""


def make_problem(
    kind: str, seed: int = 0, n_samples: int = 40, n_features: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    r"""Small random data whose targets depend nonlinearly on ``X``.

    ``X`` is standard normal; the signal is
    :math:`|x_1| - x_2 + \frac12 x_d^2` plus Gaussian noise of scale ``1/2``.

    Parameters
    ----------
    kind : {"regression", "multioutput", "binary", "multiclass"}
        Real targets (one output, or two: the signal and :math:`(x_d)_+`), or
        labels ``0/1`` (split at the median) or ``0/1/2`` (at the terciles);
        the labels are noisy, so the classes are not separable and every
        class is present.
    seed : int
    n_samples : int
        At least 6, so that every class has two samples.
    n_features : int
        At least 2.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, 2)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
    if n_samples < 6 or n_features < 2:
        raise ValueError(
            f"make_problem needs n_samples >= 6 and n_features >= 2; got "
            f"{n_samples} and {n_features}."
        )
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    signal = np.abs(X[:, 0]) - X[:, 1] + 0.5 * X[:, -1] ** 2
    noisy = signal + 0.5 * rng.standard_normal(n_samples)
    if kind == "regression":
        return X, noisy
    if kind == "multioutput":
        return X, np.column_stack([noisy, np.maximum(X[:, -1], 0.0)])
    if kind == "binary":
        return X, (noisy > np.median(noisy)).astype(int)
    return X, np.digitize(noisy, np.quantile(noisy, [1 / 3, 2 / 3]))
