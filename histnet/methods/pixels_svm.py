"""``pixels-svm``: a linear SVM on standardised raw pixels, the floor of the table.

Reproduces no recognition paper: it is the baseline every feature in the progression
must beat, the linear support-vector classifier of Cortes & Vapnik (1995) applied to
the pixels themselves, trained as LIBLINEAR does (Fan et al. 2008). The recipe:

1. **Pixels.** Each uint8 image (H, W, C) becomes floats in [0, 1]; optionally grey
   (ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B, what Pillow's ``convert("L")``
   uses) and optionally shrunk by an integer ``downscale`` factor by averaging
   ``downscale`` x ``downscale`` blocks (rows and columns that do not fill a block are
   cropped). Flattened in H, W, C order: the feature dimension is
   (H // f) (W // f) C' with C' = 1 grey or C.
2. **Standardisation.** Each pixel has the mean and standard deviation of the training
   set subtracted and divided out, the statistics merged batch by batch while the
   features of ``train.batches()`` are collected
   (:class:`histnet.classifiers.StandardScaler`). Standard deviations below ``min_std``
   are raised to it: pixels that are nearly constant in training (the empty border of a
   digit) would otherwise turn into large values on a test image and dominate its
   scores. ``min_std=0`` gives scikit-learn's plain standardisation.
3. **Linear SVM**, one-vs-rest, squared hinge, L2 penalty ``C``
   (:class:`histnet.classifiers.LinearSVM`); the scores are the decision values.

Config defaults come from a C sweep on ``mnist5k`` (fit 4000, score the other 1000):
C = 0.001 / 0.01 / 0.1 gave accuracy 0.860 / 0.874 / 0.851 with ``min_std=0.1`` and
0.851 / 0.872 / 0.848 without a floor.

What it leaves out: no augmentation, no kernel, no feature beyond the pixels; the
whole standardised training matrix is held on the device for the SVM (4 n d bytes).

References
----------
Cortes, C. & Vapnik, V. (1995). Support-vector networks. Machine Learning 20, 273-297.
    doi:10.1007/BF00994018
Fan, R.-E., Chang, K.-W., Hsieh, C.-J., Wang, X.-R. & Lin, C.-J. (2008). LIBLINEAR: A
    library for large linear classification. JMLR 9, 1871-1874.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..backend import to_device
from ..data.options import luma
from ..errors import ConfigError
from .feature_svm import FeatureSvmMethod
from .registration import register


@dataclasses.dataclass
class PixelsSvmConfig:
    """Hyper-parameters of ``pixels-svm``.

    Attributes
    ----------
    C : float
        SVM penalty (Cortes & Vapnik's C).
    max_iter : int
        Newton iterations of the SVM solver at most.
    tol : float
        SVM stopping tolerance (LIBLINEAR's relative gradient norm).
    grey : bool
        Convert colour images to luma before anything else.
    downscale : int
        Average ``downscale`` x ``downscale`` pixel blocks (1 keeps the resolution; 0
        follows the image size, ``ceil(side / 32)``: 1 up to 32 px, 2 on 64-px photos, so the
        quick profile's SVM sees at most about 32 x 32 x C pixels). The factor used is
        recorded with the run.
    min_std : float
        Floor of the per-pixel standard deviation, in [0, 1] pixel units.
    dtype : str
        ``"float32"`` or ``"float64"`` for the features and the SVM.
    batch_size : int
        Images per batch when streaming the data.
    """

    C: float = 0.01
    max_iter: int = 100
    tol: float = 1e-4
    grey: bool = False
    downscale: int = 1
    min_std: float = 0.1
    dtype: str = "float32"
    batch_size: int = 1024


def pixel_features(images, grey: bool = False, downscale: int = 1, dtype="float32"):
    """Raw-pixel feature vectors of a batch of images.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C), uint8, numpy or device
    grey : bool
        Replace C = 3 channels by BT.601 luma (one channel); grey images pass through.
    downscale : int
        Block-average factor f >= 1.
    dtype : float dtype of the output.

    Returns
    -------
    ndarray of shape (N, (H // f) * (W // f) * C'), values in [0, 1], on the device of
    ``images``.
    """
    x = images.astype(dtype) * (1.0 / 255.0)
    if grey and x.shape[3] == 3:
        x = luma(x, dtype)[..., None]
    if downscale > 1:
        n, h, wd, c = x.shape
        hh, ww = h // downscale, wd // downscale
        x = x[:, :hh * downscale, :ww * downscale]
        x = x.reshape(n, hh, downscale, ww, downscale, c).mean(axis=(2, 4))
    return x.reshape(x.shape[0], -1)


def downscale_for(image_shape) -> int:
    """The averaging factor that follows the image: ``ceil(side / 32)`` with side = min(H, W),
    so at most about 32 x 32 x C values remain (1 up to 32 px, 2 on 64-px photos). The rule
    of ``downscale=0`` here and in ``dbn``."""
    h, w = image_shape[:2]
    return max(1, -(-min(int(h), int(w)) // 32))


@register
class PixelsSvm(FeatureSvmMethod):
    """Standardised raw pixels into a one-vs-rest linear SVM (the baseline)."""

    name = "pixels-svm"
    year = 1995
    paper = "Cortes & Vapnik 1995 (linear SVM); solver as LIBLINEAR, Fan et al. 2008"
    family = "baseline"
    summary = "standardised raw pixels -> one-vs-rest linear SVM (squared hinge, L2)"
    Config = PixelsSvmConfig
    progression = "pixels-svm"
    crossover = True
    svm_fields = ("C", "max_iter", "tol")
    profiles = {
        # the factor follows the image: digits keep every pixel, 64-px photos are averaged 2x2
        # (12,288 raw dimensions had made the quick profile take minutes there)
        "quick": {"C": 0.01, "max_iter": 30, "tol": 1e-3, "downscale": 0},
        "full": {"C": 0.01, "max_iter": 200, "tol": 1e-4},
    }

    def check_config(self):
        c = self.config
        if not (isinstance(c.downscale, int) and c.downscale >= 0):
            raise ConfigError(f"{self.name}: downscale={c.downscale!r} must be an integer >= 1 (0: follow the image)")
        if not c.min_std >= 0:
            raise ConfigError(f"{self.name}: min_std={c.min_std!r} must be >= 0")

    def factor(self, image_shape=None) -> int:
        """The downscale factor: the configured one, or ``ceil(side / 32)`` for ``downscale=0``."""
        if int(self.config.downscale) >= 1:
            return int(self.config.downscale)
        return downscale_for(image_shape if image_shape is not None else self.image_shape_)

    def settings_for(self, image_shape, n_train=None) -> dict:
        return {"downscale": self.factor(tuple(image_shape))}

    def resolved_settings(self) -> dict:
        return self.settings_for(self.image_shape_) if hasattr(self, "image_shape_") else {}

    def feature_dim(self, image_shape=None) -> int:
        """Length of the pixel vector for images of ``image_shape`` (H, W, C)."""
        h, w, c = image_shape if image_shape is not None else self.image_shape_
        f = self.factor((h, w, c))
        if h // f < 1 or w // f < 1:
            raise ConfigError(f"{self.name}: downscale={f} leaves no pixel of {h}x{w} images")
        return (h // f) * (w // f) * (1 if self.config.grey else c)

    def extract(self, images):
        c = self.config
        x = to_device(images, self.xp)
        shape = getattr(self, "image_shape_", None) or tuple(np.asarray(images).shape[1:])
        return pixel_features(x, grey=bool(c.grey), downscale=self.factor(shape), dtype=c.dtype)
