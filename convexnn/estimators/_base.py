"""What every convexnn estimator shares: targets in, scores out.

An estimator subclasses :class:`RegressorOutputMixin` or
:class:`ClassifierOutputMixin` and implements two methods:

* ``_fit(X, Y, loss)``: fit to the encoded targets ``Y`` of shape
  ``(n_samples, n_outputs)`` with the loss named ``loss``;
* ``_outputs(X)``: the model's raw outputs ``(n_samples, n_outputs)`` on
  validated input.

The mixins validate input, encode targets (labels of any type for
classifiers), and turn outputs back into predictions, so every formulation
handles targets and labels the same way. A fit that raises leaves the
estimator exactly as it was before the call. ``_fit`` runs inside
:func:`~._fitting.fitting`, with the intra-op thread count chosen for its size.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import log_softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import CPU64, to_numpy
from .._sklearn_compat import _fit_context
from ._fitting import fitting, restored_on_failure

FLOAT_DTYPES = (np.float64, np.float32)
CROSS_ENTROPY = ("logistic", "multinomial")


def validate_predict_input(estimator, X) -> np.ndarray:
    """Validate ``X`` at predict time against what ``estimator`` was fitted on."""
    check_is_fitted(estimator)
    return validate_data(estimator, X, reset=False, dtype=FLOAT_DTYPES)


class NetworkOutputsMixin:
    """``_outputs`` from the fitted network itself (:meth:`to_torch`), on the
    CPU in float64: for models whose network is the simplest way to evaluate
    them."""

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return to_numpy(self.to_torch()(CPU64.tensor(X)))


class RegressorOutputMixin(RegressorMixin):
    """Fit on real targets (one or several outputs) with the squared loss."""

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with restored_on_failure(self):
            X, y = validate_data(
                self,
                X,
                y,
                dtype=FLOAT_DTYPES,
                multi_output=True,
                y_numeric=True,
                ensure_min_samples=2,
            )
            Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
            with fitting(self, X, Y):
                self._fit(X, Y, "squared")
            self._single_output = np.ndim(y) == 1
        return self

    def predict(self, X) -> np.ndarray:
        """Predict targets for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted targets, one column per output (raveled for a single
            target).
        """
        outputs = self._outputs(validate_predict_input(self, X))
        return outputs.ravel() if self._single_output else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def resolve_classification_loss(loss: str, n_classes: int) -> str:
    """Turn the ``loss`` parameter of a classifier into a loss name."""
    if loss == "auto":
        return "logistic" if n_classes == 2 else "multinomial"
    if loss == "logistic" and n_classes > 2:
        raise ValueError(
            f"loss='logistic' is binary but y has {n_classes} classes; use "
            "loss='multinomial' or loss='squared'."
        )
    return loss


def encode_labels(labels: np.ndarray, n_classes: int, loss: str) -> np.ndarray:
    """Code integer labels ``0..K-1`` as the targets of ``loss``.

    Binary problems with a one-column loss use one output (``{0, 1}`` for the
    logistic loss, ``±1`` for the squared loss); otherwise targets are one-hot.
    """
    if n_classes == 2 and loss != "multinomial":
        column = labels.astype(np.float64)
        return (column if loss == "logistic" else 2 * column - 1)[:, None]
    return np.eye(n_classes)[labels]


def _has_probabilities(estimator) -> bool:
    loss = getattr(estimator, "loss_", estimator.loss)
    return loss == "auto" or loss in CROSS_ENTROPY


class ClassifierOutputMixin(ClassifierMixin):
    """Fit on class labels of any type; predict labels, scores, probabilities.

    Sets ``classes_`` and ``loss_`` (the loss actually used).
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (two or more classes, any type).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with restored_on_failure(self):
            X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES, ensure_min_samples=2)
            check_classification_targets(y)
            encoder = LabelEncoder().fit(y)
            n_classes = len(encoder.classes_)
            if n_classes < 2:
                raise ValueError(
                    "y contains 1 class; a classifier needs at least two classes."
                )
            loss = resolve_classification_loss(self.loss, n_classes)
            Y = encode_labels(encoder.transform(y), n_classes, loss)
            with fitting(self, X, Y):
                self._fit(X, Y, loss)
            self.classes_ = encoder.classes_
            self.loss_ = loss
        return self

    def decision_function(self, X) -> np.ndarray:
        """Raw scores: logits, or the squared-loss outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            One column, raveled, for two classes (positive scores favour
            ``classes_[1]``); one column per class otherwise.
        """
        outputs = self._outputs(validate_predict_input(self, X))
        if outputs.shape[1] == 1:
            return outputs.ravel()
        if len(self.classes_) == 2:
            return outputs[:, 1] - outputs[:, 0]
        return outputs

    def predict(self, X) -> np.ndarray:
        """Predict class labels for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            The class of highest score, from ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]

    @available_if(_has_probabilities)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (cross-entropy losses only).

        Available when the loss is "logistic" or "multinomial" (or "auto").

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        return np.exp(self.predict_log_proba(X))

    @available_if(_has_probabilities)
    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Computed without overflow or ``log(0)``: the log-sigmoid or
        log-softmax of the outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, in the order of ``classes_``.
        """
        outputs = self._outputs(validate_predict_input(self, X))
        if outputs.shape[1] == 1:  # log σ(∓z) = −log(1 + e^{±z})
            return -np.logaddexp(0.0, np.column_stack([outputs[:, 0], -outputs[:, 0]]))
        return log_softmax(outputs, axis=1)
