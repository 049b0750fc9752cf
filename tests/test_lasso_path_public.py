"""weighted_lasso_path: scikit-learn's lasso_path, penalty factors, certificates."""

import numpy as np
import pytest
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import lasso_path

from convexnn import WeightedLassoCV, weighted_lasso_path

TIGHT = {"tol": 1e-12, "max_iter": 100_000}


def make_data(n=50, p=8, n_targets=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    coef = np.zeros((p, n_targets or 1))
    coef[:3] = rng.uniform(1, 2, (3, n_targets or 1)) * rng.choice([-1, 1], (3, 1))
    y = X @ coef + 0.3 * rng.standard_normal((n, n_targets or 1))
    return X, (y[:, 0] if n_targets is None else y)


def relative_gaps(X, y, factors, alphas, coefs):
    """The relative duality gaps of the path's points, recomputed in NumPy:
    the dual point is the scaled residual ``s r / n`` with ``s`` the largest
    scale keeping ``|x_jᵀ θ| ≤ α w_j`` for the finite factors (the excluded
    features, ``w_j = inf``, have no constraint); no intercept."""
    n = len(y)
    kept = np.isfinite(factors)
    gaps = []
    for alpha, coef in zip(alphas, coefs.T, strict=True):
        residual = y - X @ coef
        primal = residual @ residual / (2 * n) + alpha * (
            factors[kept] @ abs(coef[kept])
        )
        theta = residual / n
        correlation = np.abs(X[:, kept].T @ theta) / factors[kept]
        theta *= min(1.0, alpha / correlation.max())
        dual = y @ y / (2 * n) - n / 2 * np.sum((theta - y / n) ** 2)
        gaps.append((primal - dual) / primal)
    return np.array(gaps)


def test_all_factors_one_is_scikit_learn_lasso_path():
    X, y = make_data()
    alphas, coefs, gaps = weighted_lasso_path(X, y, n_alphas=20, eps=1e-2, **TIGHT)
    # scikit-learn's grid: from max |x_jᵀ y| / n down by eps, log-spaced
    alpha_max = np.abs(X.T @ y).max() / len(y)
    expected = np.geomspace(alpha_max, 1e-2 * alpha_max, 20)
    np.testing.assert_allclose(alphas, expected, rtol=1e-12)
    reference = lasso_path(X, y, alphas=alphas, tol=1e-14)[1]
    assert coefs.shape == reference.shape == (8, 20)
    np.testing.assert_allclose(coefs, reference, atol=1e-6)
    assert (gaps <= 1e-12).all()


def test_given_alphas_are_sorted_decreasing_and_kept():
    X, y = make_data(seed=1)
    alphas, coefs, _, n_iters = weighted_lasso_path(
        X, y, alphas=[0.01, 0.5, 0.1], return_n_iter=True, **TIGHT
    )
    np.testing.assert_array_equal(alphas, [0.5, 0.1, 0.01])
    reference = lasso_path(X, y, alphas=[0.5, 0.1, 0.01], tol=1e-14)[1]
    np.testing.assert_allclose(coefs, reference, atol=1e-6)
    assert n_iters.shape == (3,) and (n_iters >= 0).all()


def test_every_point_is_certified_by_a_recomputed_duality_gap():
    X, y = make_data(p=10, seed=2)
    factors = np.random.default_rng(2).uniform(0.3, 3.0, 10)
    factors[4] = np.inf
    tol = 1e-8
    alphas, coefs, gaps = weighted_lasso_path(X, y, factors, n_alphas=12, tol=tol)
    recomputed = relative_gaps(X, y, factors, alphas, coefs)
    assert (recomputed <= tol + 1e-12).all()
    np.testing.assert_allclose(recomputed, gaps, rtol=1e-6, atol=1e-13)
    # the default grid starts where every coefficient vanishes
    assert not coefs[:, 0].any() and coefs[:, 1].any()


def test_multiple_targets_are_separate_lassos_sharing_the_factors():
    X, Y = make_data(n_targets=2, seed=3)
    factors = np.linspace(0.5, 2.0, 8)
    alphas, coefs, _ = weighted_lasso_path(X, Y, factors, n_alphas=5, **TIGHT)
    assert coefs.shape == (2, 8, 5)
    for k in range(2):
        single = weighted_lasso_path(X, Y[:, k], factors, alphas=alphas, **TIGHT)[1]
        np.testing.assert_allclose(coefs[k], single, atol=1e-8)


def test_an_unpenalised_feature_is_fitted_freely_at_every_alpha():
    X, y = make_data(seed=4)
    X[:, 5] += 0.8 * y  # informative, so a penalty would matter
    factors = np.ones(8)
    factors[5] = 0.0
    alphas, coefs, _ = weighted_lasso_path(X, y, factors, n_alphas=6, **TIGHT)
    residuals = y[:, None] - X @ coefs
    np.testing.assert_allclose(X[:, 5] @ residuals, 0.0, atol=1e-8)
    assert (coefs[5] != 0).all()
    # alpha_max from the residual of the fit on the free feature alone
    free = X[:, 5] @ y / (X[:, 5] @ X[:, 5])
    residual = y - free * X[:, 5]
    alpha_max = np.abs(np.delete(X, 5, axis=1).T @ residual).max() / len(y)
    assert alphas[0] == pytest.approx(alpha_max, rel=1e-10)
    assert not np.delete(coefs[:, 0], 5).any()


def test_an_excluded_feature_is_zero_and_the_rest_ignores_it():
    X, y = make_data(seed=5)
    factors = np.ones(8)
    factors[0] = np.inf  # the first feature carries signal: it must stay out
    alphas, coefs, _ = weighted_lasso_path(X, y, factors, n_alphas=5, **TIGHT)
    assert not coefs[0].any()
    reference = lasso_path(np.delete(X, 0, axis=1), y, alphas=alphas, tol=1e-14)[1]
    np.testing.assert_allclose(coefs[1:], reference, atol=1e-6)


def test_the_intercept_is_fitted_on_centred_data():
    X, y = make_data(seed=6)
    X, y = X + 3.0, y + 5.0
    alphas, coefs, _ = weighted_lasso_path(
        X, y, n_alphas=5, fit_intercept=True, **TIGHT
    )
    reference = lasso_path(X - X.mean(0), y - y.mean(), alphas=alphas, tol=1e-14)[1]
    np.testing.assert_allclose(coefs, reference, atol=1e-6)


def test_it_is_the_path_weighted_lasso_cv_refits():
    X, y = make_data(seed=7)
    factors = np.linspace(0.5, 2.0, 8)
    model = WeightedLassoCV(
        penalty_factors=factors, n_alphas=6, alpha_min_ratio=0.05, cv=3, tol=1e-10
    ).fit(X, y)
    alphas, coefs, _ = weighted_lasso_path(
        X, y, factors, n_alphas=6, eps=0.05, fit_intercept=True, tol=1e-10
    )
    np.testing.assert_array_equal(alphas, model.alphas_)
    chosen = int(np.flatnonzero(alphas == model.alpha_)[0])
    np.testing.assert_allclose(coefs[:, chosen], model.coef_, atol=1e-12)


def test_factors_keyed_by_dataframe_column_names():
    pd = pytest.importorskip("pandas")
    X, y = make_data(p=3, seed=8)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    by_name = weighted_lasso_path(frame, y, {"c": 2.0, "a": 1.0, "b": np.inf})
    by_order = weighted_lasso_path(X, y, [1.0, np.inf, 2.0])
    for named, ordered in zip(by_name, by_order, strict=True):
        np.testing.assert_array_equal(named, ordered)


def test_non_convergence_warns_naming_max_iter():
    X, y = make_data(p=30, seed=9)
    with pytest.warns(ConvergenceWarning, match="max_iter=1 "):
        weighted_lasso_path(X, y, n_alphas=3, eps=1e-3, max_iter=1, tol=1e-14)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"penalty_factors": [1.0, -1.0, 1.0]}, ValueError, "nonnegative"),
        ({"penalty_factors": [1.0, 1.0]}, ValueError, "one value per feature"),
        ({"penalty_factors": [1.0, np.nan, 1.0]}, ValueError, "penalty_factors"),
        ({"alphas": [0.1, -1.0]}, ValueError, "alphas must be positive"),
        ({"alphas": []}, ValueError, "alphas must be positive"),
        ({"eps": 0.0}, ValueError, "'eps' parameter"),
        ({"n_alphas": 0}, ValueError, "'n_alphas' parameter"),
        ({"tol": -1.0}, ValueError, "'tol' parameter"),
        ({"dtype": "float16"}, ValueError, "'dtype' parameter"),
        ({"y": np.ones(7)}, ValueError, "inconsistent numbers of samples"),
        ({"X": scipy.sparse.eye(10, 3, format="csr")}, TypeError, "'X' parameter"),
        ({"y": np.full(10, np.nan)}, ValueError, "y contains NaN"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_inputs_raise_clear_errors(arguments, error, message):
    X, y = make_data(n=10, p=3, seed=10)
    arguments = {"X": X, "y": y, **arguments}
    with pytest.raises(error, match=message):
        weighted_lasso_path(**arguments)


def test_inputs_are_not_modified():
    X, y = make_data(seed=11)
    factors = np.linspace(0.0, 2.0, 8)
    copies = [X.copy(), y.copy(), factors.copy()]
    weighted_lasso_path(X, y, factors, n_alphas=3, fit_intercept=True)
    for original, value in zip(copies, (X, y, factors), strict=True):
        np.testing.assert_array_equal(original, value)
