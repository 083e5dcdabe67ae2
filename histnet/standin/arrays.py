"""The CPU stand-in for cupy: an array module that fails where cupy fails.

The backend ``"cupy-standin"`` of :func:`histnet.backend.get_backend` (and ``--device gpu``
with ``HISTNET_CUPY_STANDIN=1``) computes with this module as ``xp``, so that code which
would break on a GPU breaks on the CPU too: the tests run every compute path through it,
and the CLI can be run on the GPU path on a machine without a GPU. It computes with numpy underneath, but
its arrays (:class:`ndarray`) behave like ``cupy.ndarray`` at the host/device border:

* ``np.asarray(x)``, ``np.array(x)`` and anything else that needs the host buffer
  (``np.savez``, pandas, matplotlib) raise ``TypeError``, exactly as cupy's
  "Implicit conversion to a NumPy array is not allowed".
* Mixing a host ``numpy.ndarray`` and a device array in one operation
  (``dev + host``, ``xp.dot(dev, host)``, ``xp.concatenate([dev, host])``) raises
  ``TypeError``: on a GPU that is a silent transfer at best and an error at worst.
* Calling a numpy function or ufunc on a device array (``np.exp(dev)``,
  ``np.mean(dev)``) raises ``TypeError``: histnet's rule is ``xp.`` only. (Real cupy
  would dispatch some of these through NEP 13/18; the stand-in is stricter on purpose.)
* numpy-only functions that cupy does not have (``errstate``, ``seterr``, ``nditer``,
  ``vectorize``, ``frompyfunc``, ...) are missing from the module.
* Indexing a 1-d array with an integer gives a 0-d device array, as cupy does, not
  a Python scalar; ``float(x)``/``int(x)``/``x.item()`` are the explicit conversions.

``ElementwiseKernel`` compiles the kernel's C body with the host C++ compiler and runs
it over the stand-in's arrays (:mod:`histnet.standin.elementwise`), so histnet's CUDA
kernels run wherever the stand-in does and a C++ compiler is; :func:`kernels_available`
says whether one is (code asks that, never which module it runs on).

Host-to-device copies go through ``asarray``/``array``; device-to-host through
``asnumpy`` or ``x.get()``. Random numbers come only from ``random.default_rng``.
"""

from __future__ import annotations

import operator
import sys
import types

import numpy as _np

from . import elementwise as _elementwise

_IMPLICIT = (
    "Implicit conversion to a NumPy array is not allowed. "
    "Please use `.get()` to construct a NumPy array explicitly. (cupy stand-in)"
)

# numpy names that cupy does not provide; code using them would fail on the GPU.
_MISSING = {
    "errstate", "seterr", "geterr", "seterrcall", "nditer", "ndenumerate", "ndindex",
    "vectorize", "frompyfunc", "fromiter", "genfromtxt", "loadtxt", "savetxt", "save",
    "savez", "savez_compressed", "load", "memmap", "matrix", "asmatrix", "char", "rec",
    "ma", "polynomial", "ctypeslib", "emath",
}


def _host_mix_error(x):
    return TypeError(
        f"Unsupported type {type(x)!r}: a host numpy array was mixed with a device array "
        "(move it explicitly with xp.asarray / to_device). (cupy stand-in)"
    )


