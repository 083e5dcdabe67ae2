"""Checks at the public boundary of histnet's estimators: arrays and parameters.

Estimators check what they are given once, where it comes in (``fit``, ``transform``,
``predict``, ...), and the code below that trusts it. Every check here raises a one-line
error naming the caller and the fault (classes in :mod:`histnet.errors`):

* data faults (:class:`~histnet.errors.InvalidInputError`, a ``DataError`` and a
  ``ValueError``): :func:`check_features`, :func:`check_n_features`, :func:`check_labels`,
  :func:`encode_labels`, :func:`check_descriptors`, :func:`check_estimator_input`;
  using an estimator before ``fit`` (:class:`~histnet.errors.NotFittedEstimatorError`):
  :func:`check_fitted`;
* parameter faults (:class:`~histnet.errors.ParameterError`, a ``ConfigError``):
  :func:`check_params` with :class:`Interval` and the other rules it takes,
  :func:`check_positive`, :func:`check_float_dtype`.

Array checks work on numpy and on device arrays (cupy or its stand-in) alike, and leave
an array on the device it came on; labels are small and are moved to the host.
Parameter rules are plain data (a dict of parameter name to rule), written once per
estimator; scikit-learn's own ``_parameter_constraints`` machinery is private to it and
is not used.

What is left out: sparse matrices (refused, never converted), pandas feature names on
device arrays (scikit-learn records them for host data in :func:`check_estimator_input`),
and checks of a parameter against another one (the estimators do those themselves).
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import errors
from .backend import get_array_module, is_device_array, to_host
from .errors import DescriptorError, InvalidInputError, InvalidInputTypeError, ParameterError

__all__ = [
    "Interval", "RANDOM_STATE", "check_params", "check_positive", "check_float_dtype",
    "check_features", "check_n_features", "check_labels", "encode_labels", "check_fitted",
    "check_descriptors", "check_estimator_input",
]


# -- parameters ---------------------------------------------------------------------------------

_CLOSED = ("both", "left", "right", "neither")


@dataclass(frozen=True)
class Interval:
    """A rule for a number parameter: its kind and the interval it must lie in.

    Parameters
    ----------
    kind : {int, float}
        ``int`` takes integers (Python or numpy); ``float`` takes any real number,
        integers included. Booleans are neither, and NaN and infinities lie outside
        every interval.
    low, high : float or None
        Bounds; None is unbounded on that side.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which of the bounds belong to the interval.

    Examples
    --------
    >>> 0.5 in Interval(float, 0, 1, closed="neither"), 0 in Interval(int, 1, None)
    (True, False)
    >>> Interval(float, 0, None, closed="neither").describe()
    'a positive number'
    """

    kind: type
    low: Optional[float] = None
    high: Optional[float] = None
    closed: str = "both"

    def __post_init__(self):
        if self.kind not in (int, float):
            raise TypeError(f"Interval: kind={self.kind!r} must be int or float")
        if self.closed not in _CLOSED:
            raise ValueError(f"Interval: closed={self.closed!r} must be one of {', '.join(_CLOSED)}")

    def __contains__(self, value) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if not isinstance(value, numbers.Integral if self.kind is int else numbers.Real):
            return False
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self) -> str:
        """The rule in words, as it ends an error message ("must be ...")."""
        noun = "integer" if self.kind is int else "number"
        if self.low == 0 and self.high is None:
            return f"a positive {noun}" if self.closed in ("right", "neither") else f"a non-negative {noun}"
        left = "[" if self.low is not None and self.closed in ("both", "left") else "("
        right = "]" if self.high is not None and self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else _number(self.low)
        high = "inf" if self.high is None else _number(self.high)
        return f"{'an' if self.kind is int else 'a'} {noun} in {left}{low}, {high}{right}"


def _number(b) -> str:
    return str(b) if isinstance(b, numbers.Integral) else f"{b:g}"


RANDOM_STATE = (None, Interval(int, 0, 2 ** 32 - 1), np.random.RandomState)
"""The rule for a scikit-learn ``random_state``: None, a seed, or a ``RandomState``."""


def _satisfies(rule, value) -> bool:
    if rule is None:
        return value is None
    if isinstance(rule, Interval):
        return value in rule
    if isinstance(rule, (set, frozenset)):
        try:
            return value in rule
        except TypeError:  # an unhashable value is in no set
            return False
    if rule is bool:
        return isinstance(value, (bool, np.bool_))
    if rule is callable:
        return callable(value)
    if isinstance(rule, type):
        return isinstance(value, rule)
    raise TypeError(f"check_params: unknown rule {rule!r}")


def _describe(rule) -> str:
    if rule is None:
        return "None"
    if isinstance(rule, Interval):
        return rule.describe()
    if isinstance(rule, (set, frozenset)):
        return "one of " + ", ".join(repr(v) for v in sorted(rule, key=repr))
    if rule is bool:
        return "a bool"
    if rule is callable:
        return "a callable"
    return "a numpy array" if rule is np.ndarray else f"a {rule.__name__}"


def check_params(obj, rules: Mapping, *, owner: Optional[str] = None) -> None:
    """Check parameters against declared rules; the first one broken raises.

    Parameters
    ----------
    obj : object or mapping
        Where the values are: attributes of an estimator (its ``__init__`` parameters)
        or of a config, or the keys of a dict.
    rules : mapping of str to rule
        Parameter name to its rule. A rule is one of, or a tuple of alternatives
        (any one of them will do):

        * an :class:`Interval` (an int or a float within bounds);
        * a set of allowed values, e.g. ``{"bernoulli", "gaussian"}``;
        * ``None`` (the value None);
        * ``bool`` (True or False, numpy's included), ``callable`` (anything callable),
          or another type (an instance of it, e.g. ``str``).
    owner : str, optional
        Name for the message; default the class name of ``obj``.

    Raises
    ------
    ParameterError
        ``"<owner>: <name>=<value> must be <rule in words>"``; a ``ConfigError`` and a
        ``TypeError``.

    Examples
    --------
    >>> check_params({"k": 0}, {"k": Interval(int, 1, None)}, owner="RBM")
    Traceback (most recent call last):
    ...
    histnet.errors.ParameterError: RBM: k=0 must be an integer in [1, inf)
    """
    owner = owner or type(obj).__name__
    for name, rule in rules.items():
        value = obj[name] if isinstance(obj, Mapping) else getattr(obj, name)
        alternatives = rule if isinstance(rule, tuple) else (rule,)
        if not any(_satisfies(a, value) for a in alternatives):
            raise ParameterError(f"{owner}: {name}={value!r} must be "
                                 + " or ".join(_describe(a) for a in alternatives))


def check_positive(value, name: str, integer: bool = False):
    """Return ``value`` if it is a finite number > 0 (an integer if asked).

    The single-parameter form of :func:`check_params`, for estimators that check their
    parameters one by one; ``name`` already names the owner (e.g. ``"LinearSVM C"``).

    Raises
    ------
    ParameterError
        ``"<name>=<value>: must be a positive number"`` (or ``integer``).
    """
    rule = Interval(int if integer else float, 0, None, closed="neither")
    if value not in rule:
        raise ParameterError(f"{name}={value!r}: must be {rule.describe()}")
    return value


def check_float_dtype(dtype, name: str):
    """``np.dtype`` for ``"float32"``/``"float64"``; anything else is a :class:`ParameterError`."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ParameterError(f"{name}: dtype={dtype!r}; use 'float32' or 'float64'")
    return dt


# -- arrays ---------------------------------------------------------------------------------------

def check_features(X, name: str, dtype=None, allow_empty: bool = False):
    """Return ``X`` as a 2-d finite numeric array on its own device.

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
    InvalidInputTypeError
        ``X`` holds objects that are not numbers.
    """
    sparse = sys.modules.get("scipy.sparse")  # not imported: X cannot be a sparse matrix
    if sparse is not None and sparse.issparse(X):
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
        from sklearn.exceptions import DataConversionWarning

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


def check_fitted(estimator, attribute: str, call: str = "fit(X, y)"):
    """Raise :class:`~histnet.errors.NotFittedEstimatorError` unless ``estimator`` has ``attribute``.

    ``attribute`` is one that ``fit`` sets (e.g. ``"coef_"``); ``call`` is how to fit it,
    for the message.
    """
    if not hasattr(estimator, attribute):
        raise errors.NotFittedEstimatorError(
            f"{type(estimator).__name__} is not fitted yet: call {call} first")


def check_descriptors(X, what: str, n_features: Optional[int] = None, ndim=2):
    """Check local descriptors (SIFT, HOG cells, ...) given to a codebook, GMM, PCA or encoder.

    Parameters
    ----------
    X : xp array
        Descriptors, shape (n, d) (``ndim=2``) or (n_images, n_per_image, d) (``ndim=3``).
    what : str
        Name used in the error, e.g. ``"KMeans.transform"``.
    n_features : int, optional
        The dimension the estimator was fitted on; a different ``d`` is refused.
    ndim : int or tuple of int, default=2

    Raises
    ------
    DescriptorError
        Wrong rank, no rows, not numeric, or a descriptor dimension other than the
        fitted one: faults of the data, so a ``DataError``.
    """
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) not in ndims:
        want = " or ".join(f"{d}-d" for d in ndims)
        raise DescriptorError(f"{what}: descriptors must be a {want} array, got shape {shape}")
    if len(shape) == 2 and shape[0] == 0:
        raise DescriptorError(f"{what}: got zero descriptors")
    if np.dtype(X.dtype).kind not in "fiu":
        raise DescriptorError(f"{what}: descriptors must be numeric, got dtype {X.dtype}")
    if n_features is not None and shape[-1] != n_features:
        raise DescriptorError(
            f"{what}: descriptors have dimension {shape[-1]} but this codebook was fitted on "
            f"dimension {n_features}"
        )


