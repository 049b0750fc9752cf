r"""Hypothesis strategies for small problems (needs ``hypothesis``, a test extra).

Importing this module imports :mod:`hypothesis`; the rest of
:mod:`convexnn.testing` does not, so convexnn itself never depends on it.

Data are drawn from a seed, not element by element: each example is a
well-conditioned random problem whose targets depend nonlinearly on ``X``,
which is what a fit needs, and shrinking moves to smaller seeds and sizes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ._problems import make_problem


@st.composite
def datasets(
    draw,
    kind: str,
    *,
    min_samples: int = 10,
    max_samples: int = 40,
    min_features: int = 2,
    max_features: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``(X, y)`` of one ``kind`` from :func:`~convexnn.testing.make_problem`.

    The seed, the number of samples and the number of features are drawn;
    the kind is fixed, so that a test can be parametrized over kinds and
    every kind is exercised (Hypothesis draws few examples).
    """
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    n_samples = draw(st.integers(min_value=max(min_samples, 6), max_value=max_samples))
    n_features = draw(
        st.integers(min_value=max(min_features, 2), max_value=max_features)
    )
    return make_problem(kind, seed=seed, n_samples=n_samples, n_features=n_features)


def log_uniform(min_value: float = 1e-3, max_value: float = 1e-1) -> st.SearchStrategy:
    """Floats from ``min_value`` to ``max_value``, uniform in their logarithm.

    For regularisation strengths, tolerances and scales, which matter by
    their order of magnitude.
    """
    low, high = np.log10(min_value), np.log10(max_value)
    return st.floats(min_value=low, max_value=high).map(lambda power: 10.0**power)