def _unwrap(x):
    """Device array -> its numpy buffer; host numpy arrays are refused."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _np.ndarray):
        raise _host_mix_error(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _unwrap_index(key):
    """Indices may be device arrays or host arrays (cupy accepts both)."""
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, tuple):
        return tuple(_unwrap_index(k) for k in key)
    return key


def _wrap(r):
    if isinstance(r, _np.ndarray):
        return ndarray(r)
    if isinstance(r, _np.generic):
        return ndarray(_np.asarray(r))
    if isinstance(r, tuple):
        return tuple(_wrap(v) for v in r)
    if isinstance(r, list):
        return [_wrap(v) for v in r]
    return r


class ndarray:
    """Device array of the stand-in. Holds a numpy array it never hands out implicitly."""

    __slots__ = ("_a",)
    __array_priority__ = 1000
    __hash__ = None

    def __init__(self, a):
        self._a = a

    # -- the border with the host ------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise TypeError(
            f"numpy.{ufunc.__name__} was called on a device array: use xp.{ufunc.__name__} (cupy stand-in)"
        )

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(
            f"numpy.{func.__name__} was called on a device array: use xp.{func.__name__} (cupy stand-in)"
        )

    def get(self):
        """Copy to the host, as ``cupy.ndarray.get``."""
        return self._a.copy()

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __bool__(self):
        return bool(self._a)

    def __index__(self):
        if self._a.ndim != 0 or self._a.dtype.kind not in "iu":
            raise TypeError("only integer 0-d device arrays can be used as an index")
        return int(self._a)

    # -- attributes ----------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))
    real = property(lambda self: ndarray(self._a.real))
    imag = property(lambda self: ndarray(self._a.imag))

    def __getattr__(self, name):
        if name.startswith("__"):  # no __array_interface__/__array_struct__: those would leak the host buffer
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args, **kwargs):
            args = _unwrap(args)
            kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
            return _wrap(attr(*args, **kwargs))

        return method

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for row in self._a:
            yield _wrap(row)

    def __repr__(self):
        return "stand-in device " + repr(self._a)

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap_index(key)])

    def __setitem__(self, key, value):
        if isinstance(value, ndarray):
            value = value._a
        self._a[_unwrap_index(key)] = value

    def __deepcopy__(self, memo):
        return ndarray(self._a.copy())

    def __copy__(self):
        return ndarray(self._a.copy())

    def __reduce__(self):
        return (ndarray, (self._a,))


def _binary(op, reflected=False):
    def f(self, other):
        o = _unwrap(other)
        return _wrap(op(o, self._a) if reflected else op(self._a, o))

    return f


def _inplace(op):
    def f(self, other):
        self._a = op(self._a, _unwrap(other))
        return self

    return f


for _name, _op in {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "matmul": operator.matmul, "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    "lshift": operator.lshift, "rshift": operator.rshift,
}.items():
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name, _op in {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
                   "eq": operator.eq, "ne": operator.ne}.items():
    setattr(ndarray, f"__{_name}__", _binary(_op))
for _name, _op in {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs,
                   "invert": operator.invert}.items():
    setattr(ndarray, f"__{_name}__", (lambda op: lambda self: _wrap(op(self._a)))(_op))


class _Func:
    """A numpy function or ufunc seen from the device side: device arrays in and out."""

    def __init__(self, fn):
        self._fn = fn
        self.__name__ = getattr(fn, "__name__", "function")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args, **kwargs):
        args = _unwrap(args)
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        return _wrap(self._fn(*args, **kwargs))

    def __getattr__(self, name):  # ufunc methods: add.at, maximum.reduce, ...
        return _Func(getattr(self._fn, name))


def _to_numpy_input(x):
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, (list, tuple)):
        return type(x)(_to_numpy_input(v) for v in x)
    return x


def asarray(a, dtype=None, order=None):
    """Host -> device (or device -> device, no copy when the dtype matches)."""
    if isinstance(a, ndarray):
        if dtype is None or _np.dtype(dtype) == a.dtype:
            return a
        return ndarray(a._a.astype(dtype))
    return ndarray(_np.array(_to_numpy_input(a), dtype=dtype, order=order or "K", copy=True))


def array(a, dtype=None, copy=True, order="K", ndmin=0):
    return ndarray(_np.array(_to_numpy_input(a), dtype=dtype, copy=True, order=order, ndmin=ndmin))


def ascontiguousarray(a, dtype=None):
    if isinstance(a, _np.ndarray):
        raise _host_mix_error(a)
    return ndarray(_np.ascontiguousarray(_to_numpy_input(a), dtype=dtype))


def asnumpy(a, stream=None, order="C"):
    """Device -> host copy, as ``cupy.asnumpy``."""
    if isinstance(a, ndarray):
        return a._a.copy()
    return _np.asarray(a)


def get_array_module(*args):
    for a in args:
        if isinstance(a, ndarray):
            return sys.modules[__name__]
    return _np


def fuse(*args, **kwargs):
    """``cupy.fuse`` stand-in: returns the function unchanged."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda f: f


class _Generator:
    """Device random generator: ``cupy.random.Generator``'s common methods."""

    def __init__(self, seed):
        self._g = _np.random.default_rng(seed)

    def _call(name):  # noqa: N805
        def f(self, *args, **kwargs):
            kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
            return _wrap(getattr(self._g, name)(*_unwrap(args), **kwargs))

        f.__name__ = name
        return f

    random = _call("random")
    standard_normal = _call("standard_normal")
    normal = _call("normal")
    uniform = _call("uniform")
    integers = _call("integers")
    binomial = _call("binomial")
    permutation = _call("permutation")
    choice = _call("choice")
    del _call


class ElementwiseKernel(_elementwise.ElementwiseKernel):
    """``cupy.ElementwiseKernel`` over this module's arrays: the C body compiled for the host.

    See :class:`histnet.standin.elementwise.ElementwiseKernel`; it needs a C++ compiler
    (:func:`kernels_available`).
    """

    def _is_device(self, a) -> bool:
        return isinstance(a, ndarray)

    def _buffer(self, a):
        return a._a

    def _new_device(self, buffer):
        return ndarray(buffer)


def kernels_available() -> bool:
    """True when :class:`ElementwiseKernel` can run here (a host C++ compiler exists).

    Real cupy has no such function: its kernels always run. Code that chooses between a
    kernel and array code asks this, not the module's name (:func:`histnet.nn.kernels.uses_kernels`).
    """
    return _elementwise.available()


random = types.SimpleNamespace(default_rng=lambda seed=None: _Generator(seed), Generator=_Generator)


def _namespace(mod, names=None):
    ns = types.SimpleNamespace()
    for n in names if names is not None else dir(mod):
        if n.startswith("_"):
            continue
        obj = getattr(mod, n)
        setattr(ns, n, _Func(obj) if callable(obj) and not isinstance(obj, type) else obj)
    return ns


linalg = _namespace(_np.linalg)
lib = types.SimpleNamespace(
    stride_tricks=_namespace(_np.lib.stride_tricks, ["as_strided", "sliding_window_view"])
)

_cache: dict = {}


def __getattr__(name):
    if name in _MISSING or name.startswith("__"):
        raise AttributeError(f"module 'cupy' (stand-in) has no attribute {name!r}")
    if name in _cache:
        return _cache[name]
    obj = getattr(_np, name)  # AttributeError for unknown names, as cupy
    if isinstance(obj, type) or not callable(obj):
        out = obj  # dtypes, classes, constants
    else:
        out = _Func(obj)
    _cache[name] = out
    return out
