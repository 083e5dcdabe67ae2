"""Errors that histnet raises on purpose.

Every expected failure (bad input, a missing data set, a diverging model) is a
``HistnetError`` subclass whose message is one line naming the file, parameter
or layer at fault. The CLI prints those as ``Error: <message>`` with exit status 1
and keeps full tracebacks for anything else, which is a bug.
"""


class HistnetError(Exception):
    """Base class of every error histnet raises deliberately."""


class DataError(HistnetError):
    """A data set, file or archive is missing, malformed or unsafe."""


class ConfigError(HistnetError, ValueError):
    """A parameter or configuration value is invalid."""


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
