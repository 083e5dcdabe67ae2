"""Encoding local descriptors into one image vector: BoVW, LLC, spatial pyramids, kernel maps.

From a codebook (:class:`~histnet.features.kmeans.KMeans`) and the dense descriptors of a
batch of images, on numpy or cupy:

1. **Coding** each descriptor against the codebook:

   * hard assignment: a one-hot code for the nearest codeword (Csurka et al. 2004);
   * soft assignment, the "kernel codebook" of van Gemert et al. (2008, 2010): weights
     ``exp(-d_k^2 / 2 sigma^2)`` normalised over the codewords;
   * LLC, locality-constrained linear coding (Wang et al. 2010), the approximated fast
     encoder of their Sec. 3: the ``n_neighbors`` nearest codewords B_i, then
     ``min_c |x - B_i^T c|^2 s.t. 1'c = 1``, solved as ``(C + beta tr(C) I) c = 1``,
     ``c <- c / 1'c`` with ``C = (B_i - 1x')(B_i - 1x')'`` (their Algorithm 4.1 code).

2. **Pooling** over a spatial pyramid (Lazebnik, Schmid & Ponce 2006): the image is cut
   into 1x1, 2x2 and 4x4 grids, each descriptor falls in the cell of its frame centre, and
   the codes of each cell are summed (histograms: BoVW) or max-pooled (LLC). Cells with no
   descriptor give zeros.

3. **Normalising and mapping.** BoVW histograms are divided by the image's number of
   descriptors and weighted per level as Lazebnik et al. (1/2^L for level 0, 1/2^(L-l+1)
   for level l); LLC's pooled codes are L2-normalised (Wang et al.). An additive-kernel
   feature map then lets a linear SVM act as a kernel SVM: Hellinger (signed square root)
   or the explicit chi-squared map of Vedaldi & Zisserman (2010).

Distances are GEMMs in row blocks (``|x|^2 - 2 x.c + |c|^2``), the LLC systems are one
batched ``solve``, pooling is a matrix product with the (P, regions) membership matrix:
there is no Python loop over descriptors or images (only over pyramid cells for max).

Left out: the intersection kernel itself (approximated by the chi-squared map, which
Vedaldi & Zisserman show performs alike), localised soft assignment (Liu et al. 2011),
LLC's incremental codebook optimisation (their Sec. 4; the codebook here is k-means, as in
their experiments' initialisation), and codebook learning by sparse coding (Yang et al.
2009).

References
----------
Csurka, G., et al. (2004). Visual categorization with bags of keypoints. ECCV Workshop SLCV.
Lazebnik, S., Schmid, C., & Ponce, J. (2006). Beyond bags of features: spatial pyramid
matching for recognizing natural scene categories. CVPR, doi:10.1109/CVPR.2006.68.
van Gemert, J. C., Veenman, C. J., Smeulders, A. W. M., & Geusebroek, J.-M. (2010). Visual
word ambiguity. IEEE TPAMI 32(7), doi:10.1109/TPAMI.2009.132.
Vedaldi, A., & Zisserman, A. (2010). Efficient additive kernels via explicit feature maps.
CVPR, doi:10.1109/CVPR.2010.5539949 (TPAMI 2012, doi:10.1109/TPAMI.2011.153).
Wang, J., Yang, J., Yu, K., Lv, F., Huang, T., & Gong, Y. (2010). Locality-constrained
linear coding for image classification. CVPR, doi:10.1109/CVPR.2010.5540018.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..backend import get_array_module, to_device
from ..errors import ConfigError
from ._linalg import as_float, check_descriptors, row_chunks, squared_distances
from .kmeans import KMeans, assign

# -- spatial pyramid ------------------------------------------------------------------------


def pyramid_regions(frames, image_shape=None, levels=(1, 2, 4)):
    """Membership of each descriptor in the cells of a spatial pyramid.

    Parameters
    ----------
    frames : array of shape (P, >=2)
        Host array of descriptor frames, columns ``(y_center, x_center, ...)`` in pixels
        (the ``frames`` of :func:`histnet.features.sift.dense_sift`).
    image_shape : (H, W), optional
        The grid covers ``[0, H) x [0, W)``. Default: the bounding box of the centres.
    levels : sequence of int, default=(1, 2, 4)
        Grid sizes: ``g`` means a g x g grid. Lazebnik et al.'s L=2 pyramid is (1, 2, 4).

    Returns
    -------
    membership : numpy float32 array of shape (P, n_regions)
        ``membership[p, r] = 1`` if descriptor p lies in cell r. Cells are ordered level by
        level, row-major within a level; ``n_regions = sum(g * g)``.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] < 2:
        raise ConfigError(f"pyramid_regions: frames must be (P, >=2) rows (y, x, ...), got shape {frames.shape}")
    levels = tuple(int(g) for g in levels)
    if not levels or min(levels) < 1:
        raise ConfigError(f"pyramid_regions: levels must be positive grid sizes, got {levels}")
    y, x = frames[:, 0], frames[:, 1]
    if image_shape is None:
        y0, y1 = y.min(), y.max() + 1e-6
        x0, x1 = x.min(), x.max() + 1e-6
    else:
        y0, x0 = 0.0, 0.0
        y1, x1 = float(image_shape[0]), float(image_shape[1])
    fy = np.clip((y - y0) / max(y1 - y0, 1e-12), 0, 1 - 1e-9)
    fx = np.clip((x - x0) / max(x1 - x0, 1e-12), 0, 1 - 1e-9)
    cols = []
    for g in levels:
        cell = np.floor(fy * g).astype(np.int64) * g + np.floor(fx * g).astype(np.int64)
        cols.append(np.eye(g * g, dtype=np.float32)[cell])
    return np.concatenate(cols, axis=1)


