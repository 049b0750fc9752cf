"""Selection criteria on hand-made CV curves, and the score-to-factor transforms."""

import functools

import numpy as np
import pytest

from convexnn.estimators._cv_selection import (
    curve_areas,
    select_area,
    select_min,
    select_one_se,
)
from convexnn.penalty_factors import (
    penalty_factors,
    power_factors,
    relu_factors,
    trust_candidates,
)

# three candidates (plain first) on four alphas; scores are minus errors
MEAN = np.array(
    [
        [-4.0, -2.0, -1.0, -1.5],
        [-3.0, -1.6, -0.9, -1.2],
        [-3.9, -1.9, -0.8, -3.0],
    ]
)
SIZES = np.array(
    [
        [0.0, 1.0, 2.0, 3.0],
        [0.0, 1.0, 2.0, 3.0],
        [0.0, 1.0, 2.0, 3.0],
    ]
)


def test_min_is_the_best_mean_score_first_on_ties():
    assert select_min(MEAN) == (2, 2)
    assert select_min(np.zeros((2, 3))) == (0, 0)


def test_one_standard_error_prefers_less_trust_then_larger_alpha():
    standard_error = np.full_like(MEAN, 0.25)
    # threshold -0.8 - 0.25 = -1.05: plain Lasso's -1.0 qualifies
    assert select_one_se(MEAN, standard_error) == (0, 2)
    # with a smaller error bar only trust 1 (at -0.9) and the best qualify
    assert select_one_se(MEAN, np.full_like(MEAN, 0.15)) == (1, 2)


def test_areas_integrate_the_gain_over_the_plain_lasso():
    areas = curve_areas(MEAN, SIZES)
    # trapezoids of the gains (1, .4, .1, .3) and (.1, .1, .2, -1.5)
    expected = [0.0, 0.7 + 0.25 + 0.2, 0.1 + 0.15 - 0.65]
    np.testing.assert_allclose(areas, expected)
    assert select_area(MEAN, SIZES) == (1, 2)


def test_area_interpolates_the_reference_and_holds_its_ends():
    mean = np.array([[-2.0, -1.0], [-1.0, -1.0]])
    sizes = np.array([[0.0, 2.0], [1.0, 4.0]])
    # reference at 1 is -1.5 (interpolated), at 4 is -1.0 (held)
    assert curve_areas(mean, sizes)[1] == pytest.approx(0.5 * 0.5 * 3)


def test_area_keeps_the_best_score_of_equal_sizes():
    mean = np.array([[-1.0, -1.0, -1.0], [-2.0, -0.5, -0.5]])
    sizes = np.array([[0.0, 1.0, 2.0], [0.0, 2.0, 2.0]])
    # candidate curve: (0, -2), (2, -0.5): gains -1 and 0.5
    assert curve_areas(mean, sizes)[1] == pytest.approx(-0.5)


def test_no_positive_area_keeps_the_plain_lasso_at_its_best_alpha():
    mean = np.array([[-2.0, -1.0, -1.2], [-2.0, -1.5, -3.0]])
    sizes = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    assert select_area(mean, sizes) == (0, 1)


SCORES = np.array([1.0, 0.5, 0.1, 0.05])


def test_power_factors_sum_to_p_and_follow_the_score_ratios():
    factors = power_factors(SCORES, 2.0)
    assert factors.sum() == pytest.approx(4)
    np.testing.assert_allclose(factors / factors[0], SCORES**-2.0)
    np.testing.assert_array_equal(power_factors(SCORES, 0.0), np.ones(4))


def test_relu_factors_are_flat_above_the_cut_and_linear_below():
    factors = relu_factors(SCORES, 0.5)
    raw = 1 + np.maximum(0, 0.5 - SCORES) / 0.5
    np.testing.assert_allclose(factors, raw * 4 / raw.sum())
    assert factors[0] == factors[1] < factors[2] < factors[3]
    np.testing.assert_array_equal(relu_factors(SCORES, 0.0), np.ones(4))
    steeper = relu_factors(SCORES, 0.5, scale=3.0)
    assert steeper[3] / steeper[0] > factors[3] / factors[0]


@pytest.mark.parametrize(
    ("transform", "trust", "message"),
    [
        ("power", -1.0, "η ≥ 0"),
        ("relu", 1.0, r"c in \[0, 1\)"),
        (lambda s, t: s[:2], 1.0, "one factor per feature"),
        (lambda s, t: s - 1, 1.0, "finite nonnegative"),
        (lambda s, t: np.zeros_like(s), 1.0, "not all zero"),
    ],
)
def test_bad_transforms_or_trust_values_are_rejected(transform, trust, message):
    with pytest.raises(ValueError, match=message):
        penalty_factors(transform, SCORES, trust)


def test_callable_transforms_are_normalised_and_see_a_copy():
    def transform(scores, trust):
        scores *= 0  # must not reach the caller's scores
        return np.arange(1.0, 5.0) * trust

    scores = SCORES.copy()
    np.testing.assert_allclose(
        penalty_factors(transform, scores, 3.0), [0.4, 0.8, 1.2, 1.6]
    )
    np.testing.assert_array_equal(scores, SCORES)
    partial = functools.partial(relu_factors, scale=2.0)
    np.testing.assert_allclose(
        penalty_factors(partial, SCORES, 0.5), relu_factors(SCORES, 0.5, 2.0)
    )


def test_the_plain_lasso_is_always_a_candidate():
    assert trust_candidates("power", [2.0, 1.0]) == [0.0, 1.0, 2.0]
    assert trust_candidates("relu", [0.0, 0.5]) == [0.0, 0.5]
    assert trust_candidates("power", None) == [0.0, 0.5, 1.0, 2.0, 3.0, 5.0]
    assert trust_candidates(np.exp, [1.0, 2.0]) == [None, 1.0, 2.0]
    np.testing.assert_array_equal(penalty_factors(np.exp, SCORES, None), np.ones(4))
    with pytest.raises(ValueError, match="trust_grid is required"):
        trust_candidates(np.exp, None)
