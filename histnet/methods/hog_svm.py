"""``hog-svm``: histograms of oriented gradients and a linear SVM (Dalal & Triggs 2005).

Reproduces the classifier of Dalal & Triggs' pedestrian detector, applied to whole images:
the HOG descriptor of the image window fed to a linear SVM. The recipe:

1. Grey image (ITU-R BT.601 luma, rounded back to 8 bits), or, with ``color="max"``, the
   paper's colour gradients (per pixel, the channel of largest gradient magnitude).
2. HOG (:func:`histnet.features.hog.hog`): [-1, 0, 1] gradients, 9 unsigned orientation
   bins over 0-180 degrees, 8 x 8-pixel cells, 2 x 2-cell blocks with a one-cell stride,
   L2-Hys block normalisation - the paper's best settings (its Fig. 4-6). The paper's
   sqrt gamma, Gaussian block window and trilinear vote interpolation are options
   (``transform_sqrt``, ``block_window``, ``interpolation``), off by default as in
   scikit-image, whose numbers the features match.
3. Standardisation of every feature to zero mean and unit variance on the training set
   (not in the paper, whose SVM saw raw HOG; it makes one ``C`` fit many image sizes).
4. Linear SVM, one-vs-rest for several classes (:class:`histnet.classifiers.LinearSVM`,
   LIBLINEAR's squared-hinge formulation; the paper used SVMLight's hinge loss, C = 0.01).

Feature extraction streams ``train.batches()``, so memory holds one batch of images and
the feature matrix; the training features are cached on disk
(:class:`histnet.features.feature_cache.FeatureCache`, keyed by the data set's content and the HOG
parameters), so a second fit with another ``C`` does not extract them again.

Left out: the detector around the classifier (sliding windows over a scale pyramid,
non-maximum suppression, the retraining on hard negatives), and any use of ``val`` (no C
search inside the method: the experiment runner varies C, and the feature cache makes
each further C cost only an SVM fit).

References
----------
Dalal, N. & Triggs, B. (2005). Histograms of oriented gradients for human detection.
CVPR 2005, 886-893. :DOI:`10.1109/CVPR.2005.177`
Fan, R.-E. et al. (2008). LIBLINEAR: a library for large linear classification. JMLR 9.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..backend import FLOAT, to_device, to_host
from ..errors import CheckpointError, ConfigError, DataError
from ..features.feature_cache import FeatureCache, dataset_key
from ..features.hog import BLOCK_NORMS, INTERPOLATIONS, hog, hog_output_shape
from ..progress import Stage
from .contract import Method
from .registry import register

#: Config fields that do not change the extracted features (left out of the cache key).
_NOT_FEATURE_FIELDS = {"C", "svm_max_iter", "svm_tol", "standardize", "batch_size", "cache_features"}
COLORS = ("grey", "max")


@dataclass
class HogSvmConfig:
    """HOG + standardisation + linear SVM.

    Attributes
    ----------
    orientations : int
        Unsigned orientation bins (paper: 9).
    pixels_per_cell : tuple of int
        Cell size, rows x cols (paper: 8 x 8).
    cells_per_block : tuple of int
        Block size in cells (paper: 2 x 2).
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}
        Block normalisation (paper: L2-Hys).
    transform_sqrt, block_window : bool
        The paper's sqrt gamma and Gaussian block window (off: scikit-image's recipe).
    interpolation : {"none", "trilinear"}
        The paper's trilinear vote interpolation ("trilinear") or scikit-image's hard votes.
    color : {"grey", "max"}
        Grey (luma) images, or the paper's strongest-channel colour gradients.
    standardize : bool
        Scale every feature to zero mean, unit variance on the training set.
    C : float
        SVM inverse regularisation (the paper: 0.01).
    svm_max_iter, svm_tol
        Newton iterations and tolerance of the SVM solver.
    batch_size : int
        Images per extraction batch (bounds the memory).
    cache_features : bool
        Store/reuse the training features on disk (``FeatureCache``).
    """

    orientations: int = 9
    pixels_per_cell: tuple = (8, 8)
    cells_per_block: tuple = (2, 2)
    block_norm: str = "L2-Hys"
    transform_sqrt: bool = False
    block_window: bool = False
    interpolation: str = "none"
    color: str = "grey"
    standardize: bool = True
    C: float = 0.01
    svm_max_iter: int = 100
    svm_tol: float = 1e-4
    batch_size: int = 512
    cache_features: bool = True


def _grey_uint8(images, xp):
    """(N, H, W, C) uint8 -> (N, H, W) uint8 luma (BT.601), rounded; one channel passes through."""
    if images.shape[-1] == 1:
        return images[..., 0]
    x = images.astype(FLOAT)
    luma = x[..., 0] * FLOAT(0.299) + x[..., 1] * FLOAT(0.587) + x[..., 2] * FLOAT(0.114)
    return xp.clip(xp.rint(luma), 0, 255).astype(xp.uint8)


@register
class HogSvm(Method):
    """HOG features and a linear SVM (Dalal & Triggs 2005). See the module docstring."""

    name = "hog-svm"
    year = 2005
    paper = "Dalal & Triggs 2005, Histograms of oriented gradients for human detection (CVPR)"
    family = "hand-crafted"
    summary = "HOG (9 bins, 8x8 cells, 2x2 blocks, L2-Hys) + standardisation + linear SVM"
    Config = HogSvmConfig
    progression = "hog-svm"
    crossover = True
    profiles = {
        # 4x4 cells: 28-32 px images give 6x6 or 7x7 blocks instead of 2x2; a smaller C
        # converges in fewer Newton steps on the standardised features (mnist5k: seconds)
        "quick": {"pixels_per_cell": (4, 4), "C": 0.001, "svm_max_iter": 50},
        "full": {},
    }

    # -- parameters ------------------------------------------------------------------------------
    def _check_config(self):
        c = self.config
        if c.block_norm not in BLOCK_NORMS:
            raise ConfigError(f"{self.name}: block_norm must be one of {', '.join(BLOCK_NORMS)}, got {c.block_norm!r}")
        if c.interpolation not in INTERPOLATIONS:
            raise ConfigError(f"{self.name}: interpolation must be one of {', '.join(INTERPOLATIONS)}, "
                              f"got {c.interpolation!r}")
        if c.color not in COLORS:
            raise ConfigError(f"{self.name}: color must be one of {', '.join(COLORS)}, got {c.color!r}")
        if not (isinstance(c.C, (int, float)) and c.C > 0):
            raise ConfigError(f"{self.name}: C must be > 0, got {c.C!r}")
        if int(c.batch_size) != c.batch_size or c.batch_size < 1:
            raise ConfigError(f"{self.name}: batch_size must be a positive integer, got {c.batch_size!r}")

    def _hog_params(self) -> dict:
        c = self.config
        return dict(orientations=int(c.orientations), pixels_per_cell=tuple(c.pixels_per_cell),
                    cells_per_block=tuple(c.cells_per_block), block_norm=c.block_norm,
                    transform_sqrt=bool(c.transform_sqrt), block_window=bool(c.block_window),
                    interpolation=c.interpolation)

    def feature_dim(self, image_shape=None) -> int:
        """HOG length for images of ``image_shape`` (H, W[, C]); default: the fitted shape."""
        shape = image_shape if image_shape is not None else getattr(self, "image_shape_", None)
        if shape is None:
            raise ConfigError(f"{self.name}: feature_dim needs an image shape before fit")
        p = self._hog_params()
        return int(np.prod(hog_output_shape(shape, p["orientations"], p["pixels_per_cell"], p["cells_per_block"])))

    # -- features -----------------------------------------------------------------------------------
    def extract(self, images) -> np.ndarray:
        """HOG of a uint8 batch (N, H, W, C) -> host float32 (N, D), computed on the backend."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise DataError(f"{self.name}: images must be N x H x W x C, got shape {images.shape}")
        x = to_device(images, self.xp)
        if self.config.color == "max" and images.shape[-1] > 1:
            feats = hog(x, channel_axis=-1, **self._hog_params())
        else:
            feats = hog(_grey_uint8(x, self.xp), **self._hog_params())
        return to_host(feats).astype(np.float32, copy=False)

    def _extract_dataset(self, data) -> np.ndarray:
        bs = int(self.config.batch_size)
        stage = Stage(f"{self.name} extract", total=-(-len(data) // bs), progress=self.progress)
        out = np.empty((len(data), self.feature_dim(data.image_shape)), np.float32)
        start = 0
        for b, (images, _) in enumerate(data.batches(bs), 1):
            out[start:start + len(images)] = self.extract(images)
            start += len(images)
            stage.update(b)
        return out

    def _cache_key(self, data) -> dict:
        params = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in _NOT_FEATURE_FIELDS}
        return {"feature": f"{self.name}-train", "data": dataset_key(data), "params": params, "version": 1}

    # -- fit / predict ------------------------------------------------------------------------------
    def fit(self, train, val=None) -> "HogSvm":
        """Extract (or read cached) training HOG, standardise, train the one-vs-rest SVM."""
        from ..classifiers import LinearSVM

        self._check_config()
        if len(train) == 0:
            raise DataError(f"{self.name}: the training set is empty")
        c = self.config
        self.image_shape_ = tuple(train.image_shape)
        self.feature_dim(self.image_shape_)  # too-small images fail here, with the minimum size
        if c.cache_features:
            feats = FeatureCache().get_or_compute(self._cache_key(train), lambda: self._extract_dataset(train))
        else:
            feats = self._extract_dataset(train)
        X = to_device(np.asarray(feats, dtype=np.float32), self.xp)
        if c.standardize:
            self.mean_ = X.mean(axis=0)
            std = X.std(axis=0)
            self.scale_ = self.xp.where(std > 1e-8, std, 1.0).astype(FLOAT)
            X = (X - self.mean_) / self.scale_
        else:
            self.mean_ = self.xp.zeros(X.shape[1], FLOAT)
            self.scale_ = self.xp.ones(X.shape[1], FLOAT)
        self.n_classes_ = train.n_classes
        self.example_ = np.asarray(train.get_images([0])[0])  # drawn by visualize()
        self.svm_ = LinearSVM(C=float(c.C), max_iter=int(c.svm_max_iter), tol=float(c.svm_tol)).fit(
            X, train.labels, progress=self.progress)
        return self

    def predict_scores(self, images) -> np.ndarray:
        """(N, n_classes) host float32 SVM decision values for uint8 images (N, H, W, C).

        Classes absent from the training set score the lowest finite float32.
        """
        if not hasattr(self, "svm_"):
            raise ConfigError(f"{self.name}: predict before fit (or load)")
        images = np.asarray(images)
        shape = images.shape[1:3]
        if tuple(shape) != tuple(self.image_shape_[:2]):
            raise DataError(f"{self.name}: images are {shape[0]}x{shape[1]}, the model was fitted on "
                            f"{self.image_shape_[0]}x{self.image_shape_[1]}")
        out = np.empty((len(images), self.n_classes_), np.float32)
        bs = int(self.config.batch_size)
        for s in range(0, len(images), bs):
            X = (to_device(self.extract(images[s:s + bs]), self.xp) - self.mean_) / self.scale_
            out[s:s + len(X)] = self.svm_.class_scores(X, self.n_classes_)
        return out

    # -- state --------------------------------------------------------------------------------------
    def get_state(self) -> dict:
        if not hasattr(self, "svm_"):
            raise CheckpointError(f"{self.name}: nothing to save before fit")
        return {"mean": to_host(self.mean_), "scale": to_host(self.scale_),
                **{f"svm/{k}": v for k, v in self.svm_.get_state().items()},
                "n_classes": np.asarray(self.n_classes_), "image_shape": np.asarray(self.image_shape_, np.int64)}

    def set_state(self, state: dict) -> None:
        from ..classifiers import LinearSVM

        try:
            mean, scale = state["mean"], state["scale"]
            coef, intercept, classes = state["svm/coef"], state["svm/intercept"], state["svm/classes"]
            n_classes, image_shape = int(state["n_classes"]), tuple(int(v) for v in state["image_shape"])
        except KeyError as e:
            raise CheckpointError(f"{self.name}: saved state lacks {e.args[0]!r}") from None
        dim = self.feature_dim(image_shape)
        if coef.shape[1] != dim or mean.shape != (dim,):
            raise CheckpointError(f"{self.name}: saved SVM has {coef.shape[1]} features but the config "
                                  f"gives {dim} for {image_shape[0]}x{image_shape[1]} images")
        self.svm_ = LinearSVM(C=float(self.config.C)).set_state(
            {"coef": coef, "intercept": intercept, "classes": classes}, self.xp)
        self.mean_, self.scale_ = to_device(mean, self.xp), to_device(scale, self.xp)
        self.n_classes_, self.image_shape_ = n_classes, image_shape

    def describe(self) -> dict:
        """Feature size, parameters, and FLOPs per image.

        FLOPs are an estimate: about 20 per pixel for gradients, magnitude, orientation and
        the bilinear votes, 4 per block entry for normalisation, and 2 per SVM weight.
        """
        out = {}
        if hasattr(self, "image_shape_"):
            out["feature_dim"] = self.feature_dim()
        if hasattr(self, "svm_"):
            out["n_params"] = int(self.svm_.coef_.size + self.svm_.intercept_.size + 2 * out["feature_dim"])
            h, w = self.image_shape_[:2]
            out["flops_per_image"] = int(20 * h * w + 4 * out["feature_dim"] + 2 * self.svm_.coef_.size)
        return out

    def visualize(self) -> dict:
        """A training image and its HOG picture (dominant orientation per cell)."""
        if not hasattr(self, "example_"):
            return {}
        grey = to_host(_grey_uint8(self.example_[None], np))[0]
        _, picture = hog(grey[None], visualize=True, **self._hog_params())
        return {"input": grey, "HOG": to_host(picture)[0]}
