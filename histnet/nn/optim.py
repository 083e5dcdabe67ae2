"""Stochastic gradient descent with momentum and weight decay, as AlexNet's update.

Krizhevsky, Sutskever & Hinton (2012), section 5, "Details of learning":

    v_{i+1} = 0.9 v_i - 0.0005 eps w_i - eps <dL/dw | w_i>_{D_i}
    w_{i+1} = w_i + v_{i+1}

with eps the learning rate. Here ``momentum`` is the 0.9 and ``weight_decay`` the
0.0005. Weight decay applies to every parameter, biases included, as written (and as
PyTorch's ``SGD(weight_decay=...)`` does).

Note: with a changing learning rate this differs slightly from PyTorch's SGD, which
keeps ``v <- m v + (g + wd w)`` and steps ``w <- w - eps v`` (the learning rate
multiplies the whole velocity, not each new gradient). With a constant rate the two
are identical up to the scaling of ``v``.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module, to_device, to_host
from ..errors import ConfigError


class SGD:
    """The paper's momentum SGD over a model's ``parameters()``.

    Parameters
    ----------
    model : object with ``parameters() -> [(name, param, grad)]``
        Usually a :class:`~histnet.nn.core.Sequential`.
    lr : float, default=0.01
        eps, the learning rate (a schedule may change ``self.lr`` every step).
    momentum : float, default=0.9
    weight_decay : float, default=5e-4

    Attributes
    ----------
    velocity : dict of str -> xp array
        v for every parameter, created as zeros on the first step.
    """

    def __init__(self, model, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 5e-4):
        if lr < 0 or not 0 <= momentum < 1 or weight_decay < 0:
            raise ConfigError(f"SGD: need lr >= 0, 0 <= momentum < 1, weight_decay >= 0; "
                              f"got lr={lr}, momentum={momentum}, weight_decay={weight_decay}")
        self.model = model
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.velocity = {}
        self._scratch = {}  # one work array per parameter: no temporaries in the update

    def step(self) -> None:
        """Apply one update with the gradients the last ``backward`` left in the layers."""
        lr, m, wd = self.lr, self.momentum, self.weight_decay
        for name, p, g in self.model.parameters():
            if g is None:
                raise ConfigError(f"SGD: parameter {name} has no gradient; run backward first")
            xp = get_array_module(p)
            v = self.velocity.get(name)
            if v is None:
                v = self.velocity[name] = xp.zeros_like(p)
                self._scratch[name] = xp.empty_like(p)
            step = self._scratch[name]
            xp.multiply(p, wd, out=step)  # step = eps (wd w + g), in place
            step += g
            step *= lr
            v *= m
            v -= step
            p += v

    def state_dict(self) -> dict:
        """Velocities as host arrays by parameter name."""
        return {k: to_host(v) for k, v in self.velocity.items()}

    def load_state_dict(self, state: dict) -> None:
        params = {n: p for n, p, _ in self.model.parameters()}
        self.velocity = {}
        self._scratch = {}
        for k, v in state.items():
            if k not in params:
                continue
            p = params[k]
            xp = get_array_module(p)
            self.velocity[k] = to_device(np.asarray(v, dtype=p.dtype), xp)
            self._scratch[k] = xp.empty_like(p)
