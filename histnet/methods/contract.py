"""The method contract: what a comparable method is.

A method is a class with a ``name``, the ``year`` and ``paper`` it reproduces, a
``family`` (``"baseline"``, ``"hand-crafted"``, ``"dbn"``, ``"cnn"``), a ``Config``
dataclass of hyper-parameters, and

* ``fit(train, val=None)`` taking :class:`histnet.data.Dataset` objects and
  streaming them in batches;
* ``predict_scores(images) -> (N, n_classes)`` host numpy array for a uint8 batch
  (N, H, W, C), any monotone per-class score;
* ``get_state()`` / ``set_state(state)``: the learned arrays, so the inherited
  ``save``/``load`` write one ``.npz`` (``allow_pickle=False``) holding the config
  as JSON beside them.

Where it belongs (class attributes, all optional; the studies read them from the
registry, so a plug-in joins them with no other change):

``progression``
    Its slot in ``histnet progression`` (e.g. ``"hog-svm"``), or None to stay out. Methods
    sharing a slot are variants of one method for different image sizes; the study takes
    the one whose ``image_sizes`` hold the data's size.
``image_sizes``
    ``(smallest, largest)`` image side in pixels this variant serves (None: no bound).
``input_size``
    The native square input of a network (None: any size).
``crossover``
    Whether ``histnet crossover`` compares it by default.
``ablations``
    The paper's design claims as arms for ``histnet ablate``: ``{name: {"set": {...},
    "change": ..., "claim": ..., "citation": ..., "expect": "worse"|"better"|"slower"}}``
    (:mod:`histnet.ablation`).
``honours_budget``
    Whether its ``fit`` keeps to ``self.budget`` (:class:`histnet.budget.Budget`, set from
    ``--budget``; None: no limit). Both recipes do; a method that does not runs to the end,
    and its record and table say so.
``history``
    Keys of the published figures it reproduces (``histnet/published_results.csv``), in
    order of preference; a table shows those on its own benchmark, else the first.

Profiles: ``profiles = {"quick": {...}, "full": {...}}`` are named sets of config
overrides; ``quick`` keeps the mnist5k progression within its time budget.

The two recipes most methods are written on are :class:`histnet.methods.FeatureSvmMethod`
(hand-crafted features + linear SVM) and :class:`histnet.methods.ImageCnnMethod` (a CNN
trained by the :class:`histnet.nn.Trainer`). Config parsing is in :mod:`.config`, the
registry in :mod:`.registry`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import ClassVar, Optional

import numpy as np

from ..backend import Backend, get_backend
from ..errors import CheckpointError
from ..io import load_npz, save_npz
from ..progress import ProgressCallback
from .config import make_config

@dataclasses.dataclass
class EmptyConfig:
    """A method with no hyper-parameters."""


class Method:
    """Base class of every comparable method. See the module docstring for the contract."""

    name: ClassVar[str] = ""
    year: ClassVar[int] = 0
    paper: ClassVar[str] = ""
    family: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Config: ClassVar[type] = EmptyConfig
    profiles: ClassVar[dict] = {"quick": {}, "full": {}}
    progression: ClassVar[Optional[str]] = None
    image_sizes: ClassVar[tuple] = (None, None)
    input_size: ClassVar[Optional[int]] = None
    crossover: ClassVar[bool] = False
    history: ClassVar[tuple] = ()
    ablations: ClassVar[dict] = {}
    honours_budget: ClassVar[bool] = False

    def __init__(self, config=None, *, backend: Backend | str = "cpu", seed: int = 0,
                 progress: Optional[ProgressCallback] = None, workdir: Optional[Path] = None,
                 resume: bool = False, notify=None, budget=None):
        self.config = config if config is not None else self.Config()
        self.backend = get_backend(backend)
        self.seed = seed
        self.progress = progress
        # workdir: the run folder; long-training methods keep checkpoints there.
        # resume: continue from a checkpoint in workdir if one exists.
        self.workdir = Path(workdir) if workdir is not None else None
        self.resume = resume
        # notify: one-line notes for the user (a cache entry recomputed, ...); None is silence
        self.notify = notify
        # budget: a histnet.budget.Budget (--budget) the fit keeps to, started by the runner
        self.budget = budget

    @property
    def xp(self):
        return self.backend.xp

    # -- the contract ------------------------------------------------------------------
    def fit(self, train, val=None) -> "Method":
        raise NotImplementedError

    def predict_scores(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_state(self) -> dict:
        """Learned arrays as a flat dict of host numpy arrays."""
        raise NotImplementedError

    def set_state(self, state: dict) -> None:
        raise NotImplementedError

    def describe(self) -> dict:
        """Size figures for the tables: ``feature_dim``, ``n_params``, ``flops_per_image``."""
        return {}

    def resolved_settings(self) -> dict:
        """Settings the method chose from the data (a cell size that follows the image size,
        ...), recorded with the run; default: none."""
        return {}

    def settings_for(self, image_shape, n_train=None) -> dict:
        """The settings :meth:`resolved_settings` would hold after fitting on ``n_train``
        images (None: not known) of ``image_shape`` (``histnet methods info METHOD
        --dataset``); default: none."""
        return {}

    def inert_settings(self, image_shape) -> dict:
        """Config values that have no effect on images of ``image_shape``, as ``{field: the
        value they are equivalent to}`` (colour noise on grey images: ``{"pca_noise": 0.0}``).
        ``histnet ablate`` does not run an arm that differs from the recipe only in these;
        default: none."""
        return {}

    def learning_curve(self) -> list:
        """Per-epoch records (dicts with ``epoch``, ``train_loss``, ``val_error``, ...) if the
        method trains by epochs; stored in the result. Default: none."""
        return list(getattr(self, "history_", []) or [])

    def visualize(self) -> dict:
        """Named 2-D (or H x W x 3) host arrays worth drawing after fit: first-layer filters,
        a HOG picture, ... The report draws them; default: none."""
        return {}

    # -- save / load ---------------------------------------------------------------------
    def save(self, path, info: Optional[dict] = None) -> None:
        """Write the fitted model: its state arrays and, as JSON, the method, config and ``info``
        (what ``histnet predict`` needs: ``class_names``, the training ``image_shape``, the
        data set), in one ``.npz`` without pickles."""
        state = {f"state/{k}": np.asarray(v) for k, v in self.get_state().items()}
        meta = {"method": self.name, "config": dataclasses.asdict(self.config), "info": info or {}}
        state["meta"] = np.array(json.dumps(meta, default=str))
        save_npz(path, state)

    @classmethod
    def load(cls, path, backend="cpu") -> "Method":
        return cls.from_arrays(load_npz(path, "model file"), path, backend)

    @classmethod
    def from_arrays(cls, data: dict, path, backend="cpu") -> "Method":
        """The model in the arrays of a file written by :meth:`save` (read from ``path``)."""
        data = dict(data)
        try:
            meta = json.loads(str(data.pop("meta")))
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{path}: not a histnet model file ({type(e).__name__}: {e})") from None
        if meta.get("method") != cls.name:
            raise CheckpointError(f"{path}: holds a {meta.get('method')!r} model, not {cls.name!r}")
        obj = cls(make_config(cls, meta["config"]), backend=backend)
        # a compact model (saved.compact_model) keeps weights as float16: computed in float32
        obj.set_state({k[len("state/"):]: (v.astype(np.float32) if getattr(v, "dtype", None) == np.float16 else v)
                       for k, v in data.items()})
        obj.info_ = dict(meta.get("info") or {})
        return obj
