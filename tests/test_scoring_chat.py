"""ChatScorer with callables: prompts, parsing, retries, trials, missing, cache."""

import json
import os
import re
import time

import numpy as np
import pytest

from convexnn.scoring import ChatScorer, ScoringError, ScoringWarning
from convexnn.scoring import chat as chat_module
from convexnn.scoring._answers import InvalidAnswer, parse_importances
from convexnn.scoring._prompt import build_prompt

TASK = "Predict whether a patient has diabetes"
NAMES = ["glucose", "bmi", "age", "zip", "shoe size"]
TRUTH = {"glucose": 0.9, "bmi": 0.6, "age": 0.45, "zip": 0.0, "shoe size": 0.09}
EXPECTED = [1.0, 2 / 3, 0.5, 0.01, 0.1]  # TRUTH / 0.9, floored at 0.01


def asked(prompt):
    """The feature names a prompt asks about, in order."""
    return [
        json.loads(quoted)
        for quoted in re.findall(r'^- ("(?:[^"\\]|\\.)*")', prompt, re.M)
    ]


class Model:
    """A scripted chat model: plays ``replies`` in turn, then answers truthfully.

    Its ``cache_key`` lets the cache tests share entries between instances.
    """

    cache_key = "scripted model"

    def __init__(self, *replies, truth=TRUTH):
        self.replies, self.truth, self.prompts = list(replies), truth, []

    def __call__(self, prompt):
        self.prompts.append(prompt)
        if self.replies:
            reply = self.replies.pop(0)
            if isinstance(reply, Exception):
                raise reply
            return reply(prompt) if callable(reply) else reply
        return json.dumps({name: self.truth[name] for name in asked(prompt)})


def scorer(chat, **params):
    return ChatScorer(chat, backoff=0.0, **params)


@pytest.fixture
def sleeps(monkeypatch):
    """Record the pauses between retries instead of sleeping."""
    pauses = []
    monkeypatch.setattr(chat_module.time, "sleep", pauses.append)
    return pauses


def test_good_answers_in_batches_give_scores_in_feature_order():
    model = Model()
    scores = scorer(model, batch_size=2).score(NAMES, TASK)
    np.testing.assert_allclose(scores, EXPECTED)
    assert [asked(p) for p in model.prompts] == [NAMES[:2], NAMES[2:4], NAMES[4:]]
    assert all(TASK in prompt and "STRICT JSON" in prompt for prompt in model.prompts)


def test_the_prompt_lists_names_with_their_descriptions():
    prompt = build_prompt(TASK, ["glucose", 'say "hi"'], {"glucose": "blood sugar"})
    assert '- "glucose": blood sugar\n- "say \\"hi\\""\n' in prompt
    assert asked(prompt) == ["glucose", 'say "hi"']


def test_inputs_are_not_modified():
    names, described = list(NAMES), {"glucose": "blood sugar"}
    scorer(Model()).score(names, TASK, described)
    assert names == NAMES and described == {"glucose": "blood sugar"}


@pytest.mark.parametrize(
    "text",
    [
        '{"glucose": 0.9, "bmi": "0.6"}',
        'Sure! ```json\n{"glucose": 0.9, "bmi": 0.6}\n```',
        '{" GLUCOSE ": 0.9, "Bmi": 0.6, "height": 0.3}',
        '{"glucose": 0.9, "bmi": 0.6, "age": 1.5, "zip": true, "shoe size": null}',
    ],
)
def test_answers_are_read_tolerantly(text):
    assert parse_importances(text, NAMES) == {"glucose": 0.9, "bmi": 0.6}


def test_case_insensitive_matching_only_where_unambiguous():
    names = ["Age", "age", "bmi"]
    answer = '{"AGE": 0.1, "age": 0.2, "BMI": 0.3}'
    assert parse_importances(answer, names) == {"age": 0.2, "bmi": 0.3}
    assert parse_importances('{"bmi ": 0.5, "bmi": 0.7}', names) == {"bmi": 0.7}


@pytest.mark.parametrize("text", ["", "no idea", "[0.9, 0.6]", '{"glucose": 0.9', None])
def test_answers_without_a_json_object_are_invalid(text):
    with pytest.raises(InvalidAnswer):
        parse_importances(text, NAMES)


