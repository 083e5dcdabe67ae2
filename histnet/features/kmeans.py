"""k-means codebooks for bags of visual words and LLC, on numpy or cupy.

Reproduces the visual-vocabulary step of Sivic & Zisserman (2003) and Csurka et al.
(2004): the codebook is the set of k-means centres of a sample of local descriptors.

* **Start:** greedy k-means++ (Arthur & Vassilvitskii 2007): each new centre is the best
  of ``2 + log k`` candidates drawn with probability proportional to the squared
  distance to the nearest centre so far (the variant scikit-learn uses).
* **Lloyd** (Lloyd 1982): alternate nearest-centre assignment and centre means until
  the centres move by less than ``tol`` times the mean data variance.
* **Mini-batch** (Sculley 2010): per-centre counts and learning rate 1/count, one
  mini-batch at a time; :meth:`KMeans.partial_fit` gives the same update for streams.

Distances are one GEMM per block of rows, ``|x|^2 - 2 x.c + |c|^2``; centre sums are one
``bincount`` over ``label * d + column``, so there is no Python loop over descriptors,
and memory is bound by a (block, k) array.

Left out: the triangle-inequality accelerations (Elkan 2003, Hamerly 2010) and
scikit-learn's mini-batch early stopping on smoothed inertia and centre reassignment
(mini-batch here runs ``max_iter`` epochs and re-seeds empty centres only).

References
----------
Arthur, D., & Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding. SODA.
Csurka, G., Dance, C., Fan, L., Willamowski, J., & Bray, C. (2004). Visual categorization
with bags of keypoints. ECCV Workshop on Statistical Learning in Computer Vision.
Lloyd, S. (1982). Least squares quantization in PCM. IEEE Trans. Inf. Theory 28(2),
doi:10.1109/TIT.1982.1056489.
Sculley, D. (2010). Web-scale k-means clustering. WWW, doi:10.1145/1772690.1772862.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..backend import get_array_module, host_rng, to_device
from ..errors import ConfigError
from ._linalg import as_float, check_descriptors, row_chunks, squared_distances


def kmeans_plusplus(X, n_clusters: int, rng, n_local_trials=None):
    """Greedy k-means++ seeding.

    Parameters
    ----------
    X : xp array of shape (n, d)
    n_clusters : int
    rng : numpy.random.Generator
        Host generator; the draws are host numbers moved to the device, so numpy and
        cupy pick the same centres from the same seed.
    n_local_trials : int, optional
        Candidates per step; default ``2 + int(log(k))``.

    Returns
    -------
    centers : xp array of shape (n_clusters, d)
    """
    xp = get_array_module(X)
    n = X.shape[0]
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    first = int(rng.integers(n))
    centers = xp.empty((n_clusters, X.shape[1]), dtype=X.dtype)
    centers[0] = X[first]
    X_sq = (X * X).sum(axis=1)
    closest = squared_distances(X, X[first:first + 1], X_sq=X_sq)[:, 0]
    for c in range(1, n_clusters):
        # Draw candidates ~ closest / pot by inverting the cumulative sum (on the device).
        u = to_device(rng.random(n_local_trials), xp, dtype=X.dtype)
        cum = xp.cumsum(closest)
        cand = xp.searchsorted(cum, u * cum[-1])
        cand = xp.minimum(cand, n - 1)
        d_cand = squared_distances(X, X[cand], X_sq=X_sq)  # (n, trials)
        new_closest = xp.minimum(closest[:, None], d_cand)
        pots = new_closest.sum(axis=0)
        best = int(xp.argmin(pots))
        closest = new_closest[:, best]
        centers[c] = X[cand[best]]
    return centers


def assign(X, centers, C_sq=None):
    """Nearest centre of every row and the squared distance to it, block by block.

    Parameters
    ----------
    X : xp array of shape (n, d)
    centers : xp array of shape (k, d)

    Returns
    -------
    labels : xp int64 array of shape (n,)
    min_d2 : xp array of shape (n,)
    """
    xp = get_array_module(X, centers)
    if C_sq is None:
        C_sq = (centers * centers).sum(axis=1)
    labels = xp.empty(X.shape[0], dtype=xp.int64)
    min_d2 = xp.empty(X.shape[0], dtype=X.dtype)
    for s in row_chunks(X.shape[0], centers.shape[0]):
        d2 = squared_distances(X[s], centers, C_sq)
        lab = d2.argmin(axis=1)
        labels[s] = lab
        min_d2[s] = xp.take_along_axis(d2, lab[:, None], axis=1)[:, 0]
    return labels, min_d2


def _cluster_sums(X, labels, k):
    """Per-cluster sums (k, d) and counts (k,), block by block.

    One ``bincount`` per block over the flat index ``label * d + column``: O(n d) work,
    where a one-hot GEMM would cost O(n k d).
    """
    xp = get_array_module(X)
    d = X.shape[1]
    sums = xp.zeros(k * d, dtype=xp.float64)
    cols = xp.arange(d)
    for s in row_chunks(X.shape[0], 2 * d):
        flat = (labels[s][:, None] * d + cols[None, :]).ravel()
        sums += xp.bincount(flat, weights=X[s].ravel(), minlength=k * d)
    counts = xp.bincount(labels, minlength=k).astype(X.dtype)
    return sums.reshape(k, d).astype(X.dtype), counts


def _reseed_empty(X, centers, counts, min_d2):
    """Move centres that lost all points onto the points farthest from their centre."""
    xp = get_array_module(X)
    empty = xp.nonzero(counts == 0)[0]
    n_empty = int(empty.shape[0])
    if n_empty:
        far = xp.argsort(-min_d2)[:n_empty]
        centers[empty] = X[far]
    return n_empty


class KMeans(TransformerMixin, BaseEstimator):
    """k-means clustering (Lloyd or mini-batch) with k-means++ seeding.

    Parameters
    ----------
    n_clusters : int, default=256
        Codebook size k.
    algorithm : {"lloyd", "minibatch"}, default="lloyd"
    max_iter : int, default=100
        Lloyd iterations, or mini-batch epochs over the data.
    tol : float, default=1e-4
        Lloyd stops when the summed squared centre shift is below ``tol`` times the
        mean per-dimension variance of the data (scikit-learn's rule).
    n_init : int, default=1
        Independent seedings; the run with the lowest inertia is kept.
    batch_size : int, default=1024
        Mini-batch size (``algorithm="minibatch"``).
    random_state : int or numpy.random.Generator, optional

    Attributes
    ----------
    cluster_centers_ : xp array of shape (n_clusters, n_features)
    inertia_ : float
        Sum of squared distances of the fitted rows to their nearest centre.
    n_iter_ : int
    n_features_in_ : int
    counts_ : xp array of shape (n_clusters,)
        Rows seen per centre (mini-batch state; the cluster sizes after Lloyd).
    """

    def __init__(self, n_clusters=256, *, algorithm="lloyd", max_iter=100, tol=1e-4, n_init=1,
                 batch_size=1024, random_state=None):
        self.n_clusters = n_clusters
        self.algorithm = algorithm
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.batch_size = batch_size
        self.random_state = random_state

    # -- validation --------------------------------------------------------------------
    def _check_params(self, n_rows):
        if not isinstance(self.n_clusters, (int, np.integer)) or self.n_clusters < 1:
            raise ConfigError(f"KMeans: n_clusters must be a positive integer, got {self.n_clusters!r}")
        if self.algorithm not in ("lloyd", "minibatch"):
            raise ConfigError(f"KMeans: algorithm must be 'lloyd' or 'minibatch', got {self.algorithm!r}")
        for name in ("max_iter", "n_init", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"KMeans: {name} must be a positive integer, got {v!r}")
        if not self.tol >= 0:
            raise ConfigError(f"KMeans: tol must be >= 0, got {self.tol!r}")
        if n_rows < self.n_clusters:
            raise ConfigError(f"KMeans: {n_rows} descriptors are fewer than n_clusters={self.n_clusters}")

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Cluster the rows of ``X`` (xp array of shape (n, d)); returns self."""
        check_descriptors(X, "KMeans.fit")
        X = as_float(X)
        self._check_params(X.shape[0])
        rng = host_rng(self.random_state)
        tol = self.tol * float(X.var(axis=0).mean())
        best = None
        for _ in range(self.n_init):
            centers = kmeans_plusplus(X, self.n_clusters, rng)
            if self.algorithm == "lloyd":
                run = self._lloyd(X, centers, tol)
            else:
                run = self._minibatch(X, centers, rng)
            if best is None or run[1] < best[1]:
                best = run
        centers, inertia, n_iter, counts = best
        self.cluster_centers_ = centers
        self.inertia_ = float(inertia)
        self.n_iter_ = n_iter
        self.counts_ = counts
        self.n_features_in_ = int(X.shape[1])
        return self

    def _lloyd(self, X, centers, tol):
        xp = get_array_module(X)
        k = self.n_clusters
        n_iter = 0
        labels, min_d2 = assign(X, centers)
        for n_iter in range(1, self.max_iter + 1):
            sums, counts = _cluster_sums(X, labels, k)
            new = sums / xp.maximum(counts, 1)[:, None]
            new = xp.where((counts > 0)[:, None], new, centers)
            _reseed_empty(X, new, counts, min_d2)
            shift = float(((new - centers) ** 2).sum())
            centers = new
            new_labels, min_d2 = assign(X, centers)
            converged = bool((new_labels == labels).all()) or shift <= tol
            labels = new_labels
            if converged:
                break
        _, counts = _cluster_sums(X, labels, k)
        return centers, float(min_d2.sum()), n_iter, counts

    def _minibatch_step(self, Xb, centers, counts):
        """One Sculley update: each centre moves to the running mean of the rows it won."""
        xp = get_array_module(Xb)
        labels, min_d2 = assign(Xb, centers)
        sums, n_b = _cluster_sums(Xb, labels, centers.shape[0])
        new_counts = counts + n_b
        upd = (centers * counts[:, None] + sums) / xp.maximum(new_counts, 1)[:, None]
        centers = xp.where((n_b > 0)[:, None], upd, centers)
        return centers, new_counts, min_d2

    def _minibatch(self, X, centers, rng):
        xp = get_array_module(X)
        n = X.shape[0]
        counts = xp.zeros(self.n_clusters, dtype=X.dtype)
        for _epoch in range(self.max_iter):
            order = to_device(rng.permutation(n), xp)
            for start in range(0, n, self.batch_size):
                Xb = X[order[start:start + self.batch_size]]
                centers, counts, _ = self._minibatch_step(Xb, centers, counts)
        labels, min_d2 = assign(X, centers)
        _, sizes = _cluster_sums(X, labels, self.n_clusters)
        if _reseed_empty(X, centers, sizes, min_d2):
            labels, min_d2 = assign(X, centers)
        return centers, float(min_d2.sum()), self.max_iter, counts

    def partial_fit(self, X, y=None):
        """One mini-batch update on ``X`` (seeding the centres by k-means++ on the first call)."""
        check_descriptors(X, "KMeans.partial_fit", getattr(self, "n_features_in_", None))
        X = as_float(X)
        xp = get_array_module(X)
        if not hasattr(self, "cluster_centers_"):
            self._check_params(X.shape[0])
            self._rng = host_rng(self.random_state)
            self.cluster_centers_ = kmeans_plusplus(X, self.n_clusters, self._rng)
            self.counts_ = xp.zeros(self.n_clusters, dtype=X.dtype)
            self.n_features_in_ = int(X.shape[1])
            self.n_iter_ = 0
        self.cluster_centers_, self.counts_, min_d2 = self._minibatch_step(X, self.cluster_centers_, self.counts_)
        self.inertia_ = float(min_d2.sum())
        self.n_iter_ += 1
        return self

    # -- using the codebook --------------------------------------------------------------
    def _check_fitted(self, X, what):
        if not hasattr(self, "cluster_centers_"):
            raise ConfigError(f"KMeans.{what}: the codebook is not fitted yet (call fit first)")
        check_descriptors(X, f"KMeans.{what}", self.n_features_in_)

    def predict(self, X):
        """Index of the nearest centre, xp int64 array of shape (n,)."""
        self._check_fitted(X, "predict")
        return assign(as_float(X, self.cluster_centers_.dtype), self.cluster_centers_)[0]

    def transform(self, X):
        """Euclidean distances to every centre, xp array of shape (n, n_clusters)."""
        self._check_fitted(X, "transform")
        xp = get_array_module(X)
        return xp.sqrt(squared_distances(as_float(X, self.cluster_centers_.dtype), self.cluster_centers_))

    def score(self, X, y=None):
        """Minus the inertia of ``X`` against the fitted centres (scikit-learn's sign)."""
        self._check_fitted(X, "score")
        return -float(assign(as_float(X, self.cluster_centers_.dtype), self.cluster_centers_)[1].sum())
