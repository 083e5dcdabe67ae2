"""Small array helpers shared by the codebooks and encoders (PCA, k-means, GMM, encodings).

Everything here is written against ``xp`` (numpy, cupy or the CPU stand-in) and is
batched: squared Euclidean distances come from one GEMM,
``|x|^2 - 2 x.c + |c|^2``, computed in row chunks so that the (chunk, K) distance
block, not the (N, K) matrix, bounds the memory.

``check_descriptors``, the boundary check of these estimators, is
:func:`histnet.validation.check_descriptors`, re-exported here for their imports.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..validation import check_descriptors  # noqa: F401 (re-exported for the estimators here)

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


def as_float(X, dtype=None):
    """``X`` as float32 (or ``dtype``) on its own device, without copying when it already is."""
    xp = get_array_module(X)
    dt = np.dtype(dtype) if dtype is not None else (
        X.dtype if np.dtype(X.dtype) in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float32))
    return xp.asarray(X, dtype=dt)