def test_bad_json_is_retried_with_exponential_backoff(sleeps):
    model = Model("not json", "```{broken```", ConnectionError("reset"))
    scores = ChatScorer(model, backoff=0.5).score(NAMES, TASK)
    np.testing.assert_allclose(scores, EXPECTED)
    assert len(model.prompts) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_missing_and_renamed_keys_are_asked_for_again():
    first = json.dumps({"glucose": 0.9, "BMI": 0.6, "age_years": 0.45})
    model = Model(first)
    scores = scorer(model).score(NAMES, TASK)
    np.testing.assert_allclose(scores, EXPECTED)
    assert [asked(p) for p in model.prompts] == [NAMES, ["age", "zip", "shoe size"]]


def test_other_errors_from_the_callable_are_raised_at_once():
    model = Model(KeyError("bug in the callable"))
    with pytest.raises(KeyError, match="bug in the callable"):
        scorer(model).score(NAMES, TASK)
    assert len(model.prompts) == 1


def test_trials_are_averaged():
    halves = {name: value / 2 for name, value in TRUTH.items()}
    model = Model(json.dumps(halves), json.dumps({"glucose": 0.3}))
    scores = scorer(model, n_trials=3, max_retries=0).score(NAMES, TASK)
    # glucose: (0.45 + 0.3 + 0.9) / 3 = 0.55; the others, missing from trial 1:
    # (v/2 + v) / 2 = 0.75 v; glucose has the largest mean
    mean = {name: 0.75 * value for name, value in TRUTH.items()} | {"glucose": 0.55}
    expected = np.maximum(np.array([mean[name] for name in NAMES]) / 0.55, 0.01)
    np.testing.assert_allclose(scores, expected)


def test_features_missing_after_retries_get_the_median_with_a_warning():
    model = Model(truth=TRUTH | {"zip": "n/a"})
    with pytest.warns(ScoringWarning, match=r"1 of 5 features.*\['zip'\].*get 0\.525"):
        scores = scorer(model, max_retries=2).score(NAMES, TASK)
    # median of 0.9, 0.6, 0.45, 0.09 is 0.525
    np.testing.assert_allclose(scores, [1.0, 2 / 3, 0.5, 0.525 / 0.9, 0.1])
    assert len(model.prompts) == 3
    assert all(asked(p) == ["zip"] for p in model.prompts[1:])


def test_missing_policy_value_and_raise():
    model = Model(truth=TRUTH | {"zip": "n/a"})
    with pytest.warns(ScoringWarning, match=r"get 0\.3 \(missing=0\.3\)"):
        scores = scorer(model, max_retries=0, missing=0.3).score(NAMES, TASK)
    assert scores[3] == pytest.approx(0.3 / 0.9)
    with pytest.raises(RuntimeError, match=r"1 of 5 features.*\['zip'\]"):
        scorer(model, max_retries=0, missing="raise").score(NAMES, TASK)


def test_mostly_missing_warns_and_nothing_scored_raises():
    model = Model(truth=TRUTH | {"bmi": None, "age": None, "zip": None})
    with pytest.warns(ScoringWarning, match=r"3 of 5 features.*Most scores"):
        scorer(model, max_retries=0).score(NAMES, TASK)
    model = Model(*["{}"] * 3)
    with pytest.raises(RuntimeError, match=r"5 of 5 features.*no valid importance"):
        scorer(model, max_retries=2).score(NAMES, TASK)


def test_constant_answers_warn():
    model = Model(truth=dict.fromkeys(NAMES, 0.7))
    with pytest.warns(ScoringWarning, match="same score"):
        scores = scorer(model).score(NAMES, TASK)
    np.testing.assert_array_equal(scores, np.ones(5))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({}, "exactly one of complete= .* got neither"),
        ({"complete": Model(), "url": "http://127.0.0.1:9/v1"}, "got both"),
        ({"complete": Model(), "batch_size": 0}, "batch_size"),
        ({"complete": Model(), "missing": "mean"}, "missing"),
        ({"complete": Model(), "max_consecutive_failures": 0}, "max_consecutive"),
        ({"complete": Model(), "max_consecutive_failures": 1.5}, "max_consecutive"),
        ({"complete": Model(), "timeout_total": 0}, "timeout_total"),
        ({"complete": Model(), "timeout_total": "1"}, "timeout_total"),
        ({"url": "file:///etc/passwd"}, "http"),
    ],
)
def test_bad_parameters_are_reported(params, match):
    with pytest.raises(ValueError, match=match):
        ChatScorer(**params).score(NAMES, TASK)


