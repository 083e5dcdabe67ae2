"""Layers with explicit forward and backward passes, and the Sequential container.

Every layer keeps its forward and backward side by side (as in Karpathy's micrograd
and the CS231n layer files). The contract:

* ``layer.params`` and ``layer.grads`` are dicts of xp arrays with the same keys;
  ``backward`` *overwrites* ``grads`` (no accumulation, no ``zero_grad``). That is right
  because no layer object is applied twice in one forward pass (:class:`Sequential`
  refuses a network that holds one layer twice). A *tensor* used twice (the input of a
  residual block feeds its body and its shortcut) gets the sum of its gradients from the
  container that uses it twice (:class:`histnet.nn.Residual` adds them).
* ``layer.buffers`` holds arrays that are state but not trained (batch normalisation's
  running statistics): saved in ``state_dict`` and checkpoints, never updated by SGD.
* Containers (:class:`Sequential`, :class:`histnet.nn.Residual`) hold layers and qualify
  their names: ``"block1.conv1.W"``.
* ``y = layer.forward(x, train)`` keeps in ``layer.cache`` only what ``backward``
  reads; ``dx = layer.backward(dy)`` returns the gradient for the input.
* Compute uses ``xp = get_array_module(x)`` and array methods only, so the same
  lines run on numpy, cupy and the cupy stand-in.

Axis letters: N batch, D input features, F output features, H/W height/width,
C channels. Images are NHWC throughout :mod:`histnet.nn` (measured faster than NCHW
for im2col on the CPU; see ``docs/cnn.md``).

This file holds the layers that are not convolutional: :class:`Linear`,
:class:`ReLU`, :class:`Sigmoid`, :class:`Tanh`, :class:`Dropout`, :class:`Flatten`,
and :class:`Sequential`. Convolution, pooling and LRN live in :mod:`.conv`,
:mod:`.pool` and :mod:`.lrn`.
"""

from __future__ import annotations

import sys

import numpy as np

from ..backend import FLOAT, get_array_module, to_device, to_host
from ..errors import CheckpointError, ConfigError
from .init import init_bias, init_weight
from .parallel import over_batch


class Layer:
    """Base class: a layer with no parameters that passes its input through.

    Attributes
    ----------
    params : dict of str -> xp array
    grads : dict of str -> xp array (same keys as ``params``, filled by ``backward``)
    name : str or None
        Set by :class:`Sequential` when not given; qualifies parameter names.
    """

    def __init__(self, name=None):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.cache = None
        self.name = name

    def sublayers(self) -> list:
        """The layers a container holds (none for a plain layer)."""
        return []

    def scratch(self, key, shape, dtype, xp):
        """An uninitialised work array for ``key``, the same one as last step when nothing
        outside the layer still holds it (no view of it returned earlier is alive).

        A fresh array over 32 MB is new memory from the kernel every step, and touching it
        page-faults (several ms a map, and worse from two threads at once); reusing it does
        not. Whether the last one is free is read from its reference count, compared with
        the count it had when it was made, so an array a caller kept is never overwritten.
        """
        store = self.__dict__.setdefault("_scratch", {})
        entry = store.get(key)  # [array, its reference count when nothing else held it]
        if entry is not None:
            buf = entry[0]
            if (buf.shape == tuple(shape) and buf.dtype == dtype and get_array_module(buf) is xp
                    and sys.getrefcount(buf) == entry[1]):
                return buf
        buf = xp.empty(shape, dtype=dtype)
        store[key] = entry = [buf, 0]
        entry[1] = sys.getrefcount(buf)  # held by the list and `buf` here, as when reused above
        return buf

    def named_params(self):
        """``(name, param, grad)`` of this layer and, for a container, its layers (qualified)."""
        out = [(k, p, self.grads.get(k)) for k, p in self.params.items()]
        for child in self.sublayers():
            out += [(f"{child.name}.{k}", p, g) for k, p, g in child.named_params()]
        return out

    def named_buffers(self):
        """``(name, array)`` of the buffers of this layer and its layers (qualified)."""
        out = list(self.buffers.items())
        for child in self.sublayers():
            out += [(f"{child.name}.{k}", b) for k, b in child.named_buffers()]
        return out

    def set_array(self, qualified: str, value) -> None:
        """Replace the parameter or buffer ``qualified`` (``"conv1.W"`` in a container)."""
        head, dot, rest = qualified.partition(".")
        if dot:
            for child in self.sublayers():
                if child.name == head:
                    return child.set_array(rest, value)
        store = self.params if qualified in self.params else self.buffers
        store[qualified] = value

    def forward(self, x, train: bool = False):
        return x

    def backward(self, dy):
        return dy

    def __call__(self, x, train: bool = False):
        return self.forward(x, train)

    def output_shape(self, in_shape):
        """Shape of one output sample for one input sample of ``in_shape`` (no batch axis)."""
        return tuple(in_shape)

    def flops(self, in_shape) -> int:
        """Forward multiply-adds x 2 for one sample (0 for layers without a GEMM)."""
        return 0

    def __repr__(self):
        return f"{type(self).__name__}()"


