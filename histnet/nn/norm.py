"""Batch normalisation (Ioffe & Szegedy 2015, "Batch normalization: accelerating deep network
training by reducing internal covariate shift", ICML, arXiv:1502.03167).

One layer for fully connected outputs (N, C) and convolutional maps (N, H, W, C): each
channel is normalised over every other axis (the batch, and the positions of a map, the
paper's "convolutional" variant), then scaled and shifted by the learned ``gamma`` and
``beta``:

    training:   y = gamma (x - mean_B) / sqrt(var_B + eps) + beta     (batch statistics)
    evaluation: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta

The running statistics are exponential averages of the batch statistics,
``r <- (1 - momentum) r + momentum b``, the variance unbiased (m / (m - 1)), as PyTorch
keeps them; they are buffers (:attr:`Layer.buffers`), saved in checkpoints and restored on
``--resume``, never touched by SGD.

Backward in training mode, with m values per channel and x^ the normalised input:

    dbeta = sum dy,   dgamma = sum dy x^,
    dx = gamma / (m sqrt(var_B + eps)) (m dy - dbeta - x^ dgamma)

(the batch statistics depend on x, which is where hand-written versions go wrong); in
evaluation mode the statistics are constants and ``dx = dy gamma / sqrt(running_var + eps)``.
Both are checked against central finite differences in float64.

Left out: fusing into the preceding convolution at inference, synchronised statistics
across devices, the batch renormalisation variants.
"""

from __future__ import annotations

import numpy as np

from ..backend import FLOAT, get_array_module, to_device
from ..errors import ConfigError
from .core import Layer
from .parallel import over_batch

#: Per-channel arithmetic on (m, C) arrays with few channels runs numpy's inner loop over
#: only C values per row; viewed as (m / W, W * C) rows with the channel vectors tiled W
#: times, the same arithmetic runs about twice as fast on the CPU (measured on a
#: 128 x 32 x 32 x 16 map). Maps with at least this many channels are left as they are.
WIDE_ROW = 256


def _wide(a2, r: int):
    """(m, C) as (m / r, r * C): the same memory, r positions of a map row per row."""
    return a2 if r == 1 else a2.reshape(-1, r * a2.shape[1])


def _tile(v, r: int):
    """A per-channel vector repeated r times, to broadcast over :func:`_wide` rows."""
    return v if r == 1 else get_array_module(v).tile(v, r)


