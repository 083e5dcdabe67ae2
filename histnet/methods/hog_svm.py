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

The method is a declaration on :class:`histnet.methods.FeatureSvmMethod`, which streams
``train.batches()`` (memory holds one batch of images and the feature matrix), caches the
training features on disk keyed by the data set's content and the HOG parameters (a second
fit with another ``C`` does not extract them again), standardises and trains the SVM.

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

from dataclasses import dataclass

import numpy as np

from ..backend import to_device, to_host
from ..data.options import rgb_to_grey
from ..errors import ConfigError, DataError
from ..features.hog import BLOCK_NORMS, INTERPOLATIONS, hog, hog_output_shape
from .feature_svm import FeatureSvmMethod
from .registration import register

COLORS = ("grey", "max")


@dataclass
class HogSvmConfig:
    """HOG + standardisation + linear SVM.

    Attributes
    ----------
    orientations : int
        Unsigned orientation bins (paper: 9).
    pixels_per_cell : tuple of int
        Cell size, rows x cols (paper: 8 x 8). Empty: follow the image size,
        ``max(4, round(side / 8))`` px square (4 on 28-32 px digits, 8 on 64-px photos, as
        scikit-image's default on such images); the cells used are recorded with the run.
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


@register
class HogSvm(FeatureSvmMethod):
    """HOG features and a linear SVM (Dalal & Triggs 2005). See the module docstring."""

    name = "hog-svm"
    uses_angles = True
    year = 2005
    paper = "Dalal & Triggs 2005, Histograms of oriented gradients for human detection (CVPR)"
    summary = "HOG (9 bins, 8x8 cells, 2x2 blocks, L2-Hys) + standardisation + linear SVM"
    Config = HogSvmConfig
    progression = "hog-svm"
    crossover = True
    profiles = {
        # cells that follow the image: 4 px on 28-32 px digits (6x6 or 7x7 blocks instead of
        # 2x2), 8 px on 64-px photos (4-px cells there scored 36% accuracy against
        # scikit-image's 8-px 44.5% on an ImageNet subset); a smaller C converges in fewer
        # Newton steps on the standardised features (mnist5k: seconds)
        "quick": {"pixels_per_cell": (), "C": 0.001, "svm_max_iter": 50},
        "full": {},
    }

    def check_config(self):
        c = self.config
        if c.block_norm not in BLOCK_NORMS:
            raise ConfigError(f"{self.name}: block_norm must be one of {', '.join(BLOCK_NORMS)}, got {c.block_norm!r}")
        if c.interpolation not in INTERPOLATIONS:
            raise ConfigError(f"{self.name}: interpolation must be one of {', '.join(INTERPOLATIONS)}, "
                              f"got {c.interpolation!r}")
        if c.color not in COLORS:
            raise ConfigError(f"{self.name}: color must be one of {', '.join(COLORS)}, got {c.color!r}")

    def cells(self, image_shape=None) -> tuple:
        """The cell size in pixels: the configured one, or the rule for ``pixels_per_cell=()``."""
        if tuple(self.config.pixels_per_cell):
            return tuple(int(v) for v in self.config.pixels_per_cell)
        shape = image_shape if image_shape is not None else getattr(self, "image_shape_", None)
        if shape is None:
            raise ConfigError(f"{self.name}: pixels_per_cell follows the image size, and there is none yet")
        side = max(4, int(round(min(int(shape[0]), int(shape[1])) / 8)))
        return (side, side)

    def resolved_settings(self) -> dict:
        return self.settings_for(self.image_shape_) if hasattr(self, "image_shape_") else {}

    def settings_for(self, image_shape, n_train=None) -> dict:
        return {"pixels_per_cell": list(self.cells(tuple(image_shape)))}

    def cache_key(self, train, part: str = "train") -> dict:
        key = super().cache_key(train, part)
        key["params"] = {**key["params"], "pixels_per_cell": list(self.cells(tuple(train.image_shape)))}
        return key

    def _hog_params(self, image_shape=None) -> dict:
        c = self.config
        return dict(orientations=int(c.orientations), pixels_per_cell=self.cells(image_shape),
                    cells_per_block=tuple(c.cells_per_block), block_norm=c.block_norm,
                    transform_sqrt=bool(c.transform_sqrt), block_window=bool(c.block_window),
                    interpolation=c.interpolation)

    def feature_dim(self, image_shape=None) -> int:
        """HOG length for images of ``image_shape`` (H, W[, C]); default: the fitted shape."""
        shape = image_shape if image_shape is not None else getattr(self, "image_shape_", None)
        if shape is None:
            raise ConfigError(f"{self.name}: feature_dim needs an image shape before fit")
        p = self._hog_params(shape)
        try:
            return int(np.prod(hog_output_shape(shape, p["orientations"], p["pixels_per_cell"],
                                                p["cells_per_block"])))
        except DataError as e:
            cells = max(1, min(int(shape[0]), int(shape[1])) // (2 * p["cells_per_block"][0]))
            raise DataError(f"{self.name}: {e}; for images this small use --profile quick (4-px cells) or "
                            f"--set pixels_per_cell={cells},{cells}") from None

    def extract(self, images):
        """HOG of a uint8 batch (N, H, W, C) -> float32 (N, D), computed on the backend."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise DataError(f"{self.name}: images must be N x H x W x C, got shape {images.shape}")
        x = to_device(images, self.xp)
        params = self._hog_params(getattr(self, "image_shape_", None) or images.shape[1:])
        if self.config.color == "max" and images.shape[-1] > 1:
            return hog(x, channel_axis=-1, **params)
        return hog(rgb_to_grey(x)[..., 0], **params)

    def fit_features(self, train):
        self.example_ = np.asarray(train.get_images([0])[0])  # drawn by visualize()

    def extract_flops(self, image_shape) -> int:
        """About 20 per pixel for gradients, magnitude, orientation and the votes, and 4 per
        block entry for the normalisation."""
        h, w = image_shape[:2]
        return int(20 * h * w + 4 * self.feature_dim(image_shape))

    def visualize(self) -> dict:
        """A training image and its HOG picture (dominant orientation per cell)."""
        if not hasattr(self, "example_"):
            return {}
        grey = to_host(rgb_to_grey(self.example_[None]))[0, ..., 0]
        _, picture = hog(grey[None], visualize=True, **self._hog_params())
        return {"input": grey, "HOG": to_host(picture)[0]}
