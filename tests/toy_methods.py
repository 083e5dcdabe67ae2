"""Small methods used only by the tests: fast, deterministic, and one that fails on purpose."""

import dataclasses

import numpy as np

from histnet.backend import to_device, to_host
from histnet.errors import ConfigError
from histnet.methods import Method, register


@dataclasses.dataclass
class NearestMeanConfig:
    shrink: float = 0.0
    fail_in_fit: bool = False


@register
class NearestMean(Method):
    """Nearest class mean on raw pixels: the simplest classifier there is."""

    name = "test-nearest-mean"
    year = 1936
    paper = "Fisher 1936 (class means)"
    family = "baseline"
    Config = NearestMeanConfig

    def fit(self, train, val=None):
        if self.config.fail_in_fit:
            raise ConfigError("test-nearest-mean: asked to fail")
        xp = self.xp
        sums = xp.zeros((train.n_classes, int(np.prod(train.image_shape))), dtype=np.float32)
        counts = np.zeros(train.n_classes)
        for images, labels in train.batches(256):
            x = to_device(images.reshape(len(images), -1), xp, dtype=np.float32)
            for c in np.unique(labels):
                sums[int(c)] += x[to_device(labels == c, xp)].sum(axis=0)
            counts += np.bincount(labels, minlength=train.n_classes)
        self.means_ = sums / to_device(np.maximum(counts, 1)[:, None].astype(np.float32), xp)
        return self

    def predict_scores(self, images):
        xp = self.xp
        x = to_device(images.reshape(len(images), -1), xp, dtype=np.float32)
        d = (x * x).sum(1, keepdims=True) - 2 * x @ self.means_.T + (self.means_ ** 2).sum(1)[None, :]
        return to_host(-d)

    def get_state(self):
        return {"means": to_host(self.means_)}

    def set_state(self, state):
        self.means_ = to_device(state["means"], self.xp)

    def describe(self):
        return {"n_params": int(self.means_.size) if hasattr(self, "means_") else None}


@register
class Crashes(Method):
    """A method with a bug: raises a plain exception in fit."""

    name = "test-crashes"
    year = 1999
    paper = "none"
    family = "baseline"

    def fit(self, train, val=None):
        raise ZeroDivisionError("a bug")
