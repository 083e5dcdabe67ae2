"""On-disk cache of extracted features, keyed by what they were computed from.

Extracting HOG or dense SIFT from a data set costs far more than fitting a linear SVM on
the result, and a hyper-parameter search (another ``C``, another codebook size) reuses the
same features many times. :class:`FeatureCache` stores each feature matrix once as a ``.npy``
file whose name is a hash of a *key*: a JSON-able dict holding the feature's name, every
parameter that changes its values, and :func:`dataset_key` of the images it was computed
from (provenance checksum, labels and subset indices). Change any of those and the key
changes, so a stale file is never read.

Files are written atomically (:func:`histnet.io.atomic_write`), so an interrupted run leaves
either no file or a whole one, and read back with ``np.load(allow_pickle=False,
mmap_mode="r")``: a large cached matrix is paged in as it is used rather than loaded whole.

A ``.json`` file beside each ``.npy`` records the key in clear and its digest, the
array's shape and dtype, and a checksum of its bytes (BLAKE2b, 256 bits). Every :meth:`FeatureCache.get`
checks them before handing the array out: an entry whose ``.json`` is missing, damaged
or from an older histnet (no checksum), whose ``.npy`` is unreadable, truncated, of
another shape or dtype, or whose bytes do not hash to the recorded checksum (a zeroed
or overwritten file) is deleted, reported in one line through the optional ``notify``
callable, and computed again by :meth:`FeatureCache.get_or_compute`. The checksum is
streamed in 8 MB chunks, so memory stays flat whatever the size; it costs one read of
the file per ``get``: 0.4-0.55 s for a 500 MiB float32 array read from the page cache on
one core (about 1 GB/s; from a cold disk, the disk's read speed), with no growth of the
resident set. Writing hashes the array already in memory, about 0.4 s more for 500 MiB.

What this leaves out: no size limit or automatic eviction (``histnet cache clear``, or
:mod:`histnet.cache_admin`, removes entries by hand); no locking: two processes computing
the same key both compute and the last rename wins, which is safe when both write the same
bytes (if they differ, say from non-deterministic GPU sums, the ``.npy`` of one may end up
beside the ``.json`` of the other, and the entry is then recomputed once on the next read);
no memo of verified entries, so each ``get`` hashes the file again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..backend import is_device_array, to_host
from ..errors import ConfigError
from ..io import json_default, atomic_write, cache_root, write_json

__all__ = ["FeatureCache", "dataset_key", "key_digest", "array_checksum", "file_checksum",
           "read_entry_meta", "ENTRY_NAME", "FORMAT_VERSION"]

#: Version of the ``.json`` written beside each ``.npy``; 1 (no ``format`` field) had no checksum.
FORMAT_VERSION = 2
#: Name of the checksum recorded as ``"<algorithm>:<hex digest>"``.
CHECKSUM_ALGORITHM = "blake2b-256"
#: The name of a cache file: ``<feature name, made safe>-<24 hex digits of the key digest>.npy``.
ENTRY_NAME = re.compile(r"^(?P<name>[A-Za-z0-9_-]{1,40})-(?P<digest>[0-9a-f]{24})\.npy$")
_CHUNK = 8 << 20


def _canonical(key: dict) -> str:
    """The key as canonical JSON text (sorted keys, no spaces), refusing what is not JSON-able."""
    if not isinstance(key, dict):
        raise ConfigError(f"FeatureCache: key must be a dict, got {type(key).__name__}")

    try:
        return json.dumps(key, sort_keys=True, separators=(",", ":"), default=json_default)
    except TypeError as e:
        raise ConfigError(f"FeatureCache: key is not JSON-able ({e})") from None


def key_digest(key: dict) -> str:
    """SHA-256 hex digest of the canonical JSON of ``key`` (the cache file's identity)."""
    return hashlib.sha256(_canonical(key).encode()).hexdigest()


def dataset_key(dataset) -> str:
    """A stable hash of what a :class:`~histnet.data.Dataset` holds.

    It covers the provenance (``source``, ``split``, ``checksum``), the image shape, the
    class names and the labels; a subset (``SubsetDataset``) adds its indices and the key
    of its parent. A dataset whose provenance has no ``checksum`` has its image bytes
    hashed instead, batch by batch (slow for large sets, but never wrong).

    Parameters
    ----------
    dataset : histnet.data.Dataset

    Returns
    -------
    str
        32 hex digits.
    """
    h = hashlib.sha256()
    parent = getattr(dataset, "parent", None)
    indices = getattr(dataset, "indices", None)
    if parent is not None and indices is not None:
        h.update(b"subset:")
        h.update(dataset_key(parent).encode())
        h.update(np.ascontiguousarray(np.asarray(indices, dtype=np.int64)).tobytes())
        return h.hexdigest()[:32]
    prov = dict(getattr(dataset, "provenance", {}) or {})
    ident = {
        "name": getattr(dataset, "name", ""),
        "source": str(prov.get("source", "")),
        "split": str(prov.get("split", "")),
        "checksum": str(prov.get("checksum", "")),
        "image_shape": list(getattr(dataset, "image_shape", ())),
        "class_names": list(getattr(dataset, "class_names", [])),
        "n": len(dataset),
    }
    h.update(_canonical(ident).encode())
    h.update(np.ascontiguousarray(np.asarray(dataset.labels, dtype=np.int64)).tobytes())
    if not prov.get("checksum"):
        for images, _ in dataset.batches(1024):
            h.update(np.ascontiguousarray(images).tobytes())
    return h.hexdigest()[:32]


def _hasher():
    return hashlib.blake2b(digest_size=32)


def array_checksum(array) -> str:
    """Checksum of an array's bytes in C order, as stored in the cache's ``.json``.

    Parameters
    ----------
    array : array_like
        A numeric host array; a non-contiguous one is copied to C order first.

    Returns
    -------
    str
        ``"blake2b-256:<64 hex digits>"``. It covers the data bytes only: the shape
        and dtype are recorded and checked separately.
    """
    flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    h = _hasher()
    for i in range(0, flat.size, _CHUNK):
        h.update(flat[i:i + _CHUNK])
    return f"{CHECKSUM_ALGORITHM}:{h.hexdigest()}"


def file_checksum(path, offset: int = 0) -> str:
    """Checksum (as :func:`array_checksum`) of a file's bytes from ``offset`` to its end.

    Read in 8 MB chunks into one buffer, so memory stays flat for a file of any size.
    For a ``.npy`` file, ``offset`` is the length of its header, and the result equals
    :func:`array_checksum` of the array it holds.

    Raises
    ------
    OSError
        The file cannot be read.
    """
    h = _hasher()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
    return f"{CHECKSUM_ALGORITHM}:{h.hexdigest()}"


def _npy_header(path: Path):
    """(shape, fortran_order, dtype, data offset) from a ``.npy`` header; ValueError/OSError if bad."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        return shape, fortran, dtype, f.tell()


def read_entry_meta(npy_path) -> Optional[dict]:
    """The ``.json`` beside a cached ``.npy``, or None if it is missing or not a JSON object.

    Reads only the small ``.json`` (no hashing), for listing the cache; use
    :meth:`FeatureCache.get` to check an entry.
    """
    try:
        meta = json.loads(Path(npy_path).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


class _Invalid(Exception):
    """An entry that exists but does not verify; the message says why."""


class FeatureCache:
    """On-disk cache of feature matrices, one verified ``.npy`` file per key.

    Parameters
    ----------
    directory : str or Path, optional
        Where the files go; default ``histnet.io.cache_root() / "features"``
        (``$HISTNET_CACHE/features`` when that variable is set).
    notify : callable, optional
        Called with one line of text (no newline) when an entry fails verification and
        is deleted, e.g. ``ui.note`` or ``print``. Default: say nothing. No Python
        warning is ever issued.

    Attributes
    ----------
    directory : Path
    hits, misses : int
        How many :meth:`get_or_compute` calls were answered from disk / computed.
    invalid : int
        How many entries failed verification and were deleted.

    Examples
    --------
    >>> import tempfile
    >>> cache = FeatureCache(tempfile.mkdtemp())
    >>> key = {"feature": "demo", "scale": 2, "data": "abc"}
    >>> cache.get_or_compute(key, lambda: np.arange(3.0) * 2).tolist()
    [0.0, 2.0, 4.0]
    >>> cache.get_or_compute(key, lambda: 1 / 0).tolist()  # not computed again
    [0.0, 2.0, 4.0]
    """

    def __init__(self, directory=None, notify: Optional[Callable[[str], None]] = None):
        self.directory = Path(directory) if directory is not None else cache_root() / "features"
        self.notify = notify
        self.hits = 0
        self.misses = 0
        self.invalid = 0

    def path_for(self, key: dict) -> Path:
        """The ``.npy`` file that holds (or will hold) the features for ``key``."""
        name = str(key.get("feature", "features")) if isinstance(key, dict) else "features"
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:40] or "features"
        return self.directory / f"{safe}-{key_digest(key)[:24]}.npy"

    def __contains__(self, key: dict) -> bool:
        """Whether both files of ``key``'s entry exist (not whether they verify: see :meth:`get`)."""
        path = self.path_for(key)
        return path.is_file() and path.with_suffix(".json").is_file()

    def _verified(self, key: dict, path: Path) -> np.ndarray:
        """The entry's read-only memory map after every check; raises _Invalid naming the fault."""
        meta = read_entry_meta(path)
        if meta is None:
            raise _Invalid("its .json is missing or is not valid JSON")
        if "checksum" not in meta or meta.get("format") != FORMAT_VERSION:
            raise _Invalid("written by an older histnet (no checksum)")
        try:
            want_shape = tuple(int(n) for n in meta["shape"])
            want_dtype, want_sum = str(meta["dtype"]), str(meta["checksum"])
            digest = meta["digest"]
        except (KeyError, TypeError, ValueError):
            raise _Invalid("its .json lacks shape, dtype or key digest") from None
        if digest != key_digest(key):  # (the digest, not the key: JSON writes NaN as null)
            raise _Invalid("its .json is for another key")
        try:
            shape, fortran, dtype, offset = _npy_header(path)
        except (OSError, ValueError, SyntaxError, TypeError) as e:
            raise _Invalid(f"the .npy header cannot be read ({e})") from None
        if tuple(shape) != want_shape or str(dtype) != want_dtype or fortran:
            raise _Invalid(f"the .npy holds {str(dtype)} {tuple(shape)}, expected {want_dtype} {want_shape}")
        expected_size = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        try:
            size = path.stat().st_size
        except OSError as e:
            raise _Invalid(f"the .npy cannot be read ({e.strerror or e})") from None
        if size != expected_size:
            raise _Invalid(f"the .npy is {size} bytes, expected {expected_size} (truncated or padded)")
        try:
            got = file_checksum(path, offset)
        except OSError as e:
            raise _Invalid(f"the .npy cannot be read ({e.strerror or e})") from None
        if got != want_sum:
            raise _Invalid("checksum mismatch (the data were changed after writing)")
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise _Invalid(f"the .npy cannot be mapped ({e})") from None

    def _lookup(self, key: dict, action: str) -> Optional[np.ndarray]:
        path = self.path_for(key)
        if not path.is_file():
            with contextlib.suppress(OSError):
                path.with_suffix(".json").unlink(missing_ok=True)  # an orphan .json is of no use
            return None
        try:
            return self._verified(key, path)
        except _Invalid as e:
            self.invalid += 1
            with contextlib.suppress(OSError):  # if it cannot be deleted, put() overwrites it
                self._remove(path)
            if self.notify is not None:
                why = " ".join(str(e).split())  # one line, whatever numpy's message holds
                self.notify(f"feature cache: {path.name}: {why}; deleted it, {action}")
            return None

    def get(self, key: dict) -> Optional[np.ndarray]:
        """The cached array for ``key`` as a read-only memory map, after checking it.

        Returns
        -------
        ndarray or None
            None when there is no entry, or when the entry does not verify (its
            ``.json`` is missing, damaged or of the old format; the ``.npy`` is
            unreadable, truncated, of another shape or dtype, or fails the checksum).
            Such an entry is deleted and reported through ``notify``.
        """
        return self._lookup(key, "it will be computed again")

    def put(self, key: dict, array) -> np.ndarray:
        """Store ``array`` under ``key`` (atomically) and return it as read back from disk.

        The ``.npy`` is written first and the ``.json`` (key, shape, dtype, checksum)
        second, each atomically; a crash between them leaves an entry without a
        ``.json``, which :meth:`get` rejects.
        """
        if is_device_array(array):
            array = to_host(array)
        array = np.asarray(array)
        if array.dtype == object:
            raise ConfigError("FeatureCache: features must be a numeric array, not dtype=object")
        if not array.flags.c_contiguous:  # (np.ascontiguousarray would make a 0-d array 1-d)
            array = np.ascontiguousarray(array)
        path = self.path_for(key)
        with atomic_write(path, "wb") as f:
            np.save(f, array, allow_pickle=False)
        write_json(path.with_suffix(".json"), {
            "format": FORMAT_VERSION, "key": json.loads(_canonical(key)), "digest": key_digest(key),
            "shape": list(array.shape),
            "dtype": str(array.dtype), "nbytes": int(array.nbytes), "checksum": array_checksum(array)})
        return np.load(path, allow_pickle=False, mmap_mode="r")

    def get_or_compute(self, key: dict, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The features for ``key``: read from disk and verified, or computed by ``compute()`` and stored.

        Parameters
        ----------
        key : dict
            JSON-able: the feature name (``"feature"``), every parameter that changes the
            values, and :func:`dataset_key` of the input (plus an indices hash for a subset).
        compute : callable
            Called with no arguments when the key is not cached or its entry does not
            verify; returns the feature array (host numpy, or a device array that is
            copied to the host).

        Returns
        -------
        ndarray
            A read-only memory map of the stored ``.npy`` file.
        """
        found = self._lookup(key, "computing it again")
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        return self.put(key, compute())

    @staticmethod
    def _remove(path: Path) -> None:
        for p in (path, path.with_suffix(".json")):
            try:
                p.unlink(missing_ok=True)
            except IsADirectoryError:
                pass  # not ours to remove

    def clear(self) -> int:
        """Delete every cache entry in :attr:`directory`; return how many ``.npy`` were removed.

        Only files named as this cache names them (:data:`ENTRY_NAME`) and their ``.json``
        are removed; a symbolic link is unlinked, never followed. For age filters and
        the decoded-image cache see :func:`histnet.cache_admin.clear_entries`.
        """
        n = 0
        if self.directory.is_dir():
            for p in self.directory.iterdir():
                if ENTRY_NAME.match(p.name) and not p.is_dir():
                    self._remove(p)
                    n += 1
        return n
