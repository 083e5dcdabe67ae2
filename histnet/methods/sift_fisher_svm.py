"""``sift-fisher-svm``: PCA-reduced dense SIFT, diagonal GMM, improved Fisher vectors, linear SVM.

Reproduces the XRCE system that won ILSVRC 2011 (Perronnin, Sanchez & Mensink 2010;
Sanchez & Perronnin 2011): images are described by the Fisher vector of their local
descriptors under a Gaussian mixture, made "improved" by power and L2 normalisation and a
spatial pyramid, and classified by a linear SVM.

The recipe, in order (every step streams the data in batches):

1. Dense SIFT (:func:`histnet.features.sift.dense_sift`), one or several bin sizes.
2. PCA of the 128-d descriptors to ``pca_dim`` (XRCE: 64) dimensions, fitted on the
   descriptor sample (``codebook_images`` x ``descriptors_per_image``).
3. Diagonal GMM with ``n_components`` Gaussians fitted by EM on the reduced sample
   (k-means start, log-domain E-step, variance floor).
4. Fisher vector per pyramid cell: gradients with respect to the means and variances,
   2 K D numbers per cell (VLFeat's layout), cells 1x1 and 2x2 by default (XRCE used 1x1,
   2x2 and 3x1).
5. Improved normalisation per cell: signed square root, then L2.
6. Linear one-vs-rest SVM (squared hinge).

Left out: product-quantised signature compression (Sanchez & Perronnin 2011), the local
colour-statistics channel XRCE late-fused with SIFT, the 3x1 pyramid (any g x g grid is
available through ``levels``), and SGD training on 1.2M images (the SVM here is batch
Newton-CG).

References
----------
Perronnin, F., Sanchez, J., & Mensink, T. (2010). Improving the Fisher kernel for
large-scale image classification. ECCV, doi:10.1007/978-3-642-15561-1_11.
Sanchez, J., & Perronnin, F. (2011). High-dimensional signature compression for
large-scale image classification. CVPR, doi:10.1109/CVPR.2011.5995504.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..backend import to_host
from ..errors import ConfigError
from ..features.fisher import FisherVector
from ..features.pca import PCA
from ._sift_pipeline import SiftPipelineConfig, SiftPipelineMethod, device_float
from .registration import register


@dataclass
class FisherConfig(SiftPipelineConfig):
    """Dense SIFT + PCA + diagonal GMM + improved Fisher vector + linear SVM.

    Attributes (besides :class:`SiftPipelineConfig`'s)
    ----------
    pca_dim : int
        Descriptor dimension after PCA (XRCE: 64).
    n_components : int
        Gaussians in the GMM (XRCE: 256 to 1024); with ``descriptors_per_word`` the most
        Gaussians used (the quick profile: 16, and at least 500 sample descriptors a
        Gaussian, whose 2 x pca_dim parameters EM must estimate: 16 on mnist5k's 10,000
        descriptors, 4 on 100 training images' 2,000).
    gmm_iter : int
        EM iterations.
    variance_floor : float
        GMM variance floor, fraction of the data variance per dimension.
    normalization : {"improved", "l2", "none"}
    """

    pca_dim: int = 64
    n_components: int = 64
    gmm_iter: int = 50
    variance_floor: float = 1e-4
    normalization: str = "improved"
    levels: tuple = (1, 2)


@register
class SiftFisherSvm(SiftPipelineMethod):
    name = "sift-fisher-svm"
    history = ("ilsvrc2011-xrce",)
    progression = "sift-fisher-svm"
    crossover = True
    year = 2011
    paper = "Perronnin, Sanchez & Mensink 2010; Sanchez & Perronnin 2011 (XRCE, ILSVRC 2011)"
    summary = "PCA-reduced dense SIFT, diagonal GMM, improved Fisher vectors with a spatial pyramid, linear SVM"
    Config = FisherConfig
    encoder_arrays = ("pca_mean", "pca_components", "pca_variance", "gmm_weights", "gmm_means",
                      "gmm_variances")
    size_field = "n_components"
    size_array = "gmm_weights"
    profiles = {
        # bins and step follow the image (mnist5k, 28x28 grey: 4-px bins every 2 px -> 64 frames
        # an image, 5120-d vectors; 64-px photos: 8-px bins every 4 px -> 100 frames, not 676); at
        # least 500 sample descriptors a Gaussian (mnist5k: 500 x 20 = 10,000 -> all 16)
        "quick": {"pca_dim": 32, "n_components": 16, "gmm_iter": 20, "bin_size": 0, "step": 0,
                  "descriptors_per_word": 500, "levels": (1, 2), "codebook_images": 500,
                  "descriptors_per_image": 20, "C": 1.0, "svm_tol": 1e-3},
        # CIFAR-10 (32x32): bin sizes 3 and 4 every 2 px (221 frames), SIFT -> 64-d as XRCE, 32
        # Gaussians, 1x1 + 2x2 cells: 20,480-d, 4.1 GB of float32 for 50,000 images.
        "full": {"pca_dim": 64, "n_components": 32, "step": 2, "sizes": (3, 4), "levels": (1, 2),
                 "codebook_images": 5000, "descriptors_per_image": 40, "C": 1.0},
    }

    def _normalization(self):
        norm = self.config.normalization
        if norm not in ("improved", "l2", "none"):
            raise ConfigError(f"{self.name}: normalization must be improved, l2 or none, got {norm!r}")
        return None if norm == "none" else norm

    def _encoder(self):
        c = self.config
        return FisherVector(self.codebook_size(), levels=tuple(c.levels), normalization=self._normalization(),
                            gmm_iter=c.gmm_iter, variance_floor=c.variance_floor, random_state=self.seed)

    def _fit_encoder(self, sample):
        self.pca_ = PCA(self.config.pca_dim).fit(sample)
        self.encoder_ = self._encoder().fit(self.pca_.transform(sample))

    def _encode(self, desc, frames, image_shape, mask):
        return self.encoder_.transform(self.pca_.transform(desc), frames, image_shape, mask=mask)

    def _encoder_state(self):
        g = self.encoder_.gmm_
        return {"pca_mean": to_host(self.pca_.mean_), "pca_components": to_host(self.pca_.components_),
                "pca_variance": to_host(self.pca_.explained_variance_), "gmm_weights": to_host(g.weights_),
                "gmm_means": to_host(g.means_), "gmm_variances": to_host(g.variances_)}

    def _set_encoder_state(self, arrays):
        xp = self.xp
        pca = PCA(self.config.pca_dim)
        pca.mean_ = device_float(arrays["pca_mean"], xp)
        pca.components_ = device_float(arrays["pca_components"], xp)
        pca.explained_variance_ = device_float(arrays["pca_variance"], xp)
        pca.n_features_in_ = int(arrays["pca_components"].shape[1])
        self.pca_ = pca
        self.encoder_ = self._encoder().set_gmm(device_float(arrays["gmm_weights"], xp),
                                                device_float(arrays["gmm_means"], xp),
                                                device_float(arrays["gmm_variances"], xp))

    def _encoding_flops(self, P):
        c = self.config
        D_in, d, K = self.pca_.n_features_in_, c.pca_dim, self.codebook_size()
        R = sum(g * g for g in c.levels)
        # PCA + Gaussian log-densities (two GEMMs) + per-cell S1, S2 (two GEMMs over R K rows)
        return 2 * P * D_in * d + 2 * 2 * P * K * d + 2 * 2 * P * R * K * d

    def feature_dim(self, image_shape=None):
        c = self.config
        return sum(g * g for g in c.levels) * 2 * self.codebook_size() * c.pca_dim