class BatchNorm(Layer):
    """Batch normalisation over the last axis (channels) of (N, C) or (N, H, W, C) input.

    Parameters
    ----------
    channels : int
    momentum : float, default=0.1
        Weight of the new batch in the running statistics (PyTorch's convention).
    eps : float, default=1e-5
    xp, dtype, name
        As :class:`~histnet.nn.core.Linear`.

    Attributes
    ----------
    params["gamma"], params["beta"] : (C,)
        Initialised to 1 and 0.
    buffers["running_mean"], buffers["running_var"] : (C,)
        Initialised to 0 and 1.
    """

    def __init__(self, channels: int, momentum: float = 0.1, eps: float = 1e-5, *, xp=np, dtype=FLOAT,
                 name=None):
        super().__init__(name)
        if channels < 1 or not 0 < momentum <= 1 or eps <= 0:
            raise ConfigError(f"layer {name or 'BatchNorm'}: need channels >= 1, 0 < momentum <= 1, eps > 0; "
                              f"got {channels}, {momentum}, {eps}")
        self.channels, self.momentum, self.eps = int(channels), float(momentum), float(eps)
        self.params["gamma"] = to_device(np.ones(channels, dtype), xp)
        self.params["beta"] = to_device(np.zeros(channels, dtype), xp)
        self.buffers["running_mean"] = to_device(np.zeros(channels, dtype), xp)
        self.buffers["running_var"] = to_device(np.ones(channels, dtype), xp)
        self._ones = {}  # a vector of ones per batch length, for the per-channel sums

    def forward(self, x, train=False):
        xp = get_array_module(x)
        if x.shape[-1] != self.channels:
            raise ConfigError(f"layer {self.name or 'BatchNorm'}: expects {self.channels} channels on the "
                              f"last axis, got shape {tuple(x.shape)}")
        x2 = x.reshape(-1, self.channels)
        r = self._repeat(x)
        xw = _wide(x2, r)
        gamma, beta = self.params["gamma"], self.params["beta"]
        if train:
            m = x2.shape[0]
            mean = self._colsum(x2) / m
            xhat = xp.empty(xw.shape, dtype=x.dtype)  # centred now, normalised in place below
            mt = _tile(mean, r)
            over_batch(lambda i: xp.subtract(xw[i], mt, out=xhat[i]), xw.shape[0], xw.size, xp)
            var = xp.einsum("ij,ij->j", xhat.reshape(-1, self.channels), xhat.reshape(-1, self.channels)) / m
            inv = (1.0 / xp.sqrt(var + self.eps)).astype(x.dtype, copy=False)
            it = _tile(inv, r)
            over_batch(lambda i: xp.multiply(xhat[i], it, out=xhat[i]), xw.shape[0], xw.size, xp)
            mo = self.momentum
            rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
            rm *= 1 - mo
            rm += mo * mean.astype(rm.dtype)
            rv *= 1 - mo
            rv += (mo * m / max(m - 1, 1)) * var.astype(rv.dtype)
            self.cache = (xhat, inv, x.shape)
        else:
            inv = 1.0 / xp.sqrt(self.buffers["running_var"] + self.eps)
            xhat = (xw - _tile(self.buffers["running_mean"], r)) * _tile(inv, r)
            self.cache = (xhat, inv, None)
        out = xp.empty(xhat.shape, dtype=xhat.dtype)
        gt, bt = _tile(gamma, r), _tile(beta, r)

        def scale(i):
            xp.multiply(xhat[i], gt, out=out[i])
            out[i] += bt

        over_batch(scale, out.shape[0], out.size, xp)
        return out.reshape(x.shape)

    def backward(self, dy):
        xp = get_array_module(dy)
        xhat, inv, train_shape = self.cache
        dy2 = dy.reshape(-1, self.channels)
        r = xhat.shape[-1] // self.channels
        dyw = _wide(dy2, r)
        gamma = self.params["gamma"]
        dbeta = self._colsum(dy2)
        dgamma = xp.einsum("ij,ij->j", dy2, xhat.reshape(-1, self.channels))
        self.grads["beta"], self.grads["gamma"] = dbeta, dgamma
        if train_shape is None:  # evaluation mode: the statistics are constants
            return (dyw * _tile(gamma * inv, r)).reshape(dy.shape)
        m = dy2.shape[0]
        # dx = gamma inv / m (m dy - dbeta - xhat dgamma), with one (m, C) array
        dx = xp.empty(xhat.shape, dtype=xhat.dtype)
        dgt, dbt, git = _tile(dgamma / m, r), _tile(dbeta / m, r), _tile(gamma * inv, r)

        def grad(i):  # rows i; each line one pass, in the order of the formula above
            xp.multiply(xhat[i], dgt, out=dx[i])
            xp.subtract(dyw[i], dx[i], out=dx[i])
            dx[i] -= dbt
            dx[i] *= git

        over_batch(grad, dx.shape[0], dx.size, xp)
        return dx.reshape(dy.shape)

    def _repeat(self, x) -> int:
        """How many positions of a row share one wide view (see :func:`_wide`): a map's
        width (N, H, W, C), 1 for (N, C); 1 when the rows cannot be viewed that way."""
        if x.ndim == 4 and x.flags.c_contiguous and self.channels < WIDE_ROW:
            return int(x.shape[2])
        return 1

    def _colsum(self, a):
        """Per-channel sums of an (m, C) array as one matrix-vector product (a BLAS call, several
        times faster than ``sum(axis=0)`` for few channels; float32 accumulates in BLAS's order)."""
        xp = get_array_module(a)
        ones = self._ones.get(a.shape[0])
        if ones is None or get_array_module(ones) is not xp or ones.dtype != a.dtype:
            ones = xp.ones(a.shape[0], dtype=a.dtype)
            self._ones = {a.shape[0]: ones}
        return ones @ a

    def flops(self, in_shape) -> int:
        return 2 * int(np.prod(in_shape))

    def __repr__(self):
        return f"BatchNorm({self.channels})"
