"""Central finite-difference checks of a layer's backward pass (used by the tests).

For a layer f and a fixed random projection r of its output, the scalar
L(x, theta) = sum(r * f(x; theta)) has dL/dx = backward(r) and dL/dtheta = grads.
:func:`numerical_gradient` estimates each entry by (L(z + h) - L(z - h)) / 2h in float64;
:func:`rel_error` compares it with the analytic value, as CS231n and Chainer's
``gradient_check.check_backward`` do.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module


def rel_error(a, b) -> float:
    """max |a - b| / max(|a| + |b|, 1e-8), elementwise then the maximum (host arrays)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))


def numerical_gradient(f, z, h: float = 1e-5):
    """d f() / d z by central differences, perturbing ``z`` (an xp float64 array) in place."""
    xp = get_array_module(z)
    grad = np.zeros(z.shape, np.float64)
    flat = z.reshape(-1)  # a view: z is contiguous in every use here
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = float(flat[i])
        flat[i] = old + h
        fp = float(f())
        flat[i] = old - h
        fm = float(f())
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return xp.asarray(grad) if xp is not np else grad


def check_layer(layer, x, seed: int = 0, h: float = 1e-5, train: bool = True):
    """Analytic and numerical gradients of ``sum(r * layer(x))`` for x and every parameter.

    ``x`` and the layer's parameters must be float64. A layer drawing random numbers
    (Dropout) must be given the same generator state for every call. ``train=True``
    (the default) makes layers keep what backward reads.

    Returns
    -------
    dict name -> (analytic, numerical) host arrays; ``"x"`` is the input gradient.
    """
    xp = get_array_module(x)
    y = layer.forward(x, train)
    r = xp.asarray(np.random.default_rng(seed).standard_normal(y.shape))
    dx = layer.backward(r.copy())  # an in-place layer may overwrite the gradient it is given
    out = {"x": (dx, None)}
    named = layer.named_params()  # containers (Residual, Sequential) qualify their layers' names
    grads = {k: g.copy() for k, _, g in named}

    def loss():
        return (layer.forward(x, train) * r).sum()

    out["x"] = (dx, numerical_gradient(loss, x, h))
    for k, p, _ in named:
        out[k] = (grads[k], numerical_gradient(loss, p, h))
    to_np = (lambda a: a) if xp is np else (lambda a: xp.asnumpy(a))
    return {k: (to_np(a), to_np(n)) for k, (a, n) in out.items()}
