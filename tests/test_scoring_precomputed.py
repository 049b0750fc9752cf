"""PrecomputedScorer, the Scorer protocol, and the input checks all scorers share."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from convexnn.scoring import (
    ChatScorer,
    EmbeddingScorer,
    PrecomputedScorer,
    Scorer,
    ScoringWarning,
)
from convexnn.scoring._base import check_feature_descriptions, relative_scores

NAMES = ["age", "income", "zip"]


def test_array_scores_are_divided_by_their_maximum():
    scores = np.array([2.0, 8.0, 4.0])
    result = PrecomputedScorer(scores).score(NAMES, "predict default")
    np.testing.assert_allclose(result, [0.25, 1.0, 0.5])
    assert result.dtype == np.float64
    np.testing.assert_array_equal(scores, [2.0, 8.0, 4.0])  # input untouched


def test_integer_scores_on_any_scale_are_accepted():
    result = PrecomputedScorer([1, 10, 5]).score(NAMES, "")
    np.testing.assert_allclose(result, [0.1, 1.0, 0.5])


@pytest.mark.parametrize(
    "scores",
    [
        {"zip": 1.0, "age": 4.0, "income": 2.0},
        pd.Series([2.0, 1.0, 4.0], index=["income", "zip", "age"]),
    ],
)
def test_mapping_scores_follow_the_order_of_feature_names(scores):
    result = PrecomputedScorer(scores).score(NAMES, "predict default")
    np.testing.assert_allclose(result, [1.0, 0.5, 0.25])


def test_a_missing_name_is_an_error_that_names_it():
    with pytest.raises(
        ValueError, match=r"no value for 2 feature\(s\): \['income', 'zip'\]"
    ):
        PrecomputedScorer({"age": 1.0}).score(NAMES, "")


def test_extra_names_are_ignored_with_a_warning_that_names_them():
    scores = {"age": 1.0, "income": 2.0, "zip": 2.0, "height": 5.0}
    with pytest.warns(ScoringWarning, match=r"ignores 1 name.*'height'"):
        result = PrecomputedScorer(scores).score(NAMES, "")
    np.testing.assert_allclose(result, [0.5, 1.0, 1.0])


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_scores_must_be_finite_and_positive(bad):
    with pytest.raises(
        ValueError, match=r"finite and strictly positive; 1 are not: \{'zip'"
    ):
        PrecomputedScorer([1.0, 2.0, bad]).score(NAMES, "")


@pytest.mark.parametrize(
    ("scores", "error", "match"),
    [
        (
            [1.0, 2.0],
            ValueError,
            r"one value per feature, shape \(3,\); got shape \(2,\)",
        ),
        ([[1.0, 2.0, 3.0]], ValueError, r"got shape \(1, 3\)"),
        (["high", "low", "low"], TypeError, "real numbers"),
        ([True, False, True], TypeError, "real numbers"),
    ],
)
def test_malformed_scores_are_rejected(scores, error, match):
    with pytest.raises(error, match=match):
        PrecomputedScorer(scores).score(NAMES, "")


@pytest.mark.parametrize(
    ("names", "error", "match"),
    [
        ("age", TypeError, "list of strings"),
        ([], ValueError, "at least one name"),
        (["age", "age", "zip"], ValueError, r"unique; repeated: \['age'\]"),
        (["age", "", "zip"], ValueError, "non-empty strings"),
        (["age", 3, "zip"], ValueError, "non-empty strings"),
    ],
)
def test_feature_names_are_validated(names, error, match):
    with pytest.raises(error, match=match):
        PrecomputedScorer([1.0, 2.0, 3.0]).score(names, "")


def test_every_scorer_satisfies_the_protocol_and_clones():
    for scorer in (
        PrecomputedScorer([1.0]),
        EmbeddingScorer(lambda texts: np.ones((len(texts), 2))),
        ChatScorer(lambda prompt: "{}"),
    ):
        assert isinstance(scorer, Scorer)
        assert clone(scorer).get_params() == scorer.get_params()
    assert not isinstance(object(), Scorer)


def test_descriptions_of_other_features_are_dropped_and_values_checked():
    described = {"age": "years", "height": "cm"}
    assert check_feature_descriptions(described, NAMES) == {"age": "years"}
    assert check_feature_descriptions(None, NAMES) == {}
    with pytest.raises(TypeError, match=r"map names to strings; \['age'\]"):
        check_feature_descriptions({"age": 3}, NAMES)
    with pytest.raises(TypeError, match="must be a dict"):
        check_feature_descriptions(["years"], NAMES)


def test_relative_scores_floor_and_all_zero():
    np.testing.assert_allclose(relative_scores([0.0, 0.5, 0.25], 0.1), [0.1, 1.0, 0.5])
    np.testing.assert_array_equal(relative_scores([0.0, 0.0], 0.1), [1.0, 1.0])