class Linear(Layer):
    """Fully connected layer ``y = x W + b``.

    Parameters
    ----------
    in_features, out_features : int
        D and F.
    init : {"normal", "he", "glorot"}, default="he"
        Weight scheme (:mod:`histnet.nn.init`); ``"normal"`` with ``std=0.01`` is AlexNet's.
    std : float, default=0.01
    bias : float, default=0.0
        Initial bias value (AlexNet: 1 in the hidden fully connected layers).
    rng : int or numpy.random.Generator, optional
        Host generator for the initial weights.
    xp : module, default=numpy
        Where the parameters live.

    Attributes
    ----------
    params["W"] : (D, F)
    params["b"] : (F,)
    """

    def __init__(self, in_features: int, out_features: int, *, init="he", std=0.01, bias=0.0,
                 rng=None, xp=np, dtype=FLOAT, name=None):
        super().__init__(name)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.params["W"] = init_weight((self.in_features, self.out_features), self.in_features,
                                       self.out_features, init, std, rng, xp, dtype)
        self.params["b"] = init_bias(self.out_features, bias, xp, dtype)

    def forward(self, x, train=False):
        # x: (N, D) -> y: (N, F)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ConfigError(f"layer {self.name or 'Linear'}: expects input (N, {self.in_features}), "
                              f"got shape {tuple(x.shape)}")
        self.cache = x
        y = x @ self.params["W"]
        y += self.params["b"]
        return y

    def backward(self, dy):
        # dy: (N, F) -> dx: (N, D); dW = x^T dy, db = sum_N dy
        x = self.cache
        self.grads["W"] = x.T @ dy
        self.grads["b"] = dy.sum(axis=0)
        return dy @ self.params["W"].T

    def output_shape(self, in_shape):
        return (self.out_features,)

    def flops(self, in_shape):
        return 2 * self.in_features * self.out_features

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features})"


def relu_grad(dy, y, out=None):
    """``dy`` where ``y > 0``, else 0: a product with the mask (``where`` is several times
    slower on the CPU, its branch mispredicted on about half the entries). Large maps are
    split over the batch on the CPU's threads (:mod:`histnet.nn.parallel`)."""
    xp = get_array_module(dy)
    if out is None:
        out = xp.empty(dy.shape, dtype=dy.dtype)
    over_batch(lambda i: xp.multiply(dy[i], y[i] > 0, out=out[i]), dy.shape[0], dy.size, xp)
    return out


class ReLU(Layer):
    """``y = max(x, 0)``; backward passes ``dy`` where ``y > 0`` (Nair & Hinton 2010).

    Parameters
    ----------
    inplace : bool, default=False
        Overwrite the input with the output in forward and ``dy`` with ``dx`` in backward.
        Safe right after a layer that does not keep its own output (Conv2D, Linear) and
        much faster on large maps (no new arrays to allocate).
    """

    def __init__(self, inplace: bool = False, name=None):
        super().__init__(name)
        self.inplace = bool(inplace)

    def forward(self, x, train=False):
        xp = get_array_module(x)
        y = x if self.inplace else xp.empty_like(x)
        over_batch(lambda i: xp.maximum(x[i], 0, out=y[i]), x.shape[0], x.size, xp)
        self.cache = y if train else None
        return y

    def backward(self, dy):
        return relu_grad(dy, self.cache, out=dy if self.inplace else None)

    def __repr__(self):
        return "ReLU(inplace=True)" if self.inplace else "ReLU()"


