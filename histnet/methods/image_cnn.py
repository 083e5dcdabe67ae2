"""The recipe of every image CNN: augmentation, normalisation, the Trainer, test crops.

AlexNet (2012) and the nets after it share one training recipe and differ in their
layers. :class:`ImageCnnMethod` holds the recipe once; a net supplies its layer list, its
config defaults, its profiles and its history:

1. **Statistics.** Per-channel mean and standard deviation and the RGB covariance of at
   most 20,000 training images (:func:`histnet.data.augment.channel_statistics`), for the
   normalisation and the PCA colour noise.
2. **Augmentation** per batch, drawn from the batch's seeded host generator: random crops
   of the native size (after ``crop_pad`` reflect padding, or from larger images),
   horizontal flips, PCA colour noise (``pca_noise``); then ``normalize`` (``"mean"``:
   subtract the channel means, the 2012 paper; ``"meanstd"``: also divide by the channel
   standard deviations). Images smaller than the native size (down to half of it) are
   zero-padded after normalisation; smaller still is an error naming both sizes.
3. **Training** by :class:`histnet.nn.Trainer`: SGD with momentum and weight decay, a
   schedule (``plateau``, ``step``, ``cosine``, ``onecycle``, ``constant``), at least
   ``min_steps`` steps, checkpoints every ``checkpoint_minutes`` in the run folder
   (``--resume`` continues bit for bit), and a stop with one clear line when the loss stays
   at chance (``stop_if_stuck``; :mod:`histnet.nn.health`).
4. **Test**: the centre crop, or ``test_crops="ten"`` (the four corners and the centre,
   each mirrored, softmax outputs averaged; the image and its mirror for an image of
   exactly the native size).

A new net is one short class::

    @register
    class MyNet(ImageCnnMethod):
        name, year, paper = "my-net", 2014, "Me et al. 2014"
        input_size = 32

        def layers(self, c_in, n_classes, rng):
            body = [*self.conv("conv1", c_in, self.width(64), 3, rng, padding=1),
                    MaxPool2D(2, 2, name="pool1"), Flatten(name="flatten")]
            return body + [*self.fc("fc2", self.flat_features(body, c_in), n_classes, rng, output=True)]

Sizes flow from the layers: :meth:`ImageCnnMethod.flat_features` runs
``Sequential.output_shape`` over the layers before the first fully connected one.

Left out: multi-GPU model parallelism (grouped convolutions keep its connectivity),
resizing to a fixed short side (a loader's job, ``--image-size``), mixed precision.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..backend import FLOAT, get_array_module, to_device, to_host
from ..budget import BudgetError
from ..data import augment
from ..errors import ConfigError, DataError
from ..io import CHECKPOINT_SUFFIX
from ..tiles import tile_images
from ..nn import (SGD, BatchNorm, Conv2D, Dropout, Linear, ReLU, Sequential, Tanh, Trainer, make_schedule,
                  softmax)
from .contract import Method

SCHEDULES = ("plateau", "step", "cosine", "onecycle", "constant")


@dataclass
class CnnConfig:
    """Hyper-parameters of the CNN recipe (defaults: AlexNet's, Krizhevsky et al. 2012, section 5;
    a later net declares its own with :func:`config_with_defaults`).

    Attributes
    ----------
    epochs : int, default=90
        Passes over the training set (AlexNet trained "roughly 90 cycles").
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
        ``paper``: N(0, 0.01) weights, biases 1 where the net says so (AlexNet's); ``he``
        and ``glorot`` with the classifier layer at N(0, 0.01).
    dropout : float, default=0.5
        Drop probability of the net's dropout layers.
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
    activation : {"relu", "tanh"}, default="relu"
        The hidden units' non-linearity (the 2012 paper's Figure 1 compares the two).
    conv_algo : {"auto", "im2col"}, default="auto"
        How the convolutions compute (:class:`histnet.nn.Conv2D`'s ``algo``): ``auto`` takes
        Winograd's F(4x4, k x k) for the stride-1 3x3 and 5x5 layers of 16 channels or more
        on the CPU (fewer multiplications, same sums to a relative 1e-5 in float32), and
        gathers im2col a few images at a time on every core for the other layers of fewer
        than 32 channels (the same sums in another order); ``im2col`` keeps whole-batch im2col + GEMM
        everywhere (the results committed before 2026-12-02 were computed that way).
    """

    #: fields that change only how the test set is scored: an ablation arm that changes
    #: nothing else scores the full recipe's trained weights (``JobSpec.weights_from``)
    test_time_fields: ClassVar[tuple] = ("test_crops",)

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
    activation: str = "relu"
    conv_algo: str = "auto"

    def __post_init__(self):
        """Ranges, checked when the config is made (before any data is read)."""
        checks = [("epochs", self.epochs >= 1, ">= 1"), ("batch_size", self.batch_size >= 1, ">= 1"),
                  ("lr", self.lr >= 0, ">= 0"), ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
                  ("weight_decay", self.weight_decay >= 0, ">= 0"), ("patience", self.patience >= 0, ">= 0"),
                  ("pct_start", 0 < self.pct_start < 1, "in (0, 1)"),
                  ("warmup_epochs", self.warmup_epochs >= 0, ">= 0"), ("step_epochs", self.step_epochs >= 1, ">= 1"),
                  ("dropout", 0 <= self.dropout < 1, "in [0, 1)"), ("crop_pad", self.crop_pad >= 0, ">= 0"),
                  ("pca_noise", self.pca_noise >= 0, ">= 0"), ("width", self.width > 0, "> 0"),
                  ("val_fraction", 0 <= self.val_fraction < 1, "in [0, 1)"), ("min_steps", self.min_steps >= 0, ">= 0"),
                  ("checkpoint_minutes", self.checkpoint_minutes > 0, "> 0"),
                  ("schedule", self.schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
                  ("init", self.init in ("paper", "he", "glorot"), "one of paper, he, glorot"),
                  ("normalize", self.normalize in ("mean", "meanstd"), "one of mean, meanstd"),
                  ("test_crops", self.test_crops in ("center", "ten"), "one of center, ten"),
                  ("activation", self.activation in ("relu", "tanh"), "one of relu, tanh"),
                  ("conv_algo", self.conv_algo in ("auto", "im2col"), "one of auto, im2col")]
        for name, ok, want in checks:
            if not ok:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be {want}")


def config_with_defaults(name: str, defaults: dict, base: type = None) -> type:
    """A subclass of ``base`` (default :class:`CnnConfig`) whose fields default to ``defaults``.

    A net whose recipe is not AlexNet's declares its own defaults this way, so that
    ``histnet run NET`` without ``--profile`` trains it as its paper would (within the
    limits its docstring states), not with the 2012 recipe's defaults.
    """
    base = base or CnnConfig
    fields = [(k, type(v), dataclasses.field(default=v)) for k, v in defaults.items()]
    cls = dataclasses.make_dataclass(name, fields, bases=(base,))
    cls.__doc__ = (f"{base.__doc__ or ''}\n    Defaults here: "
                   + ", ".join(f"{k}={v!r}" for k, v in defaults.items()) + ".")
    cls.__module__ = base.__module__
    return cls


def onecycle_profiles(lr: float, *, epochs: int = 30, quick_width: float = 1.0, **both) -> dict:
    """``quick`` and ``full`` profiles of a net trained from scratch with a one-cycle schedule.

    The recipe the nets after 2012 share on two CPU cores: He initialisation, SGD with
    momentum 0.9 and weight decay 5e-4, a one-cycle learning rate peaking at ``lr``,
    per-channel mean/std normalisation, no colour noise. ``quick`` (mnist5k in minutes):
    3 epochs of batch 64 at ``quick_width``, no augmentation, centre crop. ``full``:
    ``epochs`` epochs of batch 128, crops after 4-px padding and flips, the image and its
    mirror at test, at least 1,500 steps. ``both`` adds to (or overrides in) both.
    """
    common = {"lr": lr, "schedule": "onecycle", "init": "he", "momentum": 0.9, "weight_decay": 5e-4,
              "pca_noise": 0.0, "normalize": "meanstd"}
    quick = {**common, "epochs": 3, "batch_size": 64, "pct_start": 0.25, "width": quick_width, "crop_pad": 0,
             "flip": False, "test_crops": "center", **both}
    full = {**common, "epochs": epochs, "batch_size": 128, "pct_start": 0.15, "crop_pad": 4, "flip": True,
            "test_crops": "ten", "min_steps": 1500, **both}
    return {"quick": quick, "full": full}


class ImageCnnMethod(Method):
    """Base of the image CNNs: the recipe of the module docstring; a net supplies :meth:`layers`.

    Class attributes a net sets: ``name``, ``year``, ``paper``, ``summary``, ``input_size``
    (native square input), ``profiles``, and a ``Config`` (a :class:`CnnConfig` subclass
    when the net has switches of its own).
    """

    family = "cnn"
    honours_budget = True  # the Trainer fits the schedule to the time left (histnet.budget)
    Config = CnnConfig
    input_size: ClassVar[int] = 32
    #: channel counts are rounded to a multiple of this (2: two groups split evenly)
    channel_multiple: ClassVar[int] = 2

    # -- the network: what a net supplies -----------------------------------------------------
    def layers(self, c_in: int, n_classes: int, rng) -> list:
        """The layer list for ``c_in`` input channels and ``n_classes`` outputs; ``rng`` (a host
        generator) draws the initial weights in layer order."""
        raise NotImplementedError

    # -- helpers for writing layers() ---------------------------------------------------------------
    def width(self, n: int) -> int:
        """Channel count ``n`` scaled by ``config.width``, a multiple of ``channel_multiple``."""
        m = self.channel_multiple
        return max(m, m * int(round(n * float(self.config.width) / m)))

    def init_kw(self, rng, *, bias_one: bool = False, output: bool = False) -> dict:
        """Keyword arguments for a weight layer under the configured init scheme.

        ``bias_one`` marks the layers whose biases the 2012 paper sets to 1 (under
        ``init="paper"`` only). ``output`` marks the classifier layer: under ``"he"`` and
        ``"glorot"`` it gets N(0, 0.01) instead. He's factor 2 assumes a ReLU follows, and
        with He or Glorot there the initial logits have a standard deviation near 2 on
        mnist5k, so the loss starts near 4.9 instead of log(10) = 2.3; small output weights
        start it at chance.
        """
        init = self.config.init
        if init == "paper":
            return {"init": "normal", "std": 0.01, "bias": 1.0 if bias_one else 0.0, "rng": rng, "xp": self.xp}
        if init in ("he", "glorot"):
            if output:
                return {"init": "normal", "std": 0.01, "bias": 0.0, "rng": rng, "xp": self.xp}
            return {"init": init, "bias": 0.0, "rng": rng, "xp": self.xp}
        raise ConfigError(f"{self.name}: init={init!r}: choose paper, he or glorot")  # a Config built by hand

    def conv(self, name: str, c_in: int, c_out: int, k: int, rng, *, stride: int = 1, padding: int = 0,
             groups: int = 1, bias_one: bool = False, relu: bool = True, bn: bool = False,
             output: bool = False) -> list:
        """``[Conv2D, ReLU]`` (the ReLU named after the conv's number: conv3 -> relu3).

        ``bn=True`` gives ``[Conv2D without bias, BatchNorm, ReLU]`` (the normalisation's mean
        subtraction would cancel a bias); ``output=True`` marks a convolution that produces
        the class scores (Network in Network) for :meth:`init_kw`.
        """
        kw = self.init_kw(rng, bias_one=bias_one, output=output)
        if bn:
            kw["bias"] = None
        out = [Conv2D(c_in, c_out, k, stride=stride, padding=padding, groups=groups, name=name,
                      algo=getattr(self.config, "conv_algo", "auto"), **kw)]
        if bn:
            out += self.bn(_layer_name(name, "bn"), c_out)
        return out + (self.activation(_relu_name(name)) if relu else [])

    def dropout(self, name: str) -> list:
        """``[Dropout]`` with the configured probability."""
        return [Dropout(self.config.dropout, name=name)]

    def bn(self, name: str, channels: int) -> list:
        """``[BatchNorm]`` on this method's device."""
        return [BatchNorm(channels, xp=self.xp, name=name)]

    def fc(self, name: str, n_in: int, n_out: int, rng, *, bias_one: bool = False, output: bool = False) -> list:
        """``[Linear, ReLU]``, or ``[Linear]`` for the classifier layer (``output=True``)."""
        out = [Linear(n_in, n_out, name=name, **self.init_kw(rng, bias_one=bias_one, output=output))]
        return out if output else out + self.activation(_relu_name(name))

    def activation(self, name: str) -> list:
        """The configured non-linearity: ``[ReLU]`` (in place) or ``[Tanh]``."""
        if getattr(self.config, "activation", "relu") == "tanh":
            return [Tanh(name=name)]
        return [ReLU(True, name=name)]

    def flat_features(self, layers: list, c_in: int) -> int:
        """Length of the vector ``layers`` make of one native-size input with ``c_in`` channels."""
        shape = Sequential(list(layers)).output_shape((self.input_size, self.input_size, c_in))
        return int(np.prod(shape))

    def build(self, c_in: int, n_classes: int) -> Sequential:
        """A fresh network on this method's device, initialised from ``self.seed``."""
        rng = np.random.default_rng([self.seed, 1])
        net = Sequential(self.layers(c_in, n_classes, rng))
        net.layers[0].need_input_grad = False  # nothing upstream of the first layer to train
        return net

    # -- input handling ------------------------------------------------------------------------------
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

    # -- the contract ---------------------------------------------------------------------------------
    def fit(self, train, val=None):
        cfg = self.config
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
        ckpt = self.workdir / f"{self.name}{CHECKPOINT_SUFFIX}" if self.workdir is not None else None
        epochs = self.epochs_for(len(train))
        budget = self.budget
        try:
            self.history_ = trainer.fit(train, val, epochs=epochs, batch_size=cfg.batch_size, seed=self.seed,
                                        checkpoint_path=ckpt, resume=self.resume,
                                        deadline=budget.deadline if budget is not None else None)
        except BudgetError as e:
            raise budget.too_small(self.name, str(e).split(": ", 1)[-1]) from None
        self.epochs_run_ = len(self.history_)
        if budget is not None:
            budget.note(f"training: {trainer.budget_plan or 'no plan (fewer steps than the probe)'}",
                        limited=trainer.epochs < epochs or trainer.max_steps is not None)
            if trainer.cut_by_deadline:
                budget.note(f"training: stopped by the budget in epoch {len(self.history_)} of {trainer.epochs}",
                            limited=True)
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

    def epochs_for(self, n_train: int) -> int:
        """Epochs the schedule takes on ``n_train`` training images: ``epochs``, raised until
        the schedule has ``min_steps`` steps (the rule that keeps a small data set from
        getting a handful of steps)."""
        cfg = self.config
        return max(int(cfg.epochs), math.ceil(cfg.min_steps / math.ceil(max(1, n_train) / cfg.batch_size)))

    def settings_for(self, image_shape, n_train=None) -> dict:
        """The schedule's ``epochs`` and ``steps`` on ``n_train`` training images (unknown
        without it: ``epochs`` as configured, at least ``min_steps`` steps)."""
        cfg = self.config
        if n_train is None:
            return {"epochs": f"{cfg.epochs}, raised to reach {cfg.min_steps} steps" if cfg.min_steps else cfg.epochs}
        e = self.epochs_for(int(n_train))
        return {"epochs": e, "steps": e * math.ceil(int(n_train) / cfg.batch_size)}

    def inert_settings(self, image_shape) -> dict:
        """PCA colour noise is drawn along the RGB principal components: grey images get none."""
        return {"pca_noise": 0.0} if int(image_shape[-1]) != 3 else {}

    def resolved_settings(self) -> dict:
        """The epochs the schedule was planned for and those that ran (fewer under a budget)."""
        if not hasattr(self, "history_"):
            return {}
        return {"epochs_run": int(getattr(self, "epochs_run_", len(self.history_)))}

    def describe(self) -> dict:
        c = getattr(self, "in_channels_", 3)
        net = getattr(self, "net_", None) or self.build(c, getattr(self, "n_classes_", 10))
        shape = (self.input_size, self.input_size, c)
        return {"n_params": net.n_params(), "flops_per_image": net.flops(shape),
                "input_size": self.input_size}

    def visualize(self) -> dict:
        """The first layer's filters as one image grid (H x W x 3 for RGB input)."""
        if not hasattr(self, "net_"):
            return {}
        W = to_host(self.net_.layers[0].params["W"])  # (F, k, k, C)
        c = W.shape[-1]
        grid = tile_images(W, normalise="global", pad_value=1.0, trailing_pad=True)
        return {"conv1_filters": grid if c == 3 else grid[..., 0]}


def _layer_name(layer_name: str, kind: str) -> str:
    """``("conv3", "relu") -> "relu3"``; a name without a number gets ``_<kind>`` appended."""
    digits = re.sub(r"\D", "", layer_name)
    prefix = re.sub(r"\d+$", "", layer_name)
    if digits and prefix in ("conv", "fc"):
        return f"{kind}{digits}"
    return f"{layer_name}_{kind}"


def _relu_name(layer_name: str) -> str:
    return _layer_name(layer_name, "relu")


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
