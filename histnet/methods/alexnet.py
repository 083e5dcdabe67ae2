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
    Exactly the net of the PyTorch anchor (``bench_torch_alexnet_cifar.py``), so speed and
    accuracy compare like with like: conv 64@5x5 - ReLU - pool 3/2 pad 1 - LRN - conv 64@5x5 -
    ReLU - LRN - pool - conv 128@3x3 x3 (ReLU) - pool - fc 384 - fc 192 - fc n_classes, with
    dropout 0.5 after the two hidden FC layers and PyTorch's LRN (alpha/n, alpha = 1e-4).
``alexnet-64`` (64 x 64; Tiny ImageNet, downscaled Imagenette)
    Our scaling of the paper's network (not from a paper): conv 64@5x5 - LRN - pool, conv
    128@5x5 (2 groups) - LRN - pool, conv 192@3x3, conv 192@3x3 (2 groups), conv 128@3x3
    (2 groups) - pool, fc 1024 - fc 1024 - fc n_classes.

The recipe (paper sections 3-5), each part a config field:

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

import math
from dataclasses import dataclass

import numpy as np

from ..backend import FLOAT, get_array_module, to_device, to_host
from ..data import augment
from ..errors import ConfigError, DataError
from ..nn import (LRN, SGD, Conv2D, Dropout, Flatten, Linear, MaxPool2D, ReLU, Sequential,
                  Trainer, make_schedule, softmax)
from .contract import Method
from .registry import register


@dataclass
class AlexNetConfig:
    """Hyper-parameters of the AlexNet recipe (defaults: the paper, section 5).

    Attributes
    ----------
    epochs : int, default=90
        The paper trained "roughly 90 cycles through the training set".
    batch_size : int, default=128
    lr : float, default=0.01
        Initial (or, for one-cycle, peak) learning rate.
    momentum : float, default=0.9
    weight_decay : float, default=5e-4
    schedule : {"plateau", "step", "cosine", "onecycle", "constant"}, default="plateau"
    patience : int, default=1
        Plateau: epochs without improvement before dividing by 10 (at most 3 times).
    pct_start : float, default=0.2
        One-cycle: fraction of steps spent warming up.
    warmup_epochs : float, default=0.0
        Cosine: linear warm-up.
    step_epochs : int, default=30
        Step: divide by 10 every this many epochs.
    init : {"paper", "he", "glorot"}, default="paper"
    dropout : float, default=0.5
    lrn : bool, default=True
    crop_pad : int, default=0
        Reflect padding before random crops (CIFAR practice: 4).
    flip : bool, default=True
    pca_noise : float, default=0.1
        Std of the PCA colour-noise coefficients (0 turns it off; needs RGB).
    normalize : {"mean", "meanstd"}, default="mean"
    test_crops : {"center", "ten"}, default="ten"
    width : float, default=1.0
        Multiplies every layer's channel count (1.0 is the published network).
    val_fraction : float, default=0.0
        Fraction of train held out for the plateau rule when no ``val`` split is given.
    min_steps : int, default=0
        Train at least this many SGD steps: on a small training set ``epochs`` is raised
        until the schedule has this many steps. Without it, 20 epochs of 100 images are
        20 steps, and a crossover curve would measure under-training, not data scale.
    checkpoint_minutes : float, default=5.0
    stop_if_stuck : bool, default=True
        End the run early, keeping the checkpoint, when the training loss stays at chance
        after the warm-up (:mod:`histnet.nn.health`); false only reports it.
    """

    epochs: int = 90
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "plateau"
    patience: int = 1
    pct_start: float = 0.2
    warmup_epochs: float = 0.0
    step_epochs: int = 30
    init: str = "paper"
    dropout: float = 0.5
    lrn: bool = True
    crop_pad: int = 0
    flip: bool = True
    pca_noise: float = 0.1
    normalize: str = "mean"
    test_crops: str = "ten"
    width: float = 1.0
    val_fraction: float = 0.0
    min_steps: int = 0
    checkpoint_minutes: float = 5.0
    stop_if_stuck: bool = True


