"""CUDA kernels (cupy ``ElementwiseKernel``) for im2col and col2im on NHWC arrays.

These are the GPU halves of :func:`histnet.nn.conv.im2col` and
:func:`histnet.nn.conv.col2im`, with the same arguments; the dispatcher there picks them
when the array module is real cupy, and the CPU versions (strided views, loops over
kernel offsets) are the reference they must match. Each is one kernel launch with one
thread per output element:

* ``im2col_gpu``: thread i computes one entry of cols (N, Ho, Wo, kh, kw, C) as a gather.
* ``col2im_gpu``: thread i computes one entry of the padded image (N, Hp, Wp, C) by
  summing the patch entries that cover it (a gather, so no atomics and a deterministic
  order).

Pooling and LRN need no kernel of their own: their xp code (slab maxima, one GEMM with a
band matrix) already runs as device-wide cupy operations. cuDNN is not used (CuPy 14
ships without it).

Status: written against cupy's documented ``ElementwiseKernel`` API; this project's CI
has no GPU, so these kernels are exercised only where cupy and a CUDA device exist
(``tests/test_nn_conv.py`` compares them with the CPU versions when they do).
"""

from __future__ import annotations

_KERNELS: dict = {}


def _get(name):
    if name in _KERNELS:
        return _KERNELS[name]
    import cupy as cp

    if name == "im2col":
        k = cp.ElementwiseKernel(
            "raw T img, int32 h, int32 w, int32 c, int32 kh, int32 kw, int32 s, int32 oh, int32 ow",
            "T col",
            """
            ptrdiff_t r = i;
            const int ci = r % c; r /= c;
            const int b = r % kw; r /= kw;
            const int a = r % kh; r /= kh;
            const int x = r % ow; r /= ow;
            const int y = r % oh; const ptrdiff_t n = r / oh;
            col = img[((n * h + (ptrdiff_t)(y * s + a)) * w + (x * s + b)) * c + ci];
            """,
            "histnet_im2col_nhwc")
    else:
        k = cp.ElementwiseKernel(
            "raw T col, int32 hp, int32 wp, int32 c, int32 kh, int32 kw, int32 s, int32 oh, int32 ow",
            "T img",
            """
            ptrdiff_t r = i;
            const int ci = r % c; r /= c;
            const int xw = r % wp; r /= wp;
            const int yh = r % hp; const ptrdiff_t n = r / hp;
            T acc = 0;
            for (int a = 0; a < kh; ++a) {
                const int ty = yh - a;
                if (ty < 0 || ty % s != 0 || ty / s >= oh) continue;
                for (int b = 0; b < kw; ++b) {
                    const int tx = xw - b;
                    if (tx < 0 || tx % s != 0 || tx / s >= ow) continue;
                    acc += col[((((n * oh + ty / s) * ow + tx / s) * kh + a) * kw + b) * c + ci];
                }
            }
            img = acc;
            """,
            "histnet_col2im_nhwc")
    _KERNELS[name] = k
    return k


def im2col_gpu(x_padded, kh: int, kw: int, stride: int, out_h: int, out_w: int):
    """GPU :func:`histnet.nn.conv.im2col`: (N, Hp, Wp, C) -> (N, Ho, Wo, kh, kw, C)."""
    import cupy as cp

    x = cp.ascontiguousarray(x_padded)
    n, h, w, c = x.shape
    out = cp.empty((n, out_h, out_w, kh, kw, c), dtype=x.dtype)
    _get("im2col")(x, h, w, c, kh, kw, stride, out_h, out_w, out)
    return out


def col2im_gpu(cols, padded_shape, stride: int):
    """GPU :func:`histnet.nn.conv.col2im`: (N, Ho, Wo, kh, kw, C) -> ``padded_shape``."""
    import cupy as cp

    cols = cp.ascontiguousarray(cols)
    _, oh, ow, kh, kw, c = cols.shape
    out = cp.empty(tuple(padded_shape), dtype=cols.dtype)
    _get("col2im")(cols, padded_shape[1], padded_shape[2], c, kh, kw, stride, oh, ow, out)
    return out
