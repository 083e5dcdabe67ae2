"""Winograd minimal filtering for stride-1 convolutions: fewer multiplications, smaller caches.

Lavin & Gray (2015), "Fast Algorithms for Convolutional Neural Networks" (arXiv:1509.09308),
after Winograd (1980) and Cook-Toom. F(m, r) computes m outputs of a 1-D correlation with an
r-tap filter from an input tile of ``a = m + r - 1`` values as

    y = A^T [(G g) * (B^T d)]                      (A^T: m x a, G: a x r, B^T: a x a)

and the 2-D version nests it, ``Y = A^T [(G g G^T) * (B^T d B)] A``, on ``a x a`` input tiles
taken every m pixels. Over a batch, the elementwise product becomes, for each of the a*a
transform positions xi, one GEMM over channels (Lavin & Gray, Sec. 4):

    V[xi] = (B^T d B)[xi]    (P tiles, C)           input transform: one (a^2 x a^2) GEMM
    U[xi] = (G g G^T)[xi]    (C, F)                 filter transform
    M[xi] = V[xi] @ U[xi]    (P, F)                 a*a GEMMs: the only O(P C F) work
    Y     = A^T M A          (m*m outputs a tile)   output transform: one (m^2 x a^2) GEMM

F(4x4, 3x3) does the 3x3 layers with 36 products per 16 outputs where im2col + GEMM does
144 (4x fewer); F(4x4, 5x5) does the 5x5 layers with 64 per 16 against 400 (6.25x fewer).
The cache backward reads is V, (a/m)^2 times the input (2.25x for 3x3, 4x for 5x5), not
im2col's k*k times (9x, 25x).

Backward is the exact adjoint of those four steps (so a finite-difference check of the
Winograd layer passes to float64 precision):

    dM[xi] = (A dY A^T)[xi]                          one GEMM on the output-gradient tiles
    dU[xi] = V[xi]^T @ dM[xi]   ->  dW = G^T dU G    weight gradient
    dV[xi] = dM[xi] @ U[xi]^T   ->  dD = B dV B^T    input-gradient tiles, then added back
                                                     where the a x a input tiles overlap

The price is rounding: the transforms multiply by interpolation-point powers, so a float32
output differs from direct convolution by a relative ~1e-5 (F(4,5) with points 0, +-1, +-2,
+-1/2) instead of ~1e-7; ``tests/test_nn_winograd.py`` bounds it in float32 and float64.
:class:`histnet.nn.Conv2D` takes this path on the CPU where it is faster (``algo="auto"``: see
:func:`use_winograd`); ``algo="im2col"`` keeps the direct sums.

On the CPU the four steps run on a few images at a time (a chunk whose transformed arrays are
about 1 MB, 4 MB for 5x5), each thread its own chunks with single-threaded GEMMs, so a chunk's
tiles, V and M are read from the core's cache and not from memory: ResNet's 32-channel layer
took 12.7 ms forward and backward against 18.0 for the four steps over the whole batch, its
16-channel layer 17.3 against 29.3. A layer whose chunk GEMMs would have fewer than
MIN_CHUNK_TILES rows (many channels on a small map) takes the whole batch at once, with all of
BLAS's threads.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..backend import get_array_module
from .parallel import copyto, over_batch, over_batch_gemms

# interpolation points of the a - 1 finite points (the last is "infinity"); small and
# symmetric, the choice of Lavin & Gray's and most libraries' F(2,3) / F(4,3) matrices
_POINTS = {4: (0.0, 1.0, -1.0), 6: (0.0, 1.0, -1.0, 2.0, -2.0), 8: (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5)}

#: output tile size used for 3x3 and 5x5 kernels (F(4x4, r x r)); measured faster than m = 2
TILE = 4

#: ``Conv2D(algo="auto")`` takes Winograd from this many channels in and out per group
MIN_CHANNELS = 16


@lru_cache(maxsize=None)
def winograd_matrices(m: int, r: int):
    """``(A^T, G, B^T)`` of F(m, r) as float64 numpy arrays, shapes (m, a), (a, r), (a, a).

    A^T and G come from the Cook-Toom construction (Vandermonde rows of the points, G scaled
    by the Lagrange denominators); B^T is then the unique matrix making
    ``A^T[(G g) * (B^T d)]`` the correlation ``y_i = sum_k d_{i+k} g_k`` for every d and g,
    solved for and checked to 1e-9 here rather than copied from a table.
    """
    a = m + r - 1
    if a not in _POINTS:
        raise ValueError(f"no interpolation points for F({m}, {r}) (tile {a})")
    p = np.array(_POINTS[a])
    at = np.zeros((m, a))
    at[:, :a - 1] = p[None, :] ** np.arange(m)[:, None]
    at[m - 1, a - 1] = 1.0
    denom = np.array([np.prod([pj - pl for pl in p if pl != pj]) for pj in p])
    g = np.zeros((a, r))
    g[:a - 1] = p[:, None] ** np.arange(r)[None, :] / denom[:, None]
    g[a - 1, r - 1] = 1.0
    # sum_j A^T[i, j] G[j, k] B^T[j, l] = [l == i + k] for every output i and tap k
    rows = np.array([at[i] * g[:, k] for i in range(m) for k in range(r)])
    rhs = np.zeros((m * r, a))
    for i in range(m):
        for k in range(r):
            rhs[i * r + k, i + k] = 1.0
    bt = np.linalg.lstsq(rows, rhs, rcond=None)[0]
    if np.abs(rows @ bt - rhs).max() > 1e-9:  # the system is consistent for distinct points
        raise ArithmeticError(f"F({m}, {r}): no exact input transform for these points")
    bt[np.abs(bt) < 1e-12] = 0.0
    return at, g, bt


@lru_cache(maxsize=None)
def _kron(m: int, r: int, dtype):
    """The 2-D transforms as single matrices: B^T (x) B^T, G (x) G, A^T (x) A^T."""
    at, g, bt = winograd_matrices(m, r)
    return tuple(np.ascontiguousarray(np.kron(t, t), dtype=dtype) for t in (bt, g, at))


def use_winograd(xp, kernel_size: int, stride: int, in_channels: int, out_channels: int) -> bool:
    """Whether ``Conv2D(algo="auto")`` takes this path: the rule, measured on the CPU.

    Stride 1, a 3x3 or 5x5 kernel, numpy arrays, and at least MIN_CHANNELS (16) channels in
    and out per group. Over the whole batch at once the a*a GEMMs at 16 channels were too thin
    to repay the transforms' passes over memory (0.76x of im2col's speed); a few images at a
    time (:func:`forward`) they stay in the cache, and ResNet's 16-channel layer took 17.3 ms
    forward and backward against 28.7 for im2col in chunks. From 32 channels on the layers
    measured were 1.1-3x faster than im2col (``docs/cnn.md`` has the figures). Below 16 (the
    3-channel first layers) the im2col paths stay. On a GPU the im2col kernels stay (no
    measurement there yet).
    """
    return (xp is np and stride == 1 and kernel_size in (3, 5)
            and min(in_channels, out_channels) >= MIN_CHANNELS)


def _transformed(mat, t):
    """``mat @ t`` over t's leading transform positions: (p, q) @ t as (q, rest) -> (p, rest)."""
    return mat @ t.reshape(mat.shape[1], -1)


