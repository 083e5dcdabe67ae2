"""Input checks shared by the classifiers in :mod:`histnet.classifiers`.

The estimators check their input once, at the public boundary (``fit``,
``decision_function``, ``transform``), and raise :class:`InvalidInputError` with one
line naming the argument and the problem; the solvers below that trust their input.
Arrays stay on the device they came on: a numpy array is computed on with numpy, a
cupy (or stand-in) array with cupy. Labels are small and always moved to the host.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.exceptions import NotFittedError

from ..backend import get_array_module, is_device_array, to_host
from ..errors import ConfigError, DataError


class InvalidInputError(DataError, ValueError):
    """``X`` or ``y`` given to a classifier is malformed (NaN, wrong shape, one class, ...).

    A :class:`~histnet.errors.DataError`, and a ``ValueError`` as scikit-learn's
    conventions expect of an estimator given bad data.
    """


class NotFittedEstimatorError(DataError, NotFittedError):
    """A classifier was used before ``fit``; also scikit-learn's ``NotFittedError``."""


def check_features(X, name: str, dtype=None, allow_empty: bool = False):
    """Return ``X`` as a 2-d finite float array on its own device.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        numpy array (or anything ``np.asarray`` takes) or a device array.
    name : str
        Who is checking, for the message (e.g. ``"LinearSVM.fit"``).
    dtype : numpy dtype, optional
        Cast to this floating dtype (a copy only when the dtype differs).

    Raises
    ------
    InvalidInputError
        ``X`` is not 2-d, is empty, is not numeric, or holds NaN or inf.
    """
    if not is_device_array(X):
        try:
            X = np.asarray(X)
        except (TypeError, ValueError) as e:
            raise InvalidInputError(f"{name}: X is not an array ({e})") from None
    xp = get_array_module(X)
    if X.ndim != 2:
        raise InvalidInputError(f"{name}: X must be 2-d (n_samples, n_features), got shape {tuple(X.shape)}")
    if X.shape[0] == 0 and not allow_empty:
        raise InvalidInputError(f"{name}: X has no rows")
    if X.dtype.kind not in "biuf":
        raise InvalidInputError(f"{name}: X must be numeric, got dtype {X.dtype}")
    if dtype is not None:
        X = xp.asarray(X, dtype=dtype)
    if X.dtype.kind == "f" and not bool(xp.isfinite(X).all()):
        raise InvalidInputError(f"{name}: X contains NaN or inf")
    return X


def check_labels(y, n_samples: int, name: str):
    """Return ``y`` as a host 1-d numpy array of length ``n_samples``.

    Raises
    ------
    InvalidInputError
        ``y`` is not 1-d (a column vector is accepted), has the wrong length, or holds NaN.
    """
    y = to_host(y) if is_device_array(y) else np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InvalidInputError(f"{name}: y must be 1-d (n_samples,), got shape {y.shape}")
    if len(y) != n_samples:
        raise InvalidInputError(f"{name}: X has {n_samples} rows but y has {len(y)} labels")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise InvalidInputError(f"{name}: y contains NaN or inf")
    return y


def encode_labels(y, name: str):
    """``classes`` (sorted unique labels) and ``y`` as indices into them.

    Raises
    ------
    InvalidInputError
        Fewer than two classes.
    """
    classes, index = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise InvalidInputError(
            f"{name}: y holds only one class ({classes[0]!r} if any); a classifier needs at least two"
            if len(classes) else f"{name}: y is empty")
    return classes, index.reshape(-1)


def check_positive(value, name: str, integer: bool = False):
    """Raise :class:`ConfigError` unless ``value`` is a finite number > 0 (an int if asked)."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not np.isfinite(value) or value <= 0:
        what = "a positive integer" if integer else "a positive number"
        raise ConfigError(f"{name}={value!r}: must be {what}")
    return value


def check_float_dtype(dtype, name: str):
    """``np.dtype`` for ``"float32"``/``"float64"``; anything else is a :class:`ConfigError`."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ConfigError(f"{name}: dtype={dtype!r}; use 'float32' or 'float64'")
    return dt


def check_fitted(estimator, attribute: str):
    """Raise :class:`NotFittedEstimatorError` if ``fit`` has not run."""
    if not hasattr(estimator, attribute):
        raise NotFittedEstimatorError(
            f"{type(estimator).__name__} is not fitted yet: call fit(X, y) first")


def match_device(a, xp):
    """``a`` (a fitted parameter) on the device of ``xp``: an explicit copy if it is elsewhere."""
    if get_array_module(a) is xp:
        return a
    return xp.asarray(to_host(a)) if xp is not np else to_host(a)
