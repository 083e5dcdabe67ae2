"""``cnn-features-svm``: a trained CNN's penultimate layer as the feature of a linear SVM.

Donahue et al. (2014), "DeCAF: a deep convolutional activation feature for generic visual
recognition" (ICML), and Razavian et al. (2014), "CNN features off-the-shelf: an astounding
baseline for recognition" (CVPR workshops), took an ImageNet-trained AlexNet, read the
activations of a late fully connected layer for images of *other* tasks, and trained a
linear SVM on them: these off-the-shelf features beat the hand-crafted pipelines on most of
the benchmarks they tried. The point became the way most of vision worked for the next
years: train once on a large data set, reuse everywhere.

Here ``source`` names a trained CNN run of histnet (a run folder holding ``model.npz``, or
the file itself, e.g. the committed CIFAR-10 ``alexnet-cifar``), and the feature of an
image is that net's output just before its classifier layer (after the last hidden
layer's ReLU; dropout is off at this point), computed the way the net reads images
(centre crop or zero padding to its input size, its own normalisation). Grey images are
repeated into three channels for a colour net, colour images are turned to BT.601 luma for
a grey one. Everything else is the :class:`~histnet.methods.FeatureSvmMethod` recipe:
batched extraction, the feature cache (keyed by the model file's checksum, so a retrained
net is a new key), standardisation, a linear SVM.

Left out: fine-tuning the net (the SVM alone learns), the other layers' features, and
the ten-crop averaging of the features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backend import to_host
from ..data.options import rgb_to_grey
from ..errors import ConfigError, DataError
from ..features.feature_cache import file_checksum
from ..nn import Linear, Sequential
from .feature_svm import FeatureSvmMethod
from .registration import register
from .saved import load_model, model_path


@dataclass
class CnnFeaturesConfig:
    """Features of a trained CNN + standardisation + linear SVM.

    Attributes
    ----------
    source : str, default=""
        A trained CNN: a run folder that holds ``model.npz`` (``histnet run`` keeps one) or
        the model file. Required.
    C : float, default=0.01
        SVM inverse regularisation.
    svm_max_iter : int, default=100
        Newton iterations of the SVM solver at most.
    svm_tol : float, default=1e-4
        SVM stopping tolerance.
    standardize : bool, default=True
        Scale every feature to zero mean, unit variance on the training set.
    batch_size : int, default=256
        Images per extraction batch.
    cache_features : bool, default=True
        Store/reuse the training features on disk.
    """

    source: str = ""
    C: float = 0.01
    svm_max_iter: int = 100
    svm_tol: float = 1e-4
    standardize: bool = True
    batch_size: int = 256
    cache_features: bool = True


@register
class CnnFeaturesSvm(FeatureSvmMethod):
    """Off-the-shelf features of a trained CNN and a linear SVM. See the module docstring."""

    name = "cnn-features-svm"
    year = 2014
    paper = ("Donahue et al. 2014, DeCAF (ICML); Razavian et al. 2014, CNN features off-the-shelf "
             "(CVPR workshops)")
    family = "transfer"
    summary = "a trained CNN's penultimate-layer activations (--set source=RUN) + standardisation + linear SVM"
    Config = CnnFeaturesConfig
    profiles = {"quick": {"svm_max_iter": 50, "svm_tol": 1e-3}, "full": {}}

    # -- the source net --------------------------------------------------------------------------
    def check_config(self):
        if not self.config.source:
            raise ConfigError(f"{self.name}: set source=RUN, a trained CNN's run folder (or its model.npz)")
        self._source()

    def _source(self):
        """The loaded CNN, its trunk up to the classifier layer, and the model file's path."""
        if getattr(self, "_loaded", None) is None:
            path = model_path(self.config.source)
            cnn = load_model(path, backend=self.backend)
            if not hasattr(cnn, "net_") or not hasattr(cnn, "_prepare"):
                raise ConfigError(f"{self.name}: source={self.config.source}: a {cnn.name} model, not a CNN "
                                  "(train one with histnet run alexnet-cifar, for example)")
            layers = cnn.net_.layers
            last = max(i for i, layer in enumerate(layers) if isinstance(layer, Linear))
            if last == 0:
                raise ConfigError(f"{self.name}: source={self.config.source}: the net has no layer before its "
                                  "classifier")
            self._loaded = (cnn, Sequential(layers[:last], name="trunk"), Path(path))
        return self._loaded

    def _as_net_input(self, images):
        cnn, _, _ = self._source()
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        c, want = images.shape[-1], cnn.in_channels_
        if c == want:
            return images
        if c == 1 and want == 3:
            return np.repeat(images, 3, axis=-1)
        if c == 3 and want == 1:
            return to_host(rgb_to_grey(images))
        raise DataError(f"{self.name}: {c}-channel images for a net trained on {want} channels")

    # -- the recipe's hooks ----------------------------------------------------------------------
    def feature_dim(self, image_shape=None) -> int:
        cnn, trunk, _ = self._source()
        s = cnn.input_size
        return int(np.prod(trunk.output_shape((s, s, cnn.in_channels_))))

    def extract(self, images):
        cnn, trunk, _ = self._source()
        x = self._as_net_input(images)
        cnn._check_size(x.shape[1], x.shape[2], self.name)
        batch, _ = cnn._prepare(x, None, None, False)
        return trunk.forward(batch, train=False)

    def cache_key(self, train, part: str = "train") -> dict:
        key = super().cache_key(train, part)
        _, _, path = self._source()
        digest = file_checksum(path)  # streamed: memory stays flat
        key["params"] = {**key["params"], "source": digest}  # the net, not the path it was read from
        return key

    def extract_flops(self, image_shape) -> int:
        cnn, trunk, _ = self._source()
        s = cnn.input_size
        return int(trunk.flops((s, s, cnn.in_channels_)))
