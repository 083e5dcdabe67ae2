"""2-D convolution as im2col + one GEMM per group, with its backward pass.

Axis letters: N batch, H/W input height/width, C input channels, F filters (output
channels), G groups, kh/kw kernel size, Ho/Wo output size, M = N*Ho*Wo output pixels,
K = kh*kw*C/G patch length. Images are NHWC; filters are ``(F, kh, kw, C/G)`` ("OHWI").

Why NHWC: with channels last, one patch row ``(kh, kw, C)`` of im2col is made of kh*kw
contiguous runs of C floats, and the GEMM output ``(M, F)`` *is* the next NHWC
activation with no transpose. The anchors measured numpy im2col+GEMM in NHWC 1.3x
faster than NCHW for AlexNet-CIFAR's conv1+conv2; ``docs/cnn.md`` has our figures.

Forward::

    cols = im2col(pad(x))            # (N, Ho, Wo, kh, kw, C/G) per group, one copy
    y[:, g] = cols_g @ W_g^T + b_g   # (M, K) @ (K, F/G)

Backward (the visible transpose of forward)::

    dW_g = (cols_g^T @ dy_g)^T       # (K, M) @ (M, F/G), transposed: faster in BLAS than dy^T cols
    db = sum_M dy
    dx = col2im(dy_g @ W_g)          # (M, F/G) @ (F/G, K), scattered back by kernel offset

For stride 1 the same dx is computed as a gather instead: a "full" convolution of dy
(zero-padded by k - 1 - pad) with the flipped kernel, i.e. one more im2col and GEMM,
which is about twice as fast on the CPU as the k*k slab additions of col2im.

:func:`im2col` and :func:`col2im` loop over the kh*kw kernel offsets, never over
pixels; under cupy (and the cupy stand-in, which runs the same kernels on the CPU) they
use the single-kernel versions in :mod:`histnet.nn.kernels` instead (same arguments,
the CPU version as the reference).
The im2col outputs live in per-layer work arrays that are reused from step to step
(:meth:`~histnet.nn.core.Layer.scratch`); ``Sequential.clear_cache`` frees them.

Stride-1 3x3 and 5x5 layers with at least 16 channels take Winograd's minimal filtering on the
CPU instead (:mod:`histnet.nn.winograd`: 4x to 6x fewer multiplications, 1.1x to 3x faster a
layer as measured in ``docs/cnn.md``), and other layers with fewer than 32 channels gather
im2col a few images at a time (:func:`use_chunks`); ``algo="im2col"`` keeps the path above
for every layer.

Grouped convolution (``groups=2``) is AlexNet's two-GPU split: "the kernels of the
second, fourth, and fifth convolutional layers are connected only to those kernel
maps in the previous layer which reside on the same GPU" (Krizhevsky et al. 2012, 3.5).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..backend import FLOAT, get_array_module
from ..errors import ConfigError
from .core import Layer
from .init import init_bias, init_weight
from .kernels import col2im_gpu, im2col_gpu, uses_kernels
from .winograd import backward as winograd_backward
from .winograd import forward as winograd_forward
from .winograd import use_winograd
from .parallel import copyto, over_batch, over_batch_gemms

#: ``Conv2D(algo="auto")`` gathers im2col a few images at a time, on every core, for numpy
#: layers with fewer channels than this in or out (and no groups): see :func:`use_chunks`
CHUNK_CHANNELS = 32
#: patch floats gathered at once by each thread on that path (1 MB): a chunk's patches are
#: still in the core's cache when its GEMM reads them
CHUNK_FLOATS = 1 << 18


def conv_output_size(size: int, k: int, stride: int = 1, pad: int = 0, *, where: str = "conv") -> int:
    """Output length of a convolution or pooling window along one axis.

    ``out = floor((size + 2 pad - k) / stride) + 1`` (no "cover all" rounding, as
    PyTorch's default ``ceil_mode=False``).

    Parameters
    ----------
    size : int
        Input length (H or W).
    k, stride, pad : int
        Window size, step and zero padding on each side.
    where : str
        Names the layer and input shape in the error, e.g. ``"layer conv1, input (2, 31, 31, 3)"``.

    Raises
    ------
    ConfigError
        The window does not fit (the output size would not be positive).
    """
    span = size + 2 * pad - k
    if span < 0 or stride < 1:
        raise ConfigError(f"{where}: a {k}x{k} window with stride {stride} and padding {pad} "
                          f"does not fit an input of size {size} (output size {span // max(stride, 1) + 1})")
    return span // stride + 1


def pad_hw(x, pad: int, value=0.0, out=None):
    """Pad H and W of an NHWC array by ``pad`` on each side with ``value``.

    Only the border is filled, not the whole array first (one pass over the memory, not two).
    ``out``, an array of the padded shape, is filled instead of a new one.
    """
    if pad == 0:
        return x
    xp = get_array_module(x)
    n, h, w, c = x.shape
    if out is None:
        out = xp.empty((n, h + 2 * pad, w + 2 * pad, c), dtype=x.dtype)

    def fill(i):  # images i
        out[i, :pad] = value
        out[i, pad + h:] = value
        out[i, pad:pad + h, :pad] = value
        out[i, pad:pad + h, pad + w:] = value
        out[i, pad:pad + h, pad:pad + w, :] = x[i]

    over_batch(fill, n, out.size, xp)
    return out


def _flipped(W):
    """Filters (F, k, k, C) as the (k*k*F, C) matrix of the input gradient's "full" convolution:
    the kernel rotated by 180 degrees, rows in the order of an im2col patch of dy."""
    f, k, _, c = W.shape
    return W[:, ::-1, ::-1, :].transpose(1, 2, 0, 3).reshape(k * k * f, c)


def use_chunks(xp, kernel_size: int, stride: int, groups: int, in_channels: int, out_channels: int) -> bool:
    """Whether ``Conv2D(algo="auto")`` takes im2col in chunks (when Winograd is not taken).

    A layer with few channels (the 3-channel first layers, ResNet's 16 -> 32 downsampling)
    does little arithmetic per patch float, so whole-batch im2col + GEMM is bound by memory:
    the patch matrix of a 128 x 32 x 32 x 16 map and a 3x3 kernel is 75 MB, written out and
    read back three times a step. Gathered a few images at a time, each chunk's patches are
    still in the cache when its GEMM reads them, and each thread runs its own chunks with
    single-threaded GEMMs: ResNet's 16 -> 32 stride-2 layer took 14.0 ms forward and backward
    against 21.4, alexnet-cifar's 3 -> 64 5x5 first layer 33.2 against 39.2 (2-vCPU guest,
    ``results/speed.md``). From 32 channels the GEMMs are big enough for the whole-batch path
    (or Winograd). 1x1 stride-1 layers need no gather at all, and grouped layers keep the
    whole-batch path.
    """
    return (xp is np and groups == 1 and min(in_channels, out_channels) < CHUNK_CHANNELS
            and not (kernel_size == 1 and stride == 1))


def im2col(xp_padded, kh: int, kw: int, stride: int, out_h: int, out_w: int, out=None):
    """Patches of a padded NHWC array, as a contiguous (N, Ho, Wo, kh, kw, C) array.

    ``cols[n, i, j, a, b, c] = xp_padded[n, i*stride + a, j*stride + b, c]``.
    On the CPU this is a strided view copied once; on a GPU, one elementwise kernel.
    ``out``, a contiguous array of that shape (or a function returning one, called only when
    a copy is made), is filled instead of allocating (reusing a buffer is about 2x faster on
    the CPU than a fresh array: no page faults).

    A 1x1 window with stride 1 over a contiguous array (NIN's 1x1 layers, their gradients)
    has the pixels themselves as patches: the array is returned as a view of that shape,
    nothing copied and ``out`` unused. Callers only read the patches.
    """
    xp = get_array_module(xp_padded)
    n, h, w, c = xp_padded.shape
    if kh == kw == 1 and stride == 1 and (h, w) == (out_h, out_w) and xp_padded.flags.c_contiguous:
        return xp_padded.reshape(n, h, w, 1, 1, c)
    if callable(out):
        out = out()
    if uses_kernels(xp):
        return im2col_gpu(xp_padded, kh, kw, stride, out_h, out_w, out)
    sn, sh, sw, sc = xp_padded.strides
    view = xp.lib.stride_tricks.as_strided(
        xp_padded, shape=(n, out_h, out_w, kh, kw, c),
        strides=(sn, sh * stride, sw * stride, sh, sw, sc))
    if out is None:
        out = xp.empty(view.shape, dtype=view.dtype)
    copyto(out, view, xp)  # the copy on every core
    return out


def col2im(cols, padded_shape, stride: int):
    """Adjoint of :func:`im2col`: sum patch gradients back into a padded NHWC array.

    Parameters
    ----------
    cols : xp array (N, Ho, Wo, kh, kw, C)
    padded_shape : tuple (N, Hp, Wp, C)
    stride : int

    Returns
    -------
    dx_padded : xp array ``padded_shape``; ``<im2col(x), cols> == <x, col2im(cols)>``.
    """
    xp = get_array_module(cols)
    if uses_kernels(xp):
        return col2im_gpu(cols, padded_shape, stride)
    n, oh, ow, kh, kw, c = cols.shape
    out = xp.zeros(padded_shape, dtype=cols.dtype)
    s = stride
    for a in range(kh):  # loop over kernel offsets, each adding a whole strided slab
        for b in range(kw):
            out[:, a:a + s * (oh - 1) + 1:s, b:b + s * (ow - 1) + 1:s, :] += cols[:, :, :, a, b, :]
    return out


class Conv2D(Layer):
    """2-D convolution over NHWC images, with groups.

    Parameters
    ----------
    in_channels, out_channels : int
        C and F; both must be divisible by ``groups``.
    kernel_size : int
        Square kernel kh = kw (AlexNet: 11, 5, 3).
    stride : int, default=1
        AlexNet's conv1 uses 4.
    padding : int, default=0
        Zeros added on each side of H and W.
    groups : int, default=1
        2 reproduces the two-GPU split of conv2, conv4 and conv5.
    init : {"normal", "he", "glorot"}, default="he"
    std : float, default=0.01
        For ``init="normal"`` (the paper's N(0, 0.01)).
    bias : float or None, default=0.0
        Initial bias (the paper: 1 in conv2, conv4, conv5); None: no bias at all (a
        convolution followed by batch normalisation, whose mean subtraction would cancel it).
    algo : {"auto", "im2col", "winograd", "chunks"}, default="auto"
        How forward and backward are computed. ``"auto"`` takes Winograd's F(4x4, k x k)
        where :func:`histnet.nn.winograd.use_winograd` says it is faster (stride 1, 3x3 or
        5x5, numpy, 16 channels or more per group), im2col in chunks where :func:`use_chunks`
        does (fewer than 32 channels) and whole-batch im2col + GEMM elsewhere;
        ``"winograd"`` forces Winograd on any stride-1 3x3 or 5x5 layer, ``"chunks"`` the
        chunks on any layer without groups, ``"im2col"`` the whole batch everywhere. They
        differ only in rounding (about 1e-5 relative in float32).
    rng, xp, dtype, name
        As :class:`~histnet.nn.core.Linear`.

    Attributes
    ----------
    params["W"] : (F, kh, kw, C/G)
    params["b"] : (F,), absent with ``bias=None``
    need_input_grad : bool
        False for the first layer: its backward then skips col2im and returns None.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1, *,
                 init="he", std=0.01, bias=0.0, algo="auto", rng=None, xp=np, dtype=FLOAT, name=None):
        super().__init__(name)
        if algo not in ("auto", "im2col", "winograd", "chunks"):
            raise ConfigError(f"layer {name or 'Conv2D'}: algo={algo!r} must be one of auto, im2col, "
                              "winograd, chunks")
        if algo == "winograd" and (int(stride) != 1 or int(kernel_size) not in (3, 5)):
            raise ConfigError(f"layer {name or 'Conv2D'}: algo='winograd' needs stride 1 and a 3x3 or 5x5 "
                              f"kernel, not stride {stride} and {kernel_size}x{kernel_size}")
        if algo == "chunks" and int(groups) != 1:
            raise ConfigError(f"layer {name or 'Conv2D'}: algo='chunks' has no groups (groups={groups})")
        self.algo = algo
        if in_channels % groups or out_channels % groups:
            raise ConfigError(f"layer {name or 'Conv2D'}: in_channels={in_channels} and "
                              f"out_channels={out_channels} must be divisible by groups={groups}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.k, self.stride, self.pad, self.groups = int(kernel_size), int(stride), int(padding), int(groups)
        cg = self.in_channels // self.groups
        fan_in, fan_out = cg * self.k * self.k, (self.out_channels // self.groups) * self.k * self.k
        self.params["W"] = init_weight((self.out_channels, self.k, self.k, cg), fan_in, fan_out,
                                       init, std, rng, xp, dtype)
        if bias is not None:
            self.params["b"] = init_bias(self.out_channels, bias, xp, dtype)
        self.need_input_grad = True

    def _path(self, xp) -> str:
        """"winograd", "chunks" or "im2col": the rule of ``algo="auto"``, or ``algo`` itself."""
        if self.algo != "auto":
            return self.algo
        cg, fg = self.in_channels // self.groups, self.out_channels // self.groups
        if use_winograd(xp, self.k, self.stride, cg, fg):
            return "winograd"
        if use_chunks(xp, self.k, self.stride, self.groups, cg, fg):
            return "chunks"
        return "im2col"

    def _chunk(self, oh, ow, depth):
        """Images per chunk: about CHUNK_FLOATS patch floats of ``depth`` channels."""
        return max(1, CHUNK_FLOATS // (oh * ow * self.k * self.k * depth))

    def _forward_chunks(self, x, oh, ow, train):
        """im2col + GEMM a chunk of images at a time, each thread its own chunks; caches the
        padded input (backward gathers the patches again, from the cache)."""
        xp = get_array_module(x)
        n, F, k, C = x.shape[0], self.out_channels, self.k, self.in_channels
        xpad = pad_hw(x, self.pad)
        Wt = self.params["W"].reshape(F, -1).T
        bias = self.params.get("b")
        y = xp.empty((n * oh * ow, F), dtype=x.dtype)
        b = self._chunk(oh, ow, C)

        def work(chunks):
            buf = self.scratch(("chunk", chunks.start), (b, oh, ow, k, k, C), x.dtype, xp)
            for i in range(chunks.start * b, min(chunks.stop * b, n), b):
                j = min(i + b, n)
                c = im2col(xpad[i:j], k, k, self.stride, oh, ow, buf[:j - i])
                out = y[i * oh * ow:j * oh * ow]
                xp.matmul(c.reshape(len(out), -1), Wt, out=out)
                if bias is not None:
                    out += bias

        over_batch_gemms(work, -(-n // b), xp)
        self.cache = ("chunks", xpad, x.shape, (n, oh, ow)) if train else None
        return y.reshape(n, oh, ow, F)

    def _backward_chunks(self, dy):
        """dW as a sum of per-chunk products, added in chunk order (the same bits on any number
        of threads); dx a chunk at a time as in :meth:`backward`."""
        xp = get_array_module(dy)
        _, xpad, xshape, (n, oh, ow) = self.cache
        F, k, C, s = self.out_channels, self.k, self.in_channels, self.stride
        W = self.params["W"]
        dy = xp.ascontiguousarray(dy)
        dy2 = dy.reshape(-1, F)
        if "b" in self.params:
            self.grads["b"] = dy2.sum(axis=0)
        b = self._chunk(oh, ow, C)
        nchunks = -(-n // b)
        parts = xp.empty((nchunks, k * k * C, F), dtype=dy.dtype)
        h, w = xshape[1], xshape[2]
        dx = xp.empty(xshape, dtype=dy.dtype) if self.need_input_grad else None
        gather_dx = self.stride == 1 and self.pad <= k - 1
        if dx is not None and gather_dx:  # dx as a "full" convolution, as _input_grad_as_convolution
            dyq = pad_hw(dy, k - 1 - self.pad)
            Wr = _flipped(W)
            bq = self._chunk(h, w, F)
        p = self.pad

        def work(chunks):
            buf = self.scratch(("chunk", chunks.start), (b, oh, ow, k, k, C), dy.dtype, xp)
            for ci in range(chunks.start, chunks.stop):
                i, j = ci * b, min(ci * b + b, n)
                c = im2col(xpad[i:j], k, k, s, oh, ow, buf[:j - i]).reshape((j - i) * oh * ow, -1)
                xp.matmul(c.T, dy2[i * oh * ow:j * oh * ow], out=parts[ci])
                if dx is None or gather_dx:
                    continue
                dc = (dy2[i * oh * ow:j * oh * ow] @ W.reshape(F, -1)).reshape(j - i, oh, ow, k, k, C)
                dxp = col2im(dc, (j - i,) + tuple(xpad.shape[1:]), s)
                dx[i:j] = dxp[:, p:p + h, p:p + w, :]
            if dx is not None and gather_dx:
                start, stop = chunks.start * b, min(chunks.stop * b, n)
                qbuf = self.scratch(("chunk-dx", chunks.start), (bq, h, w, k, k, F), dy.dtype, xp)
                dx2 = dx.reshape(n * h * w, C)
                for i in range(start, stop, bq):
                    j = min(i + bq, stop)
                    c = im2col(dyq[i:j], k, k, 1, h, w, qbuf[:j - i]).reshape((j - i) * h * w, -1)
                    xp.matmul(c, Wr, out=dx2[i * h * w:j * h * w])

        over_batch_gemms(work, nchunks, xp)
        self.grads["W"] = xp.ascontiguousarray(parts.sum(axis=0).T).reshape(W.shape)
        return dx

    def _forward_winograd(self, x, oh, ow, train):
        """Each group's output by :func:`histnet.nn.winograd.forward`; caches its transforms."""
        xp = get_array_module(x)
        G, F = self.groups, self.out_channels
        cg, fg = self.in_channels // G, F // G
        W = self.params["W"]
        if G == 1:
            y, cache = winograd_forward(x, W, self.pad)
            caches = [cache]
        else:
            y = xp.empty((x.shape[0], oh, ow, F), dtype=x.dtype)
            caches = []
            for g in range(G):
                y[..., g * fg:(g + 1) * fg], cache = winograd_forward(
                    x[..., g * cg:(g + 1) * cg], W[g * fg:(g + 1) * fg], self.pad)
                caches.append(cache)
        if "b" in self.params:
            y += self.params["b"]
        self.cache = ("winograd", caches, x.shape) if train else None
        return y

    def _backward_winograd(self, dy):
        xp = get_array_module(dy)
        _, caches, xshape = self.cache
        G, F = self.groups, self.out_channels
        cg, fg = self.in_channels // G, F // G
        if "b" in self.params:
            self.grads["b"] = dy.reshape(-1, F).sum(axis=0)
        if G == 1:
            self.grads["W"], dx = winograd_backward(dy, caches[0], self.need_input_grad)
            return dx
        dW = xp.empty_like(self.params["W"])
        dx = xp.empty(xshape, dtype=dy.dtype) if self.need_input_grad else None
        for g in range(G):
            dW[g * fg:(g + 1) * fg], dxg = winograd_backward(dy[..., g * fg:(g + 1) * fg], caches[g],
                                                             self.need_input_grad)
            if dx is not None:
                dx[..., g * cg:(g + 1) * cg] = dxg
        self.grads["W"] = dW
        return dx

    def _out_hw(self, h, w, shape):
        where = f"layer {self.name or 'Conv2D'}, input shape {tuple(shape)}"
        return (conv_output_size(h, self.k, self.stride, self.pad, where=where),
                conv_output_size(w, self.k, self.stride, self.pad, where=where))

    def forward(self, x, train=False):
        # x: (N, H, W, C) -> y: (N, Ho, Wo, F)
        xp = get_array_module(x)
        if x.ndim != 4 or x.shape[3] != self.in_channels:
            raise ConfigError(f"layer {self.name or 'Conv2D'}: expects NHWC input with "
                              f"{self.in_channels} channels, got shape {tuple(x.shape)}")
        n, h, w, _ = x.shape
        oh, ow = self._out_hw(h, w, x.shape)
        path = self._path(xp)
        if path == "winograd":
            return self._forward_winograd(x, oh, ow, train)
        if path == "chunks":
            return self._forward_chunks(x, oh, ow, train)
        self.cache = None  # last step's patches: their work arrays are reused below
        G, F, k = self.groups, self.out_channels, self.k
        cg, fg = self.in_channels // G, F // G
        xpad = pad_hw(x, self.pad)
        W = self.params["W"]
        m = n * oh * ow
        cols = []
        shape = (n, oh, ow, k, k, cg)
        if G == 1:
            c = im2col(xpad, k, k, self.stride, oh, ow,
                       partial(self.scratch, 0, shape, x.dtype, xp)).reshape(m, -1)
            y = c @ W.reshape(F, -1).T
            cols.append(c)
        else:
            y = xp.empty((m, F), dtype=x.dtype)
            for g in range(G):
                c = im2col(xpad[..., g * cg:(g + 1) * cg], k, k, self.stride, oh, ow,
                           partial(self.scratch, g, shape, x.dtype, xp)).reshape(m, -1)
                y[:, g * fg:(g + 1) * fg] = c @ W[g * fg:(g + 1) * fg].reshape(fg, -1).T
                cols.append(c)
        if "b" in self.params:
            y += self.params["b"]
        self.cache = (cols, xpad.shape, x.shape, (n, oh, ow)) if train else None
        return y.reshape(n, oh, ow, F)

    def backward(self, dy):
        # dy: (N, Ho, Wo, F) -> dx: (N, H, W, C)
        xp = get_array_module(dy)
        if self.cache[0] == "winograd":
            return self._backward_winograd(dy)
        if self.cache[0] == "chunks":
            return self._backward_chunks(dy)
        cols, pshape, xshape, (n, oh, ow) = self.cache
        G, F, k = self.groups, self.out_channels, self.k
        cg, fg = self.in_channels // G, F // G
        W = self.params["W"]
        dy2 = xp.ascontiguousarray(dy).reshape(n * oh * ow, F)
        if "b" in self.params:
            self.grads["b"] = dy2.sum(axis=0)
        # dW_g = dy_g^T cols_g, computed as (cols_g^T dy_g)^T: BLAS is much faster with the
        # long M axis as the shared (inner) dimension of two row-major operands
        if G == 1:
            self.grads["W"] = xp.ascontiguousarray((cols[0].T @ dy2).T).reshape(W.shape)
        else:
            dW = xp.empty_like(W)
            for g in range(G):
                dW[g * fg:(g + 1) * fg] = (cols[g].T @ dy2[:, g * fg:(g + 1) * fg]).T.reshape(fg, k, k, cg)
            self.grads["W"] = dW
        if not self.need_input_grad:
            return None
        if self.stride == 1 and self.pad <= k - 1:
            return self._input_grad_as_convolution(dy, xshape)
        if G == 1:
            dxp = col2im((dy2 @ W.reshape(F, -1)).reshape(n, oh, ow, k, k, cg), pshape, self.stride)
        else:
            dxp = xp.empty(pshape, dtype=dy.dtype)
            for g in range(G):
                dc = dy2[:, g * fg:(g + 1) * fg] @ W[g * fg:(g + 1) * fg].reshape(fg, -1)
                dxp[..., g * cg:(g + 1) * cg] = col2im(dc.reshape(n, oh, ow, k, k, cg),
                                                       pshape[:3] + (cg,), self.stride)
        p = self.pad
        return dxp[:, p:p + xshape[1], p:p + xshape[2], :] if p else dxp

    def _input_grad_as_convolution(self, dy, xshape):
        """dx for stride 1: a "full" convolution of dy with the flipped kernel.

        dx[n, h, w, c] = sum_{a, b, f} dy_q[n, h + a, w + b, f] W[f, k-1-a, k-1-b, c], with dy
        zero-padded by q = k - 1 - pad. This is col2im's sum written as a gather, so it is
        one im2col copy and one GEMM instead of k*k scattered slab additions.
        """
        xp = get_array_module(dy)
        n, h, w, _ = xshape
        G, F, k = self.groups, self.out_channels, self.k
        cg, fg = self.in_channels // G, F // G
        W = self.params["W"]
        dyq = pad_hw(dy, k - 1 - self.pad)
        shape = (n, h, w, k, k, fg)
        if G == 1:
            c = im2col(dyq, k, k, 1, h, w,
                       partial(self.scratch, "dx", shape, dy.dtype, xp)).reshape(n * h * w, -1)
            Wr = _flipped(W)
            return (c @ Wr).reshape(n, h, w, cg)
        dx = xp.empty((n * h * w, self.in_channels), dtype=dy.dtype)
        for g in range(G):
            c = im2col(dyq[..., g * fg:(g + 1) * fg], k, k, 1, h, w,
                       partial(self.scratch, "dx", shape, dy.dtype, xp)).reshape(n * h * w, -1)
            Wr = _flipped(W[g * fg:(g + 1) * fg])
            dx[:, g * cg:(g + 1) * cg] = c @ Wr
            del c  # frees the "dx" work array for the next group
        return dx.reshape(n, h, w, self.in_channels)

    def output_shape(self, in_shape):
        h, w, _ = in_shape
        oh, ow = self._out_hw(h, w, in_shape)
        return (oh, ow, self.out_channels)

    def flops(self, in_shape):
        oh, ow, _ = self.output_shape(in_shape)
        return 2 * oh * ow * self.out_channels * (self.in_channels // self.groups) * self.k * self.k

    def __repr__(self):
        g = f", groups={self.groups}" if self.groups > 1 else ""
        a = f", algo={self.algo!r}" if self.algo != "auto" else ""
        return (f"Conv2D({self.in_channels}, {self.out_channels}, {self.k}, stride={self.stride}, "
                f"padding={self.pad}{g}{a})")
