"""Reader of the CIFAR-10 and CIFAR-100 "python version" batches, through a restricted unpickler.

The format (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images",
and https://www.cs.toronto.edu/~kriz/cifar.html): each batch is a pickled dict, written
by Python 2, whose keys load as bytes -- ``b"data"`` is a (N, 3072) uint8 array, one
row per image with the 1024 red, then green, then blue values of a 32 x 32 image in
row-major order; ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` / ``b"coarse_labels"``
(CIFAR-100) are lists of ints. ``batches.meta`` has ``b"label_names"``; CIFAR-100's
``meta`` has ``b"fine_label_names"``.

Layouts::

    cifar-10-batches-py/  data_batch_1 .. data_batch_5, test_batch, batches.meta
    cifar-100-python/     train, test, meta              (fine labels are used)

Security: a pickle can call any importable function while it loads. These files come
from the internet, so they are read with :class:`RestrictedUnpickler`, whose
``find_class`` admits only what a numpy array's pickle needs --
``numpy.core.multiarray._reconstruct`` (``numpy._core`` in numpy 2), ``numpy.ndarray``,
``numpy.dtype``, ``numpy.core.numeric._frombuffer`` (protocol 5 arrays) and
``_codecs.encode`` (how Python 3 pickles ``bytes`` at protocol 2; it only encodes a
string) -- and refuses every other global (``os.system``, ``builtins.eval``,
``subprocess.Popen``, ...) with a :class:`DataError` before anything is called. Plain
dicts, lists, bytes, str and ints need no global at all. The numpy stand-ins refuse,
while the file loads:

* object dtypes (``dtype('O')``, or a structured dtype with an object field), however
  they are asked for -- through ``numpy.dtype`` or as the dtype argument of
  ``numpy.ndarray`` / ``_reconstruct`` -- so no array can hold arbitrary objects;
* an array larger than the file: an array pickle carries its data in the file, so one
  asking for more bytes than the file has (a huge declared shape) is refused before
  numpy allocates it, instead of a ``MemoryError`` or an out-of-memory kill. A real
  batch is 10000 x 3072 bytes in a file of about 31 MB.

A ``MemoryError`` or ``RecursionError`` the unpickler still meets (a bytes opcode
declaring an absurd length, deep nesting) is a :class:`DataError` naming the file too.

Left out: the MATLAB and binary versions of CIFAR.
"""

from __future__ import annotations

import functools
import io
import math
import pickle
from pathlib import Path

import numpy as np

from ..errors import DataError

CIFAR10_DIR = "cifar-10-batches-py"
CIFAR100_DIR = "cifar-100-python"
CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


def _no_object(dt: np.dtype) -> np.dtype:
    if dt.hasobject:
        raise pickle.UnpicklingError(f"object dtype {dt!r} is not allowed (an array of arbitrary Python objects)")
    return dt


def _safe_dtype(obj, align=False, copy=True):
    # numpy pickles a dtype as dtype(spec, align, copy=True) followed by BUILD with its
    # state; the copy keeps that BUILD from touching numpy's shared built-in dtype objects.
    return _no_object(np.dtype(obj, align=bool(align), copy=True))


def _check_size(shape, dt: np.dtype, max_bytes) -> tuple:
    """``shape`` as a tuple of ints, refused if the array would need more than ``max_bytes``."""
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in dims):
        raise pickle.UnpicklingError(f"array shape {dims!r} is not a tuple of non-negative ints")
    nbytes = math.prod(int(d) for d in dims) * dt.itemsize
    if max_bytes is not None and nbytes > max_bytes:
        raise pickle.UnpicklingError(f"array of shape {dims} and dtype {dt} needs {nbytes} bytes, more than the "
                                     f"{max_bytes} bytes of the whole file")
    return dims


