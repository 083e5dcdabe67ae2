"""Weight initialisation schemes for :mod:`histnet.nn` layers.

Weights are drawn on the host from a seeded numpy generator and then copied to the
device, so the same seed gives the same initial network on the CPU, on the GPU and
under the cupy stand-in.

Schemes
-------
``"normal"``
    N(0, std^2) with the caller's ``std``. AlexNet's choice: "We initialized the
    weights in each layer from a zero-mean Gaussian distribution with standard
    deviation 0.01" (Krizhevsky et al. 2012, section 5).
``"he"``
    N(0, 2 / fan_in), for ReLU networks (He et al. 2015, doi:10.1109/ICCV.2015.123).
``"glorot"``
    U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010).
"""

from __future__ import annotations

import numpy as np

from ..backend import FLOAT, host_rng, to_device
from ..errors import ConfigError

SCHEMES = ("normal", "he", "glorot")


def init_weight(shape, fan_in: int, fan_out: int, scheme: str = "he", std: float = 0.01,
                rng=None, xp=np, dtype=FLOAT):
    """Draw a weight array.

    Parameters
    ----------
    shape : tuple of int
    fan_in, fan_out : int
        Inputs feeding one output unit, and outputs fed by one input unit.
    scheme : {"normal", "he", "glorot"}, default="he"
    std : float, default=0.01
        Standard deviation for ``"normal"``.
    rng : int, numpy.random.Generator or None
        Host generator (or seed) the weights are drawn from.
    xp : module
        Array module the result is placed on.

    Returns
    -------
    W : xp array of ``shape``, ``dtype``
    """
    g = host_rng(rng)
    if scheme == "normal":
        w = g.normal(0.0, std, size=shape)
    elif scheme == "he":
        w = g.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    elif scheme == "glorot":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        w = g.uniform(-a, a, size=shape)
    else:
        raise ConfigError(f"init={scheme!r}: choose one of {', '.join(SCHEMES)}")
    return to_device(w.astype(dtype), xp)


def init_bias(n: int, value: float = 0.0, xp=np, dtype=FLOAT):
    """A bias vector (n,) filled with ``value`` (AlexNet: 1 in conv2, conv4, conv5 and the
    hidden fully connected layers, "to accelerate the early stages of learning by
    providing the ReLUs with positive inputs"; 0 elsewhere)."""
    return to_device(np.full(n, value, dtype=dtype), xp)
