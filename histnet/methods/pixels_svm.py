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

from ..backend import get_array_module, to_device, to_host
from ..classifiers import LinearSVM, StandardScaler
from ..errors import CheckpointError, ConfigError, DataError
from ..progress import Stage
from .contract import Method
from .registry import register

# ITU-R BT.601 luma weights (R, G, B).
LUMA = (0.299, 0.587, 0.114)


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
        Average ``downscale`` x ``downscale`` pixel blocks (1 keeps the resolution).
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
    xp = get_array_module(images)
    x = images.astype(dtype) * (1.0 / 255.0)
    if grey and x.shape[3] == 3:
        x = (x @ to_device(np.asarray(LUMA), xp, dtype))[..., None]
    if downscale > 1:
        n, h, wd, c = x.shape
        hh, ww = h // downscale, wd // downscale
        x = x[:, :hh * downscale, :ww * downscale]
        x = x.reshape(n, hh, downscale, ww, downscale, c).mean(axis=(2, 4))
    return x.reshape(x.shape[0], -1)


@register
class PixelsSvm(Method):
    """Standardised raw pixels into a one-vs-rest linear SVM (the baseline)."""

    name = "pixels-svm"
    year = 1995
    paper = "Cortes & Vapnik 1995 (linear SVM); solver as LIBLINEAR, Fan et al. 2008"
    family = "baseline"
    summary = "standardised raw pixels -> one-vs-rest linear SVM (squared hinge, L2)"
    Config = PixelsSvmConfig
    progression = "pixels-svm"
    crossover = True
    profiles = {
        "quick": {"C": 0.01, "max_iter": 30, "tol": 1e-3},
        "full": {"C": 0.01, "max_iter": 200, "tol": 1e-4},
    }

    # -- helpers -------------------------------------------------------------------------------
    def _check_config(self):
        c = self.config
        if not (isinstance(c.downscale, int) and c.downscale >= 1):
            raise ConfigError(f"{self.name}: downscale={c.downscale!r} must be an integer >= 1")
        if not c.min_std >= 0:
            raise ConfigError(f"{self.name}: min_std={c.min_std!r} must be >= 0")
        if not (isinstance(c.batch_size, int) and c.batch_size >= 1):
            raise ConfigError(f"{self.name}: batch_size={c.batch_size!r} must be an integer >= 1")
        if str(c.dtype) not in ("float32", "float64"):
            raise ConfigError(f"{self.name}: dtype={c.dtype!r}; use float32 or float64")

    def feature_dim(self, image_shape=None) -> int:
        """Length of the pixel vector for images of ``image_shape`` (H, W, C)."""
        h, w, c = image_shape if image_shape is not None else self.image_shape_
        f = int(self.config.downscale)
        if h // f < 1 or w // f < 1:
            raise ConfigError(f"{self.name}: downscale={f} leaves no pixel of {h}x{w} images")
        return (h // f) * (w // f) * (1 if self.config.grey else c)

    def _features(self, images):
        c = self.config
        x = to_device(np.asarray(images), self.xp)
        return pixel_features(x, grey=bool(c.grey), downscale=int(c.downscale), dtype=c.dtype)

    # -- fit / predict ---------------------------------------------------------------------------
    def fit(self, train, val=None) -> "PixelsSvm":
        """Collect standardised pixel vectors of ``train`` (one streaming pass), fit the SVM.

        ``val`` is not used: the method has no early stopping or model selection.
        """
        self._check_config()
        c = self.config
        if len(train) == 0:
            raise DataError(f"{self.name}: the training set is empty")
        self.image_shape_ = tuple(train.image_shape)
        dim = self.feature_dim(self.image_shape_)
        xp = self.xp
        X = xp.empty((len(train), dim), dtype=c.dtype)
        scaler = StandardScaler(min_std=float(c.min_std), dtype=c.dtype)
        n_batches = -(-len(train) // int(c.batch_size))
        stage = Stage("pixels", total=n_batches, progress=self.progress)
        start = 0
        for b, (images, _) in enumerate(train.batches(int(c.batch_size)), 1):
            feats = self._features(images)
            scaler.partial_fit(feats)
            X[start:start + len(feats)] = feats
            start += len(feats)
            stage.update(b)
        X -= scaler.mean_  # in place: the training matrix is the largest array here
        X /= scaler.scale_
        self.scaler_ = scaler
        self.n_classes_ = train.n_classes
        self.svm_ = LinearSVM(C=float(c.C), max_iter=int(c.max_iter), tol=float(c.tol), dtype=c.dtype)
        self.svm_.fit(X, train.labels, progress=self.progress)
        return self

    def predict_scores(self, images) -> np.ndarray:
        """SVM decision values, host float32 (N, n_classes), for uint8 images (N, H, W, C).

        A class absent from the training set scores the lowest finite float32, so it is
        never predicted and the scores stay finite for :func:`histnet.evaluate.evaluate`.
        """
        if not hasattr(self, "svm_"):
            raise ConfigError(f"{self.name}: predict before fit (or load)")
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or tuple(images.shape[1:]) != tuple(self.image_shape_):
            raise DataError(f"{self.name}: images have shape {images.shape[1:]}, the model was fitted on "
                            f"{tuple(self.image_shape_)}")
        out = np.empty((len(images), self.n_classes_), np.float32)
        bs = int(self.config.batch_size)
        for s in range(0, len(images), bs):
            X = self.scaler_.transform(self._features(images[s:s + bs]))
            out[s:s + len(X)] = self.svm_.class_scores(X, self.n_classes_)
        return out

    # -- state -----------------------------------------------------------------------------------
    def get_state(self) -> dict:
        if not hasattr(self, "svm_"):
            raise CheckpointError(f"{self.name}: nothing to save before fit")
        return {"mean": to_host(self.scaler_.mean_), "scale": to_host(self.scaler_.scale_),
                **{f"svm/{k}": v for k, v in self.svm_.get_state().items()},
                "n_classes": np.asarray(self.n_classes_, np.int64),
                "image_shape": np.asarray(self.image_shape_, np.int64)}

    def set_state(self, state: dict) -> None:
        try:
            mean, scale = state["mean"], state["scale"]
            coef, intercept, classes = state["svm/coef"], state["svm/intercept"], state["svm/classes"]
            n_classes, image_shape = int(state["n_classes"]), tuple(int(v) for v in state["image_shape"])
        except KeyError as e:
            raise CheckpointError(f"{self.name}: saved state lacks {e.args[0]!r}") from None
        dim = self.feature_dim(image_shape)
        if coef.ndim != 2 or coef.shape[1] != dim or mean.shape != (dim,) or scale.shape != (dim,):
            raise CheckpointError(f"{self.name}: saved model has {coef.shape[-1]} features but the config "
                                  f"gives {dim} for {image_shape} images")
        xp, dtype = self.xp, self.config.dtype
        scaler = StandardScaler(min_std=float(self.config.min_std), dtype=dtype)
        scaler.mean_, scaler.scale_ = to_device(mean, xp, dtype), to_device(scale, xp, dtype)
        scaler.n_features_in_ = dim
        svm = LinearSVM(C=float(self.config.C), max_iter=int(self.config.max_iter),
                        tol=float(self.config.tol), dtype=dtype).set_state(
            {"coef": coef, "intercept": intercept, "classes": np.asarray(classes, np.int64)}, xp)
        self.scaler_, self.svm_ = scaler, svm
        self.n_classes_, self.image_shape_ = n_classes, image_shape

    def describe(self) -> dict:
        """``feature_dim``; ``n_params`` (SVM weights and biases plus the mean and scale);
        ``flops_per_image`` (standardising, 2 per feature, and the decision values,
        2 per feature and class; grey/downscale arithmetic not counted)."""
        if not hasattr(self, "image_shape_"):
            return {}
        d = self.feature_dim()
        out = {"feature_dim": d}
        if hasattr(self, "svm_"):
            k = self.svm_.coef_.shape[0]
            out["n_params"] = int(k * d + k + 2 * d)
            out["flops_per_image"] = int(2 * d + 2 * d * k)
        return out