class _SafeNdarray:
    """What the global ``numpy.ndarray`` loads as.

    A pickle names it as the ``subtype`` argument of ``_reconstruct`` (how numpy
    pickles arrays), or may call it: ``numpy.ndarray(shape, dtype, ...)``, which is
    checked -- no object dtype, no allocation larger than ``max_bytes``.
    """

    def __init__(self, max_bytes=None):
        self.max_bytes = max_bytes

    def __call__(self, shape, dtype=float, buffer=None, offset=0, strides=None, order=None):
        dt = _no_object(np.dtype(dtype))
        if buffer is None:
            shape = _check_size(shape, dt, self.max_bytes)
        elif not isinstance(buffer, (bytes, bytearray)):
            raise pickle.UnpicklingError("numpy.ndarray over a buffer that is not bytes")
        return np.ndarray(shape, dt, buffer, offset, strides, order)


def _safe_reconstruct(subtype, shape=(0,), dtype=b"b", *, max_bytes=None):
    # numpy's _reconstruct(subtype, shape, dtype) builds an empty array of `subtype`
    # (shape (0,), later filled by BUILD); the only subtype we admit is ndarray itself.
    if subtype is not np.ndarray and not isinstance(subtype, _SafeNdarray):
        raise pickle.UnpicklingError("array reconstruction of a type other than numpy.ndarray")
    dt = _no_object(np.dtype(dtype))
    return np.ndarray.__new__(np.ndarray, _check_size(shape, dt, max_bytes), dt)


def _safe_frombuffer(buf, dtype, shape, order):
    # How numpy pickles an array at protocol 5 (out-of-band buffer support).
    if not isinstance(buf, (bytes, bytearray, memoryview)) or not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError("numpy _frombuffer with unexpected arguments")
    return np.frombuffer(buf, dtype).reshape(shape, order=order)


def _encode(obj, encoding="latin1"):
    import codecs

    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed for latin1 strings")
    return codecs.encode(obj, encoding)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only dicts, lists, bytes, str, numbers and numpy arrays.

    ``find_class`` maps the few globals a numpy-array pickle names onto checked
    stand-ins and raises ``pickle.UnpicklingError`` for anything else, so a crafted
    file's ``REDUCE`` never reaches a dangerous callable.

    Parameters
    ----------
    file : binary file object
    max_array_bytes : int, optional
        The largest array the pickle may make (numpy's stand-ins refuse more before
        allocating); :func:`safe_load_pickle` passes the file's size.
    **kwargs
        For ``pickle.Unpickler`` (``encoding="bytes"`` for Python 2 pickles).
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
        ("numpy.core.numeric", "_frombuffer"): _safe_frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _safe_frombuffer,
        ("numpy", "ndarray"): _SafeNdarray,
        ("numpy", "dtype"): _safe_dtype,
        ("_codecs", "encode"): _encode,
    }

    def __init__(self, file, *, max_array_bytes=None, **kwargs):
        super().__init__(file, **kwargs)
        self.max_array_bytes = max_array_bytes

    def find_class(self, module, name):
        fn = self.ALLOWED.get((module, name))
        if fn is None:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        if fn is _SafeNdarray:
            return _SafeNdarray(self.max_array_bytes)
        if fn is _safe_reconstruct:
            return functools.partial(fn, max_bytes=self.max_array_bytes)
        return fn


