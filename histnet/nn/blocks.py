"""The pieces of the nets after 2012: residual blocks, their shortcuts, global average pooling.

* :class:`Residual` (He, Zhang, Ren & Sun 2015, "Deep residual learning for image
  recognition", CVPR 2016, arXiv:1512.03385): ``y = relu(body(x) + shortcut(x))``. The
  input is used twice, so its gradient is the *sum* of the two paths' gradients: the block
  adds them, which is why no layer needs to accumulate its own gradients.
* :class:`ShortcutA`: the paper's option A for CIFAR (section 4.2), the identity when the
  shape is kept; when a stage halves the map and doubles the channels, it takes every
  second pixel and pads the new channels with zeros (no parameters: ResNet-20 has 0.27 M).
* :class:`GlobalAvgPool2D` (Lin, Chen & Yan 2013, "Network in network", arXiv:1312.4400):
  the mean of each channel over the map, (N, H, W, C) -> (N, C).
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..errors import ConfigError
from .core import Layer, Sequential, relu_grad


class Residual(Layer):
    """``relu(body(x) + shortcut(x))`` (``relu=False``: just the sum).

    Parameters
    ----------
    body : list of Layer
        The residual function (conv-BN-ReLU-conv-BN in the paper's basic block).
    shortcut : list of Layer, optional
        Applied to x on the identity path (a :class:`ShortcutA` or a 1x1 strided projection
        and its batch norm); empty or None is the identity.
    relu : bool, default=True
        The ReLU after the addition (the paper's).
    """

    def __init__(self, body, shortcut=None, relu: bool = True, name=None):
        super().__init__(name)
        self.body = Sequential(body, name="body")
        self.shortcut = Sequential(list(shortcut or []), name="shortcut")
        self.relu = bool(relu)

    def sublayers(self) -> list:
        return [self.body, self.shortcut]

    def forward(self, x, train=False):
        xp = get_array_module(x)
        y = self.body.forward(x, train)
        y = y + self.shortcut.forward(x, train)
        if self.relu:
            xp.maximum(y, 0, out=y)
        self.cache = y if train else None
        return y

    def backward(self, dy):
        if self.relu:
            dy = relu_grad(dy, self.cache)
        d_short = self.shortcut.backward(dy)
        if d_short is dy and self._body_overwrites_its_gradient():
            d_short = dy.copy()  # the identity: keep it from the body layer that works in place
        d_body = self.body.backward(dy)
        # the input fed both paths: its gradients add (into the body's, when that is a fresh array)
        if d_body is dy or d_body is d_short or not getattr(d_body.flags, "writeable", True):
            return d_body + d_short
        d_body += d_short
        return d_body

    def _body_overwrites_its_gradient(self) -> bool:
        """Whether the body's last layer (the first backward sees) writes into the gradient it
        is given (an in-place ReLU does); a composite layer is assumed to."""
        layers = self.body.layers
        if not layers:
            return False
        last = layers[-1]
        return bool(getattr(last, "inplace", False) or last.sublayers())

    def output_shape(self, in_shape):
        a, b = self.body.output_shape(in_shape), self.shortcut.output_shape(in_shape)
        if tuple(a) != tuple(b):
            raise ConfigError(f"layer {self.name or 'Residual'}: body gives {tuple(a)}, shortcut {tuple(b)}; "
                              "they must match to be added")
        return a

    def flops(self, in_shape) -> int:
        return self.body.flops(in_shape) + self.shortcut.flops(in_shape)

    def __repr__(self):
        return f"Residual(body={[repr(l) for l in self.body.layers]}, shortcut={[repr(l) for l in self.shortcut.layers]})"


class ShortcutA(Layer):
    """The parameter-free shortcut of ResNet's CIFAR nets (option A).

    ``stride`` 2 keeps every second row and column; channels beyond the input's are zeros
    (the input's channels first; PyTorch re-implementations often pad on both sides, which
    is the same net up to a permutation of channels).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, name=None):
        super().__init__(name)
        if out_channels < in_channels or stride < 1:
            raise ConfigError(f"layer {name or 'ShortcutA'}: needs out_channels >= in_channels and stride >= 1")
        self.c_in, self.c_out, self.stride = int(in_channels), int(out_channels), int(stride)

    def forward(self, x, train=False):
        xp = get_array_module(x)
        s = self.stride
        sub = x[:, ::s, ::s, :]
        if train:
            self.cache = x.shape
        if self.c_out == self.c_in:
            return sub if s == 1 else xp.ascontiguousarray(sub)
        out = xp.zeros(sub.shape[:3] + (self.c_out,), dtype=x.dtype)
        out[..., :self.c_in] = sub
        return out

    def backward(self, dy):
        xp = get_array_module(dy)
        s = self.stride
        if s == 1 and self.c_out == self.c_in:
            return dy
        dx = xp.zeros(self.cache, dtype=dy.dtype)
        dx[:, ::s, ::s, :] = dy[..., :self.c_in]
        return dx

    def output_shape(self, in_shape):
        h, w, _ = in_shape
        s = self.stride
        return (-(-h // s), -(-w // s), self.c_out)

    def __repr__(self):
        return f"ShortcutA({self.c_in}, {self.c_out}, stride={self.stride})"


class GlobalAvgPool2D(Layer):
    """(N, H, W, C) -> (N, C): the mean of every channel over the map."""

    def forward(self, x, train=False):
        if train:
            self.cache = x.shape
        return x.mean(axis=(1, 2))

    def backward(self, dy):
        xp = get_array_module(dy)
        n, h, w, c = self.cache
        return xp.broadcast_to((dy / (h * w))[:, None, None, :], (n, h, w, c)).astype(dy.dtype)

    def output_shape(self, in_shape):
        return (int(in_shape[-1]),)

    def flops(self, in_shape) -> int:
        return int(np.prod(in_shape))
