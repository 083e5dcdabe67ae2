"""Max pooling over NHWC images, including AlexNet's overlapping pooling.

"Pooling layers in CNNs summarize the outputs of neighboring groups of neurons ...
setting s < z, we obtain overlapping pooling ... s = 2 and z = 3" (Krizhevsky et al.
2012, section 3.4). Axis letters as in :mod:`histnet.nn.conv`.

Forward takes the running maximum over the k*k window offsets (a loop over offsets,
each a whole strided slab; never over pixels). Backward walks the same offsets and
routes each output's gradient to the first offset whose input equals the maximum (the
first maximum, as PyTorch), with k*k slab additions and no scatter; recomputing the
winner there is cheaper than tracking an argmax in forward. Padding is -inf, so a
padded position never wins (PyTorch's ``MaxPool2d(padding=...)``).

On the CPU both passes run on slices of the batch in threads (:mod:`histnet.nn.parallel`);
they are elementwise, so the cores share them with bit-identical results.

Under cupy both passes are one kernel each (:mod:`histnet.nn.kernels`): forward keeps
the position of each window's first maximum, and backward gathers, for every input,
the gradients of the outputs that chose it (same result, one launch instead of k*k).
"""

from __future__ import annotations

from ..backend import get_array_module
from ..errors import ConfigError
from .conv import conv_output_size, pad_hw
from .core import Layer
from .kernels import maxpool_backward_gpu, maxpool_forward_gpu, uses_kernels
from .parallel import over_batch


class MaxPool2D(Layer):
    """Max pooling with a square window.

    Parameters
    ----------
    kernel_size : int, default=3
        z, the window size (AlexNet: 3).
    stride : int, default=2
        s (AlexNet: 2, so windows overlap).
    padding : int, default=0
        -inf padding on each side (the 32-px AlexNet-CIFAR pools use 1); at most
        ``kernel_size // 2``, as PyTorch, so every window holds a real pixel.
    """

    def __init__(self, kernel_size=3, stride=2, padding=0, name=None):
        super().__init__(name)
        self.k, self.stride, self.pad = int(kernel_size), int(stride), int(padding)
        if self.k < 1 or self.stride < 1 or not 0 <= self.pad <= self.k // 2:
            raise ConfigError(f"layer {name or 'MaxPool2D'}: kernel_size={kernel_size}, stride={stride}, "
                              f"padding={padding}: need kernel_size, stride >= 1 and 0 <= padding <= "
                              "kernel_size // 2")

    def _out_hw(self, h, w, shape):
        where = f"layer {self.name or 'MaxPool2D'}, input shape {tuple(shape)}"
        return (conv_output_size(h, self.k, self.stride, self.pad, where=where),
                conv_output_size(w, self.k, self.stride, self.pad, where=where))

    def forward(self, x, train=False):
        # x: (N, H, W, C) -> y: (N, Ho, Wo, C); cache: the padded input and y
        xp = get_array_module(x)
        n, h, w, c = x.shape
        oh, ow = self._out_hw(h, w, x.shape)
        s, k = self.stride, self.k
        if uses_kernels(xp):
            y, arg = maxpool_forward_gpu(x, k, s, self.pad, oh, ow)
            self.cache = ("kernel", arg, x.shape) if train else None
            return y
        self.cache = None  # frees last step's work arrays for reuse
        p = self.pad
        xpad = pad_hw(x, p, value=-float("inf"),
                      out=self.scratch("xpad", (n, h + 2 * p, w + 2 * p, c), x.dtype, xp) if p else None)
        y = self.scratch("y", (n, oh, ow, c), x.dtype, xp)

        def run(i):  # the images i of the batch
            for a in range(k):
                for b in range(k):
                    slab = xpad[i, a:a + s * (oh - 1) + 1:s, b:b + s * (ow - 1) + 1:s, :]
                    if a == b == 0:
                        y[i] = slab
                    else:
                        xp.maximum(y[i], slab, out=y[i])

        over_batch(run, n, xpad.size, xp)
        self.cache = (xpad, y, x.shape) if train else None
        return y

    def backward(self, dy):
        # dy: (N, Ho, Wo, C) -> dx: (N, H, W, C). Each output's gradient goes to the first
        # window position (in scan order) holding the maximum, as PyTorch does.
        xp = get_array_module(dy)
        if isinstance(self.cache[0], str):  # ("kernel", ...)
            return maxpool_backward_gpu(dy, self.cache[1], self.cache[2], self.k, self.stride, self.pad)
        xpad, y, xshape = self.cache
        _, oh, ow, _ = dy.shape
        s, k, p = self.stride, self.k, self.pad
        dxp = self.scratch("dx", xpad.shape, dy.dtype, xp)

        def run(i):  # the images i of the batch, with their own work arrays
            dxp[i] = 0
            pending = xp.ones(y[i].shape, dtype=bool)  # outputs whose maximum is not yet found
            hit = xp.empty(y[i].shape, dtype=bool)  # work arrays reused by every offset
            part = xp.empty(y[i].shape, dtype=dy.dtype)
            for a in range(k):
                for b in range(k):
                    sl = (i, slice(a, a + s * (oh - 1) + 1, s), slice(b, b + s * (ow - 1) + 1, s))
                    xp.equal(xpad[sl], y[i], out=hit)
                    hit &= pending
                    pending ^= hit
                    dxp[sl] += xp.multiply(dy[i], hit, out=part)

        over_batch(run, dy.shape[0], xpad.size, xp)
        return dxp[:, p:p + xshape[1], p:p + xshape[2], :] if p else dxp

    def output_shape(self, in_shape):
        h, w, c = in_shape
        return self._out_hw(h, w, in_shape) + (c,)

    def __repr__(self):
        return f"MaxPool2D({self.k}, stride={self.stride}, padding={self.pad})"
