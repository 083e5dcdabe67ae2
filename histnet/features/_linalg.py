"""Small array helpers shared by the codebooks and encoders (PCA, k-means, GMM, encodings).

Everything here is written against ``xp`` (numpy, cupy or the CPU stand-in) and is
batched: squared Euclidean distances come from one GEMM,
``|x|^2 - 2 x.c + |c|^2``, computed in row chunks so that the (chunk, K) distance
block, not the (N, K) matrix, bounds the memory.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..errors import ConfigError

#: Upper bound on the elements of one (rows, K) working block (64 MB in float32).
BLOCK_ELEMENTS = 1 << 24


def row_chunks(n_rows: int, n_cols: int, block: int = BLOCK_ELEMENTS):
    """Yield ``slice`` objects that cut ``n_rows`` rows into blocks of about ``block`` elements.

    Parameters
    ----------
    n_rows : int
        Rows to cover (descriptors).
    n_cols : int
        Width of the per-row working array (codewords, components).
    block : int, default=BLOCK_ELEMENTS
        Largest number of elements a block may hold.
    """
    step = max(1, block // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def squared_distances(X, C, C_sq=None, X_sq=None):
    """Squared Euclidean distances between rows of ``X`` and rows of ``C`` by one GEMM.

    ``d2[i, k] = |x_i|^2 - 2 x_i . c_k + |c_k|^2``, clipped at 0 (rounding can make the
    expansion slightly negative).

    Parameters
    ----------
    X : xp array of shape (n, d)
    C : xp array of shape (k, d)
    C_sq : xp array of shape (k,), optional
        Precomputed ``|c_k|^2``.
    X_sq : xp array of shape (n,), optional
        Precomputed ``|x_i|^2``.

    Returns
    -------
    d2 : xp array of shape (n, k), dtype of ``X``
    """
    xp = get_array_module(X, C)
    if C_sq is None:
        C_sq = (C * C).sum(axis=1)
    if X_sq is None:
        X_sq = (X * X).sum(axis=1)
    d2 = X @ C.T
    d2 *= -2
    d2 += X_sq[:, None]
    d2 += C_sq[None, :]
    return xp.maximum(d2, 0, out=d2)


def logsumexp(a, axis):
    """``log(sum(exp(a), axis))`` computed stably; returns the reduced array (keepdims=False)."""
    xp = get_array_module(a)
    m = a.max(axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    out = xp.log(xp.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return xp.squeeze(out, axis=axis)


def check_descriptors(X, what: str, n_features=None, ndim=2):
    """Validate a descriptor array at an estimator's boundary.

    Parameters
    ----------
    X : xp array
        Descriptors, shape (n, d) (``ndim=2``) or (n_images, n_per_image, d) (``ndim=3``).
    what : str
        Name used in the error, e.g. ``"KMeans.transform"``.
    n_features : int, optional
        The dimension the estimator was fitted on; a different ``d`` is refused.
    ndim : int or tuple of int, default=2

    Raises
    ------
    ConfigError
        Wrong rank, no rows, or a descriptor dimension other than the fitted one.
    """
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) not in ndims:
        want = " or ".join(f"{d}-d" for d in ndims)
        raise ConfigError(f"{what}: descriptors must be a {want} array, got shape {shape}")
    if len(shape) == 2 and shape[0] == 0:
        raise ConfigError(f"{what}: got zero descriptors")
    if np.dtype(X.dtype).kind not in "fiu":
        raise ConfigError(f"{what}: descriptors must be numeric, got dtype {X.dtype}")
    if n_features is not None and shape[-1] != n_features:
        raise ConfigError(
            f"{what}: descriptors have dimension {shape[-1]} but this codebook was fitted on "
            f"dimension {n_features}"
        )


def as_float(X, dtype=None):
    """``X`` as float32 (or ``dtype``) on its own device, without copying when it already is."""
    xp = get_array_module(X)
    dt = np.dtype(dtype) if dtype is not None else (
        X.dtype if np.dtype(X.dtype) in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float32))
    return xp.asarray(X, dtype=dt)
