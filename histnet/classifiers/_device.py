"""What the classifiers in :mod:`histnet.classifiers` share about devices.

Their fitted parameters and outputs may live on a GPU (cupy or its stand-in); these
helpers move them explicitly where scikit-learn's conventions would need host arrays.
The input checks they run first are in :mod:`histnet.validation`.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module, to_host
from ..validation import check_labels


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
        xp = get_array_module(index)
        if xp is np or self.classes_.dtype.kind not in "biuf":
            return self.classes_[to_host(index)]
        return xp.asarray(self.classes_)[index]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on (X, y), as a Python float (computed on the host)."""
        from sklearn.metrics import accuracy_score

        predicted = to_host(self.predict(X))
        return float(accuracy_score(check_labels(y, len(predicted), f"{type(self).__name__}.score"),
                                    predicted, sample_weight=sample_weight))