def pyramid_level_weights(levels=(1, 2, 4)):
    """Lazebnik et al.'s (2006, eq. 3) weight of each region: 1/2^L at level 0, 1/2^(L-l+1) above.

    Returns a numpy float32 array of shape (n_regions,).
    """
    L = len(levels) - 1
    w = [1.0 / 2 ** L if lvl == 0 else 1.0 / 2 ** (L - lvl + 1) for lvl in range(len(levels))]
    return np.concatenate([np.full(g * g, wl, np.float32) for g, wl in zip(levels, w)])


def pyramid_pool(codes, membership, op="sum"):
    """Pool per-descriptor codes over pyramid cells.

    Parameters
    ----------
    codes : xp array of shape (N, P, K)
    membership : numpy array of shape (P, R)
        From :func:`pyramid_regions`.
    op : {"sum", "max"}

    Returns
    -------
    xp array of shape (N, R, K)
        Sums, or maxima (0 for a cell without descriptors).
    """
    xp = get_array_module(codes)
    N, P, K = codes.shape
    if membership.shape[0] != P:
        raise ConfigError(f"pyramid_pool: {P} descriptors per image but {membership.shape[0]} frames")
    if op == "sum":
        M = to_device(membership, xp, dtype=codes.dtype)  # (P, R)
        return xp.matmul(M.T[None], codes)
    if op != "max":
        raise ConfigError(f"pyramid_pool: op must be 'sum' or 'max', got {op!r}")
    out = xp.zeros((N, membership.shape[1], K), dtype=codes.dtype)
    for r in range(membership.shape[1]):  # loop over cells (21), not descriptors
        idx = np.nonzero(membership[:, r])[0]
        if idx.size:
            out[:, r] = codes[:, to_device(idx, xp)].max(axis=1)
    return out


# -- additive-kernel feature maps --------------------------------------------------------------


def hellinger_map(X):
    """Explicit map of the Hellinger (Bhattacharyya) kernel ``k(x, y) = sum sqrt(x_i y_i)``.

    ``psi(x) = sign(x) sqrt(|x|)``, so ``psi(x) . psi(y)`` is the kernel for x, y >= 0.
    Shape is kept.
    """
    xp = get_array_module(X)
    return xp.sign(X) * xp.sqrt(xp.abs(X))