def sigmoid(x, out=None):
    """Logistic function ``1 / (1 + exp(-x))``, in place when ``out`` is ``x``.

    Four passes (negate, exp, add one, reciprocal) and no temporary. ``exp(-x)`` overflows to
    inf below x = -88 in float32, which gives exactly 0 (the warning is silenced). The form
    used before 2026-12-02, ``0.5 tanh(x / 2) + 0.5``, lost small probabilities to
    cancellation (relative error 1e-4 at p = 1e-4, 3% at 3e-7, exactly 0 below x = -20);
    this one keeps them within 2e-7 relative down to x = -80. It is faster too: 89 against
    148 us for a 100 x 500 batch on the 2-vCPU guest of ``results/speed.md`` (numpy's float32
    ``exp`` against its ``tanh``), which made an RBM epoch 7% shorter there. The RBMs, the
    DBN and :class:`Sigmoid` all use this one.
    """
    xp = get_array_module(x)
    if out is None and x.dtype.kind not in "fc":  # integers and booleans: a float64 result
        x = x.astype(xp.float64)
    out = xp.negative(x, out=out)
    with np.errstate(over="ignore"):
        xp.exp(out, out=out)
    out += 1
    return xp.reciprocal(out, out=out)


class Sigmoid(Layer):
    """Logistic ``y = 1 / (1 + exp(-x))`` (:func:`sigmoid`); backward ``dx = dy * y * (1 - y)``."""

    def forward(self, x, train=False):
        y = sigmoid(x)
        self.cache = y
        return y

    def backward(self, dy):
        y = self.cache
        return dy * y * (1 - y)


class Tanh(Layer):
    """``y = tanh(x)``; backward ``dx = dy * (1 - y^2)``."""

    def forward(self, x, train=False):
        xp = get_array_module(x)
        y = xp.tanh(x)
        self.cache = y
        return y

    def backward(self, dy):
        y = self.cache
        return dy * (1 - y * y)


class Dropout(Layer):
    """Inverted dropout: at training time each unit is kept with probability ``1 - p`` and
    scaled by ``1 / (1 - p)``; at test time the layer is the identity.

    The paper (Krizhevsky et al. 2012, section 4.2; Hinton et al. 2012, arXiv:1207.0580)
    drops with p = 0.5 and multiplies outputs by 0.5 at test time; scaling at training
    time instead gives the same expected activations and a test pass with no extra work.

    The mask comes from ``self.rng``, a device generator; :class:`Sequential.set_rng`
    (called by the :class:`~histnet.nn.trainer.Trainer` before every batch) sets it.
    """

    def __init__(self, p: float = 0.5, rng=None, name=None):
        super().__init__(name)
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"Dropout: p={p} must lie in [0, 1)")
        self.p = float(p)
        self.rng = rng

    def forward(self, x, train=False):
        if not train or self.p == 0.0:
            self.cache = None
            return x
        if self.rng is None:
            raise ConfigError(f"layer {self.name or 'Dropout'}: training needs a generator; "
                              "call model.set_rng(xp.random.default_rng(seed)) first")
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        scale = keep.astype(x.dtype) * (1.0 / (1.0 - self.p))
        self.cache = scale
        return x * scale

    def backward(self, dy):
        return dy if self.cache is None else dy * self.cache

    def __repr__(self):
        return f"Dropout({self.p})"


class Flatten(Layer):
    """(N, ...) -> (N, prod(...)); backward restores the shape."""

    def forward(self, x, train=False):
        self.cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.cache)

    def output_shape(self, in_shape):
        return (int(np.prod(in_shape)),)


