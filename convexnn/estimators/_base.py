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
:func:`fitting`, with the intra-op thread count chosen for its size.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from numbers import Integral, Real

import joblib
import numpy as np
import sklearn
import torch
from scipy.special import log_softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import CPU64, choose_n_threads, intra_op_threads, to_numpy
from .._sklearn_compat import Interval, StrOptions, _fit_context

FLOAT_DTYPES = (np.float64, np.float32)
CROSS_ENTROPY = ("logistic", "multinomial")


def validate_predict_input(estimator, X) -> np.ndarray:
    """Validate ``X`` at predict time against what ``estimator`` was fitted on."""
    check_is_fitted(estimator)
    return validate_data(estimator, X, reset=False, dtype=FLOAT_DTYPES)


def _package_dir(module_file: str) -> str:
    return os.path.dirname(os.path.abspath(module_file)) + os.sep


_INTERNAL_PREFIXES = tuple(
    {
        _package_dir(os.path.dirname(__file__)),  # convexnn itself
        *(_package_dir(module.__file__) for module in (torch, sklearn, joblib)),
    }
)
_INTERNAL_FILES = frozenset(
    os.path.abspath(module.__file__) for module in (contextlib, functools, threading)
)


def _is_internal(filename: str) -> bool:
    filename = os.path.abspath(filename)
    return filename in _INTERNAL_FILES or filename.startswith(_INTERNAL_PREFIXES)


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the user's code.

    For ``warnings.warn`` called by the function that calls this one: counts
    the frames, from that function outwards, that belong to convexnn or to the
    wrappers a fit runs under (torch's ``inference_mode`` decorator,
    scikit-learn's ``_fit_context`` and meta-estimators, joblib,
    :mod:`contextlib`), so the warning names the first frame outside them,
    whatever the depth of decorators. Python 3.12's
    ``warnings.warn(skip_file_prefixes=...)`` does this too; this also works on
    3.10 and 3.11. When every frame is internal (a fit in a worker thread), the
    outermost one is named.
    """
    frame = sys._getframe(1)  # the function that calls warnings.warn: level 1
    level = 1
    while frame.f_back is not None and _is_internal(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    return level


SCALED_STD = (0.1, 10.0)
"""Column standard deviations outside this range make ``X`` look unscaled."""

SCALED_MEAN = 3.0
"""Column means larger than this in absolute value make ``X`` look unscaled."""


def looks_unscaled(X: np.ndarray) -> bool:
    """Whether ``X`` visibly needs standardising.

    True when some nonconstant column has a standard deviation outside
    :data:`SCALED_STD`, or some column a mean beyond ±:data:`SCALED_MEAN`;
    data through a :class:`~sklearn.preprocessing.StandardScaler` (or most
    min-max scaled data) does not.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.size == 0:
        return False
    mean, std = X.mean(axis=0), X.std(axis=0)
    spread = std[std > 1e-12 * np.maximum(np.abs(mean), 1.0)]
    low, high = SCALED_STD
    return bool(
        np.any(np.abs(mean) > SCALED_MEAN) or np.any((spread < low) | (spread > high))
    )


_FIT_DATA_UNSCALED: ContextVar[bool] = ContextVar("fit_data_unscaled", default=False)
"""Whether the training ``X`` of the fit in progress looks unscaled."""


def convergence_advice() -> str:
    """What a convergence warning advises, for the fit in progress."""
    advice = "increase max_iter or loosen tol"
    if _FIT_DATA_UNSCALED.get():
        advice += (
            "; X looks unscaled (column means far from 0 or standard deviations "
            "far from 1): standardising it, e.g. with a StandardScaler, usually "
            "speeds convergence"
        )
    return advice + "."


def warn_not_converged(estimator, state: str):
    """Warn that a fit stopped at ``max_iter``; ``state`` says where it stood.

    The warning points at the user's call (:func:`user_stacklevel`).
    """
    warnings.warn(
        f"{type(estimator).__name__} stopped after max_iter={estimator.max_iter} "
        f"iterations with {state} (tol={estimator.tol}); {convergence_advice()}",
        ConvergenceWarning,
        stacklevel=user_stacklevel(),
    )


