"""``sift-llc-svm``: dense SIFT, k-means codebook, LLC coding, max-pooled pyramid, linear SVM.

Reproduces the NEC-UIUC system that won ILSVRC 2010 (Lin et al. 2011), whose coding step is
locality-constrained linear coding (Wang et al. 2010): each descriptor is written as an
affine combination of its k nearest codewords, the codes are max-pooled over a spatial
pyramid, and a *linear* SVM suffices (the point of the paper: no kernel needed).

The recipe, in order (every step streams the data in batches):

1. Dense SIFT (:func:`histnet.features.sift.dense_sift`), one or several bin sizes.
2. Codebook: k-means on a descriptor sample (``codebook_images`` x
   ``descriptors_per_image``), as Wang et al. initialise theirs.
3. LLC, the approximated fast encoder of Wang et al. Sec. 3: the ``n_neighbors`` (k = 5)
   nearest codewords B_i, ``C = (B_i - 1x')(B_i - 1x')' + beta tr(C) I``, ``c = C^-1 1``,
   ``c <- c / 1'c`` (the shift-invariant constraint 1'c = 1).
4. Max pooling of the codes over the pyramid (1x1, 2x2, 4x4), then L2 normalisation.
5. Linear one-vs-rest SVM (squared hinge).

Left out: LLC's incremental codebook optimisation (Wang et al. Sec. 4), NEC's
super-vector coding channel and the averaging of several classifiers in their ILSVRC
entry (Lin et al. 2011), their HOG + LBP descriptors, and SGD/ASGD training on 1.2M
images (the SVM here is batch Newton-CG).

References
----------
Wang, J., Yang, J., Yu, K., Lv, F., Huang, T., & Gong, Y. (2010). Locality-constrained
linear coding for image classification. CVPR, doi:10.1109/CVPR.2010.5540018.
Lin, Y., Lv, F., Zhu, S., Yang, M., Cour, T., Yu, K., Cao, L., & Huang, T. (2011).
Large-scale image classification: fast feature extraction and SVM training. CVPR,
doi:10.1109/CVPR.2011.5995477.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..backend import to_host
from ..features.encoding import LLC
from ._sift_pipeline import SiftPipelineConfig, SiftPipelineMethod, device_float
from .registration import register


@dataclass
class LlcConfig(SiftPipelineConfig):
    """Dense SIFT + LLC + max-pooled spatial pyramid + linear SVM.

    Attributes (besides :class:`SiftPipelineConfig`'s)
    ----------
    n_words : int
        Codebook size (Wang et al.: 1024 to 4096 on Caltech; NEC: 8192 ... on ImageNet); with
        ``descriptors_per_word`` the most words used (the quick profile: 256, and at least 32
        sample descriptors a word, so 256 on mnist5k's 10,000 and 32 on 100 training images'
        2,000; LLC codes with 5 neighbours tolerate a larger codebook than hard BoVW).
    n_neighbors : int
        Codewords per descriptor (the paper's k = 5).
    beta : float
        Regularisation of the local covariance, relative to its trace (1e-4 in their code).
    kmeans_iter : int
        Lloyd iterations.
    """

    n_words: int = 1024
    n_neighbors: int = 5
    beta: float = 1e-4
    kmeans_iter: int = 30


@register
class SiftLlcSvm(SiftPipelineMethod):
    name = "sift-llc-svm"
    history = ("ilsvrc2010-nec-uiuc",)
    progression = "sift-llc-svm"
    year = 2010
    paper = "Wang et al. 2010; Lin et al. 2011 (NEC-UIUC, ILSVRC 2010)"
    summary = "dense SIFT, k-means codebook, LLC codes max-pooled over a spatial pyramid, linear SVM"
    Config = LlcConfig
    encoder_arrays = ("centers",)
    profiles = {
        # bins and step follow the image (mnist5k, 28x28 grey: 4-px bins every 2 px -> 64 frames
        # an image; 64-px photos: 8-px bins every 4 px -> 100 frames, not 676); at least 32 sample
        # descriptors a word (mnist5k: 500 x 20 = 10,000 descriptors -> all 256 words)
        "quick": {"n_words": 256, "bin_size": 0, "step": 0, "descriptors_per_word": 32, "levels": (1, 2),
                  "kmeans_iter": 20, "codebook_images": 500, "descriptors_per_image": 20, "C": 1.0,
                  "svm_tol": 1e-3},
        # CIFAR-10 (32x32): bin sizes 3 and 4 every 2 px (221 frames), 1024 words, 1x1 + 2x2 cells
        # (the 4x4 level would make 21,504-d vectors, 4.3 GB for 50,000 images): 5120-d.
        "full": {"n_words": 1024, "step": 2, "sizes": (3, 4), "levels": (1, 2), "codebook_images": 5000,
                 "descriptors_per_image": 40, "C": 1.0},
    }

    def _encoder(self):
        c = self.config
        return LLC(self.codebook_size(), n_neighbors=c.n_neighbors, beta=c.beta, levels=tuple(c.levels),
                   kmeans_iter=c.kmeans_iter, random_state=self.seed)

    def _fit_encoder(self, sample):
        self.encoder_ = self._encoder().fit(sample)

    def _encode(self, desc, frames, image_shape, mask):
        return self.encoder_.transform(desc, frames, image_shape, mask=mask)

    def _encoder_state(self):
        return {"centers": to_host(self.encoder_.codebook_.cluster_centers_)}

    def _set_encoder_state(self, arrays):
        self.encoder_ = self._encoder().set_codebook(device_float(arrays["centers"], self.xp))

    def _encoding_flops(self, P):
        c, D = self.config, self.encoder_.n_features_in_
        k = c.n_neighbors
        # distances to the codewords + local Gram matrices + k x k solves (LU ~ 2/3 k^3 + 2 k^2)
        return 2 * P * self.codebook_size() * D + 2 * P * k * k * D + P * (2 * k ** 3 // 3 + 2 * k * k)

    def feature_dim(self, image_shape=None):
        return self._encoder().output_dim()
