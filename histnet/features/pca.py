"""Principal component analysis of local descriptors, on numpy or cupy.

The Fisher-vector recipe of Perronnin, Sanchez & Mensink (2010) and Sanchez & Perronnin
(2011) reduces 128-d SIFT to 64 (or 80) dimensions by PCA before fitting a diagonal GMM:
the rotation decorrelates the dimensions, which the diagonal covariance assumes, and
removes noisy directions. This is that step: the eigen-decomposition of the (d, d)
covariance of a descriptor sample, in float64 for accuracy, on the device.

Components are the leading eigenvectors, sign-fixed so the largest-magnitude entry of
each is positive (deterministic across devices). ``whiten=True`` divides by the square
root of the eigenvalues.

Left out: randomised or incremental solvers (d <= a few hundred here, so the exact
d x d eigenproblem is cheap) and the noise-variance model of probabilistic PCA.

References
----------
Perronnin, F., Sanchez, J., & Mensink, T. (2010). Improving the Fisher kernel for
large-scale image classification. ECCV, doi:10.1007/978-3-642-15561-1_11.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..backend import get_array_module
from ..errors import ConfigError
from ._linalg import as_float, check_descriptors


class PCA(TransformerMixin, BaseEstimator):
    """Project descriptors on their leading principal directions.

    Parameters
    ----------
    n_components : int, default=64
        Output dimension (at most the input dimension).
    whiten : bool, default=False
        Scale each output dimension to unit variance.
    eps : float, default=1e-8
        Added to the eigenvalues before whitening.

    Attributes
    ----------
    mean_ : xp array of shape (n_features,)
    components_ : xp array of shape (n_components, n_features)
        Rows are unit principal directions, by decreasing variance.
    explained_variance_ : xp array of shape (n_components,)
        Eigenvalues of the sample covariance (divided by n - 1, as scikit-learn).
    n_features_in_ : int
    """

    def __init__(self, n_components=64, *, whiten=False, eps=1e-8):
        self.n_components = n_components
        self.whiten = whiten
        self.eps = eps

    def fit(self, X, y=None):
        """Fit on descriptors ``X``, xp array of shape (n, d); returns self."""
        check_descriptors(X, "PCA.fit")
        n, d = X.shape
        if not isinstance(self.n_components, (int, np.integer)) or not 1 <= self.n_components <= d:
            raise ConfigError(f"PCA: n_components must be an integer in 1..{d} (the descriptor dimension), "
                              f"got {self.n_components!r}")
        if n < 2:
            raise ConfigError("PCA.fit: needs at least 2 descriptors")
        xp = get_array_module(X)
        X64 = xp.asarray(X, dtype=xp.float64)
        mean = X64.mean(axis=0)
        Xc = X64 - mean
        cov = (Xc.T @ Xc) / (n - 1)
        evals, evecs = xp.linalg.eigh(cov)  # ascending
        order = xp.arange(d - 1, d - 1 - self.n_components, -1)
        evals = xp.maximum(evals[order], 0)
        comps = evecs[:, order].T  # (k, d)
        # Deterministic sign: largest-|.| entry of each component positive.
        big = xp.take_along_axis(comps, xp.abs(comps).argmax(axis=1)[:, None], axis=1)
        comps = comps * xp.where(big < 0, -1.0, 1.0)
        dtype = as_float(X).dtype
        self.mean_ = mean.astype(dtype)
        self.components_ = comps.astype(dtype)
        self.explained_variance_ = evals.astype(dtype)
        self.n_features_in_ = int(d)
        return self

    def transform(self, X):
        """Project ``X`` of shape (..., n_features) to (..., n_components)."""
        if not hasattr(self, "components_"):
            raise ConfigError("PCA.transform: not fitted yet (call fit first)")
        check_descriptors(X, "PCA.transform", self.n_features_in_, ndim=(2, 3))
        xp = get_array_module(X)
        Y = (as_float(X, self.components_.dtype) - self.mean_) @ self.components_.T
        if self.whiten:
            Y = Y / xp.sqrt(self.explained_variance_ + self.eps)
        return Y

    def inverse_transform(self, Y):
        """Map projections (..., n_components) back to the descriptor space (..., n_features)."""
        xp = get_array_module(Y)
        if self.whiten:
            Y = Y * xp.sqrt(self.explained_variance_ + self.eps)
        return Y @ self.components_ + self.mean_
