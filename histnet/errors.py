"""Errors that histnet raises on purpose.

Every expected failure (bad input, a missing data set, a diverging model) is a
``HistnetError`` subclass whose message is one line naming the file, parameter
or layer at fault. The CLI prints those as ``Error: <message>`` with exit status 1
and keeps full tracebacks for anything else, which is a bug.

The checks that raise the input and parameter errors below are in
:mod:`histnet.validation`. Some classes are also the built-in exception that
scikit-learn's conventions expect (``ValueError``, ``TypeError``), so estimators behave as
scikit-learn's do when given bad data or parameters.
"""

import threading


class HistnetError(Exception):
    """Base class of every error histnet raises deliberately."""


class DataError(HistnetError):
    """A data set, file or archive is missing, malformed or unsafe."""


class ConfigError(HistnetError, ValueError):
    """A parameter or configuration value is invalid."""


class InvalidInputError(DataError, ValueError):
    """An array given to an estimator is malformed (NaN, wrong shape or feature count, ...).

    A :class:`DataError`, and a ``ValueError`` as scikit-learn's conventions expect of an
    estimator given bad data. :mod:`histnet.classifiers` exports it under this name and
    :mod:`histnet.rbm` as ``InputError``.
    """


class InvalidInputTypeError(InvalidInputError, TypeError):
    """An array holds objects that are not numbers; also a ``TypeError`` (scikit-learn's convention)."""


class InputRangeError(InvalidInputError):
    """Data do not fit a model's units, e.g. values outside [0, 1] for Bernoulli visible units."""


class DescriptorError(InvalidInputError, ConfigError):
    """Local descriptors given to a codebook, GMM, PCA or encoder are malformed.

    A data fault, so an :class:`InvalidInputError` (a :class:`DataError`). It is also a
    :class:`ConfigError` only because these checks raised that before and some callers'
    tests still catch it; drop that base once they catch ``DataError``.
    """


class ParameterError(ConfigError, TypeError):
    """A constructor parameter is out of its range or of the wrong type.

    A :class:`ConfigError`, and also a ``TypeError``, as scikit-learn's own
    ``InvalidParameterError`` is, so code catching either keeps working.
    """


class DeviceError(HistnetError):
    """The requested compute device is not available."""


class DivergenceError(HistnetError):
    """Training produced NaN or inf. The message names the layer and the step."""


class NotLearningError(HistnetError):
    """Training ran, but the loss stayed at chance (see :mod:`histnet.nn.health`).

    ``history`` holds the learning curve up to the stop, so the failed record keeps it.
    """

    def __init__(self, message: str, history=None):
        super().__init__(message)
        self.history = list(history or [])


class CheckpointError(HistnetError):
    """A checkpoint is missing, corrupt, or belongs to another model."""


class DownloadError(HistnetError):
    """A download failed or its checksum did not match."""


_LAZY = threading.Lock()


def __getattr__(name):
    # NotFittedEstimatorError derives from scikit-learn's NotFittedError, and importing
    # scikit-learn takes about a second, which every CLI start (it imports this module)
    # would pay. So the class is made on first use, once (under a lock, so two threads
    # cannot make two), and kept in this module.
    if name == "NotFittedEstimatorError":
        with _LAZY:
            if name not in globals():
                globals()[name] = _not_fitted_error()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _not_fitted_error() -> type:
    from sklearn.exceptions import NotFittedError

    class NotFittedEstimatorError(DataError, NotFittedError):
        """An estimator was used before ``fit``; also scikit-learn's ``NotFittedError``
        (so a ``ValueError`` and an ``AttributeError``)."""

    NotFittedEstimatorError.__module__ = __name__
    NotFittedEstimatorError.__qualname__ = "NotFittedEstimatorError"
    return NotFittedEstimatorError