def chi2_map(X, order=2, period=None):
    """Explicit feature map of the additive chi-squared kernel (Vedaldi & Zisserman 2010).

    The kernel ``k(x, y) = sum_i 2 x_i y_i / (x_i + y_i)`` is homogeneous with signature
    ``kappa(lambda) = sech(lambda / 2)``, whose spectrum is ``kappa(omega) = sech(pi omega)``.
    Sampling the spectrum at ``j L`` for ``j = 0..order`` gives ``2 order + 1`` features per
    input dimension::

        psi_0(x)    = sqrt(x L kappa(0))
        psi_2j-1(x) = sqrt(2 x L kappa(j L)) cos(j L log x)
        psi_2j(x)   = sqrt(2 x L kappa(j L)) sin(j L log x)

    Parameters
    ----------
    X : xp array of shape (..., d), non-negative
    order : int, default=2
        Number n of frequencies sampled; the output has d (2n + 1) columns.
    period : float, optional
        Sampling step L. Default: 0.6 for n=1, 0.5 for n=2, 0.45 for n>=3, the values
        that minimise the largest absolute kernel error for x, y in [0, 1] (measured for
        this module; Vedaldi & Zisserman discuss the trade-off in their Sec. 4).

    Returns
    -------
    xp array of shape (..., d * (2 order + 1))
        Features of each input dimension are contiguous.
    """
    xp = get_array_module(X)
    if order < 0:
        raise ConfigError(f"chi2_map: order must be >= 0, got {order}")
    L = period if period is not None else {0: 1.0, 1: 0.6, 2: 0.5}.get(order, 0.45)
    Xc = xp.maximum(X, 0)
    pos = Xc > 0
    logx = xp.log(xp.where(pos, Xc, 1))
    feats = [xp.sqrt(Xc * (L * 1.0))]  # kappa(0) = sech(0) = 1
    for j in range(1, order + 1):
        kappa = 1.0 / math.cosh(math.pi * j * L)
        amp = xp.sqrt(Xc * (2.0 * L * kappa))
        feats.append(amp * xp.cos(j * L * logx))
        feats.append(amp * xp.sin(j * L * logx))
    out = xp.stack(feats, axis=-1)  # (..., d, 2n+1)
    return out.reshape(X.shape[:-1] + (X.shape[-1] * (2 * order + 1),))


def chi2_kernel(x, y):
    """Additive chi-squared kernel ``sum_i 2 x_i y_i / (x_i + y_i)`` (0/0 := 0), numpy, for tests."""
    x = np.asarray(x, np.float64)[:, None, :]
    y = np.asarray(y, np.float64)[None, :, :]
    s = x + y
    return np.where(s > 0, 2 * x * y / np.where(s > 0, s, 1), 0).sum(-1)


def kernel_map(X, kernel, order=2):
    """Apply the feature map named ``kernel`` (``"hellinger"``, ``"chi2"``, ``"linear"``/None)."""
    if kernel in (None, "linear", "none"):
        return X
    if kernel == "hellinger":
        return hellinger_map(X)
    if kernel == "chi2":
        return chi2_map(X, order=order)
    raise ConfigError(f"kernel_map: kernel must be 'hellinger', 'chi2' or 'linear', got {kernel!r}")


def kernel_map_dim(dim, kernel, order=2):
    """Output dimension of :func:`kernel_map` for ``dim`` inputs."""
    return dim * (2 * order + 1) if kernel == "chi2" else dim


class AdditiveKernelMap(TransformerMixin, BaseEstimator):
    """Explicit feature map of an additive kernel, as a transformer (stateless).

    Parameters
    ----------
    kernel : {"hellinger", "chi2", "linear"}, default="chi2"
    order : int, default=2
        Frequencies of the chi-squared map (:func:`chi2_map`).

    Attributes
    ----------
    n_features_in_ : int
    """

    def __init__(self, kernel="chi2", *, order=2):
        self.kernel = kernel
        self.order = order

    def fit(self, X, y=None):
        """Check the parameters and remember the input width; returns self."""
        if self.kernel not in ("hellinger", "chi2", "linear"):
            raise ConfigError(f"AdditiveKernelMap: kernel must be 'hellinger', 'chi2' or 'linear', "
                              f"got {self.kernel!r}")
        if not isinstance(self.order, (int, np.integer)) or self.order < 0:
            raise ConfigError(f"AdditiveKernelMap: order must be a non-negative integer, got {self.order!r}")
        self.n_features_in_ = int(X.shape[-1])
        return self

    def transform(self, X):
        """(n, d) non-negative features -> (n, d) (Hellinger) or (n, d (2 order + 1)) (chi2)."""
        if not hasattr(self, "n_features_in_"):
            raise ConfigError("AdditiveKernelMap.transform: not fitted yet (call fit first)")
        check_descriptors(X, "AdditiveKernelMap.transform", self.n_features_in_)
        return kernel_map(X, self.kernel, self.order)


