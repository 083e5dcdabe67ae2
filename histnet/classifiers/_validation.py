"""Input checks shared by the classifiers in :mod:`histnet.classifiers`.

The estimators check their input once, at the public boundary (``fit``,
``decision_function``, ``transform``), and raise :class:`InvalidInputError` with one
line naming the argument and the problem; the solvers below that trust their input.
Arrays stay on the device they came on: a numpy array is computed on with numpy, a
cupy (or stand-in) array with cupy. Labels are small and always moved to the host.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning, NotFittedError

from ..backend import get_array_module, is_device_array, to_host
from ..errors import ConfigError, DataError


class InvalidInputError(DataError, ValueError):
    """``X`` or ``y`` given to a classifier is malformed (NaN, wrong shape, one class, ...).

    A :class:`~histnet.errors.DataError`, and a ``ValueError`` as scikit-learn's
    conventions expect of an estimator given bad data.
    """


class InvalidInputTypeError(InvalidInputError, TypeError):
    """``X`` holds objects that are not numbers; also a ``TypeError`` (scikit-learn's convention)."""


class NotFittedEstimatorError(DataError, NotFittedError):
    """A classifier was used before ``fit``; also scikit-learn's ``NotFittedError``."""


def check_features(X, name: str, dtype=None, allow_empty: bool = False):
    """Return ``X`` as a 2-d finite float array on its own device.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        numpy array (or anything ``np.asarray`` takes, object arrays of numbers
        included) or a device array. Sparse matrices are refused.
    name : str
        Who is checking, for the message (e.g. ``"LinearSVM.fit"``).
    dtype : numpy dtype, optional
        Cast to this floating dtype (a copy only when the dtype differs).
    allow_empty : bool
        Accept zero rows (prediction on an empty batch).

    Raises
    ------
    InvalidInputError
        ``X`` is sparse, not 2-d, has no rows or no columns, is not numeric (complex
        included), or holds NaN or inf. The wording follows scikit-learn's where its
        estimator checks look for it.
    """
    if sp.issparse(X):
        raise InvalidInputError(f"{name}: X is a sparse matrix; sparse input is not supported, "
                                "pass a dense array (X.toarray())")
    if not is_device_array(X):
        try:
            X = np.asarray(X)
            if X.dtype == object:
                X = X.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise InvalidInputTypeError(f"{name}: X is not a numeric array ({e})") from None
    xp = get_array_module(X)
    if X.ndim != 2:
        raise InvalidInputError(f"{name}: X must be 2-d (n_samples, n_features), got shape {tuple(X.shape)}; "
                                "Reshape your data with X.reshape(-1, 1) for one feature or "
                                "X.reshape(1, -1) for one sample")
    if X.shape[0] == 0 and not allow_empty:
        raise InvalidInputError(f"{name}: X has 0 sample(s) (shape={tuple(X.shape)}) while a minimum of 1 "
                                "is required")
    if X.shape[1] == 0:
        raise InvalidInputError(f"{name}: X has 0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 "
                                "is required.")
    if X.dtype.kind == "c":
        raise InvalidInputError(f"{name}: X is complex; Complex data not supported")
    if X.dtype.kind not in "biuf":
        raise InvalidInputError(f"{name}: X must be numeric, got dtype {X.dtype}")
    if dtype is not None:
        X = xp.asarray(X, dtype=dtype)
    if X.dtype.kind == "f" and not bool(xp.isfinite(X).all()):
        raise InvalidInputError(f"{name}: X contains NaN or inf")
    return X


def check_n_features(X, n_features: int, estimator, method: str):
    """Raise :class:`InvalidInputError` unless X has the ``n_features`` columns of ``fit``."""
    if X.shape[1] != n_features:
        cls = type(estimator).__name__
        raise InvalidInputError(f"{cls}.{method}: X has {X.shape[1]} features, but {cls} is expecting "
                                f"{n_features} features as input (the number it was fitted on)")


def check_labels(y, n_samples: int, name: str, classification: bool = True):
    """Return ``y`` as a host 1-d numpy array of length ``n_samples``.

    A column vector (n, 1) is accepted with scikit-learn's ``DataConversionWarning``.

    Raises
    ------
    InvalidInputError
        ``y`` is None, not 1-d, has the wrong length, holds NaN, or (for a classifier)
        is continuous.
    """
    if y is None:
        raise InvalidInputError(f"{name}: requires y to be passed, but the target y is None")
    y = to_host(y) if is_device_array(y) else np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(f"A column-vector y was passed when a 1d array was expected ({name}); "
                      "change the shape of y to (n_samples,), for example with ravel()",
                      DataConversionWarning, stacklevel=3)
        y = y[:, 0]
    if y.ndim != 1:
        raise InvalidInputError(f"{name}: y must be 1-d (n_samples,), got shape {y.shape}")
    if len(y) != n_samples:
        raise InvalidInputError(f"{name}: X has {n_samples} rows but y has {len(y)} labels")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise InvalidInputError(f"{name}: y contains NaN or inf")
    if classification and y.dtype.kind == "f" and np.any(y != np.round(y)):
        raise InvalidInputError(f"{name}: Unknown label type: continuous (y holds non-integer numbers; "
                                "a classifier needs class labels)")
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


class DeviceClassifierMixin:
    """``score`` and label lookup for classifiers whose outputs may live on a device.

    scikit-learn's ``ClassifierMixin.score`` passes ``predict``'s output to numpy, which a
    device array refuses; this one moves the predictions to the host explicitly.
    """

    def _labels_from_index(self, index):
        """``classes_[index]``: on the device of ``index`` for numeric labels, else a host array."""
        from ..backend import get_array_module, to_host

        xp = get_array_module(index)
        if xp is np or self.classes_.dtype.kind not in "biuf":
            return self.classes_[to_host(index)]
        return xp.asarray(self.classes_)[index]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on (X, y), as a Python float (computed on the host)."""
        from sklearn.metrics import accuracy_score

        from ..backend import to_host

        predicted = to_host(self.predict(X))
        return float(accuracy_score(check_labels(y, len(predicted), f"{type(self).__name__}.score"),
                                    predicted, sample_weight=sample_weight))
