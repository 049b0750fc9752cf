"""Per-feature inputs given in column order or keyed by feature name."""

from __future__ import annotations

import warnings

import numpy as np


def values_by_feature(
    values,
    names: list[str],
    parameter: str,
    *,
    warning: type[Warning] = UserWarning,
    stacklevel: int = 4,
) -> np.ndarray:
    """One real number per feature, in the order of ``names``.

    Parameters
    ----------
    values : array-like of shape (n_features,) or mapping of str to float
        Either one value per feature in column order, or a mapping keyed by
        feature name. A mapping must give every feature a value; keys that
        are not feature names are ignored with a warning naming them.
    names : list of str
        The feature names, in column order.
    parameter : str
        How the values are called in error messages.
    warning : Warning subclass, default=UserWarning
        The category of the warning about ignored keys.
    stacklevel : int, default=4
        Passed to :func:`warnings.warn`, so the warning points at user code.

    Returns
    -------
    ndarray of shape (n_features,), float64
        A new array; ``values`` is not modified.
    """
    if hasattr(values, "keys"):
        by_name = dict(values.items())
        missing = [name for name in names if name not in by_name]
        if missing:
            raise ValueError(
                f"{parameter} has no value for {len(missing)} feature(s): "
                f"{missing[:10]!r}."
            )
        unknown = sorted(set(map(str, by_name)) - set(names))
        if unknown:
            warnings.warn(
                f"{parameter} ignores {len(unknown)} name(s) that are not "
                f"features of X: {unknown[:10]!r}.",
                warning,
                stacklevel=stacklevel,
            )
        values = [by_name[name] for name in names]
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{parameter} must hold real numbers; got values of dtype {array.dtype}."
        )
    if array.shape != (len(names),):
        raise ValueError(
            f"{parameter} must have one value per feature, shape ({len(names)},); "
            f"got shape {array.shape}."
        )
    return array.astype(np.float64)