# -- coding ---------------------------------------------------------------------------------------


def hard_codes(X, centers):
    """One-hot codes of the nearest codeword. X (n, d), centers (k, d) -> (n, k)."""
    xp = get_array_module(X)
    labels, _ = assign(X, centers)
    return (labels[:, None] == xp.arange(centers.shape[0])[None, :]).astype(X.dtype)


def soft_codes(X, centers, sigma):
    """Kernel-codebook weights ``softmax_k(-|x - c_k|^2 / (2 sigma^2))``, (n, d) -> (n, k)."""
    xp = get_array_module(X)
    C_sq = (centers * centers).sum(axis=1)
    out = xp.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
    for s in row_chunks(X.shape[0], centers.shape[0]):
        a = squared_distances(X[s], centers, C_sq) * (-0.5 / sigma ** 2)
        a -= a.max(axis=1, keepdims=True)
        e = xp.exp(a)
        out[s] = e / e.sum(axis=1, keepdims=True)
    return out


def llc_codes(X, centers, n_neighbors=5, beta=1e-4):
    """Approximated locality-constrained linear codes (Wang et al. 2010, Sec. 3 / Alg. 4.1).

    For each descriptor x: B_i = its ``n_neighbors`` nearest codewords,
    ``C = (B_i - 1 x')(B_i - 1 x')'`` (shift by x, which the constraint 1'c = 1 makes
    harmless), ``C <- C + beta tr(C) I``, ``c = C^-1 1``, ``c <- c / 1'c``.

    Parameters
    ----------
    X : xp array of shape (n, d)
    centers : xp array of shape (k, d)
    n_neighbors : int, default=5
    beta : float, default=1e-4
        Regularisation, relative to tr(C) as in the authors' code.

    Returns
    -------
    codes : xp array of shape (n, k)
        At most ``n_neighbors`` non-zeros per row, summing to 1.
    """
    xp = get_array_module(X)
    k = centers.shape[0]
    kn = min(int(n_neighbors), k)
    C_sq = (centers * centers).sum(axis=1)
    out = xp.zeros((X.shape[0], k), dtype=X.dtype)
    eye = xp.eye(kn, dtype=X.dtype)
    ones = xp.ones((1, kn, 1), dtype=X.dtype)
    for s in row_chunks(X.shape[0], k):
        Xs = X[s]
        d2 = squared_distances(Xs, centers, C_sq)
        nn = xp.argpartition(d2, kn - 1, axis=1)[:, :kn] if kn < k else xp.broadcast_to(
            xp.arange(k)[None, :], (Xs.shape[0], k))
        z = centers[nn] - Xs[:, None, :]  # (m, kn, d)
        G = xp.matmul(z, z.transpose(0, 2, 1))  # (m, kn, kn)
        tr = xp.trace(G, axis1=1, axis2=2)
        G = G + (beta * xp.maximum(tr, 1e-12))[:, None, None] * eye[None]
        c = xp.linalg.solve(G, xp.broadcast_to(ones, (Xs.shape[0], kn, 1)))[..., 0]
        c = c / c.sum(axis=1, keepdims=True)
        rows = xp.arange(s.start, s.stop)[:, None]
        out[rows, nn] = c
    return out


# -- encoders ---------------------------------------------------------------------------------------