class TestBreaker:
    """The circuit breaker over the retries: failures in a row, and a deadline."""

    def test_it_stops_after_consecutive_failed_batches(self, sleeps):
        model = Model(*[ConnectionError("refused")] * 100)
        with pytest.raises(ScoringError) as error:
            scorer(
                model, batch_size=1, max_retries=2, max_consecutive_failures=2
            ).score(NAMES, TASK)
        assert len(model.prompts) == 2 * 3  # two batches of three attempts, not five
        message = str(error.value)
        for part in (
            "2 batches in a row failed (max_consecutive_failures=2)",
            "the complete= callable Model",
            "2 of 5 batches failed",
            "3 not finished",
            "ConnectionError: refused",
            "raise max_consecutive_failures",
        ):
            assert part in message, part
        assert isinstance(error.value, RuntimeError)

    def test_failures_that_are_not_in_a_row_do_not_trip_it(self):
        def flaky(prompt):
            if asked(prompt)[0] in ("glucose", "age", "shoe size"):
                raise TimeoutError("slow")
            return json.dumps({name: TRUTH[name] for name in asked(prompt)})

        model = scorer(flaky, batch_size=1, max_retries=0, max_consecutive_failures=2)
        with pytest.warns(ScoringWarning, match="3 of 5 features"):
            scores = model.score(NAMES, TASK)
        assert scores.shape == (5,)

    def test_a_partly_answered_batch_is_not_a_failure(self):
        one_each = {"glucose": 0.9, "age": 0.45, "shoe size": 0.09}
        model = Model(*[json.dumps(one_each)] * 10)
        answered = scorer(
            model, batch_size=2, max_retries=0, max_consecutive_failures=1
        )
        with pytest.warns(ScoringWarning, match="2 of 5 features"):
            answered.score(NAMES, TASK)
        assert len(model.prompts) == 3

    def test_none_asks_every_batch(self):
        model = Model(*[ConnectionError("refused")] * 100)
        with pytest.raises(ScoringError, match="no valid importance for 5 of 5"):
            scorer(
                model, batch_size=1, max_retries=0, max_consecutive_failures=None
            ).score(NAMES, TASK)
        assert len(model.prompts) == 5

    def test_the_deadline_bounds_the_call(self):
        def slow_failure(prompt):
            time.sleep(0.05)
            raise TimeoutError("no answer")

        start = time.monotonic()
        with pytest.raises(ScoringError) as error:
            scorer(
                slow_failure,
                batch_size=1,
                max_consecutive_failures=None,
                timeout_total=0.3,
            ).score(NAMES, TASK)
        elapsed = time.monotonic() - start
        assert elapsed < 3 * 0.3
        message = str(error.value)
        assert "deadline, timeout_total=0.3 seconds" in message
        assert "TimeoutError: no answer" in message
        assert "raise timeout_total" in message

    def test_a_pause_that_would_end_past_the_deadline_is_not_taken(self, sleeps):
        model = Model(ConnectionError("refused"))
        slow = ChatScorer(model, backoff=10.0, timeout_total=5.0)
        with pytest.raises(
            ScoringError, match=r"1 of 1 batches failed.*0 not finished"
        ):
            slow.score(NAMES, TASK)
        assert sleeps == [] and len(model.prompts) == 1

    def test_cached_batches_cost_no_time(self, tmp_path):
        scorer(Model(), cache_dir=tmp_path).score(NAMES, TASK)
        silent = Model(AssertionError("the model was called"))
        cached = scorer(silent, cache_dir=tmp_path, timeout_total=1e-9)
        np.testing.assert_allclose(cached.score(NAMES, TASK), EXPECTED)


