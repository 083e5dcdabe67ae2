"""``sift-bovw-svm``: dense SIFT, k-means visual words, spatial pyramid, kernel map, linear SVM.

Reproduces the bag-of-visual-words pipeline that was the standard before 2010: Csurka et
al. (2004) quantise local descriptors against a k-means vocabulary and classify the word
histogram with an SVM; Lazebnik, Schmid & Ponce (2006) add the spatial pyramid (1x1, 2x2,
4x4 histograms, weighted per level) and a histogram-intersection kernel SVM.

The recipe, in order (every step streams the data in batches):

1. Dense SIFT (:func:`histnet.features.sift.dense_sift`): 4x4 cells x 8 orientations on a
   regular grid, ``step`` pixels apart, one or several bin sizes (PHOW).
2. Vocabulary: k-means (k-means++ start, Lloyd) on ``descriptors_per_image`` descriptors
   from each of ``codebook_images`` random training images.
3. Coding: hard assignment to the nearest word, or soft assignment (van Gemert et al.'s
   kernel codebook, ``assignment="soft"``).
4. Pooling: word histograms over the pyramid ``levels``, divided by the number of
   descriptors, weighted 1/2^L at level 0 and 1/2^(L-l+1) at level l (Lazebnik et al. eq. 3).
5. Kernel: instead of a kernel SVM, an explicit additive-kernel map (Vedaldi & Zisserman
   2010): Hellinger (square root) or the chi-squared map, so a linear SVM computes the
   kernel's decision function.
6. Linear one-vs-rest SVM (squared hinge, LIBLINEAR's formulation).

Left out: the histogram-intersection kernel itself (the chi2 map stands in; Vedaldi &
Zisserman report the additive kernels perform alike), an exact kernel SVM, and
Harris/DoG interest points (dense sampling only, which Lazebnik et al. also used).

References
----------
Csurka, G., Dance, C., Fan, L., Willamowski, J., & Bray, C. (2004). Visual categorization
with bags of keypoints. ECCV Workshop on Statistical Learning in Computer Vision.
Lazebnik, S., Schmid, C., & Ponce, J. (2006). Beyond bags of features: spatial pyramid
matching for recognizing natural scene categories. CVPR, doi:10.1109/CVPR.2006.68.
Vedaldi, A., & Zisserman, A. (2010). Efficient additive kernels via explicit feature maps.
CVPR, doi:10.1109/CVPR.2010.5539949.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import to_host
from ..features.encoding import BagOfWords
from ._sift_pipeline import SiftPipelineConfig, SiftPipelineMethod, device_float
from .registration import register


@dataclass
class BovwConfig(SiftPipelineConfig):
    """Dense SIFT + BoVW + spatial pyramid + kernel map + linear SVM.

    Attributes (besides :class:`SiftPipelineConfig`'s)
    ----------
    n_words : int
        Vocabulary size (Lazebnik et al.: 200 and 400); with ``descriptors_per_word`` the
        most words used (the quick profile: 128, and at least 64 sample descriptors a word,
        so 128 on mnist5k's 10,000 and 16 on 100 training images' 2,000).
    assignment : {"hard", "soft"}
    sigma : float
        Soft-assignment width; 0 = half the RMS distance of the sample to its nearest word.
    kernel : {"hellinger", "chi2", "linear"}
        Additive-kernel map before the linear SVM.
    map_order : int
        Frequencies of the chi2 map (features per bin = 2 order + 1).
    kmeans_iter : int
        Lloyd iterations.
    """

    n_words: int = 400
    assignment: str = "hard"
    sigma: float = 0.0
    kernel: str = "chi2"
    map_order: int = 1
    kmeans_iter: int = 30


@register
class SiftBovwSvm(SiftPipelineMethod):
    name = "sift-bovw-svm"
    progression = "sift-bovw-svm"
    year = 2006
    paper = "Lazebnik, Schmid & Ponce 2006; Csurka et al. 2004"
    summary = "dense SIFT, k-means words, spatial pyramid histograms, chi2/Hellinger map, linear SVM"
    Config = BovwConfig
    encoder_arrays = ("centers", "sigma")
    profiles = {
        # bins and step follow the image (mnist5k, 28x28 grey: 4-px bins every 2 px -> 64 frames
        # an image; 64-px photos: 8-px bins every 4 px -> 100 frames, not 676); at least 64 sample
        # descriptors a word (mnist5k: 500 x 20 = 10,000 descriptors -> all 128 words)
        "quick": {"n_words": 128, "bin_size": 0, "step": 0, "descriptors_per_word": 64, "levels": (1, 2),
                  "kernel": "hellinger", "kmeans_iter": 20, "codebook_images": 500, "descriptors_per_image": 20,
                  "C": 1.0, "svm_tol": 1e-3},
        # CIFAR-10 (32x32): bin sizes 3 and 4 every 2 px (221 frames), 400 words (Lazebnik et al.'s
        # largest), the full 1x1/2x2/4x4 pyramid: 8400-d, 1.7 GB of float32 for 50,000 images.
        "full": {"n_words": 400, "step": 2, "sizes": (3, 4), "levels": (1, 2, 4), "kernel": "hellinger",
                 "codebook_images": 5000, "descriptors_per_image": 40, "C": 1.0},
    }

    def _encoder(self):
        c = self.config
        return BagOfWords(self.codebook_size(), assignment=c.assignment, sigma=c.sigma or None, levels=tuple(c.levels),
                          kernel=c.kernel, map_order=c.map_order, kmeans_iter=c.kmeans_iter, random_state=self.seed)

    def _fit_encoder(self, sample):
        self.encoder_ = self._encoder().fit(sample)

    def _encode(self, desc, frames, image_shape, mask):
        return self.encoder_.transform(desc, frames, image_shape, mask=mask)

    def _encoder_state(self):
        return {"centers": to_host(self.encoder_.codebook_.cluster_centers_),
                "sigma": np.asarray(self.encoder_.sigma_, np.float32)}

    def _set_encoder_state(self, arrays):
        enc = self._encoder().set_codebook(device_float(arrays["centers"], self.xp))
        enc.sigma_ = float(arrays["sigma"])
        self.encoder_ = enc

    def _encoding_flops(self, P):
        K, D = self.codebook_size(), self.encoder_.n_features_in_
        # distances to the words (GEMM) + pyramid sums (GEMM)
        return 2 * P * K * D + 2 * P * self.encoder_.n_regions * K

    def feature_dim(self, image_shape=None):
        return self._encoder().output_dim()
