"""Network in Network for CIFAR: Lin, Chen & Yan (2013), "Network in network", ICLR 2014,
arXiv:1312.4400.

NIN replaced each convolution's linear filter by a small multilayer perceptron slid over the
image ("mlpconv": a convolution followed by two 1x1 convolutions, each with a ReLU), and the
fully connected classifier by global average pooling over one feature map per class. Its
CIFAR-10 net: three mlpconv blocks, 192-160-96 (5x5), 192-192-192 (5x5) and 192-192-10
(3x3), a 3x3 stride-2 pool and dropout 0.5 after the first two; 8.81% test error with
translation and flip augmentation (10.41% without), the paper's Table 2. The 1x1 layers are
the idea GoogLeNet's Inception blocks were built on (ILSVRC 2014 winner, 6.67% top-5).

Departures: the second pool is max, not average; He initialisation; no ReLU on the class
maps (so the scores are not clipped at zero before the average).
"""

from __future__ import annotations

from ..nn import Dropout, GlobalAvgPool2D, MaxPool2D
from .image_cnn import ImageCnnMethod, config_with_defaults, onecycle_profiles
from .registration import register


@register
class NinCifar(ImageCnnMethod):
    name = "nin-cifar"
    history = ("nin-cifar10", "ilsvrc2014-googlenet")
    year = 2014
    paper = "Lin, Chen & Yan 2013, Network in network (ICLR 2014)"
    summary = "Network in Network at 32 px: three mlpconv blocks (conv + two 1x1), global average pooling"
    input_size = 32
    channel_multiple = 1
    progression = "nin"
    profiles = onecycle_profiles(0.05, epochs=30, quick_width=0.5)
    Config = config_with_defaults("NinConfig", profiles["full"])

    def layers(self, c_in, n_classes, rng):
        conv, w = self.conv, self.width
        return [
            *conv("conv1", c_in, w(192), 5, rng, padding=2), *conv("cccp1", w(192), w(160), 1, rng),
            *conv("cccp2", w(160), w(96), 1, rng), MaxPool2D(3, 2, 1, name="pool1"),
            Dropout(self.config.dropout, name="drop1"),
            *conv("conv2", w(96), w(192), 5, rng, padding=2), *conv("cccp3", w(192), w(192), 1, rng),
            *conv("cccp4", w(192), w(192), 1, rng), MaxPool2D(3, 2, 1, name="pool2"),
            Dropout(self.config.dropout, name="drop2"),
            *conv("conv3", w(192), w(192), 3, rng, padding=1), *conv("cccp5", w(192), w(192), 1, rng),
            *conv("cccp6", w(192), n_classes, 1, rng, relu=False, output=True),
            GlobalAvgPool2D(name="pool3"),
        ]
