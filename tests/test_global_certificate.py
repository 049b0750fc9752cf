"""Certificates beyond the sampled patterns, checked against full enumeration.

On tiny 2-D data (with a hidden bias) every activation pattern can be listed,
so the optimum of the whole network is the fit over all of them. A fit on a
few sampled patterns must then report a violation above 1 and a lower bound
below that optimum, and refining its patterns must reach it.
"""

import itertools
import warnings

import numpy as np
import pytest

from convexnn import (
    ConvexReLUClassifier,
    ConvexReLURegressor,
    GatedReLUClassifier,
    GatedReLURegressor,
)
from convexnn.global_certificate import GlobalCertificate
from convexnn.global_certificate.dual import cone_ratios
from convexnn.global_certificate.search import exhaustive_gates
from convexnn.patterns import activation_patterns, lift

ALPHA = 1e-2


def data(n_samples=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 - 1
    labels = np.where(X[:, 0] * X[:, 1] > 0, "a", "b")
    return X, y, labels


def pattern_set(X_lifted, gates):
    patterns = activation_patterns(X_lifted, gates).T
    return {row.tobytes() for row in patterns[patterns.any(axis=1)]}


def test_enumeration_finds_every_pattern():
    X, _, _ = data(14)
    X_lifted = lift(X, True)
    gates, exact = exhaustive_gates(X_lifted)
    assert exact
    # Cover's count: n hyperplanes through the origin of R^3 in general
    # position have 2(1 + (n−1) + C(n−1, 2)) cells; one is the empty pattern
    n = len(X)
    assert len(gates) == 2 * (1 + (n - 1) + (n - 1) * (n - 2) // 2) - 1
    # brute force: many Gaussian gates, plus random gates very near every line
    # where two hyperplanes meet (the narrow cells lie there)
    rng = np.random.default_rng(1)
    brute = [rng.standard_normal((200_000, 3))]
    for i, j in itertools.combinations(range(n), 2):
        line = np.cross(X_lifted[i], X_lifted[j])
        line /= np.linalg.norm(line)
        for sign in (1, -1):
            brute.append(sign * line + 1e-7 * rng.standard_normal((40, 3)))
    assert pattern_set(X_lifted, np.concatenate(brute)) == pattern_set(X_lifted, gates)


def test_degenerate_data_is_not_claimed_exact():
    grid = np.array([[a, b] for a in range(-2, 3) for b in range(-1, 2)], float)
    y = grid[:, 0] ** 2 - grid[:, 1]
    model = GatedReLURegressor(ALPHA, n_patterns=5, random_state=0, device="cpu")
    model.fit(grid, y)
    assert not exhaustive_gates(lift(grid, True))[1]  # collinear points
    assert not model.certify_global(grid, y).exact
    with pytest.raises(ValueError, match="general position"):
        model.certify_global(grid, y, search="exact")


def test_cone_ratio_is_the_relu_dual_function():
    """max over patterns of the cone ratio = max_{‖u‖≤1} θᵀ(X̃u)₊, and each
    pattern's ratio bounds the function on its cone."""
    X, _, _ = data()
    X_lifted = lift(X, True)
    rng = np.random.default_rng(2)
    theta = rng.standard_normal((len(X), 1))
    gates, _ = exhaustive_gates(X_lifted)
    ratios = cone_ratios(X_lifted, gates, theta, 1.0, floor=-1.0)  # all exact
    units = rng.standard_normal((200_000, 3))
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    values = np.abs(np.maximum(X_lifted @ units.T, 0).T @ theta[:, 0])
    assert values.max() <= ratios.max() * (1 + 1e-12)
    assert values.max() >= ratios.max() * (1 - 1e-2)
    # per pattern: a sampled u lies in the cone of its own pattern
    keys = {
        row.tobytes(): k for k, row in enumerate(activation_patterns(X_lifted, gates).T)
    }
    patterns = activation_patterns(X_lifted, units[:3000]).T
    for value, row in zip(values[:3000], patterns, strict=True):
        if row.any():
            assert value <= ratios[keys[row.tobytes()]] * (1 + 1e-12)


CASES = {
    "gated-regressor": (GatedReLURegressor, "y", {}),
    "gated-classifier": (GatedReLUClassifier, "labels", {}),
    "convex-regressor": (ConvexReLURegressor, "y", {}),
    # the augmented Lagrangian reaches tight tolerances on this logistic problem
    # in well under a second; ADMM needs tens of thousands of iterations
    "convex-classifier": (
        ConvexReLUClassifier,
        "labels",
        {"alpha": 0.1, "solver": "augmented_lagrangian"},
    ),
    "gated-multiclass": (GatedReLUClassifier, "classes", {}),
    "gated-frobenius": (GatedReLURegressor, "two", {"group_norm": "frobenius"}),
}


def targets(kind, X, y, labels):
    return {
        "y": y,
        "labels": labels,
        "classes": np.digitize(X[:, 0], [-0.5, 0.5]),
        "two": np.column_stack([y, X[:, 0] * X[:, 1]]),
    }[kind]


@pytest.fixture(scope="module", params=list(CASES))
def fits(request):
    """A fit on 3 sampled gates and the fit over all patterns."""
    estimator, kind, params = CASES[request.param]
    X, y, labels = data()
    target = targets(kind, X, y, labels)
    settings = dict(alpha=ALPHA, device="cpu", tol=1e-7, max_iter=100_000)
    settings.update(params)
    few = estimator(n_patterns=3, random_state=0, **settings).fit(X, target)
    gates, _ = exhaustive_gates(lift(X, True))
    full = estimator(gates=gates, **settings).fit(X, target)
    return X, target, few, full


def test_sampled_fit_is_refuted_and_bounded(fits):
    X, target, few, full = fits
    certificate = few.certify_global(X, target)
    assert isinstance(certificate, GlobalCertificate)
    assert certificate.exact
    assert certificate.sampled_violation <= 1 + 1e-4  # optimal on its patterns
    assert certificate.max_violation > 1
    assert len(certificate.violating_gates) > 0
    assert np.all(certificate.violations > 1)
    assert certificate.global_gap > 0
    # the lower bound is below the optimum over all patterns (the full fit's
    # objective is within its tolerance of it), so the gap bounds the true
    # suboptimality
    assert certificate.lower_bound <= full.objective_ * (1 + 1e-6)
    assert certificate.primal - full.objective_ <= certificate.global_gap
    assert certificate.primal == pytest.approx(few.objective_, rel=1e-6)


def test_fit_over_all_patterns_is_certified(fits):
    X, target, _, full = fits
    certificate = full.certify_global(X, target)
    assert certificate.exact
    assert len(certificate.violating_gates) == 0
    assert certificate.max_violation <= 1 + 1e-4
    assert certificate.certifies(1e-5)


def test_heuristic_search_finds_a_violation(fits):
    X, target, few, _ = fits
    exact = few.certify_global(X, target)
    heuristic = few.certify_global(X, target, search="heuristic", n_random=500)
    assert not heuristic.exact
    assert 1 < heuristic.max_violation <= exact.max_violation * (1 + 1e-12)
    assert heuristic.lower_bound >= exact.lower_bound - 1e-12


def test_refining_reaches_the_whole_network_optimum(fits):
    X, target, few, full = fits
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refits converge
        model = few.__class__(**few.get_params()).fit(X, target)
        model.refine_patterns(X, target, tol=1e-5)
    certificate = model.global_certificate_
    assert model.n_refine_rounds_ >= 1
    assert certificate.certifies(1e-5)
    assert model.objective_ == pytest.approx(full.objective_, rel=1e-5)
    assert len(model.get_params()["gates"]) == model.n_patterns_


def test_unknown_labels_are_refused():
    X, _, labels = data()
    model = GatedReLUClassifier(ALPHA, n_patterns=3, random_state=0, device="cpu")
    model.fit(X, labels)
    with pytest.raises(ValueError, match="not fitted on"):
        model.certify_global(X, np.where(labels == "a", "a", "c"))
