"""Array backend: numpy on the CPU, cupy on an NVIDIA GPU, one code path for both.

Compute code is written against ``xp``, the array module, and never against numpy
directly when it may hold device arrays::

    xp = get_array_module(x)        # numpy, cupy, or the CPU stand-in for cupy
    y = xp.maximum(x, 0)

Rules this module enforces (``docs/architecture.md``, "The contracts: Backend"):

* The device is chosen once, from ``"cpu"``, ``"gpu"`` or ``"auto"``
  (:func:`get_backend`). ``"gpu"`` without a working CUDA/cupy is a one-line
  :class:`~histnet.errors.DeviceError`; ``"auto"`` falls back to the CPU and says so
  through the ``notify`` callback.
* Moving data between host and device is explicit: :func:`to_device` and
  :func:`to_host`. Nothing converts implicitly.
* float32 is the default floating dtype (:data:`FLOAT`).
* Random numbers come from a generator made from a seed (:meth:`Backend.rng`) and
  passed in; nothing uses global random state.

The CPU stand-in for cupy (``device="cupy-standin"``, or ``HISTNET_CUPY_STANDIN=1``
in the environment for ``--device gpu``) is the third backend, the array module
:mod:`histnet.standin.arrays`. It computes with numpy but refuses what cupy refuses
(``np.asarray`` of a device array, mixing host and device arrays in one operation), so
the tests run every compute path the way the GPU runs it on machines without a GPU.
Code that must act differently on it asks the array module what it can do (e.g.
``xp.kernels_available()``, :func:`histnet.nn.kernels.uses_kernels`), never its name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Optional

import numpy as np

from .errors import DeviceError
from .standin import arrays as _standin

FLOAT = np.float32
"""Default floating dtype of every computation."""

DEVICES = ("cpu", "gpu", "auto")


def cupy_if_usable() -> Optional[ModuleType]:
    """Return the cupy module if it imports and sees at least one CUDA device."""
    try:
        import cupy  # noqa: F401
    except Exception:  # ImportError, or a CUDA library failing to load
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:
        return None
    return cupy


@dataclass(frozen=True)
class Backend:
    """The chosen array module and its device.

    Attributes
    ----------
    xp : module
        ``numpy``, ``cupy``, or the CPU stand-in for cupy (:mod:`histnet.standin.arrays`).
    device : str
        ``"cpu"``, ``"gpu"`` or ``"cupy-standin"``.
    """

    xp: ModuleType
    device: str

    @property
    def is_gpu(self) -> bool:
        """True for cupy and for its CPU stand-in (both hold device arrays)."""
        return self.device != "cpu"

    def asarray(self, x, dtype=None):
        """Move a host array to this backend's device (explicit host->device copy)."""
        return to_device(x, self.xp, dtype=dtype)

    def rng(self, seed):
        """A new random generator on this device, seeded with ``seed``.

        The same seed gives the same numbers on the same device.
        """
        return self.xp.random.default_rng(seed)

    def describe(self) -> str:
        if self.device == "gpu":
            try:
                props = self.xp.cuda.runtime.getDeviceProperties(0)
                name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
                return f"gpu ({name})"
            except Exception:
                return "gpu"
        return self.device


def get_backend(device: str = "cpu", notify: Optional[Callable[[str], None]] = None) -> Backend:
    """Choose the array backend.

    Parameters
    ----------
    device : {"cpu", "gpu", "auto", "cupy-standin"}, default="cpu"
        ``"gpu"`` needs cupy and a CUDA device; ``"auto"`` uses the GPU when there is
        one and otherwise the CPU (telling ``notify``). ``"cupy-standin"`` is the
        numpy-backed stand-in used by the tests. If the environment variable
        ``HISTNET_CUPY_STANDIN=1`` is set, ``"gpu"`` means the stand-in too, so the
        CLI can be exercised on the GPU path without a GPU.
    notify : callable, optional
        Called with one line of text when ``auto`` falls back to the CPU.

    Raises
    ------
    DeviceError
        ``"gpu"`` was asked for and no usable GPU is present.
    """
    if isinstance(device, Backend):
        return device
    if device == "cupy-standin" or (device == "gpu" and os.environ.get("HISTNET_CUPY_STANDIN") == "1"):
        return Backend(_standin, "cupy-standin")
    if device == "cpu":
        return Backend(np, "cpu")
    if device in ("gpu", "auto"):
        cp = cupy_if_usable()
        if cp is not None:
            return Backend(cp, "gpu")
        if device == "gpu":
            raise DeviceError(
                "--device gpu: no CUDA GPU is usable (cupy is not installed or sees no device); "
                "install the GPU extra with `pip install .[gpu]` on a machine with CUDA 12, or use --device cpu"
            )
        if notify is not None:
            notify("no CUDA GPU found: running on the CPU")
        return Backend(np, "cpu")
    raise DeviceError(f"unknown device {device!r}: choose one of cpu, gpu, auto")


def get_array_module(*arrays) -> ModuleType:
    """The array module (numpy, cupy or the stand-in) that owns ``arrays``.

    Falls back to numpy when none of them is a device array, as Chainer's does.
    """
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            import cupy

            return cupy
        if isinstance(a, _standin.ndarray):
            return _standin
    return np


def is_device_array(x) -> bool:
    """True if ``x`` lives on a device (cupy or the stand-in)."""
    return get_array_module(x) is not np


def to_host(x):
    """Copy a device array to a numpy array; numpy arrays and scalars pass through."""
    xp = get_array_module(x)
    if xp is np:
        return np.asarray(x)
    return xp.asnumpy(x)


def to_device(x, xp: ModuleType, dtype=None):
    """Copy ``x`` (numpy array or scalar) to the device of ``xp``.

    ``dtype`` casts on the way; with ``xp`` numpy this is ``np.asarray``.
    """
    if xp is np:
        return np.asarray(to_host(x), dtype=dtype)
    return xp.asarray(x, dtype=dtype)


def host_rng(seed) -> np.random.Generator:
    """A numpy generator for host-side randomness (shuffles, subsets, crops).

    ``seed`` may be an int, None, or an existing ``np.random.Generator`` (returned as is).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def float_dtype(dtype=None):
    """Return ``dtype`` if it is float32/float64, else the default float32."""
    if dtype is not None and np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64)):
        return np.dtype(dtype)
    return np.dtype(FLOAT)
