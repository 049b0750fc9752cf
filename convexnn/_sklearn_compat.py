"""The private scikit-learn helpers convexnn builds on, imported in one place.

Parameter validation (``Interval``, ``StrOptions``, ``HasMethods``, and
``validate_params`` for public functions) and
``_fit_context``, which validates parameters once per ``fit`` and honours
``sklearn.config_context(skip_parameter_validation=True)``, are private in
scikit-learn and may move between releases. Every module imports them from
here, so a move is fixed once; so are the public functions whose signature
changed within the supported range. Supported: scikit-learn 1.6.0 and newer,
the range ``pyproject.toml`` states; CI tests its oldest release and the newest.
"""

from numbers import Integral

from sklearn.base import _fit_context
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.multiclass import type_of_target

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "_fit_context",
    "check_shuffled_cv",
    "validate_params",
]


def check_shuffled_cv(cv, y=None, *, classifier: bool = False, random_state=None):
    """:func:`~sklearn.model_selection.check_cv`, with shuffled folds for an int.

    An int or ``None`` (5 folds) gives ``StratifiedKFold`` for a classifier with
    binary or multiclass ``y`` and ``KFold`` otherwise, both shuffled with
    ``random_state``; any other ``cv`` goes to ``check_cv`` unchanged. (Newer
    scikit-learn releases take ``check_cv(..., shuffle=True)``; 1.6 does not.)
    """
    if cv is None or isinstance(cv, Integral):
        n_splits = 5 if cv is None else cv
        stratify = classifier and y is not None
        if stratify and type_of_target(y) in ("binary", "multiclass"):
            return StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
        return KFold(n_splits, shuffle=True, random_state=random_state)
    return check_cv(cv, y, classifier=classifier)