def safe_load_pickle(path) -> object:
    """Load a pickle file with :class:`RestrictedUnpickler` (bytes keys kept as bytes).

    Raises
    ------
    DataError
        Missing file, a truncated/corrupt pickle, a forbidden global (naming it), an
        object-dtype array, or an array or object larger than the file can hold.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    data = path.read_bytes()
    try:
        return RestrictedUnpickler(io.BytesIO(data), max_array_bytes=len(data), encoding="bytes").load()
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: refused or corrupt pickle ({e})") from None
    except (MemoryError, OverflowError) as e:
        raise DataError(f"{path}: corrupt pickle: it declares an object too large to allocate "
                        f"({type(e).__name__}{': ' + str(e) if str(e) else ''})") from None
    except RecursionError:
        raise DataError(f"{path}: corrupt pickle: nested too deeply") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise DataError(f"{path}: corrupt or truncated pickle ({type(e).__name__}: {e})") from None


def _get(d, key: str, path: Path):
    if not isinstance(d, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(d).__name__}")
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    raise DataError(f"{path}: missing key {key!r} (keys: {', '.join(map(repr, list(d)[:8]))})")


def _names(values, path):
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def read_batch(path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch file -> images (N, 32, 32, 3) uint8, labels (N,) int64."""
    path = Path(path)
    d = safe_load_pickle(path)
    data = _get(d, "data", path)
    labels = _get(d, label_key, path)
    if isinstance(data, (bytes, bytearray)):
        data = np.frombuffer(data, np.uint8)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.size % 3072:
        raise DataError(f"{path}: b'data' must be uint8 rows of 3072 values, got "
                        f"{getattr(data, 'dtype', type(data).__name__)} of size {getattr(data, 'size', '?')}")
    try:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"{path}: {label_key!r} must be a list of ints") from None
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    if len(images) != len(labels):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} labels")
    return np.ascontiguousarray(images), labels


def read_cifar(folder, split: str, kind: str) -> tuple[np.ndarray, np.ndarray, list[str], list[Path]]:
    """Read a split of CIFAR-10 (``kind="cifar10"``) or CIFAR-100 (``"cifar100"``, fine labels).

    Parameters
    ----------
    folder : Path
        ``cifar-10-batches-py`` / ``cifar-100-python`` or a folder containing it.
    split : {"train", "test"}

    Returns
    -------
    images : (N, 32, 32, 3) uint8
    labels : (N,) int64
    class_names : list of str
    files : list of Path read

    Raises
    ------
    DataError
        A file is missing, malformed or refused (see :func:`safe_load_pickle`), a label
        is out of range, or a file is a symbolic link out of ``folder``.
    """
    from .paths import check_inside, resolved_root

    folder = Path(folder)
    base = resolved_root(folder)
    if kind == "cifar10":
        d = folder / CIFAR10_DIR if (folder / CIFAR10_DIR).is_dir() else folder
        meta, names_key, key = d / "batches.meta", "label_names", "labels"
        files = [d / f for f in (CIFAR10_TRAIN if split == "train" else ["test_batch"])]
    elif kind == "cifar100":
        d = folder / CIFAR100_DIR if (folder / CIFAR100_DIR).is_dir() else folder
        meta, names_key, key = d / "meta", "fine_label_names", "fine_labels"
        files = [d / ("train" if split == "train" else "test")]
    else:
        raise DataError(f"unknown CIFAR kind {kind!r}")
    for f in [meta] + files:  # reads stay inside the folder given
        if f.exists():
            check_inside(f, base, "CIFAR file")
    names = _names(_get(safe_load_pickle(meta), names_key, meta), d)
    parts = [read_batch(f, key) for f in files]
    for f, (_, y) in zip(files, parts):
        if len(y) and (y.min() < 0 or y.max() >= len(names)):
            bad = int(y.max() if y.max() >= len(names) else y.min())
            raise DataError(f"{f}: label {bad} is out of range for {len(names)} classes (0..{len(names) - 1})")
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return images, labels, names, [meta] + files


def detect_cifar(folder: Path) -> str | None:
    """``"cifar10"``, ``"cifar100"`` or None, from the files in ``folder`` (or its CIFAR sub-folder)."""
    folder = Path(folder)
    for d in (folder, folder / CIFAR10_DIR):
        if (d / "batches.meta").is_file() and (d / "test_batch").is_file():
            return "cifar10"
    for d in (folder, folder / CIFAR100_DIR):
        if (d / "meta").is_file() and (d / "train").is_file() and (d / "test").is_file():
            return "cifar100"
    return None