@contextmanager
def restored_on_failure(estimator):
    """Put back ``estimator``'s attributes if the block inside raises.

    ``validate_data`` sets ``n_features_in_`` before the solver runs, so
    without this a failed fit would leave an unfitted estimator that
    ``check_is_fitted`` accepts but cannot predict, or a fitted one mixing
    two fits. Fits rebind their attributes (never write into them), so a
    shallow copy of the instance dictionary is a faithful snapshot.
    """
    snapshot = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(snapshot)
        raise


SOLVER_PARAMETERS = {
    "fit_intercept": ["boolean"],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "device": [str, torch.device],
    "dtype": [StrOptions({"float32", "float64"}), None],
    "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    "verbose": ["verbose"],
}
"""Parameters of every estimator's fit: intercept, stopping, device, threads and
output."""

NETWORK_PARAMETERS = {
    **SOLVER_PARAMETERS,
    "alpha": [Interval(Real, 0, None, closed="neither")],
    "hidden_bias": ["boolean"],
    "random_state": ["random_state"],
}
"""Parameters of every two-layer network estimator, convex or trained by Adam."""


def without_autograd(fit):
    """Run an estimator's ``_fit`` under :func:`torch.inference_mode`.

    The solvers never differentiate, and skipping autograd's bookkeeping takes
    about a tenth off every small tensor operation (a 200-iteration gated
    solve on breast cancer: 76 → 67 ms). No inference tensor escapes: fitted
    attributes are NumPy arrays.
    """
    return torch.inference_mode()(fit)


def fit_work(estimator, X: np.ndarray, Y: np.ndarray) -> int:
    """Multiply-adds of one operator product when ``estimator`` fits ``X, Y``.

    ``n_samples × n_columns × n_outputs`` with ``n_columns = n_features ×
    width``: the width is the number of gates given, else ``n_patterns``
    (gated and convex ReLU; the convex ReLU operator has twice the columns,
    the same order), else ``n_neurons`` (the Adam baselines), else 1 (the
    Lasso estimators, whose columns are the features). Only what is known
    before the fit is used, so sampled patterns that turn out duplicate are
    still counted; the estimate only has to fall on the right side of
    :data:`convexnn._backend.SMALL_WORK`.
    """
    n_samples, n_features = X.shape
    gates = getattr(estimator, "gates", None)
    if gates is not None:
        width = len(gates)
    else:
        width = getattr(estimator, "n_patterns", getattr(estimator, "n_neurons", 1))
    return n_samples * n_features * width * Y.shape[1]


@contextmanager
def fitting(estimator, X: np.ndarray, Y: np.ndarray):
    """Run the block as ``estimator``'s fit on the validated ``X`` and ``Y``.

    Two settings hold inside and are restored afterwards, also when the fit
    raises:

    * the intra-op thread count: the estimator's ``n_threads`` when set, else
      one thread for a small fit (:func:`fit_work`) and the global setting
      otherwise (:func:`convexnn._backend.choose_n_threads`);
    * the advice of convergence warnings (:func:`convergence_advice`), which
      mentions standardising only when ``X`` :func:`looks_unscaled` and the
      estimator's class allows it (``_advise_scaling``: False for models where
      scaling changes what is fitted, such as the one-feature reflection
      dictionaries).
    """
    n_threads = choose_n_threads(
        getattr(estimator, "n_threads", None), fit_work(estimator, X, Y)
    )
    unscaled = getattr(estimator, "_advise_scaling", True) and looks_unscaled(X)
    token = _FIT_DATA_UNSCALED.set(unscaled)
    try:
        with intra_op_threads(n_threads):
            yield
    finally:
        _FIT_DATA_UNSCALED.reset(token)


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
