"""What the three dense-SIFT methods share: sample descriptors, fit a codebook, encode.

``sift-bovw-svm``, ``sift-llc-svm`` and ``sift-fisher-svm`` differ only in how a batch of
dense SIFT descriptors becomes an image vector (their own files say how, with the
papers). :class:`SiftPipelineMethod` is a :class:`~histnet.methods.FeatureSvmMethod` whose
features are those encodings; what it adds is the codebook:

1. **Codebook sample, streamed.** ``codebook_images`` training images are drawn at random
   and read in batches; from each image at most ``descriptors_per_image`` of its
   descriptors are kept (descriptors zeroed by the SIFT contrast threshold are skipped),
   so the sample, not the data set, is what sits in memory.
2. **Codebook** (k-means, or PCA + GMM) fitted on that sample by the method's hook.
3. **Encoding, streamed** by the recipe: the training set is read again in batches of
   ``batch_size``; each batch is described, encoded and moved to the host, so the device
   holds one batch and the codebook.
4. **Cache.** The fitted codebook (here) and the encoded training features (the recipe)
   are stored by :class:`histnet.features.feature_cache.FeatureCache` under a key made of
   the data set's content hash, the seed and every parameter that changes them (not
   ``C``): a second fit with another ``C`` reads both from disk and only trains the SVM.
5. **Linear SVM** on the unstandardised encodings (the recipe, ``standardize = False``:
   the encodings are already normalised).

Low-contrast frames (all-zero SIFT) are masked out of the pooling when
``drop_low_contrast`` is set: on MNIST most frames lie on the black background.

Left out: using ``val`` (no C search here: the experiment runner varies C, and the cache
makes that cheap) and descriptor augmentation (flips, jitter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..backend import host_rng, to_device, to_host
from ..errors import CheckpointError, ConfigError, DataError
from ..features.feature_cache import FeatureCache
from ..features.sift import dense_sift, sift_frames
from ..progress import Stage
from .feature_svm import FeatureSvmMethod

#: Part of every cache key: raise it whenever a change to the code changes the codebook or the
#: features for the same parameters, so stale cached files are not read.
FEATURE_VERSION = 2

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


class SiftPipelineMethod(FeatureSvmMethod):
    """Base of the dense-SIFT + encoding + linear SVM methods (see the module docstring).

    Subclasses set ``encoder_arrays`` (names of the codebook arrays) and implement
    :meth:`_fit_encoder`, :meth:`_encode`, :meth:`_encoder_state`, :meth:`_set_encoder_state`,
    :meth:`_encoding_flops` and :meth:`feature_dim`.
    """

    family = "hand-crafted"
    encoder_arrays: ClassVar[tuple] = ()
    standardize = False
    fixed_input_size = False
    seeded_features = True
    feature_version = FEATURE_VERSION

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

    def _encoding_flops(self, n_frames: int) -> int:
        """Multiply-adds x 2 to encode one image of ``n_frames`` descriptors (method-specific)."""
        raise NotImplementedError

    # -- validation ----------------------------------------------------------------------------
    def check_config(self):
        c = self.config
        for name in ("step", "codebook_images", "descriptors_per_image"):
            v = getattr(c, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"{self.name}: {name} must be a positive integer, got {v!r}")
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

    def extract(self, images):
        """Dense SIFT of a batch, encoded with the fitted codebook: (N, feature_dim) xp array."""
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

    # -- the codebook --------------------------------------------------------------------------------
    def _fit_codebook_arrays(self, train, rng):
        sample = self._sample_descriptors(train, rng)
        stage = Stage(f"{self.name} codebook", total=1, progress=self.progress)
        self._fit_encoder(to_device(sample, self.xp))
        stage.update(1, f"fitted on {len(sample)} descriptors")
        return pack_arrays(self._encoder_state(), self.encoder_arrays)

    def fit_features(self, train):
        """Sample descriptors and fit the codebook (or read it from the feature cache)."""
        rng = host_rng(self.seed)
        if self._caches():  # $HISTNET_CACHE/features: shared across runs, so a new C reuses it
            packed = FeatureCache(notify=self.notify).get_or_compute(self.cache_key(train, "codebook"),
                                                   lambda: self._fit_codebook_arrays(train, rng))
        else:
            packed = self._fit_codebook_arrays(train, rng)
        self._set_encoder_state(unpack_arrays(packed, self.encoder_arrays))

    def feature_state(self) -> dict:
        return self._encoder_state() if hasattr(self, "encoder_") else {}

    def set_feature_state(self, arrays: dict) -> None:
        missing = [k for k in self.encoder_arrays if k not in arrays]
        if missing:
            raise CheckpointError(f"{self.name}: saved state lacks 'encoder/{missing[0]}'")
        self._set_encoder_state({k: arrays[k] for k in self.encoder_arrays})

    def extract_flops(self, image_shape) -> int:
        """The encoding's GEMMs (2 x multiply-adds); dense SIFT itself is not counted."""
        c = self.config
        P = len(sift_frames(*image_shape[:2], bin_size=c.bin_size, step=c.step, sizes=list(c.sizes) or None))
        return int(self._encoding_flops(P))


def device_float(x, xp):
    """Host array -> float32 on ``xp`` (helper for the encoder states)."""
    return to_device(np.asarray(x, np.float32), xp)


__all__ = ["SiftPipelineConfig", "SiftPipelineMethod", "pack_arrays", "unpack_arrays", "device_float"]
