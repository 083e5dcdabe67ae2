"""Method ``dbn``: Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief nets".

The recipe (all of it in :mod:`histnet.dbn` and :mod:`histnet.rbm`; the fields of
:class:`DBNConfig` name each part):

1. Pixels become visible units: grey images as probabilities (pixel / 255, Bernoulli
   visibles); colour images standardised per pixel (mean 0, std 1 over the training set)
   for a Gaussian-Bernoulli first layer (Hinton 2010, section 13.2). ``visible="auto"``
   picks by the number of channels. With ``downscale`` f > 1 the pixels are first averaged
   over f x f blocks (:func:`histnet.methods.pixels_svm.pixel_features`), in fit and predict.
2. Greedy layer-wise pretraining of a stack of RBMs, 784-500-500-2000 as in both 2006
   papers (``hidden_layers``), each by CD-1 (``cd_k``, or PCD with ``persistent``) with
   momentum 0.5 -> 0.9, weight decay 2e-4, mini-batches of 100 and a sparsity target of 0.1
   (Hinton 2010, sections 9-11); learning rate 0.1 on pixels and 0.05 above (``upper_rbm_lr``:
   the layers above see dense probabilities, and a large rate there kills hidden units).
3. Supervised fine-tuning by backprop: the stack initialises a sigmoid MLP with a softmax
   output layer, trained with momentum SGD on the cross-entropy (Hinton & Salakhutdinov
   2006 reached 1.2% MNIST test error this way, with conjugate gradients).
4. ``pretrain=false`` trains the same network from a random initialisation: the ablation
   of Bengio et al. (2007) and Erhan et al. (2010).

Profiles: ``quick`` (mnist5k in about 2 minutes on 2 cores: the same network, 10 epochs
per RBM, 20 of fine-tuning, and an input that follows the image size: ``downscale=0``,
every pixel up to 32 px, 2 x 2 blocks on 64-px photos, whose 12,288 raw visible units had
made the first, Gaussian RBM take most of 557 s) and ``full`` (every pixel, the papers'
784-500-500-2000, 30 epochs per RBM as Hinton et al. 2006, 100 epochs of fine-tuning).
``benchmarks/dbn_mnist.py`` runs the full-MNIST reproduction with and without pretraining.

``finetune=up-down`` replaces step 3 by the 2006 paper's own fine-tuning: the top RBM joins
softmax label units to the penultimate layer, and contrastive wake-sleep (the up-down
algorithm, :class:`histnet.dbn.UpDownDBN`) tunes the untied recognition and generative weights;
digits are classified by the top RBM's free energy for each label.

Left out: conjugate-gradient fine-tuning; the up-down's 300 epochs with CD rising from 3 to 10
steps (``updown_epochs`` and ``k_top`` are fixed settings here).
Images are read into memory as float32 for pretraining (MNIST: 190 MB; CIFAR-10: 600 MB).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from ..backend import FLOAT, to_device, to_host
from ..budget import BudgetError
from ..dbn import DBN, UpDownDBN, build_mlp
from ..errors import CheckpointError, ConfigError, DataError
from ..io import load_npz, save_npz
from ..tiles import tile_images
from .contract import Method
from .pixels_svm import downscale_for, pixel_features
from .registration import register


@dataclass
class DBNConfig:
    """Hyper-parameters of the ``dbn`` method (defaults: the papers' MNIST network).

    The other fields are described by their comments below.

    Attributes
    ----------
    downscale : int
        Average ``downscale`` x ``downscale`` pixel blocks before the first RBM, in fit and
        predict (1 keeps every pixel; 0 follows the image size, ``ceil(side / 32)`` with
        side = min(H, W), as ``pixels-svm``: 1 up to 32 px, 2 on 64-px photos, so the first
        RBM sees at most about 32 x 32 x C visible units). The factor used is recorded with
        the run and saved with the model. The hidden layers keep their configured sizes: 500
        first-layer units stay fewer than the visible units on every input this allows
        (784 on MNIST, 3,072 on 64-px colour photos), and tying them to the input size would
        grow, not cut, the first RBM's cost on photos.
    """

    hidden_layers: tuple = (500, 500, 2000)  # hidden units, bottom to top
    visible: str = "auto"  # "bernoulli" (grey / 255), "gaussian" (standardised), "auto": by channels
    pretrain: bool = True  # false: the same MLP from a random (Glorot) initialisation
    rbm_epochs: int = 30  # per layer (Hinton et al. 2006: 30 sweeps)
    rbm_lr: float = 0.1  # CD learning rate of a Bernoulli first layer (pixels)
    upper_rbm_lr: float = 0.05  # of the layers above (dense inputs: too large a rate kills units)
    gaussian_lr: float = 0.01  # of a Gaussian first layer
    rbm_batch_size: int = 100
    cd_k: int = 1
    persistent: bool = False  # PCD (Tieleman 2008)
    rbm_weight_decay: float = 2e-4
    sparsity_target: float = 0.1  # mean hidden activity target (Hinton 2010, sec. 11); 0 = off
    finetune_epochs: int = 100
    lr: float = 0.5  # fine-tuning SGD learning rate (batch-mean loss)
    momentum: float = 0.9
    weight_decay: float = 1e-5
    batch_size: int = 100
    schedule: str = "cosine"  # constant, step, cosine, plateau
    finetune: str = "backprop"  # or "up-down": the 2006 paper's contrastive wake-sleep with label units
    updown_epochs: int = 30  # (the paper: 300)
    updown_lr: float = 0.01
    k_top: int = 3  # CD steps in the top RBM during up-down
    val_fraction: float = 0.0  # carve a validation split from train (learning curve)
    downscale: int = 1  # block-average factor of the pixels; 0: follow the image (see Attributes)


@register
class DBNMethod(Method):
    """Deep belief net: greedy RBM pretraining + backprop fine-tuning."""

    name = "dbn"
    history = ("dbn-mnist-science",)
    ablations = {
        "no-pretraining": {"set": {"pretrain": False}, "change": "the same net and fine-tuning from random "
                                                                 "(Glorot) weights, no RBM pretraining",
                           "expect": "worse",
                           "claim": "greedy layer-wise pretraining gives a better net than backprop from random "
                                    "weights: 1.2% MNIST error against 1.6% for the best randomly initialised nets",
                           "citation": "Hinton & Salakhutdinov 2006; Hinton, Osindero & Teh 2006"},
    }
    progression = "dbn"
    year = 2006
    paper = "Hinton, Osindero & Teh 2006, A fast learning algorithm for deep belief nets"
    family = "dbn"
    #: A budget (--budget) is shared among the RBMs and the fine-tuning by planned multiply-adds
    #: (histnet.dbn.DBN.stage_costs); the up-down variant runs to the end and says so.
    honours_budget = True
    summary = "stacked RBMs (CD-1, greedy layer-wise) fine-tuned as a sigmoid MLP by backprop"
    Config = DBNConfig
    profiles = {
        # the input follows the image: digits keep every pixel, 64-px photos are averaged 2x2
        # (12,288 Gaussian visible units had made the quick profile take 557 s there)
        "quick": {"rbm_epochs": 10, "finetune_epochs": 20, "downscale": 0},
        "full": {},
    }

    # -- data -----------------------------------------------------------------------------------
    def _visible(self, channels: int) -> str:
        v = self.config.visible
        if v == "auto":
            return "bernoulli" if channels == 1 else "gaussian"
        if v not in ("bernoulli", "gaussian"):
            raise ConfigError(f"dbn: visible={v!r}: choose auto, bernoulli or gaussian")
        return v

    def factor(self, image_shape=None) -> int:
        """The downscale factor: the configured one, or ``ceil(side / 32)`` for ``downscale=0``
        (``image_shape`` defaults to the fitted one; a fitted or loaded model uses its own)."""
        d = self.config.downscale
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 0:
            raise ConfigError(f"dbn: downscale={d!r} must be an integer >= 1 (0: follow the image)")
        if image_shape is None and hasattr(self, "factor_"):
            return int(self.factor_)
        if d >= 1:
            return int(d)
        return downscale_for(image_shape if image_shape is not None else self.image_shape_)

    def input_shape(self, image_shape=None) -> tuple:
        """``(H // f, W // f, C)``: the pixels the first RBM sees, for images of ``image_shape``
        (default: the fitted shape, with the fitted factor)."""
        h, w, c = (int(v) for v in (image_shape if image_shape is not None else self.image_shape_))
        f = self.factor(image_shape)
        if h // f < 1 or w // f < 1:
            raise ConfigError(f"dbn: downscale={f} leaves no pixel of {h}x{w} images")
        return (h // f, w // f, c)

    def settings_for(self, image_shape, n_train=None) -> dict:
        """``downscale`` and the number of ``visible_units`` for images of ``image_shape``
        (``n_train``, the training-set size, changes nothing here)."""
        shape = tuple(int(v) for v in image_shape)
        shape = shape if len(shape) == 3 else (*shape[:2], 1)
        return {"downscale": self.factor(shape), "visible_units": int(np.prod(self.input_shape(shape)))}

    def resolved_settings(self) -> dict:
        if not hasattr(self, "image_shape_"):
            return {}
        return {"downscale": self.factor(), "visible_units": int(np.prod(self.input_shape()))}

    def _unit_pixels(self, images, dtype) -> np.ndarray:
        """uint8 (N, H, W, C) -> (N, D) pixels in [0, 1], block-averaged by the fitted factor.

        Factor 1 divides by 255 as this method always has (``pixel_features`` multiplies by
        1/255, which differs in the last bit: fits without downscaling stay as they were).
        """
        if self.factor_ == 1:
            return np.asarray(images, dtype=dtype).reshape(len(images), -1) / 255.0
        return pixel_features(np.asarray(images), downscale=self.factor_, dtype=dtype)

    def _pixels(self, images) -> np.ndarray:
        """uint8 (N, H, W, C) -> float32 (N, H/f * W/f * C) visible units (host)."""
        x = self._unit_pixels(images, FLOAT)
        if self.visible_ == "gaussian":
            x = (x - self.mean_) / self.std_
        return x.astype(FLOAT, copy=False)

    def _load(self, ds) -> tuple[np.ndarray, np.ndarray]:
        xs = [self._pixels(images) for images, _ in ds.batches(4096)]
        return np.concatenate(xs), ds.labels.copy()

    # -- the contract -----------------------------------------------------------------------------
    def fit(self, train, val=None):
        cfg = self.config
        h, w, c = train.image_shape
        if len(train) < 2:
            raise DataError(f"{train.name}: dbn needs at least 2 training images, got {len(train)}")
        if val is None and cfg.val_fraction > 0:
            order = np.random.default_rng([self.seed, 2]).permutation(len(train))
            n_val = max(1, int(round(cfg.val_fraction * len(train))))
            train, val = train.subset(order[n_val:], "train"), train.subset(order[:n_val], "val")
        self.__dict__.pop("factor_", None)
        self.factor_ = self.factor((h, w, c))
        self.image_shape_ = (h, w, c)
        n_in = int(np.prod(self.input_shape()))
        self.n_classes_ = train.n_classes
        self.visible_ = self._visible(c)
        self.mean_ = np.zeros(n_in, FLOAT)
        self.std_ = np.ones(n_in, FLOAT)
        if self.visible_ == "gaussian":
            s1 = np.zeros(n_in, np.float64)
            s2 = np.zeros(n_in, np.float64)
            for images, _ in train.batches(4096):
                x = self._unit_pixels(images, np.float64)
                s1 += x.sum(0)
                s2 += (x * x).sum(0)
            mean = s1 / len(train)
            # a floor on the std keeps near-constant pixels (image borders) from blowing up
            self.mean_ = mean.astype(FLOAT)
            self.std_ = np.sqrt(np.maximum(s2 / len(train) - mean ** 2, 0) + 0.01 ** 2).astype(FLOAT)
        X, y = self._load(train)
        Xv, yv = self._load(val) if val is not None else (None, None)
        if cfg.finetune not in ("backprop", "up-down"):
            raise ConfigError(f"dbn: finetune={cfg.finetune!r}: choose backprop or up-down")
        if cfg.finetune == "up-down":
            if self.visible_ != "bernoulli":
                raise ConfigError("dbn: finetune=up-down needs Bernoulli visibles (grey images)")
            if self.budget is not None:
                self.budget.note("up-down fine-tuning does not keep to a budget: it ran to the end")
            self.model_ = self._updown_estimator().fit(X, y)
            if len(self.model_.classes_) != self.n_classes_:
                raise DataError(f"{train.name}: dbn needs every class in the training split "
                                f"({len(self.model_.classes_)} of {self.n_classes_} present)")
            self.history_ = list(self.model_.history_)
            return self
        self.model_ = self._estimator()
        rbms = self._pretrain(X, Xv) if cfg.pretrain else None
        ckpt = self.workdir / "dbn-finetune.npz" if self.workdir is not None else None
        # classes are 0..n_classes-1 by the dataset contract; pass them all even if one is absent
        budget = self.budget
        try:
            self.model_.fit(X, y, X_val=Xv, y_val=yv, rbms=rbms, checkpoint_path=ckpt, resume=self.resume,
                            deadline=budget.deadline if budget is not None else None)
        except BudgetError as e:
            raise budget.too_small(self.name, "no time was left for fine-tuning after pretraining: "
                                              + str(e).split(": ", 1)[-1]) from None
        if budget is not None:
            self._note_budget(rbms or [])
        if len(self.model_.classes_) != self.n_classes_:
            raise DataError(f"{train.name}: dbn needs every class in the training split "
                            f"({len(self.model_.classes_)} of {self.n_classes_} present)")
        self.model_.mlp_.clear_cache()
        self.history_ = list(self.model_.history_)
        return self

    def _estimator(self) -> DBN:
        cfg = self.config
        return DBN(tuple(int(s) for s in cfg.hidden_layers), visible=self.visible_, pretrain=cfg.pretrain,
                   rbm_epochs=cfg.rbm_epochs, rbm_learning_rate=cfg.rbm_lr, upper_learning_rate=cfg.upper_rbm_lr,
                   gaussian_learning_rate=cfg.gaussian_lr,
                   rbm_batch_size=cfg.rbm_batch_size, k=cfg.cd_k, persistent=cfg.persistent,
                   rbm_weight_decay=cfg.rbm_weight_decay,
                   sparsity_target=cfg.sparsity_target if cfg.sparsity_target > 0 else None,
                   finetune_epochs=cfg.finetune_epochs, finetune_learning_rate=cfg.lr,
                   finetune_momentum=cfg.momentum, finetune_weight_decay=cfg.weight_decay,
                   finetune_batch_size=cfg.batch_size, schedule=cfg.schedule, device=self.backend.device,
                   random_state=self.seed, progress=self.progress)

    def _updown_estimator(self) -> UpDownDBN:
        cfg = self.config
        return UpDownDBN(tuple(int(s) for s in cfg.hidden_layers), rbm_epochs=cfg.rbm_epochs,
                         rbm_learning_rate=cfg.rbm_lr, upper_learning_rate=cfg.upper_rbm_lr,
                         sparsity_target=cfg.sparsity_target if cfg.sparsity_target > 0 else None,
                         updown_epochs=cfg.updown_epochs, updown_learning_rate=cfg.updown_lr, k_top=cfg.k_top,
                         batch_size=cfg.rbm_batch_size, device=self.backend.device, random_state=self.seed)

    def _note_budget(self, rbms) -> None:
        """Write down how pretraining and fine-tuning spent the budget (epochs run of those planned)."""
        cfg, budget = self.config, self.budget
        if rbms:
            runs = [int(r.n_epochs_) for r in rbms]
            budget.note(f"pretraining: {', '.join(map(str, runs))} of {cfg.rbm_epochs} CD epochs per RBM",
                        limited=any(n < cfg.rbm_epochs for n in runs))
        trainer = getattr(self.model_, "finetune_trainer_", None)
        if trainer is not None:
            budget.note(f"fine-tuning: {trainer.budget_plan or 'no plan'}",
                        limited=trainer.epochs < cfg.finetune_epochs or trainer.max_steps is not None)
            if trainer.cut_by_deadline:
                budget.note(f"fine-tuning: stopped by the budget in epoch {len(self.model_.history_)}", limited=True)

    def _pretrain(self, X, Xv):
        """Greedy pretraining, one checkpoint per finished layer when there is a workdir."""
        path = self.workdir / "dbn-pretrain.npz" if self.workdir is not None else None
        # what the saved layers depend on; a checkpoint of other settings is refused
        recipe = {k: v for k, v in dataclasses.asdict(self.config).items()
                  if k.startswith(("rbm_", "gaussian_", "cd_", "persistent", "sparsity", "hidden", "visible"))}
        recipe.update(seed=self.seed, n_train=int(X.shape[0]), n_features=int(X.shape[1]))
        recipe = json.loads(json.dumps(recipe))
        rbms = []
        if path is not None and self.resume and path.exists():
            try:
                state = load_npz(path, "pretraining checkpoint")
            except CheckpointError as e:
                raise CheckpointError(f"{e}; run the command again without --resume, or delete the file") from None
            saved = json.loads(str(state.get("rbm/recipe", "{}")))
            if saved != recipe:
                diff = sorted(k for k in set(saved) | set(recipe) if saved.get(k) != recipe.get(k))
                raise CheckpointError(f"{path}: pretraining checkpoint was made with other settings "
                                      f"({', '.join(diff)}); delete it or use another workdir")
            rbms = _rbms_from_state(state, self.model_, self.backend, str(path))
        n_layers = len(self.config.hidden_layers)
        deadlines = (self.model_.stage_deadlines(X.shape[1], len(rbms), self.budget.deadline)
                     if self.budget is not None else None)
        while len(rbms) < n_layers:
            rbms = self.model_.pretrain_layers(X, Xv, seed=self.seed, start=rbms, n_layers=len(rbms) + 1,
                                               deadlines=deadlines)
            if path is not None:
                save_npz(path, {**_rbm_state(rbms), "rbm/recipe": np.array(json.dumps(recipe))})
        return rbms

    def predict_scores(self, images: np.ndarray) -> np.ndarray:
        """(N, n_classes) host float32: the fine-tuned network's logits (backprop), or the top
        RBM's ``-F(pen, label)`` for each label (up-down)."""
        if not hasattr(self, "model_"):
            raise ConfigError("dbn: predict_scores called before fit/load")
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if tuple(images.shape[1:]) != tuple(self.image_shape_):
            raise DataError(f"predict_scores: dbn was trained on {self.image_shape_} images, got {images.shape[1:]}")
        return self.model_.decision_function(self._pixels(images)).astype(np.float32)

    def get_state(self) -> dict:
        m = self.model_
        if isinstance(m, UpDownDBN):
            state = {f"updown/{name}/{i}": to_host(a) for name in ("R_", "G_", "rec_bias_", "gen_bias_")
                     for i, a in enumerate(getattr(m, name))}
            state.update({"updown/W_top_": to_host(m.W_top_), "updown/a_top_": to_host(m.a_top_),
                          "updown/b_top_": to_host(m.b_top_)})
        else:
            state = {f"mlp/{k}": v for k, v in m.mlp_.state_dict().items()}
            state.update(_rbm_state(m.rbms_))
        state.update({"mean": self.mean_, "std": self.std_,
                      "shape": np.array([self.n_classes_, *self.image_shape_]),
                      "visible": np.array(self.visible_), "downscale": np.array(self.factor_)})
        return state

    def set_state(self, state: dict) -> None:
        self.n_classes_, h, w, c = (int(v) for v in state["shape"])
        self.__dict__.pop("factor_", None)
        # the factor the model was fitted with (files from before it existed: the config's rule)
        self.factor_ = int(state["downscale"]) if "downscale" in state else self.factor((h, w, c))
        self.image_shape_ = (h, w, c)
        n_in = int(np.prod(self.input_shape()))
        if np.shape(state["mean"]) != (n_in,):
            raise CheckpointError(f"dbn: saved model has {np.size(state['mean'])} visible units, but "
                                  f"{h}x{w}x{c} images downscaled by {self.factor_} give {n_in}")
        self.visible_ = str(state["visible"])
        self.mean_, self.std_ = state["mean"].astype(FLOAT), state["std"].astype(FLOAT)
        if "updown/W_top_" in state:
            m = self.model_ = self._updown_estimator()
            n = len(self.config.hidden_layers) - 1
            for name in ("R_", "G_", "rec_bias_", "gen_bias_"):
                setattr(m, name, [to_device(state[f"updown/{name}/{i}"], self.xp, dtype=FLOAT) for i in range(n)])
            for name in ("W_top_", "a_top_", "b_top_"):
                setattr(m, name, to_device(state[f"updown/{name}"], self.xp, dtype=FLOAT))
            m.classes_ = np.arange(self.n_classes_)
            m.n_features_in_ = n_in
            m.history_ = []
            return
        self.model_ = self._estimator()
        sizes = [n_in] + [int(s) for s in self.config.hidden_layers]
        m = self.model_
        m.classes_ = np.arange(self.n_classes_)
        m.n_features_in_ = n_in
        m.rbms_ = _rbms_from_state(state, m, self.backend, "state")
        m.mlp_ = build_mlp(sizes, self.n_classes_, None, xp=self.xp)
        m.mlp_.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("mlp/")}, "dbn state")
        m.history_, m.pretrain_history_ = [], []

    def describe(self) -> dict:
        shape = None if hasattr(self, "image_shape_") else (28, 28, 1)
        n_classes = getattr(self, "n_classes_", 10)
        sizes = [int(np.prod(self.input_shape(shape)))] + [int(s) for s in self.config.hidden_layers] + [n_classes]
        pairs = list(zip(sizes[:-1], sizes[1:]))
        if self.config.finetune == "up-down":  # untied R and G below, top RBM over pen + labels
            lower, (pen, top) = pairs[:-2], pairs[-2]
            n_params = sum(2 * a * b + a + b for a, b in lower) + (pen + n_classes) * top + pen + n_classes + top
            flops = sum(2 * a * b for a, b in lower) + 2 * pen * top + 2 * n_classes * top
            return {"n_params": int(n_params), "flops_per_image": int(flops), "feature_dim": int(pen), "layers": sizes}
        n_params = sum(a * b + b for a, b in pairs)
        return {"n_params": int(n_params), "flops_per_image": int(sum(2 * a * b for a, b in pairs)),
                "feature_dim": int(sizes[-2]), "layers": sizes}

    def visualize(self) -> dict:
        """First-layer filters (100 of them) and 25 samples of the DBN (if pretrained)."""
        if not hasattr(self, "model_"):
            return {}
        h, w, c = self.input_shape()  # what the first layer sees (downscaled pixels)
        if isinstance(self.model_, UpDownDBN):  # recognition filters of the first layer
            return {"filters": tile_images(to_host(self.model_.R_[0]).T[:100], (h, w))}
        out = {"filters": self.model_.filters((h, w, c), n=100)}
        if self.model_.rbms_ and c == 1:
            samples = self.model_.sample(25, n_steps=500, rng=self.seed)
            out["samples"] = tile_images(samples, (h, w), n_cols=5, normalise=None)
        return out


