"""AlexNet: Krizhevsky, Sutskever & Hinton (2012), "ImageNet Classification with Deep
Convolutional Neural Networks", NIPS 25 (doi:10.1145/3065386 for the 2017 CACM version).

Three registered methods share one recipe and differ in the network and its defaults:

``alexnet`` (227 x 227 input; the paper's network)
    conv1 96@11x11/4 - ReLU - LRN - maxpool 3/2
    conv2 256@5x5 pad 2, 2 groups - ReLU - LRN - maxpool 3/2
    conv3 384@3x3 pad 1 - ReLU
    conv4 384@3x3 pad 1, 2 groups - ReLU
    conv5 256@3x3 pad 1, 2 groups - ReLU - maxpool 3/2
    fc6 4096 - ReLU - dropout 0.5, fc7 4096 - ReLU - dropout 0.5, fc8 n_classes
    (the groups are the two-GPU split: conv2, conv4 and conv5 see only the kernel maps on
    "their" GPU; conv3 and the FC layers see all). 62.4 M parameters for 1000 classes.
``alexnet-cifar`` (32 x 32)
    Exactly the net of the PyTorch CIFAR-10 reference run (the peer measurement the speed and
    accuracy figures are compared with; ``benchmarks/speed_cnn.py`` builds it in PyTorch), so speed and
    accuracy compare like with like: conv 64@5x5 - ReLU - pool 3/2 pad 1 - LRN - conv 64@5x5 -
    ReLU - LRN - pool - conv 128@3x3 x3 (ReLU) - pool - fc 384 - fc 192 - fc n_classes, with
    dropout 0.5 after the two hidden FC layers and PyTorch's LRN (alpha/n, alpha = 1e-4).
``alexnet-64`` (64 x 64; Tiny ImageNet, downscaled Imagenette)
    Our scaling of the paper's network (not from a paper): conv 64@5x5 - LRN - pool, conv
    128@5x5 (2 groups) - LRN - pool, conv 192@3x3, conv 192@3x3 (2 groups), conv 128@3x3
    (2 groups) - pool, fc 1024 - fc 1024 - fc n_classes.

The recipe (paper sections 3-5) is :class:`histnet.methods.ImageCnnMethod`'s, each part a
config field; this file holds only the three networks, AlexNet's LRN switch and its history:

* ReLU everywhere; LRN k=2, n=5, alpha=1e-4, beta=0.75 (:class:`histnet.nn.LRN`;
  the paper's alpha is *not* divided by n, PyTorch's is); overlapping max-pooling 3/2;
  dropout 0.5 in the two hidden FC layers (inverted dropout, see :class:`histnet.nn.Dropout`).
* Initialisation ``init="paper"``: weights N(0, 0.01), biases 1 in conv2, conv4, conv5 and
  the hidden FC layers, 0 elsewhere; ``"he"`` and ``"glorot"`` (output layer N(0, 0.01))
  as options (the small nets train far more reliably with ``"he"``: the anchor notes that a
  poor init sat at chance for two epochs).
* Augmentation: random crops (of the native size from larger images, or of the native size
  after ``crop_pad`` reflect padding) and horizontal flips; PCA colour noise with
  alpha ~ N(0, ``pca_noise``) times the standard deviation along each colour axis
  (:func:`histnet.data.augment.pca_color_noise` says why not the eigenvalue); per-channel mean subtraction (``normalize="mean"``, the
  paper) or mean/std (``"meanstd"``, the anchor).
* SGD with momentum 0.9 and weight decay 5e-4 in the paper's form; learning rate divided
  by 10 when the validation error stops improving (``schedule="plateau"``), or step,
  cosine and one-cycle schedules.
* Test: centre crop, or the paper's 10 crops (corners + centre, mirrored) with softmax
  outputs averaged; images that are exactly the native size have no corners to crop, so
  "ten" means the image and its mirror there. The per-epoch validation error of the
  learning curve uses the centre crop (cheaper; the final scores use ``test_crops``).

Input sizes: images larger than the native size are cropped; smaller ones (down to half
the native size) are zero-padded after normalisation (28-px MNIST into alexnet-cifar's
32 px); smaller still is an error naming both sizes. Grey images (C=1) are taken as they
are: conv1 gets one input channel.

Left out: the two-GPU model parallelism itself (the groups keep its connectivity), the
ILSVRC resizing to 256 px (a loader's job), the 90-epoch ILSVRC run (see ``docs/cnn.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nn import LRN, Flatten, MaxPool2D
from ..errors import ConfigError
from .image_cnn import CnnConfig, ImageCnnMethod
from .registration import register


@dataclass
class AlexNetConfig(CnnConfig):
    """The CNN recipe's hyper-parameters (:class:`CnnConfig`, the paper's defaults) and AlexNet's own.

    Attributes
    ----------
    lrn : bool, default=True
        Local response normalisation after conv1 and conv2 (k=2, n=5, alpha=1e-4, beta=0.75).
    pool : {"3/2", "2/2"}, default="3/2"
        Max pooling: the paper's overlapping 3x3 windows with stride 2, or the traditional
        non-overlapping 2x2 (same output size).
    groups : int, default=0
        Groups of conv2, conv4 and conv5 (the paper's two GPUs: 2); 0 is the net's own
        (2 for ``alexnet`` and ``alexnet-64``, 1 for ``alexnet-cifar``).
    remove_conv : str, default=""
        A convolution to leave out (``"conv4"`` or ``"conv5"``, whose input and output have
        the same width): the paper's "removing any of the middle layers" ablation.
    """

    lrn: bool = True
    pool: str = "3/2"
    groups: int = 0
    remove_conv: str = ""

    def __post_init__(self):
        super().__post_init__()
        if self.pool not in ("3/2", "2/2"):
            raise ConfigError(f"pool={self.pool!r} must be one of 3/2, 2/2")
        if self.groups < 0:
            raise ConfigError(f"groups={self.groups} must be >= 0 (0: the net's own)")
        if self.remove_conv not in ("", "conv4", "conv5"):
            raise ConfigError(f"remove_conv={self.remove_conv!r} must be conv4 or conv5 (or empty)")


_PAPER = "Krizhevsky et al. 2012"

#: The 2012 paper's design claims, as arms of ``histnet ablate`` (relative to each net's recipe)
ALEXNET_ABLATIONS = {
    "tanh": {"set": {"activation": "tanh"}, "change": "tanh units instead of ReLU", "expect": "slower",
             "claim": "a four-layer ReLU net reaches 25% training error on CIFAR-10 six times faster than "
                      "the same net with tanh units", "citation": f"{_PAPER}, Sec. 3.1, Figure 1"},
    "no-lrn": {"set": {"lrn": False}, "change": "no local response normalisation", "expect": "worse",
               "claim": "LRN lowers top-1 error by 1.4% on ILSVRC; a four-layer CIFAR-10 net: 13% without, 11% with",
               "citation": f"{_PAPER}, Sec. 3.3"},
    "pool-2x2": {"set": {"pool": "2/2"}, "change": "non-overlapping 2x2 pooling instead of 3x3 stride 2",
                 "expect": "worse", "claim": "overlapping pooling lowers top-1 error by 0.4% on ILSVRC",
                 "citation": f"{_PAPER}, Sec. 3.4"},
    "no-dropout": {"set": {"dropout": 0.0}, "change": "no dropout", "expect": "worse",
                   "claim": "without dropout the net overfits substantially (dropout about doubles the "
                            "iterations needed)", "citation": f"{_PAPER}, Sec. 4.2"},
    "no-augmentation": {"set": {"crop_pad": 0, "flip": False}, "change": "no random crops or flips",
                        "expect": "worse", "claim": "without the translations and reflections the net "
                                                    "overfits substantially", "citation": f"{_PAPER}, Sec. 4.1"},
    "center-crop": {"set": {"test_crops": "center"}, "change": "test on the centre crop alone", "expect": "worse",
                    "claim": "predictions are averaged over ten patches (corners, centre, mirrors); no "
                             "separate figure is given", "citation": f"{_PAPER}, Sec. 4.1"},
    "minus-conv4": {"set": {"remove_conv": "conv4"}, "change": "conv4 removed", "expect": "worse",
                    "claim": "removing any middle convolutional layer costs about 2% top-1",
                    "citation": f"{_PAPER}, Sec. 7"},
}


class AlexNetFamily(ImageCnnMethod):
    """What the three AlexNets share: the paper, its config and its LRN."""

    year = 2012
    paper = "Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with Deep CNNs (NIPS)"
    Config = AlexNetConfig
    progression = "alexnet"
    crossover = True
    # the 2012 winner; on CIFAR-10, the paper's own cuda-convnet nets (18% without, 11% with
    # augmentation and locally connected layers)
    history = ("ilsvrc2012-supervision-7cnn", "cuda-convnet-18pct", "cuda-convnet-11pct")
    ablations = {
        **ALEXNET_ABLATIONS,
        "no-pca-noise": {"set": {"pca_noise": 0.0}, "change": "no PCA colour noise", "expect": "worse",
                         "claim": "the PCA colour noise lowers top-1 error by over 1%", "citation": f"{_PAPER}, Sec. 4.1"},
        "one-group": {"set": {"groups": 1, "width": 0.5}, "change": "one group (one GPU) with half the kernels",
                      "expect": "worse", "claim": "the two-GPU net has 1.7% lower top-1 error than a one-GPU net "
                                                  "with half the kernels", "citation": f"{_PAPER}, Sec. 3.2"},
    }

    #: groups of conv2/4/5 when ``groups=0``
    own_groups = 2

    def lrn(self, name):
        """The paper's LRN (alpha not divided by n), or nothing with ``lrn=false``."""
        return [LRN(5, 1e-4, 0.75, 2.0, name=name)] if self.config.lrn else []

    def pool(self, name, padding=0):
        """Overlapping 3/2 max pooling, or non-overlapping 2/2 (``pool="2/2"``) with the same
        output size (padding, if any, is only needed by the 3x3 window)."""
        if self.config.pool == "2/2":
            return [MaxPool2D(2, 2, name=name)]
        return [MaxPool2D(3, 2, padding, name=name)]

    def groups(self):
        return self.config.groups or self.own_groups

    def conv(self, name, *args, **kwargs):
        """As :meth:`ImageCnnMethod.conv`, or nothing for the ``remove_conv`` layer."""
        if name == self.config.remove_conv:
            c_in, c_out = args[0], args[1]
            if c_in != c_out:
                raise ConfigError(f"{self.name}: remove_conv={name}: its input ({c_in}) and output ({c_out}) "
                                  "widths differ; remove conv4 or conv5")
            return []
        return super().conv(name, *args, **kwargs)


@register
class AlexNet(AlexNetFamily):
    """The paper's 227-px network (5 conv + 3 FC, grouped conv2/4/5)."""

    name = "alexnet"
    summary = "AlexNet (227 px): 5 conv + 3 FC, ReLU, LRN, overlapping pooling, dropout, 2-GPU groups"
    input_size = 227
    image_sizes = (114, None)
    profiles = {
        "quick": {"epochs": 2, "batch_size": 32, "width": 0.25, "init": "he", "pca_noise": 0.0,
                  "test_crops": "center", "schedule": "constant", "lr": 0.005},
        "full": {},
    }

    def layers(self, c_in, n_classes, rng):
        conv, fc, w = self.conv, self.fc, self.width
        body = [
            *conv("conv1", c_in, w(96), 11, rng, stride=4), *self.lrn("lrn1"), *self.pool("pool1"),
            *conv("conv2", w(96), w(256), 5, rng, padding=2, groups=self.groups(), bias_one=True),
            *self.lrn("lrn2"), *self.pool("pool2"),
            *conv("conv3", w(256), w(384), 3, rng, padding=1),
            *conv("conv4", w(384), w(384), 3, rng, padding=1, groups=self.groups(), bias_one=True),
            *conv("conv5", w(384), w(256), 3, rng, padding=1, groups=self.groups(), bias_one=True),
            *self.pool("pool5"), Flatten(name="flatten"),
        ]
        return body + [
            *fc("fc6", self.flat_features(body, c_in), w(4096), rng, bias_one=True), *self.dropout("drop6"),
            *fc("fc7", w(4096), w(4096), rng, bias_one=True), *self.dropout("drop7"),
            *fc("fc8", w(4096), n_classes, rng, output=True),
        ]


@register
class AlexNetCifar(AlexNetFamily):
    """The PyTorch reference run's 32-px AlexNet (the anchor of ``benchmarks/speed_cnn.py``)."""

    name = "alexnet-cifar"
    summary = "AlexNet scaled to 32 px (the PyTorch CIFAR anchor's net): 5 conv + 3 FC, LRN, dropout"
    input_size = 32
    image_sizes = (None, 40)
    own_groups = 1  # the PyTorch reference net has no groups
    # its recipe has no colour noise and one group: those arms add them
    ablations = {
        **ALEXNET_ABLATIONS,
        "pca-noise": {"set": {"pca_noise": 0.1}, "change": "PCA colour noise added", "expect": "better",
                      "claim": "the PCA colour noise lowers top-1 error by over 1%", "citation": f"{_PAPER}, Sec. 4.1"},
        "two-groups": {"set": {"groups": 2}, "change": "conv2, conv4 and conv5 in two groups (the two-GPU "
                                                       "connectivity), same width", "expect": "",
                       "claim": "the paper compares two GPUs with one GPU of half the kernels (1.7% top-1), "
                                "not grouping at the same width", "citation": f"{_PAPER}, Sec. 3.2"},
        "half-width": {"set": {"width": 0.5}, "change": "half the kernels in every layer", "expect": "worse",
                       "claim": "the two-GPU net has 1.7% lower top-1 error than a one-GPU net with half the kernels",
                       "citation": f"{_PAPER}, Sec. 3.2"},
    }
    profiles = {
        # mnist5k (4000 grey 28-px images, padded to 32): about 2 minutes on 2 cores
        "quick": {"epochs": 3, "batch_size": 64, "lr": 0.02, "schedule": "onecycle", "pct_start": 0.25,
                  "init": "he", "crop_pad": 0, "flip": False, "pca_noise": 0.0,
                  "normalize": "meanstd", "test_crops": "center", "dropout": 0.5},
        # the PyTorch reference run's recipe (the anchor), scored with the paper's test
        # protocol: softmax averaged over the image and its mirror ("ten" crops of a 32-px
        # image; the anchor scores the image alone, `--set alexnet-cifar.test_crops=center`)
        "full": {"epochs": 20, "batch_size": 128, "lr": 0.02, "schedule": "onecycle", "pct_start": 0.2,
                 "momentum": 0.9, "weight_decay": 5e-4, "init": "he", "crop_pad": 4, "flip": True,
                 "pca_noise": 0.0, "normalize": "meanstd", "test_crops": "ten",
                 # no effect on the whole CIFAR-10 (7,820 steps); the crossover's small sets get
                 # about what 20 epochs of 1,000 images per class get (1,580 steps). With 500,
                 # 300 per class ended at training loss 1.46: under-trained, not short of data
                 "min_steps": 1500},
    }

    def lrn(self, name):  # the anchor uses PyTorch's LocalResponseNorm(5, alpha=1e-4): alpha / n
        return [LRN(5, 1e-4, 0.75, 2.0, alpha_over_n=True, name=name)] if self.config.lrn else []

    def layers(self, c_in, n_classes, rng):
        conv, fc, w = self.conv, self.fc, self.width
        body = [
            *conv("conv1", c_in, w(64), 5, rng, padding=2), *self.pool("pool1", 1), *self.lrn("lrn1"),
            *conv("conv2", w(64), w(64), 5, rng, padding=2, groups=self.groups(), bias_one=True),
            *self.lrn("lrn2"), *self.pool("pool2", 1),
            *conv("conv3", w(64), w(128), 3, rng, padding=1),
            *conv("conv4", w(128), w(128), 3, rng, padding=1, groups=self.groups(), bias_one=True),
            *conv("conv5", w(128), w(128), 3, rng, padding=1, groups=self.groups(), bias_one=True),
            *self.pool("pool5", 1), Flatten(name="flatten"),
        ]
        return body + [
            *fc("fc6", self.flat_features(body, c_in), w(384), rng, bias_one=True), *self.dropout("drop6"),
            *fc("fc7", w(384), w(192), rng, bias_one=True), *self.dropout("drop7"),
            *fc("fc8", w(192), n_classes, rng, output=True),
        ]


@register
class AlexNet64(AlexNetFamily):
    """AlexNet scaled to 64-px input (Tiny ImageNet, downscaled Imagenette); our scaling."""

    name = "alexnet-64"
    summary = "AlexNet scaled to 64 px: 5 conv (grouped 2/4/5) + 3 FC, LRN, overlapping pooling, dropout"
    input_size = 64
    image_sizes = (41, 113)
    profiles = {
        # at least 600 steps (5 epochs of 8,000 64-px photos, about 5 minutes on 2 cores): 2 epochs
        # there had ended at 82% training error, a row that said nothing about the CNN
        "quick": {"epochs": 2, "batch_size": 64, "lr": 0.02, "schedule": "onecycle", "init": "he",
                  "width": 0.5, "pca_noise": 0.0, "normalize": "meanstd", "test_crops": "center",
                  "min_steps": 600},
        "full": {"epochs": 40, "batch_size": 128, "lr": 0.02, "schedule": "onecycle", "init": "he",
                 "crop_pad": 4, "normalize": "meanstd", "test_crops": "ten", "min_steps": 1500},
    }

    def layers(self, c_in, n_classes, rng):
        conv, fc, w = self.conv, self.fc, self.width
        body = [
            *conv("conv1", c_in, w(64), 5, rng, padding=2), *self.lrn("lrn1"), *self.pool("pool1", 1),
            *conv("conv2", w(64), w(128), 5, rng, padding=2, groups=self.groups(), bias_one=True),
            *self.lrn("lrn2"), *self.pool("pool2", 1),
            *conv("conv3", w(128), w(192), 3, rng, padding=1),
            *conv("conv4", w(192), w(192), 3, rng, padding=1, groups=self.groups(), bias_one=True),
            *conv("conv5", w(192), w(128), 3, rng, padding=1, groups=self.groups(), bias_one=True),
            *self.pool("pool5", 1), Flatten(name="flatten"),
        ]
        return body + [
            *fc("fc6", self.flat_features(body, c_in), w(1024), rng, bias_one=True), *self.dropout("drop6"),
            *fc("fc7", w(1024), w(1024), rng, bias_one=True), *self.dropout("drop7"),
            *fc("fc8", w(1024), n_classes, rng, output=True),
        ]
