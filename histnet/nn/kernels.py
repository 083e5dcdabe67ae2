"""CUDA kernels (cupy ``ElementwiseKernel``) for im2col/col2im, max pooling and LRN on NHWC.

On the CPU these layers work on strided views (numpy's cheap way to see all k*k window
offsets at once) or on a BLAS call with a band matrix; on a GPU each step is instead one
kernel launch with one thread per output element, and every kernel is a *gather*: a
thread reads what it needs and writes only its own element, so there are no atomics,
no races and a fixed summation order (deterministic results).

* ``im2col``: thread i computes one entry of cols (N, Ho, Wo, kh, kw, C).
* ``col2im``: thread i computes one entry of the padded image (N, Hp, Wp, C) by summing
  the patch entries that cover it.
* ``maxpool_forward``: thread i computes one output (N, Ho, Wo, C) and the position of
  the first maximum in its window (scan order, as PyTorch and the CPU code); padded
  positions never win.
* ``maxpool_backward``: thread i computes one input's gradient by summing the gradients
  of the outputs whose window covers it and whose maximum it was.
* ``lrn_forward``: thread i computes ``d = k + alpha' * sum of squares`` over its
  channel window and ``y = x * d^-beta`` (``d`` is kept for backward).
* ``lrn_backward``: thread i computes
  ``dy_i d_i^-beta - 2 alpha' beta x_i sum_j dy_j x_j d_j^(-beta-1)`` over its window
  (the window is symmetric, so "j's window holds i" is "i's window holds j").

The kernels are built from ``xp.ElementwiseKernel`` of the array's module, which is real
cupy on a GPU (CuPy 14: no cuDNN, so these are the only convolution kernels) and, in the
tests, the cupy stand-in, which compiles the same C bodies with the host compiler
(:mod:`histnet.standin.elementwise`). So every kernel here runs in CI and is compared
with the numpy code it replaces (``tests/test_kernels.py``), although no GPU is there:
what the stand-in cannot check is parallel execution, which gathers do not depend on.
Bodies use only C that both compilers take (``pow``, ``sqrt``; no CUDA intrinsics).
"""

from __future__ import annotations

from ..backend import get_array_module

_PARAMS = {
    "im2col": ("raw T img, int32 h, int32 w, int32 c, int32 kh, int32 kw, int32 s, int32 oh, int32 ow",
               "T col"),
    "col2im": ("raw T col, int32 hp, int32 wp, int32 c, int32 kh, int32 kw, int32 s, int32 oh, int32 ow",
               "T img"),
    "maxpool_forward": ("raw T x, int32 h, int32 w, int32 c, int32 k, int32 s, int32 p, int32 oh, int32 ow",
                        "T y, int32 arg"),
    "maxpool_backward": ("raw T dy, raw int32 arg, int32 h, int32 w, int32 c, int32 k, int32 s, int32 p, "
                         "int32 oh, int32 ow", "T dx"),
    "lrn_forward": ("raw T x, int32 c, int32 half, T alpha, T kk, T beta", "T y, T d"),
    "lrn_backward": ("raw T x, raw T dy, raw T d, int32 c, int32 half, T alpha, T beta", "T dx"),
}

