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

**Settings that follow the data** (the ``quick`` profiles; ``full`` keeps the papers'
constants). ``bin_size=0`` and ``step=0`` follow the image side
(:meth:`SiftPipelineMethod.sift_grid`): a bin of ``max(4, round(side / 32))`` px and a
step of ``max(2, round(side / 32))`` px: 4 / 2 up to 64-px images, 4 / 4 at 128 px, 8 / 8 at
256 px (Lazebnik et al. 2006 sampled 16-px patches, i.e. 4-px bins, every 8 px on images of
about 300 px). The descriptor's scale is that of local structure, not of the image: on
10,000 generated 64-px photos (``benchmarks/photos64.py``) 8-px bins every 4 px, which keep
a descriptor at the same fraction of the image as on digits, raised the Fisher-vector
error from 10.85% (4 / 2) to 17.70% (8 / 2 also 17.70%, 6 / 2 12.90%, 4 / 3 11.40%).
``descriptors_per_word > 0`` caps the codebook size (words or Gaussians) by the
descriptor sample (:func:`codebook_size_for`): a small training set gets a codebook its
sample can estimate. The values used are recorded with the run
(:meth:`SiftPipelineMethod.resolved_settings`) and are part of the cache keys, in place
of the configured ones (today's cached codebooks and features stay valid).

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
        0: follow the image size, ``max(4, round(side / 32))`` px with side = min(H, W) (4 up
        to 64-px images, where 8-px bins measured 7 points worse; 8 at 256 px, the papers'
        scale there); the bin used is recorded with the run.
    sizes : tuple of int
        Several bin sizes (PHOW, multi-scale); empty = ``bin_size`` only. Never follows the
        image: the sizes are used as configured.
    step : int
        Grid step between descriptors, pixels. 0: follow the image size,
        ``max(2, round(side / 32))`` (2 up to 64 px, 4 at 128, 8 at 256, which bounds the
        frames an image at about 1,000), recorded with the run.
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
    descriptors_per_word : int
        0: the configured codebook size (``n_words`` / ``n_components``) is used as it is.
        Above 0: the size used is ``min(configured, 2^floor(log2(n / descriptors_per_word)))``,
        at least 2, where n = min(codebook_images, training images) x
        min(descriptors_per_image, frames an image) is the size of the descriptor sample
        (an upper bound: low-contrast frames are skipped). A codebook then has at least
        that many sample descriptors per word, so a training set of a few hundred images
        does not get one its sample cannot estimate; the size used and n are recorded with
        the run.
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
    descriptors_per_word: int = 0
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


def sift_grid_for(side: int) -> tuple[int, int]:
    """The dense-SIFT ``(bin_size, step)`` rule for images whose shorter side is ``side`` px.

    ``bin = max(4, round(side / 32))`` and ``step = max(2, round(side / 32))`` (Python's
    rounding): (4, 2) up to 64-px images, (4, 4) at 128, (8, 8) at 256.
    """
    r = int(round(int(side) / 32))
    return max(4, r), max(2, r)


def codebook_size_for(configured: int, n_sample: int, per_word: int) -> int:
    """The codebook size the rule ``descriptors_per_word`` gives.

    Parameters
    ----------
    configured : int
        The configured size (``n_words`` or ``n_components``): the most the rule gives.
    n_sample : int
        Descriptors in the codebook sample.
    per_word : int
        Descriptors wanted per word; 0 turns the rule off (``configured`` is returned).

    Returns
    -------
    int
        ``min(configured, max(2, 2^floor(log2(n_sample / per_word))))``; ``configured``
        when ``per_word`` is 0 (or ``configured`` < 2).
    """
    configured, n_sample, per_word = int(configured), int(n_sample), int(per_word)
    if per_word <= 0:
        return configured
    cap = n_sample // per_word  # the largest power of two <= n / per_word is one <= its floor
    pow2 = 1 << (cap.bit_length() - 1) if cap >= 1 else 1
    return min(configured, max(2, pow2))


class SiftPipelineMethod(FeatureSvmMethod):
    """Base of the dense-SIFT + encoding + linear SVM methods (see the module docstring).

    Subclasses set ``encoder_arrays`` (names of the codebook arrays), ``size_field`` (the
    config field of the codebook size) and ``size_array`` (the encoder array whose first
    dimension is that size), and implement :meth:`_fit_encoder`, :meth:`_encode`,
    :meth:`_encoder_state`, :meth:`_set_encoder_state`, :meth:`_encoding_flops` and
    :meth:`feature_dim`, taking the size from :meth:`codebook_size` (not the config).
    """

    family = "hand-crafted"
    encoder_arrays: ClassVar[tuple] = ()
    size_field: ClassVar[str] = "n_words"
    size_array: ClassVar[str] = "centers"
    standardize = False
    fixed_input_size = False
    seeded_features = True
    feature_version = FEATURE_VERSION
    uses_angles = True

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
        for name in ("codebook_images", "descriptors_per_image"):
            v = getattr(c, name)
            if not _is_int(v) or v < 1:
                raise ConfigError(f"{self.name}: {name} must be a positive integer, got {v!r}")
        for name, zero in (("bin_size", "follow the image"), ("step", "follow the image"),
                           ("descriptors_per_word", "the configured codebook size")):
            v = getattr(c, name)
            if not _is_int(v) or v < 0:
                raise ConfigError(f"{self.name}: {name}={v!r} must be an integer >= 1 (0: {zero})")
        if any(not _is_int(s) or s < 1 for s in c.sizes):
            raise ConfigError(f"{self.name}: sizes must be positive bin sizes in pixels, got {c.sizes!r}")
        if not c.levels or any(int(g) < 1 for g in c.levels):
            raise ConfigError(f"{self.name}: levels must be positive grid sizes, got {c.levels!r}")

    # -- settings that follow the data ---------------------------------------------------------------
    def sift_grid(self, image_shape=None) -> tuple[int, int]:
        """``(bin_size, step)`` used: the configured ones, or the rules for 0 (see
        :func:`sift_grid_for`). ``image_shape`` defaults to the fitted one."""
        c = self.config
        b, s = int(c.bin_size), int(c.step)
        if b == 0 or s == 0:
            shape = image_shape if image_shape is not None else getattr(self, "image_shape_", None)
            if shape is None:
                raise ConfigError(f"{self.name}: bin_size/step follow the image size, and there is none yet")
            rb, rs = sift_grid_for(min(int(shape[0]), int(shape[1])))
            b, s = (b or rb), (s or rs)
        return b, s

    def frames_per_image(self, image_shape=None) -> int:
        """Dense-SIFT frames of one image of ``image_shape`` (default: the fitted one)."""
        shape = image_shape if image_shape is not None else self.image_shape_
        b, s = self.sift_grid(shape)
        return len(sift_frames(int(shape[0]), int(shape[1]), bin_size=b, step=s,
                               sizes=list(self.config.sizes) or None))

    def codebook_sample_size(self, image_shape, n_train: int) -> int:
        """Descriptors the codebook sample holds at most: min(codebook_images, n_train) x
        min(descriptors_per_image, frames an image); fewer when low-contrast frames are skipped."""
        c = self.config
        per_image = min(int(c.descriptors_per_image), self.frames_per_image(image_shape))
        return min(int(c.codebook_images), int(n_train)) * per_image

    def codebook_size(self, image_shape=None, n_train=None) -> int:
        """The codebook size used (words or Gaussians, the config's ``size_field``).

        The fitted (or loaded) codebook's size when called without arguments after fit;
        else the configured size, capped by :func:`codebook_size_for` when
        ``descriptors_per_word`` is set, on a sample of :meth:`codebook_sample_size`
        (``image_shape`` and ``n_train`` default to the training set's during fit).
        """
        if image_shape is None and n_train is None and hasattr(self, "codebook_size_"):
            return int(self.codebook_size_)
        configured = int(getattr(self.config, self.size_field))
        per_word = int(self.config.descriptors_per_word)
        if per_word == 0:
            return configured
        shape = image_shape if image_shape is not None else getattr(self, "image_shape_", None)
        n = n_train if n_train is not None else getattr(self, "n_train_", None)
        if shape is None or n is None:
            raise ConfigError(f"{self.name}: {self.size_field} follows the descriptor sample "
                              f"(descriptors_per_word={per_word}), and there is no training set yet")
        return codebook_size_for(configured, self.codebook_sample_size(shape, n), per_word)

    def _size_rule_text(self, image_shape) -> str:
        """The size rule as text, for :meth:`settings_for` without a training-set size."""
        c = self.config
        per_image = min(int(c.descriptors_per_image), self.frames_per_image(image_shape))
        return (f"min({int(getattr(c, self.size_field))}, 2^floor(log2(min({int(c.codebook_images)}, n_train)"
                f" x {per_image} / {int(c.descriptors_per_word)}))), at least 2")

    def settings_for(self, image_shape, n_train=None) -> dict:
        """``bin_size`` (or the configured ``sizes``), ``step``, the codebook size used and,
        given the number of training images ``n_train``, the descriptor sample's size
        ``codebook_descriptors``; without ``n_train`` a size that follows the sample is shown
        as its rule (text)."""
        c = self.config
        shape = tuple(int(v) for v in image_shape)
        b, s = self.sift_grid(shape)
        out = {"sizes": [int(v) for v in c.sizes]} if c.sizes else {"bin_size": b}
        out["step"] = s
        if n_train is None:
            out[self.size_field] = (self._size_rule_text(shape) if int(c.descriptors_per_word)
                                    else int(getattr(c, self.size_field)))
        else:
            out[self.size_field] = self.codebook_size(shape, int(n_train))
            out["codebook_descriptors"] = self.codebook_sample_size(shape, int(n_train))
        return out

    def resolved_settings(self) -> dict:
        if not hasattr(self, "image_shape_"):
            return {}
        out = self.settings_for(self.image_shape_, getattr(self, "n_train_", None))
        if hasattr(self, "codebook_size_"):
            out[self.size_field] = int(self.codebook_size_)
        return out

    def cache_key(self, train, part: str = "train") -> dict:
        """The recipe's key with the values used for ``bin_size``, ``step`` and the codebook
        size in place of the configured ones (and without ``descriptors_per_word``, which acts
        only through the size): a run whose rules give the configured values of another
        reuses its cached files."""
        key = super().cache_key(train, part)
        shape = tuple(int(v) for v in train.image_shape)
        b, s = self.sift_grid(shape)
        params = {k: v for k, v in key["params"].items() if k != "descriptors_per_word"}
        params.update(bin_size=b, step=s)
        params[self.size_field] = self.codebook_size(shape, len(train))
        key["params"] = params
        return key

    def fit(self, train, val=None):
        """The recipe's fit (:meth:`FeatureSvmMethod.fit`), the training-set size kept for the
        codebook-size rule."""
        self.__dict__.pop("codebook_size_", None)
        self.n_train_ = len(train)
        return super().fit(train, val)

    # -- descriptors -------------------------------------------------------------------------------
    def _describe_images(self, images):
        """uint8 (N, H, W[, C]) host images -> (descriptors xp (N, P, D), frames (P, 3), mask or None)."""
        c = self.config
        images = np.asarray(images)
        b, s = self.sift_grid(getattr(self, "image_shape_", None) or images.shape[1:])
        imgs = to_device(images, self.xp)
        ds = dense_sift(imgs, bin_size=b, step=s, sizes=list(c.sizes) or None, window=c.window,
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
        budget = self.budget  # under a time budget, sampling takes at most a fifth of what is left
        stop_at = budget.clock() + 0.2 * budget.remaining() if budget is not None else None
        read = 0
        for b, (images, _) in enumerate(train.batches(c.batch_size, indices=idx), 1):
            if stop_at is not None and b > 1 and budget.clock() > stop_at:
                budget.note(f"codebook: descriptors of {read:,} of {n_img:,} sampled images (a fifth of the "
                            "time left)", limited=True)
                break
            read += len(images)
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
    def _restore_encoder(self, arrays: dict) -> None:
        """Set the codebook from host arrays; its size is the first dimension of ``size_array``."""
        self.codebook_size_ = int(np.shape(arrays[self.size_array])[0])
        self._set_encoder_state(arrays)

    def _fit_codebook_arrays(self, train, rng):
        sample = self._sample_descriptors(train, rng)
        stage = Stage(f"{self.name} codebook", total=1, progress=self.progress)
        self._fit_encoder(to_device(sample, self.xp))
        stage.update(1, f"fitted on {len(sample)} descriptors")
        return pack_arrays(self._encoder_state(), self.encoder_arrays)

    def fit_features(self, train):
        """Sample descriptors and fit the codebook (or read it from the feature cache), of
        :meth:`codebook_size` entries."""
        rng = host_rng(self.seed)
        self.codebook_size_ = self.codebook_size(self.image_shape_, self.n_train_)
        if self._caches():  # $HISTNET_CACHE/features: shared across runs, so a new C reuses it
            packed = FeatureCache(notify=self.notify).get_or_compute(self.cache_key(train, "codebook"),
                                                   lambda: self._fit_codebook_arrays(train, rng))
        else:
            packed = self._fit_codebook_arrays(train, rng)
        self._restore_encoder(unpack_arrays(packed, self.encoder_arrays))

    def feature_state(self) -> dict:
        return self._encoder_state() if hasattr(self, "encoder_") else {}

    def set_feature_state(self, arrays: dict) -> None:
        missing = [k for k in self.encoder_arrays if k not in arrays]
        if missing:
            raise CheckpointError(f"{self.name}: saved state lacks 'encoder/{missing[0]}'")
        self._restore_encoder({k: arrays[k] for k in self.encoder_arrays})

    def extract_flops(self, image_shape) -> int:
        """The encoding's GEMMs (2 x multiply-adds); dense SIFT itself is not counted. The grid
        is the fitted one (:meth:`sift_grid`), as :meth:`extract` uses."""
        c = self.config
        b, s = self.sift_grid(getattr(self, "image_shape_", None) or image_shape)
        P = len(sift_frames(*image_shape[:2], bin_size=b, step=s, sizes=list(c.sizes) or None))
        return int(self._encoding_flops(P))


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def device_float(x, xp):
    """Host array -> float32 on ``xp`` (helper for the encoder states)."""
    return to_device(np.asarray(x, np.float32), xp)


__all__ = ["SiftPipelineConfig", "SiftPipelineMethod", "pack_arrays", "unpack_arrays", "device_float",
           "sift_grid_for", "codebook_size_for"]