class TestCache:
    def test_a_hit_makes_no_call(self, tmp_path):
        first = scorer(Model(), cache_dir=tmp_path).score(NAMES, TASK)
        silent = Model(AssertionError("the model was called"))
        again = scorer(silent, cache_dir=tmp_path).score(NAMES, TASK)
        np.testing.assert_array_equal(again, first)
        assert silent.prompts == []

    def test_entries_are_keyed_by_what_produced_them(self, tmp_path):
        scorer(Model(), batch_size=2, cache_dir=tmp_path).score(NAMES, TASK)
        assert len(list(tmp_path.glob("*.json"))) == 3
        for changed in (
            {"model": "another-model"},
            {"n_trials": 2},  # trial 1 is new, trial 0 is a hit
            {"temperature": 0.5},
        ):
            model = Model()
            scorer(model, batch_size=2, cache_dir=tmp_path, **changed).score(
                NAMES, TASK
            )
            assert len(model.prompts) == 3, changed
        new_task = (NAMES, TASK + ".")
        new_description = (NAMES, TASK, {"zip": "postal code"})
        for args, n_calls in ((new_task, 3), (new_description, 1)):
            model = Model()
            scorer(model, batch_size=2, cache_dir=tmp_path).score(*args)
            assert len(model.prompts) == n_calls, args
        assert not list(tmp_path.glob("*.tmp"))  # no temporary file left behind

    @pytest.mark.parametrize("content", ["{not json", '{"glucose": 0.9}', "[1, 2]", ""])
    def test_a_corrupt_entry_is_ignored_and_rewritten(self, tmp_path, content):
        scorer(Model(), cache_dir=tmp_path).score(NAMES, TASK)
        (entry,) = tmp_path.glob("*.json")
        entry.write_text(content)
        model = Model()
        scores = scorer(model, cache_dir=tmp_path).score(NAMES, TASK)
        np.testing.assert_allclose(scores, EXPECTED)
        assert len(model.prompts) == 1
        assert json.loads(entry.read_text()) == TRUTH

    def test_incomplete_answers_are_not_cached(self, tmp_path):
        model = Model(truth=TRUTH | {"zip": "n/a"})
        with pytest.warns(ScoringWarning):
            scorer(model, max_retries=0, cache_dir=tmp_path).score(NAMES, TASK)
        assert not list(tmp_path.glob("*.json"))

    def test_an_unwritable_cache_warns_and_scores_anyway(self, tmp_path):
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.warns(UserWarning, match="Could not write the cache entry"):
            scores = scorer(Model(), cache_dir=blocker / "cache").score(NAMES, TASK)
        np.testing.assert_allclose(scores, EXPECTED)

    def test_a_path_like_cache_dir_is_accepted(self, tmp_path):
        scorer(Model(), cache_dir=os.fspath(tmp_path)).score(NAMES, TASK)
        assert len(list(tmp_path.glob("*.json"))) == 1

    def test_a_callable_without_a_cache_key_is_not_cached(self, tmp_path):
        def complete(prompt):
            return json.dumps({name: TRUTH[name] for name in asked(prompt)})

        with pytest.warns(UserWarning, match="without a cache_key attribute"):
            scores = scorer(complete, cache_dir=tmp_path).score(NAMES, TASK)
        np.testing.assert_allclose(scores, EXPECTED)
        assert not list(tmp_path.iterdir())

    def test_callables_share_entries_only_under_the_same_cache_key(self, tmp_path):
        other = {name: 1 - value for name, value in TRUTH.items()}
        first, second = Model(), Model(truth=other)
        second.cache_key = "another model"
        one = scorer(first, cache_dir=tmp_path).score(NAMES, TASK)
        two = scorer(second, cache_dir=tmp_path).score(NAMES, TASK)
        assert len(first.prompts) == len(second.prompts) == 1
        assert not np.allclose(one, two)
        again = Model(truth=other)  # the class's cache_key: the first one's entry
        np.testing.assert_array_equal(
            scorer(again, cache_dir=tmp_path).score(NAMES, TASK), one
        )
        assert again.prompts == []

    @pytest.mark.parametrize("cache_key", ["", "  ", 3])
    def test_a_bad_cache_key_is_reported(self, tmp_path, cache_key):
        model = Model()
        model.cache_key = cache_key
        with pytest.raises(ValueError, match="cache_key must be a non-empty string"):
            scorer(model, cache_dir=tmp_path).score(NAMES, TASK)
