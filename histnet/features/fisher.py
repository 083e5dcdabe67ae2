"""Fisher vectors of local descriptors under a diagonal GMM, with a spatial pyramid.

Reproduces the image signature of the XRCE ILSVRC 2011 entry (Perronnin, Sanchez &
Mensink 2010; Sanchez & Perronnin 2011): the gradient of the descriptors' average
log-likelihood under a diagonal GMM with respect to the means and the variances,
whitened by the (diagonal, closed-form) Fisher information. For descriptors x_1..x_T of
one region, posteriors gamma_tk, and GMM (w_k, mu_k, sigma_k)::

    u_k = 1 / (T sqrt(w_k))   sum_t gamma_tk (x_t - mu_k) / sigma_k
    v_k = 1 / (T sqrt(2 w_k)) sum_t gamma_tk [((x_t - mu_k) / sigma_k)^2 - 1]

concatenated as (u_1, ..., u_K, v_1, ..., v_K): 2 K D numbers, VLFeat's layout
(``vl_fisher``). Computed from the per-region sufficient statistics S0 = sum gamma,
S1 = sum gamma x, S2 = sum gamma x^2, which are matrix products of the posteriors,
the pyramid membership and the descriptors.

The *improved* Fisher vector (Perronnin, Sanchez & Mensink 2010, Sec. 3) applies the
power normalisation ``sign(z) sqrt(|z|)`` then L2 normalisation. With a spatial pyramid
(their Sec. 3.3) each region's vector is normalised on its own, and the concatenation is
divided by sqrt(n_regions) so the whole vector has unit length.

Left out: the gradient with respect to the mixture weights (dropped by Sanchez et al.
2013 as carrying little information, and absent from VLFeat), product quantisation of
the signatures (Sanchez & Perronnin 2011), and the 3x1 horizontal-stripe pyramid XRCE
also used (any g x g grid is available through ``levels``).

References
----------
Perronnin, F., Sanchez, J., & Mensink, T. (2010). Improving the Fisher kernel for
large-scale image classification. ECCV, doi:10.1007/978-3-642-15561-1_11.
Sanchez, J., & Perronnin, F. (2011). High-dimensional signature compression for
large-scale image classification. CVPR, doi:10.1109/CVPR.2011.5995504.
Sanchez, J., Perronnin, F., Mensink, T., & Verbeek, J. (2013). Image classification with
the Fisher vector: theory and practice. IJCV 105(3), doi:10.1007/s11263-013-0636-x.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..backend import get_array_module, to_device
from ..errors import ConfigError
from ._linalg import BLOCK_ELEMENTS, as_float, check_descriptors, logsumexp
from .encoding import pyramid_regions
from .gmm import DiagonalGMM, diag_gaussian_log_prob


def power_l2_normalize(Z, axis=-1, eps=1e-12):
    """Improved-FV normalisation: ``z <- sign(z) sqrt(|z|)``, then ``z <- z / |z|_2`` along ``axis``."""
    xp = get_array_module(Z)
    Z = xp.sign(Z) * xp.sqrt(xp.abs(Z))
    return Z / xp.maximum(xp.sqrt((Z * Z).sum(axis=axis, keepdims=True)), eps)


def fisher_vector(X, means, variances, weights, membership=None, posteriors=None, normalization="improved",
                  mask=None):
    """Fisher vectors (mean and variance gradients) of a batch of images.

    Parameters
    ----------
    X : xp array of shape (N, P, D)
        Descriptors of N images.
    means, variances : xp arrays of shape (K, D)
    weights : xp array of shape (K,)
    membership : numpy array of shape (P, R), optional
        Pyramid cells (:func:`~histnet.features.encoding.pyramid_regions`); default one
        region holding every descriptor.
    posteriors : xp array of shape (N, P, K), optional
        gamma_tk; computed from the GMM when not given.
    normalization : {"improved", "l2", None}, default="improved"
        Per region: power + L2 (improved), L2 only, or none; the regions are then
        rescaled by 1/sqrt(R) (not for None).
    mask : xp array of shape (N, P), optional
        0 for descriptors to leave out (their posteriors are zeroed and T counts only
        the others), 1 for the rest.

    Returns
    -------
    xp array of shape (N, R * 2 * K * D)
        Region by region, each (u_1..u_K, v_1..v_K).
    """
    xp = get_array_module(X)
    N, P, D = X.shape
    K = means.shape[0]
    if membership is None:
        membership = np.ones((P, 1), np.float32)
    R = membership.shape[1]
    if posteriors is None:
        lp = diag_gaussian_log_prob(X.reshape(N * P, D), means, variances, xp.log(weights))
        posteriors = xp.exp(lp - logsumexp(lp, axis=1)[:, None]).reshape(N, P, K)
    M = to_device(membership, xp, dtype=X.dtype)  # (P, R)
    if mask is None:
        T = xp.broadcast_to(M.sum(axis=0)[None, :], (N, R))  # descriptors per region
    else:
        mask = xp.asarray(mask, dtype=X.dtype)
        posteriors = posteriors * mask[:, :, None]
        T = mask @ M  # (N, R)
    # gamma split by region: W[n, p, r, k] = M[p, r] gamma[n, p, k]
    W = (M[None, :, :, None] * posteriors[:, :, None, :]).reshape(N, P, R * K)
    Wt = W.transpose(0, 2, 1)  # (N, R*K, P)
    S0 = W.sum(axis=1).reshape(N, R, K, 1)
    S1 = xp.matmul(Wt, X).reshape(N, R, K, D)
    S2 = xp.matmul(Wt, X * X).reshape(N, R, K, D)
    sigma = xp.sqrt(variances)
    inv_T = (1.0 / xp.maximum(T, 1))[:, :, None, None]
    u = (S1 - S0 * means) / sigma * inv_T / xp.sqrt(weights)[:, None]
    v = ((S2 - 2 * means * S1 + S0 * means * means) / variances - S0) * inv_T / xp.sqrt(2 * weights)[:, None]
    fv = xp.concatenate([u.reshape(N, R, K * D), v.reshape(N, R, K * D)], axis=2)  # (N, R, 2KD)
    if normalization == "improved":
        fv = power_l2_normalize(fv, axis=2) / np.sqrt(R)
    elif normalization == "l2":
        fv = fv / xp.maximum(xp.sqrt((fv * fv).sum(axis=2, keepdims=True)), 1e-12) / np.sqrt(R)
    elif normalization is not None:
        raise ConfigError(f"fisher_vector: normalization must be 'improved', 'l2' or None, got {normalization!r}")
    return fv.reshape(N, R * 2 * K * D)


class FisherVector(TransformerMixin, BaseEstimator):
    """Improved Fisher vector encoder: fits a diagonal GMM, encodes images with a pyramid.

    Parameters
    ----------
    n_components : int, default=64
        GMM size K; the output has 2 K D numbers per pyramid cell.
    levels : tuple of int, default=(1, 2)
        Spatial pyramid grids.
    normalization : {"improved", "l2", None}, default="improved"
    gmm_iter : int, default=50
        EM iterations.
    variance_floor : float, default=1e-4
        See :class:`~histnet.features.gmm.DiagonalGMM`.
    random_state : int, optional

    Attributes
    ----------
    gmm_ : DiagonalGMM
    n_features_in_ : int
    """

    def __init__(self, n_components=64, *, levels=(1, 2), normalization="improved", gmm_iter=50,
                 variance_floor=1e-4, random_state=None):
        self.n_components = n_components
        self.levels = levels
        self.normalization = normalization
        self.gmm_iter = gmm_iter
        self.variance_floor = variance_floor
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit the GMM on descriptors ``X`` (xp array (n, D)); returns self."""
        check_descriptors(X, "FisherVector.fit")
        if self.normalization not in ("improved", "l2", None):
            raise ConfigError(f"FisherVector: normalization must be 'improved', 'l2' or None, "
                              f"got {self.normalization!r}")
        self.gmm_ = DiagonalGMM(self.n_components, max_iter=self.gmm_iter, variance_floor=self.variance_floor,
                                random_state=self.random_state).fit(as_float(X))
        self.n_features_in_ = int(X.shape[1])
        return self

    def set_gmm(self, weights, means, variances):
        """Use given GMM parameters (xp arrays (K,), (K, D), (K, D)) instead of fitting."""
        gmm = DiagonalGMM(int(means.shape[0]))
        gmm.weights_, gmm.means_, gmm.variances_ = weights, means, variances
        gmm.n_features_in_ = int(means.shape[1])
        self.gmm_ = gmm
        self.n_features_in_ = gmm.n_features_in_
        return self

    @property
    def n_regions(self):
        return sum(g * g for g in self.levels)

    def output_dim(self, with_pyramid=True):
        """Length of the encoded vector: n_regions * 2 * K * D."""
        R = self.n_regions if with_pyramid else 1
        return R * 2 * self.n_components * self.n_features_in_

    def transform(self, X, frames=None, image_shape=None, mask=None):
        """Encode images: (N, P, D) descriptors -> (N, output_dim) Fisher vectors.

        ``frames`` (P, 3) rows ``(y, x, size)`` and ``image_shape`` (H, W) place the
        descriptors in the pyramid; without frames, one region per image. ``mask`` (N, P)
        leaves descriptors out (see :func:`fisher_vector`). Images are processed in
        blocks so the (block, P, R K) posterior array stays bounded.
        """
        if not hasattr(self, "gmm_"):
            raise ConfigError("FisherVector.transform: the GMM is not fitted yet (call fit first)")
        check_descriptors(X, "FisherVector.transform", self.n_features_in_, ndim=3)
        g = self.gmm_
        X = as_float(X, g.means_.dtype)
        xp = get_array_module(X)
        N, P, D = X.shape
        membership = (np.ones((P, 1), np.float32) if frames is None
                      else pyramid_regions(frames, image_shape, self.levels))
        if membership.shape[0] != P:
            raise ConfigError(f"FisherVector.transform: {P} descriptors per image but {membership.shape[0]} frames")
        R = membership.shape[1]
        per_image = P * R * self.n_components
        step = max(1, BLOCK_ELEMENTS // max(per_image, 1))
        out = xp.empty((N, R * 2 * g.means_.shape[0] * D), dtype=X.dtype)
        for start in range(0, N, step):
            s = slice(start, min(N, start + step))
            Xs = X[s]
            n = Xs.shape[0]
            gamma = g.predict_proba(Xs.reshape(n * P, D)).reshape(n, P, -1)
            ms = None if mask is None else mask[s]
            out[s] = fisher_vector(Xs, g.means_, g.variances_, g.weights_, membership, gamma, self.normalization,
                                   ms)
        return out
