"""What every convexnn estimator shares: targets in, scores out.

An estimator subclasses :class:`RegressorOutputMixin` or
:class:`ClassifierOutputMixin` and implements two methods:

* ``_fit(X, Y, loss, sample_weight)``: fit to the encoded targets ``Y`` of
  shape ``(n_samples, n_outputs)`` with the loss named ``loss``, each sample
  weighted by ``sample_weight`` (``None``: all the same);
* ``_outputs(X)``: the model's raw outputs ``(n_samples, n_outputs)`` on
  validated input.

The mixins validate input and sample weights, encode targets (labels of any
type for classifiers, weighted by ``class_weight``), and turn outputs back
into predictions, so every formulation handles targets, labels and weights
the same way. Samples of weight zero are removed before ``_fit`` sees them,
unless the estimator sets ``_keeps_zero_weights`` (the Lasso estimators,
whose cross-validation splits index the rows as given). A fit that raises
leaves the estimator exactly as it was before the call. ``_fit`` runs inside
:func:`~._fitting.fitting`, with the intra-op thread count chosen for its size.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import log_softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from .._backend import CPU64, to_numpy
from .._sklearn_compat import StrOptions, _fit_context
from ._fitting import fitting, restored_on_failure

FLOAT_DTYPES = (np.float64, np.float32)
CROSS_ENTROPY = ("logistic", "multinomial")
CLASS_WEIGHT = {"class_weight": [dict, StrOptions({"balanced"}), None]}
"""The ``class_weight`` parameter of every classifier."""


def check_sample_weight(sample_weight, X: np.ndarray) -> np.ndarray | None:
    """``sample_weight`` validated as float64: one finite nonnegative weight
    per sample of ``X``, not all zero; ``None`` stays ``None``."""
    if sample_weight is None:
        return None
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if not sample_weight.any():
        raise ValueError("sample_weight must have a positive entry; all are zero.")
    return sample_weight


def weigh_classes(
    class_weight, y: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None
) -> np.ndarray | None:
    """``sample_weight`` times each sample's class weight, scikit-learn's way.

    ``"balanced"`` weighs class ``k`` by ``total / (n_classes · total_k)``,
    with the totals of ``sample_weight`` (counts without it), as
    :class:`~sklearn.linear_model.LogisticRegression` does, so that a weight
    stays equivalent to repeating the sample; a dict maps labels to weights
    (1 for classes it omits, :func:`~sklearn.utils.class_weight.compute_sample_weight`).
    """
    if class_weight is None:
        return sample_weight
    if class_weight == "balanced":
        totals = np.bincount(labels, weights=sample_weight).astype(np.float64)
        # a class of zero total gets 0 here and is refused by the caller
        balanced = np.divide(
            totals.sum(),
            len(totals) * totals,
            out=np.zeros_like(totals),
            where=totals > 0,
        )
        weights = balanced[labels]
    else:
        weights = compute_sample_weight(class_weight, y)
        if not (np.isfinite(weights).all() and (weights >= 0).all()):
            raise ValueError(
                f"class_weight must map labels to finite nonnegative weights; got "
                f"{class_weight!r}."
            )
    return weights if sample_weight is None else weights * sample_weight


def _fit_weighted(estimator, X, Y, loss: str, sample_weight) -> None:
    """Run ``estimator._fit`` inside :func:`~._fitting.fitting`, without the
    samples of weight zero unless the estimator keeps them."""
    if sample_weight is not None and not getattr(
        estimator, "_keeps_zero_weights", False
    ):
        # a sample of weight zero contributes nothing to the objective; left
        # out, it does not shape the gates' patterns, the constraints or the
        # dictionary either, so the fit is the one without it
        keep = sample_weight > 0
        X, Y, sample_weight = X[keep], Y[keep], sample_weight[keep]
    with fitting(estimator, X, Y):
        estimator._fit(X, Y, loss, sample_weight)


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
    def fit(self, X, y, sample_weight=None):
        r"""Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Nonnegative weights :math:`s_i`: the data term becomes the
            weighted mean :math:`\sum_i s_i\ell_i / \sum_i s_i`, so an
            integer weight counts as that many copies of the sample and a
            weight of zero as no sample; None weighs all samples equally.

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
            sample_weight = check_sample_weight(sample_weight, X)
            Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
            _fit_weighted(self, X, Y, "squared", sample_weight)
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


def _check_class_totals(classes, labels, sample_weight) -> None:
    """Refuse weights that leave a class with no sample of positive weight: its
    unpenalised intercept would have no optimum."""
    if sample_weight is None:
        return
    totals = np.bincount(labels, weights=sample_weight, minlength=len(classes))
    if not (totals > 0).all():
        label = np.asarray(classes)[np.argmin(totals > 0)].tolist()
        raise ValueError(
            f"class {label!r} has no sample of positive "
            "weight (sample_weight times class_weight); every class of y needs "
            "one. Remove the class's samples from y, or give them weight."
        )


def _has_probabilities(estimator) -> bool:
    loss = getattr(estimator, "loss_", estimator.loss)
    return loss == "auto" or loss in CROSS_ENTROPY


class ClassifierOutputMixin(ClassifierMixin):
    """Fit on class labels of any type; predict labels, scores, probabilities.

    Sets ``classes_`` and ``loss_`` (the loss actually used).
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        r"""Fit the classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (two or more classes, any type).
        sample_weight : array-like of shape (n_samples,), default=None
            Nonnegative weights :math:`s_i`, multiplied by the weight of each
            sample's class (``class_weight``): the data term becomes the
            weighted mean :math:`\sum_i s_i\ell_i / \sum_i s_i`, so an
            integer weight counts as that many copies of the sample and a
            weight of zero as no sample; None weighs all samples equally.
            Every class needs a sample of positive weight.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with restored_on_failure(self):
            X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES, ensure_min_samples=2)
            check_classification_targets(y)
            sample_weight = check_sample_weight(sample_weight, X)
            encoder = LabelEncoder().fit(y)
            n_classes = len(encoder.classes_)
            if n_classes < 2:
                raise ValueError(
                    "y contains 1 class; a classifier needs at least two classes."
                )
            loss = resolve_classification_loss(self.loss, n_classes)
            labels = encoder.transform(y)
            sample_weight = weigh_classes(self.class_weight, y, labels, sample_weight)
            _check_class_totals(encoder.classes_, labels, sample_weight)
            Y = encode_labels(labels, n_classes, loss)
            _fit_weighted(self, X, Y, loss, sample_weight)
            if loss == "multinomial":
                # the loss ignores a shift common to every class's logit, so
                # the intercept is defined up to one (rounding picks it): the
                # centred one is reported, the same for equivalent fits
                self.intercept_ = self.intercept_ - np.mean(self.intercept_)
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
