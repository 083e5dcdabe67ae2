"""ZFNet for CIFAR: Zeiler & Fergus (2013), "Visualizing and understanding convolutional
networks", ECCV 2014, arXiv:1311.2901.

Zeiler and Fergus looked inside AlexNet with a deconvolutional network, saw dead and aliased
first-layer filters from its large 11x11 stride-4 filters, and shrank them to 7x7 with stride
2; they also widened conv3-conv5 (384-384-256 to 512-1024-512) and dropped the two-GPU
groups. Their net (with the refinements of the ILSVRC-2013 entries built on it, Clarifai's
among them) won ILSVRC 2013 with 11.7% top-5 error.

Here that change is applied to ``alexnet-cifar`` (our scaling, not from the paper): the
first layer becomes 64@3x3 instead of 64@5x5 (smaller and, relative to the image, denser),
conv3-conv5 widen from 128-128-128 to 192-256-192, no groups; LRN, overlapping pooling,
dropout and the recipe stay AlexNet's. The paper has no CIFAR-10 figure, so the history
column shows the ILSVRC one. Left out: the filter renormalisation (columns whose RMS exceeds
0.1 rescaled after each update).
"""

from __future__ import annotations

from ..nn import Flatten, MaxPool2D
from .alexnet import AlexNetCifar
from .registration import register


@register
class ZFNetCifar(AlexNetCifar):
    name = "zfnet-cifar"
    history = ("ilsvrc2013-clarifai",)
    year = 2013
    paper = "Zeiler & Fergus 2013, Visualizing and understanding convolutional networks (ECCV 2014)"
    summary = "ZFNet's change to AlexNet at 32 px: a smaller, denser first layer (3x3), wider conv3-5, no groups"
    progression = "zfnet"
    image_sizes = (None, None)
    crossover = False
    ablations = {}  # AlexNet's arms do not carry over (its conv3-5 widths differ)

    def layers(self, c_in, n_classes, rng):
        conv, fc, w = self.conv, self.fc, self.width
        body = [
            *conv("conv1", c_in, w(64), 3, rng, padding=1), MaxPool2D(3, 2, 1, name="pool1"), *self.lrn("lrn1"),
            *conv("conv2", w(64), w(64), 5, rng, padding=2, bias_one=True),
            *self.lrn("lrn2"), MaxPool2D(3, 2, 1, name="pool2"),
            *conv("conv3", w(64), w(192), 3, rng, padding=1),
            *conv("conv4", w(192), w(256), 3, rng, padding=1, bias_one=True),
            *conv("conv5", w(256), w(192), 3, rng, padding=1, bias_one=True),
            MaxPool2D(3, 2, 1, name="pool5"), Flatten(name="flatten"),
        ]
        return body + [
            *fc("fc6", self.flat_features(body, c_in), w(384), rng, bias_one=True), *self.dropout("drop6"),
            *fc("fc7", w(384), w(192), rng, bias_one=True), *self.dropout("drop7"),
            *fc("fc8", w(192), n_classes, rng, output=True),
        ]