_NO_LABELS = object()


def check_estimator_input(estimator, X, name: str, *, reset: bool, y=_NO_LABELS, dtype=(np.float32, np.float64),
                          allow_device: bool = True):
    """``X`` (and ``y``) at the boundary of a scikit-learn estimator, on the host or a device.

    Host data go through scikit-learn's public ``sklearn.utils.validation.validate_data``,
    which also records ``n_features_in_`` (and pandas feature names) when ``reset`` and
    checks them otherwise, as scikit-learn's estimator checks expect; its ``ValueError``
    becomes one :class:`InvalidInputError` line starting with ``name``. Device arrays get
    :func:`check_features` (2-d, numeric, finite) and their column count is recorded in,
    or checked against, ``estimator.n_features_in_``; they stay on their device.

    Parameters
    ----------
    estimator : scikit-learn estimator
    X : array of shape (n_samples, n_features)
    name : str
        Who is checking, for the message (e.g. the layer name ``"RBM 2"``).
    reset : bool
        True in ``fit`` (record the number of features), False after it (check it).
    y : array of shape (n_samples,), optional
        Labels, checked with ``X`` and returned after it (passing ``y=None`` is a
        fault: "requires y to be passed"; leaving it out means there are no labels).
    dtype : dtype or tuple of dtypes, default=(float32, float64)
        Accepted dtypes; other data are converted to the first.
    allow_device : bool, default=True
        False for estimators that compute on the host only: a device array is then an
        :class:`~histnet.errors.InvalidInputTypeError` (move it with ``to_host``).

    Returns
    -------
    X, or (X, y) when ``y`` is given
        Host data as ``validate_data`` returns them; device data of an accepted dtype
        as given (no copy).
    """
    dtypes = dtype if isinstance(dtype, tuple) else (dtype,)
    if is_device_array(X):
        if not allow_device:
            raise InvalidInputTypeError(f"{name}: X is a device array; this estimator takes host data "
                                        "(move it with histnet.backend.to_host)")
        X = check_features(X, name)
        if X.dtype not in tuple(np.dtype(d) for d in dtypes):
            X = X.astype(dtypes[0])
        if reset:
            estimator.n_features_in_ = int(X.shape[1])
        elif X.shape[1] != estimator.n_features_in_:
            raise InvalidInputError(f"{name}: X has {X.shape[1]} features, but {type(estimator).__name__} is "
                                    f"expecting {estimator.n_features_in_} features as input")
        return X if y is _NO_LABELS else (X, check_labels(y, X.shape[0], name, classification=False))
    from sklearn.utils.validation import validate_data

    try:
        if y is _NO_LABELS:
            return validate_data(estimator, X, reset=reset, dtype=dtype, accept_sparse=False)
        return validate_data(estimator, X, y, reset=reset, dtype=dtype, accept_sparse=False)
    except ValueError as e:  # scikit-learn's message, as one line naming the caller
        raise InvalidInputError(f"{name}: {' '.join(str(e).split())}") from None