class _PyramidEncoder(TransformerMixin, BaseEstimator):
    """Shared fit (k-means codebook) and transform plumbing for BoVW and LLC."""

    _name = "encoder"

    def _check_common(self):
        if not isinstance(self.n_words, (int, np.integer)) or self.n_words < 1:
            raise ConfigError(f"{self._name}: n_words must be a positive integer, got {self.n_words!r}")
        if not self.levels or min(self.levels) < 1:
            raise ConfigError(f"{self._name}: levels must be positive grid sizes, got {self.levels!r}")
        if self.kernel not in ("hellinger", "chi2", "linear", "none", None):
            raise ConfigError(f"{self._name}: kernel must be 'hellinger', 'chi2' or 'linear', got {self.kernel!r}")

    def _fit_codebook(self, X):
        check_descriptors(X, f"{self._name}.fit")
        self._check_common()
        self.codebook_ = KMeans(self.n_words, algorithm=self.kmeans_algorithm, max_iter=self.kmeans_iter,
                                random_state=self.random_state).fit(as_float(X))
        self.n_features_in_ = int(X.shape[1])
        return self.codebook_.cluster_centers_

    def set_codebook(self, centers):
        """Use given codewords (xp array (n_words, d)) instead of fitting k-means."""
        self._check_common()
        km = KMeans(int(centers.shape[0]))
        km.cluster_centers_ = centers
        km.n_features_in_ = int(centers.shape[1])
        self.codebook_ = km
        self.n_features_in_ = int(centers.shape[1])
        self._after_codebook(centers)
        return self

    def _after_codebook(self, centers):
        pass

    def _prepare(self, X, frames, image_shape, what):
        if not hasattr(self, "codebook_"):
            raise ConfigError(f"{self._name}.{what}: the codebook is not fitted yet (call fit first)")
        check_descriptors(X, f"{self._name}.{what}", self.n_features_in_, ndim=3)
        N, P, _ = X.shape
        if frames is None:
            membership = np.ones((P, 1), np.float32)
            levels = (1,)
        else:
            levels = tuple(self.levels)
            membership = pyramid_regions(frames, image_shape, levels)
            if membership.shape[0] != P:
                raise ConfigError(f"{self._name}.{what}: {P} descriptors per image but {membership.shape[0]} frames")
        return as_float(X, self.codebook_.cluster_centers_.dtype), membership, levels

    @property
    def n_regions(self):
        return sum(g * g for g in self.levels)

    def output_dim(self, with_pyramid=True):
        """Length of the encoded vector (with the pyramid of ``levels``, after the kernel map)."""
        R = self.n_regions if with_pyramid else 1
        return kernel_map_dim(R * self.n_words, self.kernel, self.map_order)


