"""Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3).

    b[c] = a[c] / (k + alpha' * sum_{c' = c - n//2}^{c + n//2} a[c']^2) ^ beta

with the sum clipped to existing channels. The paper's values are k = 2, n = 5,
alpha = 1e-4, beta = 0.75.

**Is alpha divided by n?** The paper's formula (as printed) is not: alpha' = alpha.
Caffe's ``LRN`` layer and PyTorch's ``nn.LocalResponseNorm`` use alpha' = alpha / n.
This layer takes ``alpha`` in the paper's convention by default; pass
``alpha_over_n=True`` to read ``alpha`` the PyTorch/Caffe way. So the paper's alpha =
1e-4 equals PyTorch's ``LocalResponseNorm(5, alpha=5e-4)``, and PyTorch's
``alpha=1e-4`` (used by the AlexNet-CIFAR anchor) is the paper-convention 2e-5.

The channel-window sum is a GEMM with a (C, C) band matrix of ones (channels are the
contiguous last axis in NHWC, so this is one BLAS call and no strided slicing), and
the same band matrix (it is symmetric) carries the backward pass:

    d = k + alpha' S,  S = (a^2) B,  y = a d^-beta
    dL/da = dy d^-beta - 2 alpha' beta a ((dy a d^(-beta-1)) B)

Under cupy each pass is instead one kernel (:mod:`histnet.nn.kernels`) that sums the
few channels of its own window: a GEMM with a mostly-zero (C, C) matrix is the CPU's
fast path, not the GPU's.
"""

from __future__ import annotations

from ..backend import get_array_module
from ..errors import ConfigError
from .core import Layer
from .kernels import lrn_backward_gpu, lrn_forward_gpu, uses_kernels
from .parallel import over_batch


def _band(xp, c, n, dtype):
    """(C, C) matrix with ones where |i - j| <= n // 2."""
    i = xp.arange(c)
    return (xp.abs(i[:, None] - i[None, :]) <= n // 2).astype(dtype)


def _pow_neg_beta(d, beta, xp):
    """d ** -beta; beta = 0.75 via square roots (much faster than pow on the CPU)."""
    if beta == 0.75:
        r = xp.sqrt(d)
        r *= xp.sqrt(r)
        return 1.0 / r
    return d ** (-beta)


class LRN(Layer):
    """Cross-channel local response normalisation on NHWC activations.

    Parameters
    ----------
    size : int, default=5
        n, the number of adjacent channels summed (odd).
    alpha : float, default=1e-4
    beta : float, default=0.75
    k : float, default=2.0
    alpha_over_n : bool, default=False
        False: the paper's formula (alpha' = alpha); True: PyTorch/Caffe (alpha' = alpha / n).
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, alpha_over_n=False, name=None):
        super().__init__(name)
        if size < 1 or size % 2 == 0:
            raise ConfigError(f"layer {name or 'LRN'}: size={size} must be a positive odd number")
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)
        self.alpha_over_n = bool(alpha_over_n)
        self._bands = {}

    @property
    def effective_alpha(self) -> float:
        """alpha' in the formula (the paper's convention)."""
        return self.alpha / self.size if self.alpha_over_n else self.alpha

    def _band_for(self, xp, c, dtype):
        key = (id(xp), c, dtype)
        if key not in self._bands:
            self._bands = {key: _band(xp, c, self.size, dtype)}
        return self._bands[key]

    def forward(self, x, train=False):
        # x: (N, H, W, C) -> y: same shape
        xp = get_array_module(x)
        if uses_kernels(xp):
            y, d = lrn_forward_gpu(x, self.size, self.effective_alpha, self.beta, self.k)
            self.cache = ("kernel", x, d) if train else None
            return y
        c = x.shape[-1]
        B = self._band_for(xp, c, x.dtype)
        x2 = x.reshape(-1, c)
        m = x2.shape[0]
        sq = xp.empty_like(x2)
        over_batch(lambda i: xp.multiply(x2[i], x2[i], out=sq[i]), m, x2.size, xp)
        d = sq @ B  # the band sums: one GEMM, on BLAS's threads
        scale, y = sq, xp.empty_like(x2)  # sq is not needed after the GEMM: its memory holds scale

        def finish(i):  # rows i: d = k + alpha' sum, scale = d^-beta, y = x scale
            d[i] *= self.effective_alpha
            d[i] += self.k
            scale[i] = _pow_neg_beta(d[i], self.beta, xp)
            xp.multiply(x2[i], scale[i], out=y[i])

        over_batch(finish, m, x2.size, xp)
        self.cache = (x2, d, scale, x.shape) if train else None
        return y.reshape(x.shape)

    def backward(self, dy):
        xp = get_array_module(dy)
        if isinstance(self.cache[0], str):  # ("kernel", ...)
            return lrn_backward_gpu(self.cache[1], dy, self.cache[2], self.size, self.effective_alpha, self.beta)
        x2, d, scale, shape = self.cache
        B = self._band_for(xp, shape[-1], dy.dtype)
        dy2 = dy.reshape(-1, shape[-1])
        m = dy2.shape[0]
        t = xp.empty_like(x2)

        def start(i):  # rows i: t = dy x scale / d
            xp.multiply(dy2[i], x2[i], out=t[i])
            t[i] *= scale[i]
            t[i] /= d[i]

        over_batch(start, m, x2.size, xp)
        dx = t @ B

        def finish(i):  # rows i: dx = -2 alpha' beta x (t B) + dy scale
            dx[i] *= x2[i]
            dx[i] *= -2.0 * self.effective_alpha * self.beta
            dx[i] += dy2[i] * scale[i]

        over_batch(finish, m, x2.size, xp)
        return dx.reshape(shape)

    def __repr__(self):
        conv = "alpha/n" if self.alpha_over_n else "paper alpha"
        return f"LRN(size={self.size}, alpha={self.alpha} ({conv}), beta={self.beta}, k={self.k})"
