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
A ``.json`` file beside each ``.npy`` records the key in clear for whoever looks in the folder.

What this leaves out: no size limit or eviction (delete the folder to clear it), and no
locking: two processes computing the same key both compute and the last rename wins, which
is safe because both write the same values.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..backend import is_device_array, to_host
from ..errors import ConfigError
from ..io import json_default, atomic_write, cache_root, write_json

__all__ = ["FeatureCache", "dataset_key", "key_digest"]


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


class FeatureCache:
    """On-disk cache of feature matrices, one ``.npy`` file per key.

    Parameters
    ----------
    directory : str or Path, optional
        Where the files go; default ``histnet.io.cache_root() / "features"``
        (``$HISTNET_CACHE/features`` when that variable is set).

    Attributes
    ----------
    directory : Path
    hits, misses : int
        How many :meth:`get_or_compute` calls were answered from disk / computed.

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

    def __init__(self, directory=None):
        self.directory = Path(directory) if directory is not None else cache_root() / "features"
        self.hits = 0
        self.misses = 0

    def path_for(self, key: dict) -> Path:
        """The ``.npy`` file that holds (or will hold) the features for ``key``."""
        name = str(key.get("feature", "features")) if isinstance(key, dict) else "features"
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:40] or "features"
        return self.directory / f"{safe}-{key_digest(key)[:24]}.npy"

    def __contains__(self, key: dict) -> bool:
        return self.path_for(key).is_file()

    def get(self, key: dict) -> Optional[np.ndarray]:
        """The cached array for ``key`` (read-only memory map), or None if absent or unreadable."""
        path = self.path_for(key)
        if not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError):
            return None  # truncated or foreign file: treat as absent, it will be rewritten

    def put(self, key: dict, array) -> np.ndarray:
        """Store ``array`` under ``key`` (atomically) and return it as read back from disk."""
        if is_device_array(array):
            array = to_host(array)
        array = np.asarray(array)
        if array.dtype == object:
            raise ConfigError("FeatureCache: features must be a numeric array, not dtype=object")
        path = self.path_for(key)
        with atomic_write(path, "wb") as f:
            np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        write_json(path.with_suffix(".json"), {"key": json.loads(_canonical(key)),
                                               "shape": list(array.shape), "dtype": str(array.dtype)})
        return np.load(path, allow_pickle=False, mmap_mode="r")

    def get_or_compute(self, key: dict, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The features for ``key``: read from disk, or computed by ``compute()`` and stored.

        Parameters
        ----------
        key : dict
            JSON-able: the feature name (``"feature"``), every parameter that changes the
            values, and :func:`dataset_key` of the input (plus an indices hash for a subset).
        compute : callable
            Called with no arguments when the key is not cached; returns the feature array
            (host numpy, or a device array that is copied to the host).

        Returns
        -------
        ndarray
            A read-only memory map of the stored ``.npy`` file.
        """
        found = self.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        return self.put(key, compute())

    def clear(self) -> int:
        """Delete every cached file in :attr:`directory`; return how many ``.npy`` were removed."""
        n = 0
        if self.directory.is_dir():
            for p in self.directory.glob("*.npy"):
                p.unlink(missing_ok=True)
                p.with_suffix(".json").unlink(missing_ok=True)
                n += 1
        return n
