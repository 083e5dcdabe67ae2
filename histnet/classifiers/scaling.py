"""Per-feature standardisation on numpy or cupy, fitted in one streaming pass.

``StandardScaler`` is scikit-learn's ``StandardScaler`` on the array backend:
z = (x - mean) / scale with the mean and standard deviation of each feature over the
training set. ``partial_fit`` merges the statistics of one batch into the running ones
with the pairwise update of Chan, Golub & LeVeque (1979), so a data set that never sits
in memory at once (a stream of ``Dataset.batches``) is standardised exactly as if it
had; the running sums are kept in float64 whatever the input dtype.

What it leaves out: sample weights, sparse input, NaN-skipping statistics.

References
----------
Chan, T. F., Golub, G. H. & LeVeque, R. J. (1979). Updating formulae and a pairwise
    algorithm for computing sample variances. Stanford report STAN-CS-79-773.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..backend import get_array_module
from ..validation import check_features, check_fitted, check_float_dtype, check_n_features
from ._device import match_device

__all__ = ["StandardScaler"]


class StandardScaler(TransformerMixin, BaseEstimator):
    """Standardise features: z = (x - mean_) / scale_, statistics merged batch by batch.

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract the mean.
    with_std : bool, default=True
        Divide by the standard deviation (population, ``ddof=0``, as scikit-learn).
    min_std : float, default=0.0
        Standard deviations below this are raised to it before dividing; a feature with
        zero variance is divided by 1 (scikit-learn's rule) when ``min_std`` is 0. A
        floor keeps features that are almost constant in training (the border pixels
        of MNIST) from being blown up at test time.
    dtype : {None, "float32", "float64"}, default=None
        dtype of ``transform``'s output and of ``mean_``/``scale_``; None keeps the
        floating dtype of the first batch (float32 for integer input), as scikit-learn.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    var_ : ndarray of shape (n_features,)
        Population variance (float64).
    scale_ : ndarray of shape (n_features,)
    n_samples_seen_ : int

    All arrays live on the device of the data passed to ``partial_fit``.
    """

    def __init__(self, *, with_mean=True, with_std=True, min_std=0.0, dtype=None):
        self.with_mean = with_mean
        self.with_std = with_std
        self.min_std = min_std
        self.dtype = dtype

    def fit(self, X, y=None):
        """Statistics of X (n_samples, n_features) alone; forgets earlier ones."""
        for attr in ("n_samples_seen_", "_mean64", "var_", "mean_", "scale_"):
            self.__dict__.pop(attr, None)
        return self.partial_fit(X)

    def partial_fit(self, X, y=None):
        """Merge the statistics of a batch X (n_samples, n_features) into the running ones.

        With counts n_a, n_b, means m_a, m_b and sums of squared deviations M_a, M_b:
        m = m_a + (m_b - m_a) n_b / n,  M = M_a + M_b + (m_b - m_a)^2 n_a n_b / n.
        """
        name = f"{type(self).__name__}.partial_fit"
        X = check_features(X, name)
        if self.dtype is not None:
            dtype = check_float_dtype(self.dtype, type(self).__name__)
        elif hasattr(self, "scale_"):
            dtype = self.scale_.dtype
        else:
            dtype = X.dtype if X.dtype.kind == "f" and X.dtype.itemsize >= 4 else np.dtype(np.float32)
        xp = get_array_module(X)
        n_b = X.shape[0]
        X64 = X.astype(xp.float64)
        mean_b = X64.mean(axis=0)
        diff = X64 - mean_b
        m2_b = (diff * diff).sum(axis=0)
        if not hasattr(self, "n_samples_seen_"):
            self.n_samples_seen_, self._mean64, self._m2 = n_b, mean_b, m2_b
        else:
            check_n_features(X, self._mean64.shape[0], self, "partial_fit")
            n_a = self.n_samples_seen_
            n = n_a + n_b
            delta = mean_b - self._mean64
            self._mean64 = self._mean64 + delta * (n_b / n)
            self._m2 = self._m2 + m2_b + delta * delta * (n_a * n_b / n)
            self.n_samples_seen_ = n
        self.var_ = self._m2 / self.n_samples_seen_
        std = xp.sqrt(self.var_)
        floor = float(self.min_std)
        scale = xp.maximum(std, floor) if floor > 0 else xp.where(std > 0, std, 1.0)
        self.mean_ = (self._mean64 if self.with_mean else xp.zeros_like(self._mean64)).astype(dtype)
        self.scale_ = (scale if self.with_std else xp.ones_like(scale)).astype(dtype)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        """(X - mean_) / scale_, shape (n_samples, n_features), on the device of X."""
        check_fitted(self, "scale_")
        name = f"{type(self).__name__}.transform"
        X = check_features(X, name, dtype=self.scale_.dtype, allow_empty=True)
        check_n_features(X, self.n_features_in_, self, "transform")
        xp = get_array_module(X)
        return (X - match_device(self.mean_, xp)) / match_device(self.scale_, xp)

    def inverse_transform(self, Z):
        """Z * scale_ + mean_."""
        check_fitted(self, "scale_")
        Z = check_features(Z, f"{type(self).__name__}.inverse_transform", dtype=self.scale_.dtype,
                           allow_empty=True)
        xp = get_array_module(Z)
        return Z * match_device(self.scale_, xp) + match_device(self.mean_, xp)
