"""Colour histograms and a linear SVM (Swain & Ballard 1991) as a histnet method, in one file.

"Color indexing" (IJCV 7(1), doi:10.1007/BF00130487) recognised objects by their colour
histograms. Here each image becomes the histograms of its channels in a 2 x 2 grid of
regions (a little spatial layout, as later pipelines added), 16 bins each, each histogram
normalised to sum to one. Everything else (batched extraction, the feature cache,
standardisation, the linear SVM, save/load) is the recipe of
:class:`histnet.methods.FeatureSvmMethod`.

Install it as a plug-in and it appears in `histnet methods list` and joins
`histnet progression`::

    [options.entry_points]
    histnet.methods =
        color-histogram-svm = color_histogram_svm:ColorHistogramSvm
"""

import dataclasses

import numpy as np

from histnet.methods import FeatureSvmMethod


@dataclasses.dataclass
class ColorHistogramConfig:
    bins: int = 16            # histogram bins per channel
    grid: int = 2             # regions per side
    C: float = 0.01           # SVM penalty
    svm_max_iter: int = 50
    svm_tol: float = 1e-3
    batch_size: int = 512
    cache_features: bool = True


class ColorHistogramSvm(FeatureSvmMethod):
    name = "color-histogram-svm"
    year = 1991
    paper = "Swain & Ballard 1991, Color indexing (IJCV)"
    summary = "per-channel colour histograms in a 2x2 grid + linear SVM"
    Config = ColorHistogramConfig
    progression = "color-histogram-svm"
    profiles = {"quick": {}, "full": {"svm_max_iter": 100, "svm_tol": 1e-4}}

    def feature_dim(self, image_shape=None):
        h, w, c = image_shape if image_shape is not None else self.image_shape_
        return self.config.grid ** 2 * c * self.config.bins

    def extract(self, images):
        n, h, w, c = images.shape
        g, bins = self.config.grid, self.config.bins
        q = (images.astype(np.int64) * bins) // 256                        # bin of every value
        rows, cols = np.arange(h) * g // h, np.arange(w) * g // w          # region of every pixel
        region = (rows[:, None] * g + cols[None, :])[None, :, :, None]     # (1, H, W, 1)
        index = (region * c + np.arange(c)) * bins + q                     # (N, H, W, C)
        flat = index.reshape(n, -1) + np.arange(n)[:, None] * self.feature_dim(images.shape[1:])
        hist = np.bincount(flat.ravel(), minlength=n * self.feature_dim(images.shape[1:]))
        hist = hist.reshape(n, g * g, c, bins).astype(np.float32)
        return (hist / np.maximum(hist.sum(-1, keepdims=True), 1)).reshape(n, -1)