class _AlexNetBase(Method):
    """The shared recipe; subclasses set ``input_size`` and :meth:`layers`."""

    year = 2012
    paper = "Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with Deep CNNs (NIPS)"
    family = "cnn"
    Config = AlexNetConfig
    input_size = 227

    # -- the network -------------------------------------------------------------------------
    def layers(self, c_in: int, n_classes: int, w, rng) -> list:
        """The layer list for ``c_in`` input channels; ``w(n)`` scales a channel count;
        ``rng`` (host generator) draws the initial weights."""
        raise NotImplementedError

    def _init_kw(self, bias_one: bool, rng, output: bool = False):
        """Keyword arguments for a weight layer under the configured init scheme.

        ``output`` marks the classifier layer: under ``"he"`` and ``"glorot"`` it gets the
        paper's N(0, 0.01) instead. He's factor 2 assumes a ReLU follows, and with He or
        Glorot there the initial logits have a standard deviation near 2 on mnist5k, so the
        loss starts near 4.9 instead of log(10) = 2.3; small output weights start it at chance.
        """
        init = self.config.init
        if init == "paper":
            return {"init": "normal", "std": 0.01, "bias": 1.0 if bias_one else 0.0, "rng": rng, "xp": self.xp}
        if init in ("he", "glorot"):
            if output:
                return {"init": "normal", "std": 0.01, "bias": 0.0, "rng": rng, "xp": self.xp}
            return {"init": init, "bias": 0.0, "rng": rng, "xp": self.xp}
        raise ConfigError(f"{self.name}: init={init!r}: choose paper, he or glorot")

    def build(self, c_in: int, n_classes: int) -> Sequential:
        """A fresh network on this method's device, initialised from ``self.seed``."""
        width = float(self.config.width)
        if width <= 0:
            raise ConfigError(f"{self.name}: width={width} must be > 0")

        def w(n):
            return max(2, 2 * int(round(n * width / 2)))  # even, so two groups split evenly

        rng = np.random.default_rng([self.seed, 1])
        net = Sequential(self.layers(c_in, n_classes, w, rng))
        net.layers[0].need_input_grad = False  # nothing upstream of conv1 to train
        return net

    def _lrn(self, name):
        return [LRN(5, 1e-4, 0.75, 2.0, name=name)] if self.config.lrn else []

    # -- input handling ----------------------------------------------------------------------
    def _check_size(self, h: int, w: int, where: str):
        s = self.input_size  # non-square images are cropped square to min(h, w, s) first
        if min(h, w) * 2 < s:
            raise DataError(f"{where}: {self.name} takes {s}x{s} images (larger ones are cropped, "
                            f"down to {(s + 1) // 2}x{(s + 1) // 2} zero-padded); got {h}x{w}: "
                            f"resize the images to {s} px or use the variant for this size")

    def _prepare(self, images, labels, rng, train):
        """uint8 host batch -> normalised float32 device batch of the native size."""
        cfg, s, xp = self.config, self.input_size, self.xp
        h = images.shape[1]
        crop = min(s, h, images.shape[2])
        if train:
            x = images
            if cfg.crop_pad or images.shape[1] > crop or images.shape[2] > crop:
                x = augment.random_crop(x, crop, rng, pad=cfg.crop_pad, pad_mode="reflect")
            if cfg.flip:
                x = augment.random_flip(x, rng)
        else:
            x = augment.center_crop(images, crop)
        x = to_device(np.ascontiguousarray(x), xp).astype(FLOAT)
        if train and cfg.pca_noise > 0 and self.pca_ is not None:
            x = augment.pca_color_noise(x, self.pca_[0], self.pca_[1], rng, cfg.pca_noise)
        x = augment.normalize(x, self.mean_, self.std_ if cfg.normalize == "meanstd" else None)
        if crop < s:  # small images: zero (= the mean) padding to the native size
            x = _pad_to(x, s)
        y = None if labels is None else to_device(np.asarray(labels, np.int64), xp)
        return x, y

    # -- the contract ---------------------------------------------------------------------------
    def fit(self, train, val=None):
        cfg = self.config
        if cfg.normalize not in ("mean", "meanstd"):
            raise ConfigError(f"{self.name}: normalize={cfg.normalize!r}: choose mean or meanstd")
        if cfg.test_crops not in ("center", "ten"):
            raise ConfigError(f"{self.name}: test_crops={cfg.test_crops!r}: choose center or ten")
        h, w, c = train.image_shape
        self._check_size(h, w, train.name)
        if val is None and cfg.val_fraction > 0:
            order = np.random.default_rng([self.seed, 2]).permutation(len(train))
            n_val = max(1, int(round(cfg.val_fraction * len(train))))
            train, val = train.subset(order[n_val:], "train"), train.subset(order[:n_val], "val")
        self.n_classes_, self.in_channels_, self.image_hw_ = train.n_classes, c, (h, w)
        # statistics from at most 20,000 training images (enough for 3 means and a 3x3 covariance)
        sample = train if len(train) <= 20000 else train.subset(
            np.random.default_rng([self.seed, 3]).choice(len(train), 20000, replace=False))
        mean, std, cov = augment.channel_statistics(sample)
        self.mean_, self.std_ = mean.astype(np.float32), std.astype(np.float32)
        self.pca_ = augment.pca_color_basis(cov) if c == 3 else None
        self.net_ = self.build(c, train.n_classes)
        opt = SGD(self.net_, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        trainer = Trainer(self.net_, opt, self._schedule(), preprocess=self._prepare, xp=self.xp,
                          progress=self.progress, checkpoint_every_s=60 * cfg.checkpoint_minutes,
                          name=self.name, stop_if_stuck=cfg.stop_if_stuck)
        ckpt = self.workdir / f"{self.name}-checkpoint.npz" if self.workdir is not None else None
        epochs = max(cfg.epochs, math.ceil(cfg.min_steps / math.ceil(len(train) / cfg.batch_size)))
        self.history_ = trainer.fit(train, val, epochs=epochs, batch_size=cfg.batch_size,
                                    seed=self.seed, checkpoint_path=ckpt, resume=self.resume)
        self.net_.clear_cache()
        return self

    def _schedule(self):
        cfg = self.config
        kw = {"plateau": {"patience": cfg.patience}, "onecycle": {"pct_start": cfg.pct_start},
              "cosine": {"warmup_epochs": cfg.warmup_epochs}, "step": {"step_epochs": cfg.step_epochs},
              }.get(cfg.schedule, {})
        return make_schedule(cfg.schedule, cfg.lr, **kw)

    def predict_scores(self, images: np.ndarray) -> np.ndarray:
        """Softmax probabilities (N, n_classes), averaged over the test crops."""
        if not hasattr(self, "net_"):
            raise ConfigError(f"{self.name}: predict_scores called before fit/load")
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        n, h, w, c = images.shape
        self._check_size(h, w, "predict_scores")
        if c != self.in_channels_:
            raise DataError(f"predict_scores: {self.name} was trained on {self.in_channels_}-channel "
                            f"images; got {c} channels")
        crop = min(self.input_size, h, w)
        out = []
        for s in range(0, n, self.config.batch_size):
            batch = images[s:s + self.config.batch_size]
            if self.config.test_crops == "ten":
                views = augment.ten_crops(batch, crop) if min(h, w) > crop else [batch, batch[:, :, ::-1]]
            else:
                views = [batch]
            acc = None
            for v in views:
                x, _ = self._prepare(v, None, None, False)
                p = softmax(self.net_.forward(x, train=False))
                acc = p if acc is None else acc + p
            out.append(to_host(acc / len(views)))
        return np.concatenate(out).astype(np.float32)

    def get_state(self) -> dict:
        state = {f"net/{k}": v for k, v in self.net_.state_dict().items()}
        state.update({"mean": self.mean_, "std": self.std_,
                      "shape": np.array([self.n_classes_, self.in_channels_, *self.image_hw_])})
        if self.pca_ is not None:
            state["pca_vals"], state["pca_vecs"] = self.pca_
        return state

    def set_state(self, state: dict) -> None:
        self.n_classes_, self.in_channels_, hh, ww = (int(v) for v in state["shape"])
        self.image_hw_ = (hh, ww)
        self.mean_, self.std_ = state["mean"], state["std"]
        self.pca_ = (state["pca_vals"], state["pca_vecs"]) if "pca_vals" in state else None
        self.net_ = self.build(self.in_channels_, self.n_classes_)
        self.net_.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net/")}, self.name)

    def describe(self) -> dict:
        c = getattr(self, "in_channels_", 3)
        net = getattr(self, "net_", None) or self.build(c, getattr(self, "n_classes_", 10))
        shape = (self.input_size, self.input_size, c)
        return {"n_params": net.n_params(), "flops_per_image": net.flops(shape),
                "input_size": self.input_size}

    def visualize(self) -> dict:
        """conv1's filters as one image grid (H x W x 3 for RGB input)."""
        if not hasattr(self, "net_"):
            return {}
        W = to_host(self.net_.layers[0].params["W"])  # (F, k, k, C)
        f, k, _, c = W.shape
        W = (W - W.min()) / max(float(W.max() - W.min()), 1e-12)
        cols = int(np.ceil(np.sqrt(f)))
        rows = int(np.ceil(f / cols))
        grid = np.ones((rows * (k + 1), cols * (k + 1), c), np.float32)
        for i in range(f):
            r, q = divmod(i, cols)
            grid[r * (k + 1):r * (k + 1) + k, q * (k + 1):q * (k + 1) + k] = W[i]
        return {"conv1_filters": grid if c == 3 else grid[..., 0]}


def _pad_to(x, s):
    """Zero-pad an NHWC batch to s x s, centred."""
    _, h, w, _ = x.shape
    if h == s and w == s:
        return x
    top, left = (s - h) // 2, (s - w) // 2
    xp = get_array_module(x)
    out = xp.zeros((x.shape[0], s, s, x.shape[3]), dtype=x.dtype)
    out[:, top:top + h, left:left + w] = x
    return out


@register
class AlexNet(_AlexNetBase):
    """The paper's 227-px network (5 conv + 3 FC, grouped conv2/4/5)."""

    name = "alexnet"
    progression = "alexnet"
    image_sizes = (114, None)
    crossover = True
    summary = "AlexNet (227 px): 5 conv + 3 FC, ReLU, LRN, overlapping pooling, dropout, 2-GPU groups"
    input_size = 227
    profiles = {
        "quick": {"epochs": 2, "batch_size": 32, "width": 0.25, "init": "he", "pca_noise": 0.0,
                  "test_crops": "center", "schedule": "constant", "lr": 0.005},
        "full": {},
    }

    def layers(self, c_in, n_classes, w, rng):
        kw = lambda one, output=False: self._init_kw(one, rng, output)  # noqa: E731
        return [
            Conv2D(c_in, w(96), 11, stride=4, name="conv1", **kw(False)), ReLU(True, name="relu1"),
            *self._lrn("lrn1"), MaxPool2D(3, 2, name="pool1"),
            Conv2D(w(96), w(256), 5, padding=2, groups=2, name="conv2", **kw(True)), ReLU(True, name="relu2"),
            *self._lrn("lrn2"), MaxPool2D(3, 2, name="pool2"),
            Conv2D(w(256), w(384), 3, padding=1, name="conv3", **kw(False)), ReLU(True, name="relu3"),
            Conv2D(w(384), w(384), 3, padding=1, groups=2, name="conv4", **kw(True)), ReLU(True, name="relu4"),
            Conv2D(w(384), w(256), 3, padding=1, groups=2, name="conv5", **kw(True)), ReLU(True, name="relu5"),
            MaxPool2D(3, 2, name="pool5"), Flatten(name="flatten"),
            Linear(6 * 6 * w(256), w(4096), name="fc6", **kw(True)), ReLU(True, name="relu6"),
            Dropout(self.config.dropout, name="drop6"),
            Linear(w(4096), w(4096), name="fc7", **kw(True)), ReLU(True, name="relu7"),
            Dropout(self.config.dropout, name="drop7"),
            Linear(w(4096), n_classes, name="fc8", **kw(False, output=True)),
        ]


@register
class AlexNetCifar(_AlexNetBase):
    """The PyTorch anchor's 32-px AlexNet (``bench_torch_alexnet_cifar.py``)."""

    name = "alexnet-cifar"
    progression = "alexnet"
    image_sizes = (None, 40)
    crossover = True
    summary = "AlexNet scaled to 32 px (the PyTorch CIFAR anchor's net): 5 conv + 3 FC, LRN, dropout"
    input_size = 32
    profiles = {
        # mnist5k (4000 grey 28-px images, padded to 32): about 2 minutes on 2 cores
        "quick": {"epochs": 3, "batch_size": 64, "lr": 0.02, "schedule": "onecycle", "pct_start": 0.25,
                  "init": "he", "crop_pad": 0, "flip": False, "pca_noise": 0.0,
                  "normalize": "meanstd", "test_crops": "center", "dropout": 0.5},
        # the anchor's recipe (train_torch_alexnet_cifar.py), scored with the paper's test
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

    def _lrn(self, name):  # the anchor uses PyTorch's LocalResponseNorm(5, alpha=1e-4): alpha / n
        return [LRN(5, 1e-4, 0.75, 2.0, alpha_over_n=True, name=name)] if self.config.lrn else []

    def layers(self, c_in, n_classes, w, rng):
        kw = lambda one, output=False: self._init_kw(one, rng, output)  # noqa: E731
        return [
            Conv2D(c_in, w(64), 5, padding=2, name="conv1", **kw(False)), ReLU(True, name="relu1"),
            MaxPool2D(3, 2, 1, name="pool1"), *self._lrn("lrn1"),
            Conv2D(w(64), w(64), 5, padding=2, name="conv2", **kw(True)), ReLU(True, name="relu2"),
            *self._lrn("lrn2"), MaxPool2D(3, 2, 1, name="pool2"),
            Conv2D(w(64), w(128), 3, padding=1, name="conv3", **kw(False)), ReLU(True, name="relu3"),
            Conv2D(w(128), w(128), 3, padding=1, name="conv4", **kw(True)), ReLU(True, name="relu4"),
            Conv2D(w(128), w(128), 3, padding=1, name="conv5", **kw(True)), ReLU(True, name="relu5"),
            MaxPool2D(3, 2, 1, name="pool5"), Flatten(name="flatten"),
            Linear(4 * 4 * w(128), w(384), name="fc6", **kw(True)), ReLU(True, name="relu6"),
            Dropout(self.config.dropout, name="drop6"),
            Linear(w(384), w(192), name="fc7", **kw(True)), ReLU(True, name="relu7"),
            Dropout(self.config.dropout, name="drop7"),
            Linear(w(192), n_classes, name="fc8", **kw(False, output=True)),
        ]


@register
class AlexNet64(_AlexNetBase):
    """AlexNet scaled to 64-px input (Tiny ImageNet, downscaled Imagenette); our scaling."""

    name = "alexnet-64"
    progression = "alexnet"
    image_sizes = (41, 113)
    crossover = True
    summary = "AlexNet scaled to 64 px: 5 conv (grouped 2/4/5) + 3 FC, LRN, overlapping pooling, dropout"
    input_size = 64
    profiles = {
        "quick": {"epochs": 2, "batch_size": 64, "lr": 0.02, "schedule": "onecycle", "init": "he",
                  "width": 0.5, "pca_noise": 0.0, "normalize": "meanstd", "test_crops": "center"},
        "full": {"epochs": 40, "batch_size": 128, "lr": 0.02, "schedule": "onecycle", "init": "he",
                 "crop_pad": 4, "normalize": "meanstd", "test_crops": "ten", "min_steps": 1500},
    }

    def layers(self, c_in, n_classes, w, rng):
        kw = lambda one, output=False: self._init_kw(one, rng, output)  # noqa: E731
        return [
            Conv2D(c_in, w(64), 5, padding=2, name="conv1", **kw(False)), ReLU(True, name="relu1"),
            *self._lrn("lrn1"), MaxPool2D(3, 2, 1, name="pool1"),
            Conv2D(w(64), w(128), 5, padding=2, groups=2, name="conv2", **kw(True)), ReLU(True, name="relu2"),
            *self._lrn("lrn2"), MaxPool2D(3, 2, 1, name="pool2"),
            Conv2D(w(128), w(192), 3, padding=1, name="conv3", **kw(False)), ReLU(True, name="relu3"),
            Conv2D(w(192), w(192), 3, padding=1, groups=2, name="conv4", **kw(True)), ReLU(True, name="relu4"),
            Conv2D(w(192), w(128), 3, padding=1, groups=2, name="conv5", **kw(True)), ReLU(True, name="relu5"),
            MaxPool2D(3, 2, 1, name="pool5"), Flatten(name="flatten"),
            Linear(8 * 8 * w(128), w(1024), name="fc6", **kw(True)), ReLU(True, name="relu6"),
            Dropout(self.config.dropout, name="drop6"),
            Linear(w(1024), w(1024), name="fc7", **kw(True)), ReLU(True, name="relu7"),
            Dropout(self.config.dropout, name="drop7"),
            Linear(w(1024), n_classes, name="fc8", **kw(False, output=True)),
        ]
