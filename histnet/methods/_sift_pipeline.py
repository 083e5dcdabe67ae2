"""The plumbing shared by the three dense-SIFT methods: sample, fit a codebook, encode, SVM.

``sift-bovw-svm``, ``sift-llc-svm`` and ``sift-fisher-svm`` differ only in how a batch of
dense SIFT descriptors becomes an image vector (their own files say how, with the
papers). Everything around that is here, once:

1. **Codebook sample, streamed.** ``codebook_images`` training images are drawn at random
   and read in batches; from each image at most ``descriptors_per_image`` of its
   descriptors are kept (descriptors zeroed by the SIFT contrast threshold are skipped),
   so the sample, not the data set, is what sits in memory.
2. **Codebook** (k-means, or PCA + GMM) fitted on that sample by the method's hook.
3. **Encoding, streamed.** The training set is read again in batches of ``batch_size``;
   each batch is described, encoded and moved to the host, so the device holds one batch
   and the codebook.
4. **Cache.** The fitted codebook and the encoded training features are stored by
   :class:`histnet.features.feature_cache.FeatureCache` under a key made of the data set's content
   hash, the seed and every parameter that changes them (not ``C``): a second fit with
   another ``C`` reads both from disk and only trains the SVM.
5. **Linear SVM** (:class:`histnet.classifiers.LinearSVM`, one-vs-rest, squared hinge)
   on the features; ``predict_scores`` streams images through 3 and the SVM.

Low-contrast frames (all-zero SIFT) are masked out of the pooling when
``drop_low_contrast`` is set: on MNIST most frames lie on the black background.

Left out: using ``val`` (no C search here: the experiment runner varies C, and the cache
makes that cheap) and descriptor augmentation (flips, jitter).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..backend import host_rng, to_device, to_host
from ..errors import CheckpointError, ConfigError, DataError
from ..features.feature_cache import FeatureCache, dataset_key
from ..features.sift import dense_sift, sift_frames
from ..progress import Stage
from .contract import Method

#: Part of every cache key: raise it whenever a change to the code changes the codebook or the
#: features for the same parameters, so stale cached files are not read.
FEATURE_VERSION = 2

#: Config fields that do not change the extracted features (left out of the cache key).
_NOT_FEATURE_FIELDS = {"C", "svm_max_iter", "svm_tol", "batch_size", "cache_features"}


@dataclass
class SiftPipelineConfig:
    """Parameters every dense-SIFT method shares.

    Attributes
    ----------
    bin_size : int
        SIFT spatial bin in pixels (a descriptor spans 4 bins); ignored when ``sizes`` is set.
    sizes : tuple of int
        Several bin sizes (PHOW, multi-scale); empty = ``bin_size`` only.
    step : int
        Grid step between descriptors, pixels.
    window, contrast_threshold, root_sift, color
        As :func:`histnet.features.sift.dense_sift` (``root_sift`` is its ``root``).
    drop_low_contrast : bool
        Leave descriptors zeroed by the contrast threshold out of sampling and pooling.
    levels : tuple of int
        Spatial pyramid grids (Lazebnik et al. 2006).
    codebook_images : int
        Training images whose descriptors are sampled for the codebook.
    descriptors_per_image : int
        Descriptors kept per sampled image.
    batch_size : int
        Images per streamed batch (bounds the device memory).
    C : float
        SVM inverse regularisation.
    svm_max_iter, svm_tol : int, float
        Newton iterations and tolerance of the SVM.
    cache_features : bool
        Store/reuse the codebook and training features on disk (``FeatureCache``).
    """

    bin_size: int = 4
    sizes: tuple = ()
    step: int = 4
    window: str = "flat"
    contrast_threshold: float = 0.005
    root_sift: bool = False
    color: str = "grey"
    drop_low_contrast: bool = True
    levels: tuple = (1, 2, 4)
    codebook_images: int = 2000
    descriptors_per_image: int = 50
    batch_size: int = 256
    C: float = 1.0
    svm_max_iter: int = 100
    svm_tol: float = 1e-4
    cache_features: bool = True


def _linear_svm(**params):
    """A :class:`histnet.classifiers.LinearSVM` (imported here, so the registry loads without it)."""
    from ..classifiers import LinearSVM

    return LinearSVM(**params)


def pack_arrays(arrays: dict, names) -> np.ndarray:
    """Host arrays -> one float64 vector: [n, (ndim, *shape) per array, data...]; for the cache."""
    header = [float(len(names))]
    for n in names:
        a = np.asarray(arrays[n])
        header += [float(a.ndim)] + [float(s) for s in a.shape]
    data = [np.asarray(arrays[n], np.float64).ravel() for n in names]
    return np.concatenate([np.asarray(header)] + data)


def unpack_arrays(flat, names) -> dict:
    """Inverse of :func:`pack_arrays` (arrays as float32)."""
    flat = np.asarray(flat, np.float64)
    if flat.ndim != 1 or len(flat) < 1 or int(flat[0]) != len(names):
        raise CheckpointError("cached codebook: unexpected layout (delete the feature cache folder)")
    pos, shapes = 1, []
    for _ in names:
        nd = int(flat[pos])
        shapes.append(tuple(int(s) for s in flat[pos + 1:pos + 1 + nd]))
        pos += 1 + nd
    out = {}
    for n, shp in zip(names, shapes):
        size = int(np.prod(shp)) if shp else 1
        out[n] = flat[pos:pos + size].reshape(shp).astype(np.float32)
        pos += size
    return out


class SiftPipelineMethod(Method):
    """Base of the dense-SIFT + encoding + linear SVM methods (see the module docstring).

    Subclasses set ``encoder_arrays`` (names of the codebook arrays) and implement
    :meth:`_fit_encoder`, :meth:`_encode`, :meth:`_encoder_state`, :meth:`_set_encoder_state`
    and :meth:`feature_dim`.
    """

    family = "hand-crafted"
    encoder_arrays: ClassVar[tuple] = ()

    # -- hooks ---------------------------------------------------------------------------------
    def _fit_encoder(self, sample):
        """Fit the codebook on descriptors ``sample`` (xp array (n, 128 or 384))."""
        raise NotImplementedError

    def _encode(self, desc, frames, image_shape, mask):
        """(N, P, D) xp descriptors -> (N, feature_dim) xp features."""
        raise NotImplementedError

    def _encoder_state(self) -> dict:
        """The codebook as host arrays named by ``encoder_arrays``."""
        raise NotImplementedError

    def _set_encoder_state(self, arrays: dict) -> None:
        raise NotImplementedError

    def feature_dim(self) -> int:
        raise NotImplementedError

    # -- validation ----------------------------------------------------------------------------
    def _check_config(self):
        c = self.config
        for name in ("step", "codebook_images", "descriptors_per_image", "batch_size", "svm_max_iter"):
            v = getattr(c, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"{self.name}: {name} must be a positive integer, got {v!r}")
        if not c.C > 0:
            raise ConfigError(f"{self.name}: C must be > 0, got {c.C!r}")
        if not c.levels or any(int(g) < 1 for g in c.levels):
            raise ConfigError(f"{self.name}: levels must be positive grid sizes, got {c.levels!r}")

    # -- descriptors -------------------------------------------------------------------------------
    def _describe_images(self, images):
        """uint8 (N, H, W[, C]) host images -> (descriptors xp (N, P, D), frames (P, 3), mask or None)."""
        c = self.config
        imgs = to_device(np.asarray(images), self.xp)
        ds = dense_sift(imgs, bin_size=c.bin_size, step=c.step, sizes=list(c.sizes) or None, window=c.window,
                        contrast_threshold=c.contrast_threshold, root=c.root_sift, color=c.color)
        desc = ds.descriptors
        mask = None
        if c.drop_low_contrast:
            mask = ((desc * desc).sum(axis=2) > 0).astype(desc.dtype)
        return desc, ds.frames, mask

    def _encode_images(self, images):
        desc, frames, mask = self._describe_images(images)
        return self._encode(desc, frames, tuple(np.asarray(images).shape[1:3]), mask)

    def _sample_descriptors(self, train, rng):
        """Stream ``codebook_images`` random training images; keep a few descriptors of each."""
        c = self.config
        n_img = min(c.codebook_images, len(train))
        idx = np.sort(rng.choice(len(train), size=n_img, replace=False))
        stage = Stage(f"{self.name} sample", total=-(-n_img // c.batch_size), progress=self.progress)
        parts = []
        for b, (images, _) in enumerate(train.batches(c.batch_size, indices=idx), 1):
            desc, _, mask = self._describe_images(images)
            n, P, D = desc.shape
            keys = rng.random((n, P))
            if mask is not None:
                keys[to_host(mask) == 0] = np.inf  # low-contrast frames are never picked
            m = min(c.descriptors_per_image, P)
            pick = np.argsort(keys, axis=1)[:, :m]
            valid = np.take_along_axis(keys, pick, axis=1) < np.inf
            rows = (np.arange(n)[:, None] * P + pick)[valid]
            parts.append(to_host(desc.reshape(n * P, D)[to_device(rows, self.xp)]))
            stage.update(b, f"{sum(len(p) for p in parts)} descriptors")
        sample = np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)
        if len(sample) == 0:
            raise DataError(f"{self.name}: no descriptor above the SIFT contrast threshold in "
                            f"{n_img} training images (lower contrast_threshold or set drop_low_contrast=false)")
        return sample

    # -- fit / predict ----------------------------------------------------------------------------
    def _cache_key(self, train, part):
        params = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in _NOT_FEATURE_FIELDS}
        return {"feature": f"{self.name}-{part}", "data": dataset_key(train), "seed": int(self.seed),
                "params": params, "version": FEATURE_VERSION}

    def _fit_codebook_arrays(self, train, rng):
        sample = self._sample_descriptors(train, rng)
        stage = Stage(f"{self.name} codebook", total=1, progress=self.progress)
        self._fit_encoder(to_device(sample, self.xp))
        stage.update(1, f"fitted on {len(sample)} descriptors")
        return pack_arrays(self._encoder_state(), self.encoder_arrays)

    def _encode_dataset(self, data):
        c = self.config
        stage = Stage(f"{self.name} encode", total=-(-len(data) // c.batch_size), progress=self.progress)
        out = None
        start = 0
        for b, (images, _) in enumerate(data.batches(c.batch_size), 1):
            F = to_host(self._encode_images(images)).astype(np.float32)
            if out is None:
                out = np.empty((len(data), F.shape[1]), np.float32)
            out[start:start + len(F)] = F
            start += len(F)
            stage.update(b)
        return out

    def fit(self, train, val=None):
        """Sample descriptors, fit the codebook, encode the training set, train the SVM."""
        self._check_config()
        if len(train) == 0:
            raise DataError(f"{self.name}: the training set is empty")
        rng = host_rng(self.seed)
        c = self.config
        cache = FeatureCache()  # $HISTNET_CACHE/features: shared across runs, so a new C reuses it
        if c.cache_features:
            packed = cache.get_or_compute(self._cache_key(train, "codebook"),
                                          lambda: self._fit_codebook_arrays(train, rng))
            self._set_encoder_state(unpack_arrays(packed, self.encoder_arrays))
            feats = cache.get_or_compute(self._cache_key(train, "train"), lambda: self._encode_dataset(train))
        else:
            self._set_encoder_state(unpack_arrays(self._fit_codebook_arrays(train, rng), self.encoder_arrays))
            feats = self._encode_dataset(train)
        self.n_classes_ = train.n_classes
        self.image_shape_ = tuple(int(v) for v in train.image_shape[:2])
        self.svm_ = _linear_svm(C=c.C, max_iter=c.svm_max_iter, tol=c.svm_tol).fit(
            to_device(np.asarray(feats), self.xp), train.labels, progress=self.progress)
        return self

    def predict_scores(self, images):
        """(N, n_classes) host float32 SVM decision values for uint8 images (N, H, W, C)."""
        if not hasattr(self, "svm_"):
            raise ConfigError(f"{self.name}: predict before fit (or load)")
        images = np.asarray(images)
        out = np.empty((len(images), self.n_classes_), np.float32)
        bs = self.config.batch_size
        for s in range(0, len(images), bs):
            F = self._encode_images(images[s:s + bs])
            out[s:s + bs] = self._scores(F)
        return out

    def _scores(self, F):
        """SVM decision values laid over all labels, (n, n_classes) host float32.

        ``LinearSVM.class_scores``: a label absent from training gets the lowest finite
        float32, so scores stay finite for :func:`histnet.evaluate.evaluate`.
        """
        return self.svm_.class_scores(F, self.n_classes_)

    # -- state ----------------------------------------------------------------------------------------
    def get_state(self) -> dict:
        if not hasattr(self, "svm_"):
            raise CheckpointError(f"{self.name}: nothing to save before fit")
        state = {f"encoder/{k}": np.asarray(v) for k, v in self._encoder_state().items()}
        state.update({f"svm/{k}": v for k, v in self.svm_.get_state().items()})
        state["n_classes"] = np.asarray(self.n_classes_)
        state["image_shape"] = np.asarray(getattr(self, "image_shape_", (0, 0)), np.int64)
        return state

    def set_state(self, state: dict) -> None:
        try:
            enc = {k: state[f"encoder/{k}"] for k in self.encoder_arrays}
            coef, intercept = state["svm/coef"], state["svm/intercept"]
            classes, n_classes = state["svm/classes"], int(state["n_classes"])
        except KeyError as e:
            raise CheckpointError(f"{self.name}: saved state lacks {e.args[0]!r}") from None
        self._set_encoder_state(enc)
        svm = _linear_svm(C=self.config.C).set_state({"coef": coef, "intercept": intercept, "classes": classes},
                                                     self.xp)
        if svm.n_features_in_ != self.feature_dim():
            raise CheckpointError(f"{self.name}: saved SVM has {svm.n_features_in_} features but the config "
                                  f"gives {self.feature_dim()}")
        self.svm_ = svm
        self.n_classes_ = n_classes
        if "image_shape" in state and int(np.asarray(state["image_shape"]).min()) > 0:
            self.image_shape_ = tuple(int(v) for v in np.asarray(state["image_shape"]))

    def _encoding_flops(self, n_frames: int) -> int:
        """Multiply-adds x 2 to encode one image of ``n_frames`` descriptors (method-specific)."""
        raise NotImplementedError

    def describe(self) -> dict:
        """``feature_dim``; after fit also ``n_params`` (codebook + SVM) and ``flops_per_image``.

        ``flops_per_image`` counts the encoding and the SVM (2 x multiply-adds of the GEMMs),
        not dense SIFT itself.
        """
        out = {"feature_dim": int(self.feature_dim())}
        if hasattr(self, "svm_"):
            n_enc = sum(int(np.asarray(v).size) for v in self._encoder_state().values())
            out["n_params"] = n_enc + int(self.svm_.coef_.size) + int(self.svm_.intercept_.size)
            if hasattr(self, "image_shape_"):
                c = self.config
                P = len(sift_frames(*self.image_shape_, bin_size=c.bin_size, step=c.step,
                                    sizes=list(c.sizes) or None))
                out["flops_per_image"] = int(self._encoding_flops(P) + 2 * self.feature_dim() * self.n_classes_)
        return out


def device_float(x, xp):
    """Host array -> float32 on ``xp`` (helper for the encoder states)."""
    return to_device(np.asarray(x, np.float32), xp)


__all__ = ["SiftPipelineConfig", "SiftPipelineMethod", "pack_arrays", "unpack_arrays", "device_float"]