def _rbm_state(rbms) -> dict:
    """Flat dict of host arrays for a list of RBMs."""
    state = {"rbm/n_layers": np.array(len(rbms))}
    for i, r in enumerate(rbms):
        state[f"rbm/{i}/W"] = to_host(r.components_)
        state[f"rbm/{i}/b_hidden"] = to_host(r.intercept_hidden_)
        state[f"rbm/{i}/b_visible"] = to_host(r.intercept_visible_)
        state[f"rbm/{i}/log_variance"] = to_host(r.log_variance_)
        # its per-epoch record (seconds, monitors): a resumed run keeps its pretraining's times
        state[f"rbm/{i}/history"] = np.array(json.dumps(list(getattr(r, "history_", []) or [])))
    return state


def _rbms_from_state(state, dbn: DBN, backend, source) -> list:
    try:
        n = int(state.get("rbm/n_layers", 0))
        rbms = []
        for i in range(n):
            W = state[f"rbm/{i}/W"]
            r = dbn.make_rbm(i, W.shape[0], 0)
            r._initialise(W.shape[1], backend.xp)
            r.n_features_in_ = W.shape[1]
            r.components_ = to_device(W, backend.xp, dtype=FLOAT)
            r.intercept_hidden_ = to_device(state[f"rbm/{i}/b_hidden"], backend.xp, dtype=FLOAT)
            r.intercept_visible_ = to_device(state[f"rbm/{i}/b_visible"], backend.xp, dtype=FLOAT)
            r.log_variance_ = to_device(state[f"rbm/{i}/log_variance"], backend.xp, dtype=FLOAT)
            r.history_ = json.loads(str(state[f"rbm/{i}/history"])) if f"rbm/{i}/history" in state else []
            rbms.append(r)
    except KeyError as e:
        raise CheckpointError(f"{source}: RBM layer arrays missing ({e})") from None
    return rbms


__all__ = ["DBNMethod", "DBNConfig"]
