"""Gaussian mixture with diagonal covariances fitted by EM, on numpy or cupy.

The generative vocabulary of the Fisher-vector recipe (Perronnin & Dance 2007;
Perronnin, Sanchez & Mensink 2010): K Gaussians with weights w_k, means mu_k and
diagonal variances sigma_k^2 over (PCA-reduced) local descriptors, fitted by
expectation-maximisation (Dempster, Laird & Rubin 1977).

* **E-step, in the log domain.** ``log p(x, k) = log w_k - 1/2 [D log 2pi + sum_d log
  sigma_kd^2 + sum_d (x_d - mu_kd)^2 / sigma_kd^2]``, where the quadratic term is one GEMM
  (``x^2 . (1/sigma^2) - 2 x . (mu/sigma^2) + sum mu^2/sigma^2``); responsibilities are
  ``exp(log p(x, k) - logsumexp_k)``, so no component underflows to 0/0.
* **M-step** from the sufficient statistics S0 = sum gamma, S1 = sum gamma x, S2 = sum
  gamma x^2, accumulated over blocks of rows (memory is bound by a (block, K) array).
* **Variance floor.** ``sigma^2 = max(S2/S0 - mu^2 + reg_covar, variance_floor * var(x))``
  per dimension. A component whose variance hits the floor (a cluster of identical
  descriptors) or that loses all its mass has collapsed; it is kept at the floor and a
  :class:`ComponentCollapseWarning` names it.
* **Start:** responsibilities from a k-means partition (scikit-learn's default), or from
  randomly chosen descriptors as means.

Left out: full and tied covariances, priors (MAP-EM) and the BIC/AIC model selection of
scikit-learn's ``GaussianMixture``.

References
----------
Dempster, A. P., Laird, N. M., & Rubin, D. B. (1977). Maximum likelihood from incomplete
data via the EM algorithm. J. R. Stat. Soc. B 39(1), doi:10.1111/j.2517-6161.1977.tb01600.x.
Perronnin, F., & Dance, C. (2007). Fisher kernels on visual vocabularies for image
categorization. CVPR, doi:10.1109/CVPR.2007.383266.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.base import BaseEstimator

from ..backend import get_array_module, host_rng, to_device, to_host
from ..errors import ConfigError
from ._linalg import as_float, check_descriptors, logsumexp, row_chunks
from .kmeans import KMeans


class ComponentCollapseWarning(UserWarning):
    """A GMM component shrank to (near) zero variance or lost all its descriptors."""


def diag_gaussian_log_prob(X, means, variances, log_weights=None):
    """Log densities ``log N(x_i | mu_k, diag sigma_k^2)`` (+ ``log w_k`` if given).

    Parameters
    ----------
    X : xp array of shape (n, d)
    means, variances : xp arrays of shape (k, d)
    log_weights : xp array of shape (k,), optional

    Returns
    -------
    xp array of shape (n, k)
    """
    prec = 1.0 / variances  # (k, d)
    d = X.shape[1]
    const = -0.5 * (d * math.log(2 * math.pi) + get_array_module(X).log(variances).sum(axis=1)
                    + (means * means * prec).sum(axis=1))  # (k,)
    quad = (X * X) @ prec.T - 2.0 * (X @ (means * prec).T)  # (n, k)
    out = const[None, :] - 0.5 * quad
    if log_weights is not None:
        out += log_weights[None, :]
    return out


class DiagonalGMM(BaseEstimator):
    """Gaussian mixture model with diagonal covariances, fitted by EM.

    Parameters
    ----------
    n_components : int, default=64
        Number of Gaussians K.
    max_iter : int, default=100
        EM iterations.
    tol : float, default=1e-3
        Stop when the average log-likelihood per descriptor improves by less than this.
    reg_covar : float, default=1e-6
        Added to every variance (scikit-learn's regularisation).
    variance_floor : float, default=1e-4
        Lower bound on each variance, as a fraction of the data's variance in that
        dimension.
    init : {"kmeans", "random"}, default="kmeans"
    n_init : int, default=1
        Independent starts; the one with the highest final log-likelihood is kept.
    kmeans_iter : int, default=30
        Lloyd iterations of the k-means start.
    random_state : int or numpy.random.Generator, optional

    Attributes
    ----------
    weights_ : xp array of shape (n_components,)
    means_ : xp array of shape (n_components, n_features)
    variances_ : xp array of shape (n_components, n_features)
        Diagonal covariances (scikit-learn's ``covariances_`` for ``"diag"``).
    lower_bound_ : float
        Average log-likelihood per descriptor of the training data at the last E-step.
    n_iter_ : int
    converged_ : bool
    n_features_in_ : int
    """

    def __init__(self, n_components=64, *, max_iter=100, tol=1e-3, reg_covar=1e-6, variance_floor=1e-4,
                 init="kmeans", n_init=1, kmeans_iter=30, random_state=None):
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.variance_floor = variance_floor
        self.init = init
        self.n_init = n_init
        self.kmeans_iter = kmeans_iter
        self.random_state = random_state

    def _check_params(self, n_rows):
        for name in ("n_components", "max_iter", "n_init", "kmeans_iter"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"DiagonalGMM: {name} must be a positive integer, got {v!r}")
        if self.init not in ("kmeans", "random"):
            raise ConfigError(f"DiagonalGMM: init must be 'kmeans' or 'random', got {self.init!r}")
        for name in ("tol", "reg_covar", "variance_floor"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"DiagonalGMM: {name} must be >= 0, got {getattr(self, name)!r}")
        if n_rows < self.n_components:
            raise ConfigError(f"DiagonalGMM: {n_rows} descriptors are fewer than n_components={self.n_components}")

    # -- EM ------------------------------------------------------------------------------------
    def _e_step_stats(self, X, means, variances, weights):
        """Sufficient statistics S0 (k,), S1 (k, d), S2 (k, d) and the summed log-likelihood."""
        xp = get_array_module(X)
        k, d = means.shape
        S0 = xp.zeros(k, dtype=X.dtype)
        S1 = xp.zeros((k, d), dtype=X.dtype)
        S2 = xp.zeros((k, d), dtype=X.dtype)
        ll = 0.0
        log_w = xp.log(weights)
        for s in row_chunks(X.shape[0], k):
            Xs = X[s]
            lp = diag_gaussian_log_prob(Xs, means, variances, log_w)
            lse = logsumexp(lp, axis=1)
            resp = xp.exp(lp - lse[:, None])
            S0 += resp.sum(axis=0)
            S1 += resp.T @ Xs
            S2 += resp.T @ (Xs * Xs)
            ll += float(lse.sum())
        return S0, S1, S2, ll

    def _m_step(self, S0, S1, S2, n, floor, old_means):
        """Weights, means and floored variances from the statistics; warns on collapse."""
        xp = get_array_module(S0)
        eps = 10 * np.finfo(np.dtype(S0.dtype)).eps
        alive = S0 > eps * n
        N_k = xp.maximum(S0, eps)
        means = xp.where(alive[:, None], S1 / N_k[:, None], old_means)
        variances = S2 / N_k[:, None] - means * means + self.reg_covar
        low = (variances < floor[None, :]) | ~alive[:, None]
        variances = xp.maximum(variances, floor[None, :])
        weights = N_k / n
        weights = weights / weights.sum()
        return weights, means, variances, low, alive

    def _run(self, X, rng, floor):
        xp = get_array_module(X)
        n, d = X.shape
        k = self.n_components
        if self.init == "kmeans":
            km = KMeans(k, max_iter=self.kmeans_iter, random_state=rng).fit(X)
            labels = km.predict(X)
            resp_sums = (labels[:, None] == xp.arange(k)[None, :]).astype(X.dtype)
            S0 = resp_sums.sum(axis=0)
            S1 = resp_sums.T @ X
            S2 = resp_sums.T @ (X * X)
            old_means = km.cluster_centers_
        else:
            pick = to_device(rng.choice(n, size=k, replace=False), xp)
            old_means = X[pick]
            S0 = xp.ones(k, dtype=X.dtype) * (n / k)
            S1 = old_means * S0[:, None]
            S2 = (old_means * old_means + X.var(axis=0)[None, :]) * S0[:, None]
        weights, means, variances, low, alive = self._m_step(S0, S1, S2, n, floor, old_means)
        prev = -np.inf
        converged = False
        n_iter = 0
        ll = -np.inf
        for n_iter in range(1, self.max_iter + 1):
            S0, S1, S2, ll_sum = self._e_step_stats(X, means, variances, weights)
            ll = ll_sum / n
            if not np.isfinite(ll):
                break
            weights, means, variances, low, alive = self._m_step(S0, S1, S2, n, floor, means)
            if abs(ll - prev) < self.tol:
                converged = True
                break
            prev = ll
        return weights, means, variances, ll, n_iter, converged, low, alive

    def fit(self, X, y=None):
        """Fit the mixture to descriptors ``X`` (xp array of shape (n, d)); returns self.

        Warns
        -----
        ComponentCollapseWarning
            Naming each component whose variance was floored or that lost its descriptors.
        """
        check_descriptors(X, "DiagonalGMM.fit")
        X = as_float(X)
        self._check_params(X.shape[0])
        rng = host_rng(self.random_state)
        xp = get_array_module(X)
        data_var = X.var(axis=0)
        floor = xp.maximum(self.variance_floor * data_var, np.finfo(np.float32).tiny).astype(X.dtype)
        best = None
        for _ in range(self.n_init):
            run = self._run(X, rng, floor)
            if best is None or run[3] > best[3]:
                best = run
        weights, means, variances, ll, n_iter, converged, low, alive = best
        self.weights_, self.means_, self.variances_ = weights, means, variances
        self.lower_bound_ = float(ll)
        self.n_iter_ = n_iter
        self.converged_ = converged
        self.n_features_in_ = int(X.shape[1])
        self._warn_collapsed(low, alive)
        return self

    def _warn_collapsed(self, low, alive):
        low_h = to_host(low)
        alive_h = to_host(alive)
        for k in np.nonzero(low_h.any(axis=1))[0]:
            if not alive_h[k]:
                why = "lost all its descriptors"
            else:
                why = f"variance below the floor in {int(low_h[k].sum())} of {low_h.shape[1]} dimensions"
            warnings.warn(f"DiagonalGMM: component {int(k)} collapsed ({why}); its variance was floored "
                          f"at variance_floor={self.variance_floor} x the data variance",
                          ComponentCollapseWarning, stacklevel=3)

    # -- using the model -------------------------------------------------------------------------
    def _check_fitted(self, X, what):
        if not hasattr(self, "means_"):
            raise ConfigError(f"DiagonalGMM.{what}: not fitted yet (call fit first)")
        check_descriptors(X, f"DiagonalGMM.{what}", self.n_features_in_)

    def _log_prob(self, X):
        xp = get_array_module(X)
        return diag_gaussian_log_prob(X, self.means_, self.variances_, xp.log(self.weights_))

    def score_samples(self, X):
        """Log-likelihood ``log p(x_i)`` of each row, xp array of shape (n,)."""
        self._check_fitted(X, "score_samples")
        X = as_float(X, self.means_.dtype)
        xp = get_array_module(X)
        out = xp.empty(X.shape[0], dtype=X.dtype)
        for s in row_chunks(X.shape[0], self.n_components):
            out[s] = logsumexp(self._log_prob(X[s]), axis=1)
        return out

    def score(self, X, y=None):
        """Average log-likelihood per row (scikit-learn's ``GaussianMixture.score``)."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X):
        """Posteriors (responsibilities) ``gamma_ik``, xp array of shape (n, n_components)."""
        self._check_fitted(X, "predict_proba")
        X = as_float(X, self.means_.dtype)
        xp = get_array_module(X)
        out = xp.empty((X.shape[0], self.n_components), dtype=X.dtype)
        for s in row_chunks(X.shape[0], self.n_components):
            lp = self._log_prob(X[s])
            out[s] = xp.exp(lp - logsumexp(lp, axis=1)[:, None])
        return out

    def predict(self, X):
        """Most probable component of each row, xp int array of shape (n,)."""
        return self.predict_proba(X).argmax(axis=1)
