"""The recipe of every hand-crafted method: features, standardisation, a linear SVM.

Raw pixels, HOG and the three dense-SIFT pipelines all end the same way: a feature vector
per image, optionally standardised on the training set, and a one-vs-rest linear SVM
(:class:`histnet.classifiers.LinearSVM`). :class:`FeatureSvmMethod` holds that recipe once:

1. **Fit what extraction needs** (:meth:`FeatureSvmMethod.fit_features`): nothing for
   pixels and HOG, a codebook for the SIFT encodings.
2. **Extract in batches** (:meth:`FeatureSvmMethod.extract` on ``batch_size`` images at a
   time, moved to the host as they come), so memory holds one batch of images and the
   feature matrix.
3. **Cache** the training features on disk (:class:`histnet.features.feature_cache.FeatureCache`)
   under a key made of the data set's content, the feature parameters (every config field
   but the SVM's and the scaler's) and ``feature_version``, so a second fit with another
   ``C`` only trains the SVM. Configs without ``cache_features`` are not cached.
4. **Standardise** every feature to zero mean and unit variance on the training set
   (:class:`histnet.classifiers.StandardScaler`, statistics merged batch by batch, with
   ``min_std`` as the floor when the config has one), unless the method or its config
   says not to (``standardize``).
5. **Linear SVM**, one-vs-rest, squared hinge (LIBLINEAR's formulation).

**A time budget** (``--budget``, :mod:`histnet.budget`): after step 1, the training images
are described in a seeded order that deals the classes out in turn (every prefix is
class-balanced) until half of what is left of the budget is spent, and the SVM stops its
Newton iterations at the deadline. Budgeted runs
neither read nor write the feature cache (a cached feature would make the clock
meaningless). The record's ``budget`` says how many images were described and how many
Newton iterations ran.

A new hand-crafted method is a ``Config`` dataclass and two functions::

    @register
    class MyFeatureSvm(FeatureSvmMethod):
        name, year, paper = "my-feature-svm", 2024, "Me et al. 2024"
        Config = MyConfig                  # needs C, svm_max_iter, svm_tol, batch_size

        def extract(self, images):         # uint8 (N, H, W, C) -> (N, D), numpy or xp
            ...
        def feature_dim(self, image_shape):
            ...

Everything else (fit, predict_scores, save/load, describe) is inherited.

The state saved is ``svm/*`` (:meth:`LinearSVM.get_state`), ``mean`` and ``scale`` when
standardised, ``encoder/*`` (:meth:`feature_state`, e.g. a codebook), ``n_classes`` and
``image_shape``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Optional

import numpy as np

from ..backend import to_device, to_host
from ..classifiers import LinearSVM, StandardScaler
from ..errors import CheckpointError, ConfigError, DataError
from ..features._angles import numpy_has_vector_atan2
from ..features.feature_cache import FeatureCache, dataset_key
from ..progress import Stage
from .contract import Method

#: Config fields that never change the features (left out of the cache key).
NOT_FEATURE_FIELDS = frozenset({"C", "svm_max_iter", "svm_tol", "max_iter", "tol", "standardize", "min_std",
                                "batch_size", "cache_features"})


class FeatureSvmMethod(Method):
    """Base of the feature + linear SVM methods. See the module docstring.

    Class attributes a subclass may set
    -----------------------------------
    svm_fields : tuple of str
        The config fields holding the SVM's ``C``, ``max_iter`` and ``tol``.
    standardize : bool
        Standardise the features (a config field ``standardize`` overrides it).
    fixed_input_size : bool
        Images to score must have the training images' shape (true when the feature
        length depends on it).
    feature_version : int
        Part of the cache key: raise it when a code change alters the features.
    seeded_features : bool
        The features depend on the seed (a codebook from a random sample): the seed joins
        the cache key.
    """

    family = "hand-crafted"
    honours_budget = True
    #: The part of what is left of a budget after :meth:`fit_features` that describing the
    #: training images may take; the rest is the SVM's (and the standardisation's).
    budget_feature_share: ClassVar[float] = 0.5
    svm_fields: ClassVar[tuple] = ("C", "svm_max_iter", "svm_tol")
    standardize: ClassVar[bool] = True
    fixed_input_size: ClassVar[bool] = True
    feature_version: ClassVar[int] = 1
    #: The features take gradient angles (HOG, SIFT). Where numpy's ``arctan2`` is a scalar
    #: loop they come from the polynomial of :mod:`histnet.features._angles`, equal to
    #: rounding, not to the bit, so the cache key says so: a cache filled with ``arctan2``'s
    #: features is not read there, and a cache filled elsewhere keeps its keys.
    uses_angles: ClassVar[bool] = False
    seeded_features: ClassVar[bool] = False

    # -- what a method supplies ---------------------------------------------------------------
    def extract(self, images):
        """Features of a uint8 batch (N, H, W, C): an (N, feature_dim) array, host or device."""
        raise NotImplementedError

    def feature_dim(self, image_shape=None) -> int:
        """Length of the feature vector for images of ``image_shape`` (default: the fitted one)."""
        raise NotImplementedError

    def check_config(self) -> None:
        """Raise :class:`ConfigError` for invalid values (beyond the recipe's own checks)."""

    def fit_features(self, train) -> None:
        """Fit what :meth:`extract` needs from the training set (a codebook); default nothing."""

    def feature_state(self) -> dict:
        """Host arrays :meth:`extract` needs after fit (saved as ``encoder/<name>``)."""
        return {}

    def set_feature_state(self, arrays: dict) -> None:
        """Restore :meth:`feature_state`."""

    def extract_flops(self, image_shape) -> int:
        """Floating-point operations to extract one image's features (an estimate; 0 if unknown)."""
        return 0

    # -- the recipe ---------------------------------------------------------------------------------
    @property
    def feature_dtype(self) -> str:
        return str(getattr(self.config, "dtype", "float32"))

    def _standardizes(self) -> bool:
        return bool(getattr(self.config, "standardize", self.standardize))

    def _check_recipe_config(self):
        c = self.config
        C, max_iter, tol = (getattr(c, f) for f in self.svm_fields)
        if not (isinstance(C, (int, float)) and C > 0):
            raise ConfigError(f"{self.name}: {self.svm_fields[0]} must be > 0, got {C!r}")
        if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise ConfigError(f"{self.name}: {self.svm_fields[1]} must be a positive integer, got {max_iter!r}")
        if not (isinstance(tol, (int, float)) and tol > 0):
            raise ConfigError(f"{self.name}: {self.svm_fields[2]} must be > 0, got {tol!r}")
        bs = c.batch_size
        if not isinstance(bs, (int, np.integer)) or bs < 1:
            raise ConfigError(f"{self.name}: batch_size must be a positive integer, got {bs!r}")
        if self.feature_dtype not in ("float32", "float64"):
            raise ConfigError(f"{self.name}: dtype={self.feature_dtype!r}; use float32 or float64")
        self.check_config()

    def _new_svm(self) -> LinearSVM:
        C, max_iter, tol = (getattr(self.config, f) for f in self.svm_fields)
        return LinearSVM(C=float(C), max_iter=int(max_iter), tol=float(tol), dtype=self.feature_dtype)

    def cache_key(self, train, part: str = "train") -> dict:
        """What the cached ``part`` (``"train"`` features, or a method's own) was computed from."""
        params = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in NOT_FEATURE_FIELDS}
        key = {"feature": f"{self.name}-{part}", "data": dataset_key(train)}
        if self.seeded_features:
            key["seed"] = int(self.seed)
        key.update(params=params, version=self.feature_version)
        if self.uses_angles and self.xp is np and not numpy_has_vector_atan2():
            key["angles"] = "polynomial"  # another computation than arctan2 (features/_angles.py)
        return key

    def _caches(self) -> bool:
        """Whether the feature cache is read and written: as configured, never under a budget."""
        return bool(getattr(self.config, "cache_features", False)) and self.budget is None

    def extract_dataset(self, data) -> np.ndarray:
        """Features of every image of ``data``, streamed in batches, as one host array."""
        bs = int(self.config.batch_size)
        stage = Stage(f"{self.name} extract", total=-(-len(data) // bs), progress=self.progress)
        out: Optional[np.ndarray] = None
        start = 0
        for b, (images, _) in enumerate(data.batches(bs), 1):
            F = to_host(self.extract(images))
            if out is None:
                out = np.empty((len(data), F.shape[1]), self.feature_dtype)
            out[start:start + len(F)] = F
            start += len(F)
            stage.update(b)
        return out

    def fit(self, train, val=None):
        """Fit the feature extractor, extract (or read cached) training features, standardise,
        train the SVM. ``val`` is not used (no C search inside a method: the cache makes a
        search over ``C`` from outside cheap)."""
        self._check_recipe_config()
        if len(train) == 0:
            raise DataError(f"{self.name}: the training set is empty")
        self.image_shape_ = tuple(int(v) for v in train.image_shape)
        self.feature_dim(self.image_shape_)  # too-small images fail here, with the minimum size
        t_features = self.budget.clock() if self.budget is not None else None
        self.fit_features(train)
        owned = not self._caches()
        if self.budget is not None:
            if self.budget.expired():
                raise self.budget.too_small(self.name, f"fitting what the features need (a codebook) took "
                                                       f"{self.budget.clock() - t_features:.1f} s, the whole budget")
            train, feats = self._extract_within_budget(train)
        elif owned:
            feats = self.extract_dataset(train)
        else:
            feats = FeatureCache(notify=self.notify).get_or_compute(self.cache_key(train), lambda: self.extract_dataset(train))
        X = to_device(np.asarray(feats, dtype=self.feature_dtype), self.xp)
        self.scaler_ = None
        if self._standardizes():
            bs = int(self.config.batch_size)
            scaler = StandardScaler(min_std=float(getattr(self.config, "min_std", 0.0)), dtype=self.feature_dtype)
            for s in range(0, len(X), bs):
                scaler.partial_fit(X[s:s + bs])
            if owned:  # in place: the training matrix is the largest array here
                X -= scaler.mean_
                X /= scaler.scale_
            else:  # the cache's file is mapped read-only
                X = scaler.transform(X)
            self.scaler_ = scaler
        self.n_classes_ = train.n_classes
        deadline = self.budget.deadline if self.budget is not None else None
        self.svm_ = self._new_svm().fit(X, train.labels, progress=self.progress, deadline=deadline)
        if self.budget is not None:
            svm = self.svm_
            cut = bool(getattr(svm, "stopped_by_deadline_", False))
            self.budget.note(f"SVM: {svm.n_iter_} Newton iteration{'' if svm.n_iter_ == 1 else 's'}"
                             + (f" of at most {svm.max_iter}, stopped by the budget" if cut else
                                (", converged" if getattr(svm, "converged_", False) else "")), limited=cut)
        return self

    def _extract_within_budget(self, train):
        """Describe training images until the features' share of the budget is spent.

        The images are visited in a seeded order that deals the classes out in turn, so
        every prefix is class-balanced; a batch is started only if one as long as the last
        still fits into :attr:`budget_feature_share` of what was left when extraction began.
        Returns the subset described (all of ``train`` when it fits) and its features.
        """
        budget, bs = self.budget, int(self.config.batch_size)
        rng = np.random.default_rng([int(self.seed), 7321])
        labels = np.asarray(train.labels)
        per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
        # rank within its class, then class: a round-robin deal of the shuffled classes
        ranks = np.concatenate([np.arange(len(m)) for m in per_class])
        members = np.concatenate(per_class)
        order = members[np.lexsort((rng.random(len(members)), ranks))]
        t_start = budget.clock()
        stop_at = t_start + budget.remaining() * self.budget_feature_share
        parts, done, last = [], 0, 0.0
        stage = Stage(f"{self.name} extract", total=-(-len(train) // bs), progress=self.progress)
        for b, (images, _) in enumerate(train.batches(bs, indices=order), 1):
            t0 = budget.clock()
            parts.append(np.asarray(to_host(self.extract(images)), dtype=self.feature_dtype))
            done += len(images)
            last = budget.clock() - t0
            stage.update(b)
            if b == 1 and budget.expired():
                raise budget.too_small(self.name, f"describing the first {done} training images took "
                                                  f"{last:.2f} s, more than the whole budget")
            if done < len(train) and budget.clock() + last > stop_at:
                break
        ms = f"{1000 * (budget.clock() - t_start) / done:.2f} ms an image"
        if done == len(train):
            budget.note(f"features: all {done:,} training images ({ms})")
        else:
            budget.note(f"features: {done:,} of {len(train):,} training images, classes in turn ({ms})",
                        limited=True)
        return train.subset(order[:done]), np.concatenate(parts)  # the features' order, not train's

    def predict_scores(self, images) -> np.ndarray:
        """(N, n_classes) host float32 SVM decision values for uint8 images (N, H, W, C).

        A class absent from the training set scores the lowest finite float32
        (:meth:`LinearSVM.class_scores`), so it is never predicted and scores stay finite.
        """
        if not hasattr(self, "svm_"):
            raise ConfigError(f"{self.name}: predict before fit (or load)")
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise DataError(f"{self.name}: images must be N x H x W x C, got shape {images.shape}")
        fitted = tuple(self.image_shape_)
        if self.fixed_input_size and tuple(images.shape[1:1 + len(fitted)]) != fitted:
            got = "x".join(str(v) for v in images.shape[1:])
            raise DataError(f"{self.name}: images are {got}, the model was fitted on "
                            f"{'x'.join(str(v) for v in fitted)}")
        out = np.empty((len(images), self.n_classes_), np.float32)
        bs = int(self.config.batch_size)
        for s in range(0, len(images), bs):
            X = to_device(np.asarray(to_host(self.extract(images[s:s + bs])), self.feature_dtype), self.xp)
            if self.scaler_ is not None:
                X = self.scaler_.transform(X)
            out[s:s + len(X)] = self.svm_.class_scores(X, self.n_classes_)
        return out

    # -- state --------------------------------------------------------------------------------------
    def get_state(self) -> dict:
        if not hasattr(self, "svm_"):
            raise CheckpointError(f"{self.name}: nothing to save before fit")
        state = {f"encoder/{k}": np.asarray(v) for k, v in self.feature_state().items()}
        state.update({f"svm/{k}": v for k, v in self.svm_.get_state().items()})
        if self.scaler_ is not None:
            state["mean"], state["scale"] = to_host(self.scaler_.mean_), to_host(self.scaler_.scale_)
        state["n_classes"] = np.asarray(self.n_classes_, np.int64)
        state["image_shape"] = np.asarray(self.image_shape_, np.int64)
        return state

    def set_state(self, state: dict) -> None:
        try:
            svm_state = {k: state[f"svm/{k}"] for k in ("coef", "intercept", "classes")}
            n_classes = int(state["n_classes"])
            image_shape = tuple(int(v) for v in np.asarray(state["image_shape"]))
            encoder = {k[len("encoder/"):]: v for k, v in state.items() if k.startswith("encoder/")}
            mean, scale = (state["mean"], state["scale"]) if self._standardizes() else (None, None)
        except KeyError as e:
            raise CheckpointError(f"{self.name}: saved state lacks {e.args[0]!r}") from None
        self.set_feature_state(encoder)
        dim = self.feature_dim(image_shape)
        coef = np.asarray(svm_state["coef"])
        if coef.ndim != 2 or coef.shape[1] != dim or (mean is not None and np.shape(mean) != (dim,)):
            raise CheckpointError(f"{self.name}: saved model has {coef.shape[-1]} features but the config "
                                  f"gives {dim} for {image_shape} images")
        xp, dtype = self.xp, self.feature_dtype
        self.scaler_ = None
        if mean is not None:
            scaler = StandardScaler(min_std=float(getattr(self.config, "min_std", 0.0)), dtype=dtype)
            scaler.mean_, scaler.scale_ = to_device(mean, xp, dtype), to_device(scale, xp, dtype)
            scaler.n_features_in_ = dim
            self.scaler_ = scaler
        svm_state["classes"] = np.asarray(svm_state["classes"], np.int64)
        self.svm_ = self._new_svm().set_state(svm_state, xp)
        self.n_classes_, self.image_shape_ = n_classes, image_shape

    def describe(self) -> dict:
        """``feature_dim``; after fit ``n_params`` (SVM weights and biases, the scaler's mean
        and scale, the encoder's arrays) and ``flops_per_image`` (:meth:`extract_flops`, 2
        per feature to standardise, 2 per SVM weight)."""
        shape = getattr(self, "image_shape_", None)
        try:
            d = int(self.feature_dim(shape))
        except (ConfigError, TypeError, AttributeError):
            return {}
        out = {"feature_dim": d}
        if hasattr(self, "svm_"):
            scaled = 2 * d if self.scaler_ is not None else 0
            n_enc = sum(int(np.asarray(v).size) for v in self.feature_state().values())
            out["n_params"] = int(self.svm_.coef_.size + self.svm_.intercept_.size + scaled + n_enc)
            out["flops_per_image"] = int(self.extract_flops(shape) + scaled + 2 * self.svm_.coef_.size)
        return out