class Sequential(Layer):
    """A chain of layers.

    Layer names (``layer.name``) qualify parameter names as ``"<layer>.<param>"``;
    unnamed layers are called ``"<index>_<class>"``, e.g. ``"3_linear"``.

    Parameters
    ----------
    layers : list of Layer
    """

    def __init__(self, layers, name=None):
        super().__init__(name)
        self.layers = list(layers)
        seen = set()
        for i, layer in enumerate(self.layers):
            if layer.name is None:
                layer.name = f"{i}_{type(layer).__name__.lower()}"
            if layer.name in seen:
                raise ConfigError(f"Sequential: two layers are called {layer.name!r}")
            seen.add(layer.name)
        objects = [id(l) for l in _all_layers(self)]
        if len(objects) != len(set(objects)):
            raise ConfigError(f"Sequential {name or ''}: one layer object appears twice; backward overwrites "
                              "its gradients, so a shared layer would lose one use's gradient")

    def sublayers(self) -> list:
        return self.layers

    def forward(self, x, train=False):
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def parameters(self):
        """List of ``(qualified_name, param, grad)``; ``grad`` is None before the first backward."""
        return [(f"{layer.name}.{k}", p, g) for layer in self.layers for k, p, g in layer.named_params()]

    def set_rng(self, rng) -> None:
        """Give every layer that draws random numbers (Dropout) the device generator ``rng``."""
        for layer in _all_layers(self):
            if hasattr(layer, "rng"):
                layer.rng = rng

    def clear_cache(self) -> None:
        """Drop what forward kept for backward and reusable work arrays (frees memory)."""
        for layer in _all_layers(self):
            layer.cache = None
            layer.__dict__.pop("_scratch", None)

    def n_params(self) -> int:
        return int(sum(int(np.prod(p.shape)) for _, p, _ in self.parameters()))

    def _arrays(self):
        """``(qualified_name, array)`` of every parameter, then every buffer."""
        out = [(n, p) for n, p, _ in self.parameters()]
        return out + [(f"{layer.name}.{k}", b) for layer in self.layers for k, b in layer.named_buffers()]

    def signature(self) -> dict:
        """``{qualified_name: shape}`` of every parameter and buffer: what identifies the network."""
        return {n: tuple(int(s) for s in p.shape) for n, p in self._arrays()}

    def state_dict(self) -> dict:
        """Parameters and buffers as host numpy arrays, by qualified name (for ``.npz``)."""
        return {n: to_host(p) for n, p in self._arrays()}

    def load_state_dict(self, state: dict, source: str = "state") -> None:
        """Copy host arrays into the parameters (on their device).

        Raises
        ------
        CheckpointError
            The names or shapes differ from this network's; the message lists what differs.
        """
        check_signature(self.signature(), {k: tuple(np.shape(v)) for k, v in state.items()}, source)
        for name, p in self._arrays():
            self.set_array(name, to_device(np.asarray(state[name], dtype=p.dtype), get_array_module(p)))

    def output_shape(self, in_shape):
        for layer in self.layers:
            in_shape = layer.output_shape(in_shape)
        return in_shape

    def flops(self, in_shape) -> int:
        total = 0
        for layer in self.layers:
            total += layer.flops(in_shape)
            in_shape = layer.output_shape(in_shape)
        return total

    def __repr__(self):
        inner = ",\n  ".join(f"{l.name}: {l!r}" for l in self.layers)
        return f"Sequential(\n  {inner}\n)"


def _all_layers(layer) -> list:
    """``layer``'s layers, depth first, containers included (not ``layer`` itself)."""
    out = []
    for child in layer.sublayers():
        out.append(child)
        out += _all_layers(child)
    return out


def check_signature(expected: dict, found: dict, source: str) -> None:
    """Raise :class:`CheckpointError` naming the parameters whose names or shapes differ."""
    diffs = []
    for k, shape in expected.items():
        if k not in found:
            diffs.append(f"{k} missing")
        elif tuple(found[k]) != tuple(shape):
            diffs.append(f"{k} is {tuple(found[k])} there, {tuple(shape)} here")
    diffs += [f"{k} not in this network" for k in found if k not in expected]
    if diffs:
        more = f" (+{len(diffs) - 4} more)" if len(diffs) > 4 else ""
        raise CheckpointError(f"{source}: holds another network: {'; '.join(diffs[:4])}{more}")