_BODIES = {
    "im2col": """
        ptrdiff_t r = i;
        const int ci = r % c; r /= c;
        const int b = r % kw; r /= kw;
        const int a = r % kh; r /= kh;
        const int x = r % ow; r /= ow;
        const int y = r % oh; const ptrdiff_t n = r / oh;
        col = img[((n * h + (ptrdiff_t)(y * s + a)) * w + (x * s + b)) * c + ci];
        """,
    "col2im": """
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
    "maxpool_forward": """
        ptrdiff_t r = i;
        const int ci = r % c; r /= c;
        const int ox = r % ow; r /= ow;
        const int oy = r % oh; const ptrdiff_t n = r / oh;
        T best = 0;
        int where = -1;
        for (int a = 0; a < k; ++a) {
            const int iy = oy * s - p + a;
            if (iy < 0 || iy >= h) continue;
            for (int b = 0; b < k; ++b) {
                const int ix = ox * s - p + b;
                if (ix < 0 || ix >= w) continue;
                const T v = x[((n * h + iy) * w + ix) * c + ci];
                if (where < 0 || v > best || (v != v && best == best)) {  // first max; NaN wins
                    best = v;
                    where = iy * w + ix;
                }
            }
        }
        y = best;
        arg = where;
        """,
    "maxpool_backward": """
        ptrdiff_t r = i;
        const int ci = r % c; r /= c;
        const int ix = r % w; r /= w;
        const int iy = r % h; const ptrdiff_t n = r / h;
        const int py = iy + p, px = ix + p;  // padded coordinates
        const int oy0 = py - k + 1 <= 0 ? 0 : (py - k + s) / s;
        const int ox0 = px - k + 1 <= 0 ? 0 : (px - k + s) / s;
        const int oy1 = py / s < oh - 1 ? py / s : oh - 1;
        const int ox1 = px / s < ow - 1 ? px / s : ow - 1;
        const int me = iy * w + ix;
        T acc = 0;
        for (int oy = oy0; oy <= oy1; ++oy) {
            for (int ox = ox0; ox <= ox1; ++ox) {
                const ptrdiff_t o = ((n * oh + oy) * ow + ox) * c + ci;
                if (arg[o] == me) acc += dy[o];
            }
        }
        dx = acc;
        """,
    "lrn_forward": """
        const int ci = i % c;
        const ptrdiff_t base = i - ci;
        const int lo = ci - half < 0 ? 0 : ci - half;
        const int hi = ci + half > c - 1 ? c - 1 : ci + half;
        T sum = 0;
        for (int j = lo; j <= hi; ++j) {
            const T v = x[base + j];
            sum += v * v;
        }
        const T dd = kk + alpha * sum;
        d = dd;
        y = x[i] * pow(dd, -beta);
        """,
    "lrn_backward": """
        const int ci = i % c;
        const ptrdiff_t base = i - ci;
        const int lo = ci - half < 0 ? 0 : ci - half;
        const int hi = ci + half > c - 1 ? c - 1 : ci + half;
        T acc = 0;
        for (int j = lo; j <= hi; ++j) {
            const ptrdiff_t q = base + j;
            acc += dy[q] * x[q] * pow(d[q], -beta - 1);
        }
        dx = dy[i] * pow(d[i], -beta) - 2 * alpha * beta * x[i] * acc;
        """,
}

_KERNELS: dict = {}


def uses_kernels(xp) -> bool:
    """True where the layers take these kernels: an array module with an
    ``ElementwiseKernel`` that runs here.

    Real cupy always runs its kernels. The cupy stand-in runs them only when a C++
    compiler is there, and says so through ``xp.kernels_available()``; without one the
    layers take the view code. numpy has no ``ElementwiseKernel``.
    """
    if getattr(xp, "ElementwiseKernel", None) is None:
        return False
    runs_here = getattr(xp, "kernels_available", None)
    return True if runs_here is None else bool(runs_here())


def _get(name, xp):
    key = (xp.__name__, name)
    if key not in _KERNELS:
        _KERNELS[key] = xp.ElementwiseKernel(*_PARAMS[name], _BODIES[name], f"histnet_{name}_nhwc")
    return _KERNELS[key]


def im2col_gpu(x_padded, kh: int, kw: int, stride: int, out_h: int, out_w: int, out=None):
    """Kernel :func:`histnet.nn.conv.im2col`: (N, Hp, Wp, C) -> (N, Ho, Wo, kh, kw, C)."""
    xp = get_array_module(x_padded)
    x = xp.ascontiguousarray(x_padded)
    n, h, w, c = x.shape
    if out is None:
        out = xp.empty((n, out_h, out_w, kh, kw, c), dtype=x.dtype)
    _get("im2col", xp)(x, h, w, c, kh, kw, stride, out_h, out_w, out)
    return out


def col2im_gpu(cols, padded_shape, stride: int):
    """Kernel :func:`histnet.nn.conv.col2im`: (N, Ho, Wo, kh, kw, C) -> ``padded_shape``."""
    xp = get_array_module(cols)
    cols = xp.ascontiguousarray(cols)
    _, oh, ow, kh, kw, c = cols.shape
    out = xp.empty(tuple(padded_shape), dtype=cols.dtype)
    _get("col2im", xp)(cols, padded_shape[1], padded_shape[2], c, kh, kw, stride, oh, ow, out)
    return out


def maxpool_forward_gpu(x, k: int, stride: int, pad: int, out_h: int, out_w: int):
    """Max pooling of (N, H, W, C) with -inf padding: ``(y, arg)``, ``arg`` the flat
    ``iy * W + ix`` of each output's first maximum (int32, same shape as ``y``)."""
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    n, h, w, c = x.shape
    y = xp.empty((n, out_h, out_w, c), dtype=x.dtype)
    arg = xp.empty((n, out_h, out_w, c), dtype=xp.int32)
    _get("maxpool_forward", xp)(x, h, w, c, k, stride, pad, out_h, out_w, y, arg)
    return y, arg


def maxpool_backward_gpu(dy, arg, in_shape, k: int, stride: int, pad: int):
    """Gradient of :func:`maxpool_forward_gpu` with respect to its input (``in_shape``)."""
    xp = get_array_module(dy)
    dy = xp.ascontiguousarray(dy)
    _, oh, ow, _ = dy.shape
    n, h, w, c = in_shape
    dx = xp.empty(tuple(in_shape), dtype=dy.dtype)
    _get("maxpool_backward", xp)(dy, arg, h, w, c, k, stride, pad, oh, ow, dx)
    return dx


def lrn_forward_gpu(x, size: int, alpha: float, beta: float, k: float):
    """Cross-channel LRN of (..., C) with the paper-convention ``alpha``: ``(y, d)``."""
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    y, d = xp.empty_like(x), xp.empty_like(x)
    _get("lrn_forward", xp)(x, x.shape[-1], size // 2, alpha, k, beta, y, d)
    return y, d


def lrn_backward_gpu(x, dy, d, size: int, alpha: float, beta: float):
    """Gradient of :func:`lrn_forward_gpu` with respect to ``x``."""
    xp = get_array_module(dy)
    dy = xp.ascontiguousarray(dy)
    dx = xp.empty_like(dy)
    _get("lrn_backward", xp)(x, dy, d, x.shape[-1], size // 2, alpha, beta, dx)
    return dx
