"""``cupy.ElementwiseKernel`` on the CPU: the kernel's C body compiled by the host compiler.

histnet's CUDA kernels (:mod:`histnet.nn.kernels`) are plain C bodies run once per
output element with the index ``i``, in cupy's ``ElementwiseKernel`` form. This module
compiles the same body with the machine's C++ compiler inside a loop over ``i`` and runs
it on the cupy stand-in's arrays (:mod:`histnet.standin.arrays`, which subclasses
:class:`ElementwiseKernel` with its array type), so the kernels' index arithmetic is
tested on every machine, not only where a GPU is (``tests/test_kernels.py`` compares each
kernel with the numpy code it replaces). What this checks and what it does not:

* Checked: the body's indexing, bounds, tie-breaking and arithmetic, the parameter list
  against the call, the type binding of ``T``, and that only device arrays are passed
  (a host numpy array raises ``TypeError``, as cupy does).
* Not checked: anything about running in parallel (here ``i`` runs in order, so a race
  between threads writing one location would go unnoticed; histnet's kernels are all
  gathers, one thread per output element, and never write elsewhere), CUDA-only
  intrinsics (bodies meant to run here use the C math functions both sides have:
  ``sqrt``, ``pow``, ``exp``), and speed.

The parameter syntax supported is the part of cupy's that histnet uses: ``raw T name``
(a whole C-contiguous array, indexed by the body), ``T name`` (one element per ``i``:
a value for inputs, a reference for outputs) and scalars, where ``T`` is a type
placeholder (one capital letter) bound from the arguments, or one of the dtype names
below. Compiled libraries are cached on disk by a hash of their source.

This module knows nothing of the stand-in's array type: the array module imports it,
never the other way round.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

_CTYPES = {"float32": "float", "float64": "double", "int32": "int", "int64": "long long",
           "uint8": "unsigned char", "uint32": "unsigned int", "int8": "signed char", "bool": "bool"}
_LIBS: dict = {}


@functools.lru_cache(maxsize=None)
def compiler():
    """The C++ compiler used (``$CXX``, ``g++`` or ``c++``), or None when there is none.

    Looked up once per process: the layers ask (through ``available``) on every call."""
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")


def available() -> bool:
    """True when a C++ compiler is there to build kernels (see :func:`compiler`)."""
    return compiler() is not None


def _parse(params: str, is_output: bool) -> list:
    out = []
    for part in (p.strip() for p in params.split(",")):
        if not part:
            continue
        words = part.split()
        raw = words[0] == "raw"
        if raw:
            words = words[1:]
        if len(words) != 2 or not re.fullmatch(r"[A-Za-z_]\w*", words[1]):
            raise ValueError(f"ElementwiseKernel parameter {part!r}: expected '[raw] TYPE NAME'")
        typ, name = words
        if not (re.fullmatch(r"[A-Z]", typ) or typ in _CTYPES):
            raise ValueError(f"ElementwiseKernel parameter {part!r}: unknown type {typ!r}")
        out.append({"raw": raw, "type": typ, "name": name, "out": is_output})
    return out


class ElementwiseKernel:
    """CPU stand-in for ``cupy.ElementwiseKernel(in_params, out_params, operation, name)``.

    Call it as cupy's: inputs then outputs (outputs may be omitted when a non-raw input
    gives their shape); returns the output array, or a tuple of them.

    This base class runs on no array type: a subclass names the device arrays it takes
    by defining :meth:`_is_device`, :meth:`_buffer` and :meth:`_new_device`
    (:class:`histnet.standin.arrays.ElementwiseKernel` does, for the stand-in's arrays).
    """

    def __init__(self, in_params: str, out_params: str, operation: str, name: str = "kernel", **kwargs):
        self.params = _parse(in_params, False) + _parse(out_params, True)
        self.operation, self.name = operation, name
        self.n_in = sum(not p["out"] for p in self.params)

    # -- the device array type (defined by the subclass) -----------------------------------
    def _is_device(self, a) -> bool:
        """True if ``a`` is a device array of the subclass's array module."""
        raise NotImplementedError("ElementwiseKernel: subclass it for an array type")

    def _buffer(self, a) -> np.ndarray:
        """The numpy array holding the data of device array ``a`` (not a copy)."""
        raise NotImplementedError("ElementwiseKernel: subclass it for an array type")

    def _new_device(self, buffer: np.ndarray):
        """A device array holding ``buffer`` (not a copy)."""
        raise NotImplementedError("ElementwiseKernel: subclass it for an array type")

    # -- binding ---------------------------------------------------------------------------
    def _bind(self, args) -> dict:
        types = {}
        for p, a in zip(self.params, args):
            if isinstance(a, np.ndarray):
                raise TypeError(f"Unsupported type {type(a)!r} for {self.name} argument {p['name']!r}: "
                                "a host numpy array; pass a device array (cupy stand-in)")
            if self._is_device(a) and re.fullmatch(r"[A-Z]", p["type"]):
                dt = a.dtype.name
                if types.setdefault(p["type"], dt) != dt:
                    raise TypeError(f"{self.name}: type {p['type']} is bound to {types[p['type']]} and "
                                    f"{dt} ({p['name']!r})")
        return types

    def __call__(self, *args, size=None):
        args = list(args)
        if len(args) not in (self.n_in, len(self.params)):
            raise TypeError(f"{self.name}: takes {self.n_in} inputs and "
                            f"{len(self.params) - self.n_in} outputs; got {len(args)} arguments")
        types = self._bind(args[:self.n_in])
        if len(args) == self.n_in:  # allocate the outputs like the first non-raw input
            like = next((a for p, a in zip(self.params, args) if not p["raw"] and self._is_device(a)),
                        None)
            if like is None:
                raise TypeError(f"{self.name}: pass the output arrays (no non-raw input gives their shape)")
            for p in self.params[self.n_in:]:
                dt = types.get(p["type"], p["type"])
                args.append(self._new_device(np.empty(like.shape, dtype=dt)))
        types = self._bind(args)
        n = None
        for p, a in zip(self.params, args):
            if not p["raw"] and self._is_device(a):
                if n is not None and a.size != n:
                    raise ValueError(f"{self.name}: non-raw arrays differ in size ({a.size} and {n}); "
                                     "broadcasting is not emulated")
                n = a.size
        if n is None:
            n = size
        if n is None:
            raise ValueError(f"{self.name}: the loop size is unknown (no non-raw array and no size=)")
        scalars = {p["name"] for p, a in zip(self.params, args) if not self._is_device(a)}
        if any(self.params[k]["raw"] or self.params[k]["out"] for k, a in enumerate(args)
               if self.params[k]["name"] in scalars):
            raise TypeError(f"{self.name}: raw parameters and outputs must be device arrays")
        fn = self._compile(types, scalars)
        keep, ptrs = [], []
        for p, a in zip(self.params, args):
            ctype = types.get(p["type"], p["type"])
            if self._is_device(a):
                buf = self._buffer(a)
                if not buf.flags.c_contiguous:
                    raise ValueError(f"{self.name}: argument {p['name']!r} is not C-contiguous")
                if buf.dtype.name != ctype:
                    raise TypeError(f"{self.name}: argument {p['name']!r} is {buf.dtype.name}, expected {ctype}")
                if p["out"] and not buf.flags.writeable:
                    raise ValueError(f"{self.name}: output {p['name']!r} is read-only")
            else:
                buf = np.array(a, dtype=ctype)
            keep.append(buf)
            ptrs.append(buf.ctypes.data)
        arr = (ctypes.c_void_p * max(len(ptrs), 1))(*ptrs)
        fn(arr, ctypes.c_ssize_t(int(n)))
        outs = args[self.n_in:]
        return outs[0] if len(outs) == 1 else tuple(outs)

    # -- compilation -----------------------------------------------------------------------
    def source(self, types: dict, scalars=frozenset()) -> str:
        """The C++ translation unit for this kernel with ``types`` bound and the parameters
        in ``scalars`` passed as one value each."""
        lines = ["#include <cmath>", "#include <cstddef>", "using std::sqrt; using std::pow; using std::exp;"]
        lines += [f"typedef {_CTYPES[dt]} {ph};" for ph, dt in sorted(types.items())]
        lines.append(f'extern "C" void histnet_kernel(void** args, ptrdiff_t n) {{  // {self.name}')
        for k, p in enumerate(self.params):
            t = p["type"] if re.fullmatch(r"[A-Z]", p["type"]) else _CTYPES[p["type"]]
            const = "" if p["out"] else "const "
            if p["name"] in scalars:
                lines.append(f"  const {t} {p['name']} = *(const {t}*)args[{k}];")
            elif p["raw"]:
                lines.append(f"  {const}{t}* {p['name']} = ({const}{t}*)args[{k}];")
            elif p["out"]:
                lines.append(f"  {t}* {p['name']}__arr = ({t}*)args[{k}];")
            else:
                lines.append(f"  const {t}* {p['name']}__arr = (const {t}*)args[{k}];")
        lines.append("  for (ptrdiff_t i = 0; i < n; ++i) {")
        for p in self.params:
            t = p["type"] if re.fullmatch(r"[A-Z]", p["type"]) else _CTYPES[p["type"]]
            if not p["raw"] and p["name"] not in scalars:
                ref = "&" if p["out"] else ""
                const = "" if p["out"] else "const "
                lines.append(f"    {const}{t}{ref} {p['name']} = {p['name']}__arr[i];")
        lines += ["    {", self.operation, "    }", "  }", "}"]
        return "\n".join(lines) + "\n"

    def _compile(self, types: dict, scalars):
        src = self.source(types, scalars)
        key = hashlib.sha256(src.encode()).hexdigest()[:24]
        if key in _LIBS:
            return _LIBS[key]
        cxx = compiler()
        if cxx is None:
            raise RuntimeError("no C++ compiler (g++/c++, or $CXX) to run CUDA kernels on the CPU")
        folder = Path(tempfile.gettempdir()) / f"histnet-cpukernels-{os.getuid()}"
        folder.mkdir(parents=True, exist_ok=True)
        lib = folder / f"{self.name}-{key}.so"
        if not lib.exists():
            cpp = folder / f"{self.name}-{key}.cpp"
            cpp.write_text(src)
            tmp = folder / f".{lib.name}.{os.getpid()}.tmp"
            proc = subprocess.run([cxx, "-O2", "-shared", "-fPIC", "-o", str(tmp), str(cpp)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"kernel {self.name} does not compile ({cpp}):\n{proc.stderr[-3000:]}")
            os.replace(tmp, lib)
        fn = ctypes.CDLL(str(lib)).histnet_kernel
        fn.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_ssize_t]
        fn.restype = None
        _LIBS[key] = fn
        return fn
