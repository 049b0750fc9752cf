"""The machinery around every fit: warnings aimed at the user's code, advice
when ``X`` looks unscaled, the parameter constraints shared by all estimators,
the thread count chosen for a fit's size, the wall-clock budget of a fit, and
the snapshot that undoes a failed fit."""

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
from sklearn.exceptions import ConvergenceWarning

from .._backend import choose_n_threads, intra_op_threads
from .._sklearn_compat import Interval, StrOptions
from ..solvers.config import SolverConfig
from ..solvers.progress import clock


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

_FIT_CONFIG: ContextVar[SolverConfig] = ContextVar("fit_config", default=SolverConfig())
"""The solver settings of the fit in progress: the defaults, with the
deadline of the estimator's ``max_time``."""


def fit_config() -> SolverConfig:
    """The :class:`~convexnn.solvers.SolverConfig` every solve of the fit in
    progress runs with: its ``deadline`` is ``max_time`` seconds after the
    fit began, shared by every solve of the fit (each fold and alpha of a
    cross-validation, and the refit)."""
    return _FIT_CONFIG.get()


def out_of_time() -> bool:
    """Whether the fit in progress has spent its ``max_time``."""
    return _FIT_CONFIG.get().out_of_time()


def convergence_advice() -> str:
    """What a convergence warning advises, for the fit in progress."""
    advice = "increase max_iter or loosen tol"
    if out_of_time():
        advice = "increase max_time or loosen tol"
    if _FIT_DATA_UNSCALED.get():
        advice += (
            "; X looks unscaled (column means far from 0 or standard deviations "
            "far from 1): standardising it, e.g. with a StandardScaler, usually "
            "speeds convergence"
        )
    return advice + "."


def stopping_point(estimator) -> str:
    """Where the unconverged fit in progress stopped: when its ``max_time``
    ran out, or else at ``max_iter``."""
    if out_of_time():
        return f"when max_time={estimator.max_time} seconds ran out"
    return f"after max_iter={estimator.max_iter} iterations"


def warn_not_converged(estimator, state: str):
    """Warn that a fit stopped at ``max_iter`` or ``max_time``; ``state`` says
    where it stood.

    The warning points at the user's call (:func:`user_stacklevel`).
    """
    warnings.warn(
        f"{type(estimator).__name__} stopped {stopping_point(estimator)} with "
        f"{state} (tol={estimator.tol}); {convergence_advice()}",
        ConvergenceWarning,
        stacklevel=user_stacklevel(),
    )


def warn_cv_not_converged(estimator, n_unconverged: int, n_solves: int):
    """Warn that ``n_unconverged`` of a cross-validation's ``n_solves`` solves
    stopped short of ``tol``, pointing at the user's call."""
    warnings.warn(
        f"{n_unconverged} of {n_solves} cross-validation solves stopped "
        f"{stopping_point(estimator)} before reaching tol={estimator.tol}; "
        f"{convergence_advice()}",
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

TIME_PARAMETERS = {"max_time": [Interval(Real, 0, None, closed="neither"), None]}
"""The wall-clock budget of the estimators whose fits the solvers run."""

NETWORK_PARAMETERS = {
    **SOLVER_PARAMETERS,
    "alpha": [Interval(Real, 0, None, closed="neither")],
    "hidden_bias": ["boolean"],
    "random_state": ["random_state"],
}
"""Parameters of every two-layer network estimator, convex or trained by Adam."""


def without_autograd(fit):
    """Run an estimator's ``_fit`` under :func:`torch.inference_mode`.

    The solvers never differentiate, and skipping autograd's bookkeeping
    speeds up every small tensor operation (measured in
    ``doc/benchmarks.rst``). No inference tensor escapes: fitted attributes
    are NumPy arrays.
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

    These settings hold inside and are restored afterwards, also when the fit
    raises:

    * the intra-op thread count: the estimator's ``n_threads`` when set, else
      one thread for a small fit (:func:`fit_work`) and the global setting
      otherwise (:func:`convexnn._backend.choose_n_threads`);
    * the advice of convergence warnings (:func:`convergence_advice`), which
      mentions standardising only when ``X`` :func:`looks_unscaled` and the
      estimator's class allows it (``_advise_scaling``: False for models where
      scaling changes what is fitted, such as the one-feature reflection
      dictionaries);
    * the solver settings (:func:`fit_config`), whose deadline is the
      estimator's ``max_time`` (when it has one) from now;
    * the clock of ``verbose`` progress lines
      (:func:`convexnn.solvers.progress.clock`), which count seconds from the
      start of the fit.
    """
    n_threads = choose_n_threads(
        getattr(estimator, "n_threads", None), fit_work(estimator, X, Y)
    )
    unscaled = getattr(estimator, "_advise_scaling", True) and looks_unscaled(X)
    config = SolverConfig().with_time_limit(getattr(estimator, "max_time", None))
    tokens = _FIT_DATA_UNSCALED.set(unscaled), _FIT_CONFIG.set(config)
    try:
        with intra_op_threads(n_threads), clock():
            yield
    finally:
        _FIT_DATA_UNSCALED.reset(tokens[0])
        _FIT_CONFIG.reset(tokens[1])