class BagOfWords(_PyramidEncoder):
    """Bag of visual words with a spatial pyramid and an additive-kernel map.

    Parameters
    ----------
    n_words : int, default=256
        Codebook size (k-means centres).
    assignment : {"hard", "soft"}, default="hard"
        Nearest codeword, or the kernel codebook of van Gemert et al.
    sigma : float, optional
        Gaussian width of soft assignment; default: half the root mean squared distance of
        the fitting descriptors to their nearest codeword (van Gemert et al. tune it by
        cross-validation; this rule is this module's heuristic).
    levels : tuple of int, default=(1, 2, 4)
        Spatial pyramid grids (Lazebnik et al. 2006).
    kernel : {"hellinger", "chi2", "linear"}, default="hellinger"
        Feature map applied to the weighted histograms.
    map_order : int, default=2
        Order of the chi-squared map.
    kmeans_algorithm : {"lloyd", "minibatch"}, default="lloyd"
    kmeans_iter : int, default=30
    random_state : int, optional

    Attributes
    ----------
    codebook_ : KMeans
    sigma_ : float
    n_features_in_ : int
    """

    _name = "BagOfWords"

    def __init__(self, n_words=256, *, assignment="hard", sigma=None, levels=(1, 2, 4), kernel="hellinger",
                 map_order=2, kmeans_algorithm="lloyd", kmeans_iter=30, random_state=None):
        self.n_words = n_words
        self.assignment = assignment
        self.sigma = sigma
        self.levels = levels
        self.kernel = kernel
        self.map_order = map_order
        self.kmeans_algorithm = kmeans_algorithm
        self.kmeans_iter = kmeans_iter
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit the codebook on descriptors ``X`` (xp array (n, d)); returns self."""
        if self.assignment not in ("hard", "soft"):
            raise ConfigError(f"BagOfWords: assignment must be 'hard' or 'soft', got {self.assignment!r}")
        centers = self._fit_codebook(X)
        self._after_codebook(centers, X)
        return self

    def _after_codebook(self, centers, X=None):
        if self.sigma is not None:
            self.sigma_ = float(self.sigma)
        elif X is not None:
            # Half the RMS distance to the nearest word: with the RMS distance itself the weights
            # are nearly flat over the nearest few words (mnist5k quick profile: 9.9% error,
            # against 2.8% with half of it).
            self.sigma_ = 0.5 * math.sqrt(max(self.codebook_.inertia_ / X.shape[0], 1e-12))
        else:
            self.sigma_ = 1.0

    def codes(self, X):
        """Per-descriptor codes (n, d) -> (n, n_words): one-hot or soft weights."""
        if self.assignment == "soft":
            return soft_codes(X, self.codebook_.cluster_centers_, self.sigma_)
        return hard_codes(X, self.codebook_.cluster_centers_)

    def transform(self, X, frames=None, image_shape=None, mask=None):
        """Encode images.

        Parameters
        ----------
        X : xp array of shape (N, P, d)
            Descriptors of N images, P per image.
        frames : array of shape (P, 3), optional
            ``(y, x, bin_size)`` of each descriptor; without it, one histogram per image.
        image_shape : (H, W), optional
        mask : xp array of shape (N, P), optional
            1 for descriptors to count, 0 for those to ignore (e.g. below the SIFT
            contrast threshold); histograms are divided by each image's count.

        Returns
        -------
        xp array of shape (N, output_dim)
        """
        X, membership, levels = self._prepare(X, frames, image_shape, "transform")
        xp = get_array_module(X)
        N, P, d = X.shape
        codes = self.codes(X.reshape(N * P, d)).reshape(N, P, -1)
        if mask is None:
            count = xp.full((N, 1, 1), float(P), dtype=X.dtype)
        else:
            mask = xp.asarray(mask, dtype=X.dtype)
            codes = codes * mask[:, :, None]
            count = xp.maximum(mask.sum(axis=1), 1)[:, None, None]
        hist = pyramid_pool(codes, membership, "sum") / count  # (N, R, K)
        w = to_device(pyramid_level_weights(levels), xp, dtype=hist.dtype)
        hist = hist * w[None, :, None]
        return kernel_map(hist.reshape(N, -1), self.kernel, self.map_order)


class LLC(_PyramidEncoder):
    """Locality-constrained linear coding with max pooling over a spatial pyramid.

    Parameters
    ----------
    n_words : int, default=1024
        Codebook size (k-means centres).
    n_neighbors : int, default=5
        Codewords per descriptor (the paper's k = 5).
    beta : float, default=1e-4
        Regularisation of the local covariance, relative to its trace.
    levels : tuple of int, default=(1, 2, 4)
    kernel : {"linear", "hellinger", "chi2"}, default="linear"
        LLC is meant for a linear SVM (the paper's point); a map is optional.
    map_order : int, default=2
    kmeans_algorithm, kmeans_iter, random_state
        As :class:`BagOfWords`.

    Attributes
    ----------
    codebook_ : KMeans
    n_features_in_ : int
    """

    _name = "LLC"

    def __init__(self, n_words=1024, *, n_neighbors=5, beta=1e-4, levels=(1, 2, 4), kernel="linear",
                 map_order=2, kmeans_algorithm="lloyd", kmeans_iter=30, random_state=None):
        self.n_words = n_words
        self.n_neighbors = n_neighbors
        self.beta = beta
        self.levels = levels
        self.kernel = kernel
        self.map_order = map_order
        self.kmeans_algorithm = kmeans_algorithm
        self.kmeans_iter = kmeans_iter
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit the codebook on descriptors ``X`` (xp array (n, d)); returns self."""
        if not isinstance(self.n_neighbors, (int, np.integer)) or self.n_neighbors < 1:
            raise ConfigError(f"LLC: n_neighbors must be a positive integer, got {self.n_neighbors!r}")
        self._fit_codebook(X)
        return self

    def codes(self, X):
        """LLC codes (n, d) -> (n, n_words)."""
        return llc_codes(X, self.codebook_.cluster_centers_, self.n_neighbors, self.beta)

    def transform(self, X, frames=None, image_shape=None, mask=None):
        """Encode images: (N, P, d) descriptors -> (N, output_dim), max-pooled and L2-normalised.

        ``frames`` (P, 3), ``image_shape`` and ``mask`` (N, P) as :meth:`BagOfWords.transform`
        (a masked descriptor's code is zero).
        """
        X, membership, _ = self._prepare(X, frames, image_shape, "transform")
        xp = get_array_module(X)
        N, P, d = X.shape
        codes = self.codes(X.reshape(N * P, d)).reshape(N, P, -1)
        if mask is not None:
            codes = codes * xp.asarray(mask, dtype=X.dtype)[:, :, None]
        pooled = pyramid_pool(codes, membership, "max").reshape(N, -1)
        pooled = pooled / xp.maximum(xp.sqrt((pooled * pooled).sum(axis=1, keepdims=True)), 1e-12)
        return kernel_map(pooled, self.kernel, self.map_order)