def filter_transform(W, m: int = TILE):
    """U (a*a, C, F) from filters W (F, r, r, C), in W's dtype."""
    xp = get_array_module(W)
    f, r, _, c = W.shape
    _, gg, _ = _kron(m, r, np.dtype(W.dtype))
    wr = W.reshape(f, r * r, c).transpose(1, 2, 0)  # (r*r, C, F)
    return _transformed(xp.asarray(gg), xp.ascontiguousarray(wr)).reshape(-1, c, f)


#: floats of one transformed array (V, M) a thread works on at once: about 1 MB for 3x3 kernels,
#: 4 MB for 5x5 (their F(4x4) tiles are 8x8, and larger chunks measured faster there)
CHUNK_FLOATS = {3: 1 << 18, 5: 1 << 20}


#: fewest tiles (GEMM rows) a chunk may have: a layer whose chunks would have fewer (many
#: channels on a small map: alexnet 227's 13-px layers, 16-32 tiles a chunk, were 1-11% slower
#: in chunks) takes the whole batch at once instead
MIN_CHUNK_TILES = 48


def _chunk(xp, n: int, a: int, tiles: int, channels: int, r: int) -> int:
    """Images per chunk: the transformed arrays of a chunk stay in the cache between the four
    steps (numpy); the whole batch at once under cupy, or where a chunk's GEMMs would have
    fewer than MIN_CHUNK_TILES rows."""
    b = max(1, CHUNK_FLOATS.get(r, 1 << 18) // (a * a * tiles * channels))
    if xp is not np or b * tiles < MIN_CHUNK_TILES:
        return max(n, 1)
    return b


def _run_chunks(work, nchunks: int, xp) -> None:
    """``work(chunks)`` over the chunks: on the layer threads with BLAS on one thread each; a
    single chunk (the whole batch) on this thread with all of BLAS's threads, its copies then
    split over the layer threads (inside the layer threads they run where they are called)."""
    if nchunks == 1:
        work(slice(0, 1))
    else:
        over_batch_gemms(work, nchunks, xp)


def _untile(Y, out, oh: int, ow: int, xp) -> None:
    """out (k, oh, ow, f) from output tiles Y (m, m, k, th, tw, f): one copy when the tiles
    cover the map exactly, else through a (k, th*m, tw*m, f) array cut to size."""
    m, _, k, th, tw, f = Y.shape
    tiled = Y.transpose(2, 3, 0, 4, 1, 5)
    if (th * m, tw * m) == (oh, ow):
        copyto(out.reshape(k, th, m, tw, m, f), tiled, xp)
    else:
        copyto(out, tiled.reshape(k, th * m, tw * m, f)[:, :oh, :ow], xp)


def forward(x, W, pad: int, m: int = TILE):
    """y = conv(x, W) (no bias), stride 1, zero padding ``pad``; NHWC in and out.

    Returns ``(y, cache)``; ``cache`` holds what :func:`backward` reads (V and U).

    On the CPU the batch goes a few images at a time (:func:`_chunk`), each thread its own
    chunks with BLAS on one thread (:func:`histnet.nn.parallel.over_batch_gemms`), so a chunk's
    tiles, V and M are still in the core's cache for the next step: at 32 and 64 channels this
    was 1.2-2x faster than the four steps over the whole batch (``docs/cnn.md``).
    """
    xp = get_array_module(x)
    n, h, w, c = x.shape
    f, r = W.shape[0], W.shape[1]
    a = m + r - 1
    oh, ow = h + 2 * pad - r + 1, w + 2 * pad - r + 1
    th, tw = -(-oh // m), -(-ow // m)  # tiles down and across; the last ones may overhang
    T = th * tw
    bb, _, aa = (xp.asarray(t) for t in _kron(m, r, np.dtype(x.dtype)))
    U = filter_transform(W, m)
    b = _chunk(xp, n, a, T, max(c, f), r)
    V = [None] * (-(-n // b))  # each chunk's (a*a, tiles, C), kept for backward
    y = xp.empty((n, oh, ow, f), dtype=x.dtype)

    def work(chunks):
        for ci in range(chunks.start, chunks.stop):
            i, j = ci * b, min(n, ci * b + b)
            k = j - i
            xpad = xp.zeros((k, th * m + r - 1, tw * m + r - 1, c), dtype=x.dtype)
            copyto(xpad[:, pad:pad + h, pad:pad + w], x[i:j], xp)
            sn, sh, sw, sc = xpad.strides
            tiles = xp.lib.stride_tricks.as_strided(xpad, (a, a, k, th, tw, c), (sh, sw, sn, sh * m, sw * m, sc))
            d = xp.empty(tiles.shape, dtype=x.dtype)
            copyto(d, tiles, xp)  # the tile gather
            V[ci] = _transformed(bb, d).reshape(a * a, k * T, c)
            Y = _transformed(aa, xp.matmul(V[ci], U)).reshape(m, m, k, th, tw, f)
            _untile(Y, y[i:j], oh, ow, xp)

    _run_chunks(work, len(V), xp)
    return y, (V, U, x.shape, pad, m, r, b)


def backward(dy, cache, need_input_grad: bool = True):
    """Gradients of :func:`forward`: ``(dW, dx)``; dx is None without ``need_input_grad``.

    Chunk by chunk as forward; dU is the sum of the chunks' products, added in chunk order (the
    same bits on any number of threads)."""
    xp = get_array_module(dy)
    V, U, (n, h, w, c), pad, m, r, b = cache
    a = m + r - 1
    f = dy.shape[3]
    oh, ow = dy.shape[1:3]
    th, tw = -(-oh // m), -(-ow // m)
    bb, gg, aa = (xp.asarray(t) for t in _kron(m, r, np.dtype(dy.dtype)))
    dU = xp.empty((len(V), a * a, c, f), dtype=dy.dtype)
    dx = xp.empty((n, h, w, c), dtype=dy.dtype) if need_input_grad else None

    def work(chunks):
        for ci in range(chunks.start, chunks.stop):
            i, j = ci * b, min(n, ci * b + b)
            k = j - i
            dyc = dy[i:j]
            if (th * m, tw * m) != (oh, ow):  # overhanging tiles: their outputs were cut, no gradient
                full = xp.zeros((k, th * m, tw * m, f), dtype=dy.dtype)
                full[:, :oh, :ow] = dyc
                dyc = full
            tiles = dyc.reshape(k, th, m, tw, m, f).transpose(2, 4, 0, 1, 3, 5)
            dyt = xp.empty(tiles.shape, dtype=dy.dtype)
            copyto(dyt, tiles, xp)
            dM = _transformed(aa.T, dyt).reshape(a * a, k * th * tw, f)
            xp.matmul(V[ci].transpose(0, 2, 1), dM, out=dU[ci])  # (a*a, C, F)
            if dx is None:
                continue
            dV = xp.matmul(dM, U.transpose(0, 2, 1))  # (a*a, tiles, C)
            dD = _transformed(bb.T, dV).reshape(a, a, k, th, tw, c)
            dxpad = xp.empty((k, th * m + r - 1, tw * m + r - 1, c), dtype=dy.dtype)

            def overlap_add(s):  # images s: a*a slab additions where the input tiles overlap
                dxpad[s] = 0
                for p in range(a):
                    for q in range(a):
                        dxpad[s, p:p + th * m:m, q:q + tw * m:m] += dD[p, q, s]

            over_batch(overlap_add, k, dD.size, xp)
            copyto(dx[i:j], dxpad[:, pad:pad + h, pad:pad + w], xp)

    _run_chunks(work, len(V), xp)
    dW = _transformed(gg.T, dU.sum(axis=0)).reshape(r * r, c, f).transpose(2, 0, 1).reshape(f, r, r, c)
    return xp.ascontiguousarray(dW), dx
