"""List and clear histnet's on-disk caches: extracted features and decoded images.

Two caches can grow large, and both are safe to delete (they are rebuilt on next use):

* **features** -- :class:`histnet.features.feature_cache.FeatureCache`, one
  ``<feature>-<digest>.npy`` with a ``.json`` beside it, in ``$HISTNET_CACHE/features``
  (default ``~/.cache/histnet/features``, see :func:`histnet.io.cache_root`);
* **images** -- :mod:`histnet.data.image_cache`, one ``<key>/`` folder holding
  ``images.npy`` and ``meta.json`` per decoded image folder, in ``$HISTNET_CACHE/images``.

:func:`list_entries` describes what is there and :func:`clear_entries` deletes what it
listed. Both stay inside those two folders and touch only what the caches themselves
name (a file or folder of another name is neither listed nor deleted); no symbolic link
inside them is followed or listed, so a link planted there never leads a deletion
elsewhere. The two folders themselves may be links (a cache moved to another disk).

What this leaves out: the download cache and data sets (``$HISTNET_DATA``), a
decoded-image cache given to ``load_splits(cache_dir=...)`` somewhere else, locking
(an entry deleted while another process is reading it stays readable to that process on
POSIX systems; one being written is protected only by the rule below), and verifying
entries (listing reads only the small ``.json`` files; :meth:`FeatureCache.get` checks
an entry's checksum when it is used).

Unfinished writes (temporary files or folders a crashed run left) are listed only once
they have not been modified for :data:`UNFINISHED_GRACE_S` seconds and, for a decode, no
live process holds the ``flock`` on its ``.lock``, so clearing the cache does not pull a
file from under a run that is writing it now.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

from .errors import ConfigError, DataError
from .features.feature_cache import ENTRY_NAME, FeatureCache, read_entry_meta
from .io import cache_root

__all__ = ["KINDS", "UNFINISHED_GRACE_S", "CacheEntry", "ClearResult", "cache_folders", "list_entries",
           "clear_entries", "parse_age", "format_size", "format_age"]

#: The caches this module knows, in the order they are listed.
KINDS = ("features", "images")
#: A temporary file or folder untouched for this long (seconds) counts as left by a crashed run.
UNFINISHED_GRACE_S = 3600.0

_FEATURE_JSON = re.compile(r"^[A-Za-z0-9_-]{1,40}-[0-9a-f]{24}\.json$")
_FEATURE_TMP = re.compile(r"^\.[A-Za-z0-9_-]{1,40}-[0-9a-f]{24}\.(?:npy|json)\.[A-Za-z0-9_]+\.tmp$")
_IMAGE_ENTRY = re.compile(r"^[0-9a-f]{24}$")
_IMAGE_TMP = re.compile(r"^\.[0-9a-f]{24}\.tmp-\d+-[0-9a-f]{8}$")
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_AGE_UNITS = {"": 86400.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


@dataclass(frozen=True)
class CacheEntry:
    """One cache entry: what :func:`clear_entries` removes as a whole.

    Attributes
    ----------
    kind : str
        ``"features"`` or ``"images"``.
    path : Path
        The feature ``.npy`` (or the ``.json`` / temporary file when that is all there
        is), or the decoded-image entry's folder.
    summary : str
        What the entry holds, in a few words: feature name, data-set key, dtype and
        shape for features; the source folder, image count and shape for images.
    size : int
        Bytes on disk (allocated blocks, so a sparse file counts what it uses).
    mtime : float
        Newest modification time of its files, seconds since the epoch.
    files : tuple of Path
        For features, the files removed (the ``.npy`` and its ``.json``); for images,
        just the folder, removed with its content.
    """

    kind: str
    path: Path
    summary: str
    size: int
    mtime: float
    files: tuple = field(default=())

    def age(self, now: Optional[float] = None) -> float:
        """Seconds since :attr:`mtime` (never negative)."""
        return max(0.0, (time.time() if now is None else now) - self.mtime)


@dataclass
class ClearResult:
    """What :func:`clear_entries` did.

    Attributes
    ----------
    removed : list of CacheEntry
    freed : int
        Bytes on disk of the removed entries.
    failed : list of (CacheEntry, str)
        Entries left in place, each with a one-line reason.
    """

    removed: list = field(default_factory=list)
    freed: int = 0
    failed: list = field(default_factory=list)


def cache_folders() -> dict:
    """``{"features": Path, "images": Path}``: where each cache lives, as histnet resolves it now.

    Features: ``FeatureCache().directory``; images: ``cache_root() / "images"``, the
    default of :func:`histnet.data.image_cache.decode_to_cache` and ``load_splits``.
    Neither folder need exist.
    """
    return {"features": FeatureCache().directory, "images": cache_root() / "images"}


def _kinds(kinds) -> tuple:
    if kinds is None:
        return KINDS
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ConfigError(f"unknown cache {bad[0]!r} (known: {', '.join(KINDS)})")
    return tuple(k for k in KINDS if k in kinds)


def _disk_size(st: os.stat_result) -> int:
    blocks = getattr(st, "st_blocks", None)
    return int(blocks) * 512 if blocks is not None else int(st.st_size)


def _scan(folder: Path):
    """(name, lstat) of each item directly in ``folder``; [] if it does not exist."""
    try:
        with os.scandir(folder) as it:
            items = list(it)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise DataError(f"{folder}: the cache folder is a file, not a folder") from None
    except OSError as e:
        raise DataError(f"{folder}: cannot list the cache folder ({e.strerror or e})") from None
    out = []
    for item in items:
        try:
            out.append((item.name, item.stat(follow_symlinks=False)))
        except OSError:
            continue  # vanished meanwhile
    return sorted(out)


def _feature_summary(npy: Path) -> str:
    meta = read_entry_meta(npy)
    if meta is None:
        return "no readable .json (recomputed on next use)"
    key = meta.get("key") if isinstance(meta.get("key"), dict) else {}
    parts = [str(key.get("feature", "?"))]
    if key.get("data"):
        parts.append(f"data {str(key['data'])[:8]}")
    if "dtype" in meta and "shape" in meta:
        parts.append(f"{meta['dtype']} {'x'.join(map(str, meta['shape'])) or 'scalar'}")
    text = ", ".join(parts)
    return text + " (old format: recomputed on next use)" if "checksum" not in meta else text


def _feature_entries(folder: Path, now: float) -> list:
    items = _scan(folder)
    regular = {name: st for name, st in items if stat.S_ISREG(st.st_mode)}  # links are never listed
    out = []
    for name, st in regular.items():
        path = folder / name
        if ENTRY_NAME.match(name):
            files, size, mtime = [path], _disk_size(st), st.st_mtime
            side = name[:-4] + ".json"
            if side in regular:
                files.append(folder / side)
                size += _disk_size(regular[side])
                mtime = max(mtime, regular[side].st_mtime)
            out.append(CacheEntry("features", path, _feature_summary(path), size, mtime, tuple(files)))
        elif _FEATURE_JSON.match(name) and name[:-5] + ".npy" not in regular:
            out.append(CacheEntry("features", path, "a .json without its .npy", _disk_size(st), st.st_mtime,
                                  (path,)))
        elif _FEATURE_TMP.match(name) and now - st.st_mtime >= UNFINISHED_GRACE_S:
            out.append(CacheEntry("features", path, "unfinished write", _disk_size(st), st.st_mtime, (path,)))
    return out


def _tree_usage(top: Path, st_top: os.stat_result):
    """(bytes on disk, newest mtime) of a folder and everything in it, following no link."""
    size, mtime = _disk_size(st_top), st_top.st_mtime
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for n in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, n))
            except OSError:
                continue
            size += _disk_size(st)
            mtime = max(mtime, st.st_mtime)
    return size, mtime


def _image_summary(entry: Path) -> str:
    try:
        meta = json.loads((entry / "meta.json").read_text())
    except (OSError, ValueError):
        return "no readable meta.json (decoded again on next use)"
    if not isinstance(meta, dict):
        return "no readable meta.json (decoded again on next use)"
    parts = [str(meta.get("root", "?"))]
    if "n_good" in meta:
        parts.append(f"{meta['n_good']} images")
    shape = meta.get("shape")
    if isinstance(shape, list):
        parts.append("x".join(map(str, shape)))
    if meta.get("bad_files"):
        parts.append(f"{len(meta['bad_files'])} skipped")
    return ", ".join(parts)


def _locked(tmp: Path) -> bool:
    """True if a live process holds the ``flock`` on ``tmp/.lock`` (a decode still writing).

    The decoded-image cache's writer keeps that lock for as long as it writes; the kernel
    drops it when the process dies. Without the file, or without ``fcntl``, False.
    """
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(tmp / ".lock", os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also releases the lock just taken
    return False


def _image_entries(folder: Path, now: float) -> list:
    out = []
    for name, st in _scan(folder):
        if not stat.S_ISDIR(st.st_mode):  # a link to a folder is not a folder here
            continue
        path = folder / name
        if _IMAGE_ENTRY.match(name):
            size, mtime = _tree_usage(path, st)
            out.append(CacheEntry("images", path, _image_summary(path), size, mtime, (path,)))
        elif _IMAGE_TMP.match(name):
            size, mtime = _tree_usage(path, st)
            if now - mtime >= UNFINISHED_GRACE_S and not _locked(path):
                out.append(CacheEntry("images", path, "unfinished decode", size, mtime, (path,)))
    return out


def list_entries(kinds: Optional[Iterable[str]] = None, older_than: Optional[float] = None,
                 now: Optional[float] = None, folders: Optional[dict] = None) -> list:
    """The entries of the caches, features first, each cache's sorted by file name.

    Parameters
    ----------
    kinds : iterable of {"features", "images"}, optional
        Which caches; default both.
    older_than : float, optional
        Keep only entries not modified for at least this many seconds
        (see :func:`parse_age`).
    now : float, optional
        The current time (seconds since the epoch), for tests; default ``time.time()``.
    folders : dict, optional
        ``{kind: folder}`` to look in instead of :func:`cache_folders`.

    Returns
    -------
    list of CacheEntry
        A missing cache folder has no entries. Symbolic links, files and folders the
        caches do not name, and unfinished writes younger than
        :data:`UNFINISHED_GRACE_S` are left out.

    Raises
    ------
    DataError
        A cache folder exists but cannot be listed, or is a file.
    ConfigError
        An unknown kind, or a negative ``older_than``.
    """
    kinds = _kinds(kinds)
    if older_than is not None and older_than < 0:
        raise ConfigError(f"older_than must be at least 0 seconds, got {older_than}")
    now = time.time() if now is None else now
    folders = folders or cache_folders()
    out = []
    for kind in kinds:
        scan = _feature_entries if kind == "features" else _image_entries
        found = scan(Path(folders[kind]), now)
        if older_than is not None:
            found = [e for e in found if e.age(now) >= older_than]
        out.extend(found)
    return out


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is an item directly in ``folder`` (both resolved) and not itself a link."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return False
    except OSError:
        return False
    return os.path.realpath(path.parent) == os.path.realpath(folder)


def clear_entries(entries: Sequence[CacheEntry], folders: Optional[dict] = None) -> ClearResult:
    """Delete the given entries (as listed by :func:`list_entries`), and only them.

    Before deleting, each file or folder is checked again: it must sit directly in its
    kind's cache folder (both sides resolved) and must not be a symbolic link; anything
    else is left alone and reported in :attr:`ClearResult.failed`. A folder is removed
    with :func:`shutil.rmtree`, which on Linux and macOS unlinks the links inside it
    without following them.

    Parameters
    ----------
    entries : sequence of CacheEntry
    folders : dict, optional
        ``{kind: folder}`` the entries must be in; default :func:`cache_folders`.

    Returns
    -------
    ClearResult
        Errors while deleting (permissions, a file in use on Windows) are collected
        there rather than raised, so one bad entry does not stop the rest.
    """
    folders = folders or cache_folders()
    result = ClearResult()
    for entry in entries:
        folder = folders.get(entry.kind)
        targets = entry.files or (entry.path,)
        if folder is None:
            result.failed.append((entry, f"unknown cache {entry.kind!r}"))
            continue
        outside = [p for p in targets if not _inside(Path(p), Path(folder))]
        if outside:
            result.failed.append((entry, f"{outside[0]} is a link or not in {folder}; left alone"))
            continue
        try:
            for p in targets:
                p = Path(p)
                if stat.S_ISDIR(os.lstat(p).st_mode):
                    shutil.rmtree(p)
                else:
                    p.unlink()
        except FileNotFoundError:
            pass  # someone else removed it meanwhile: it is gone all the same
        except OSError as e:
            result.failed.append((entry, f"{e.filename or entry.path}: {e.strerror or e}"))
            continue
        result.removed.append(entry)
        result.freed += entry.size
    return result


def parse_age(text: str) -> float:
    """Seconds in an age such as ``"30d"``, ``"12h"``, ``"90m"``, ``"45s"`` or ``"2w"``.

    A bare number counts days. Raises :class:`~histnet.errors.ConfigError` for anything else.
    """
    m = _AGE.match(str(text))
    if not m:
        raise ConfigError(f"{text!r} is not an age: give a number and a unit, e.g. 30d, 12h, 90m, 45s or 2w")
    return float(m.group(1)) * _AGE_UNITS[m.group(2)]


def format_size(n: int) -> str:
    """Bytes as a short human figure in powers of 1024: ``"512 B"``, ``"1.5 KiB"``, ``"3.2 GiB"``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{int(n)} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # not reached


def format_age(seconds: float) -> str:
    """An age in the largest whole unit that fits: ``"40s"``, ``"5m"``, ``"3h"``, ``"12d"``."""
    s = max(0, int(seconds))
    for unit, width in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= width:
            return f"{s // width}{unit}"
    return f"{s}s"
