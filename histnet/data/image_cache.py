"""The decoded-image cache: a folder of JPEGs decoded once into a memory-mapped ``.npy``.

Decoding JPEGs is the slow part of reading an image folder (ILSVRC-2012's 1.28M
training images take hours to decode on one core), and methods read their training
set many times. :func:`decode_to_cache` decodes a list of image files once, in
batches, into ``<cache_dir>/<key>/images.npy`` (uint8, N x H x W x C) and returns a
read-only memory map of it, so later runs start at once and memory stays flat:

* **key** -- a hash of (resolved root, file list with sizes and mtimes, image_size,
  grayscale). Touching, adding or removing a file changes the key, so a changed folder
  is decoded again; the older entry for the same (root, options) is deleted then.
* **atomic** -- everything is written into a temporary folder beside the entry and
  renamed into place only when complete (``os.rename`` of a folder is atomic on one
  file system). An error or Ctrl-C leaves no half-written entry, only nothing.
* **flat memory** -- each batch of decoded images is written through a short-lived
  memory map of just its rows (``numpy.memmap`` with an offset) and unmapped, so the
  pages written are not kept in this process; readers use
  :class:`CachedArrayDataset`, which drops the pages it has read from its mapping every
  16 MB read (``madvise(MADV_DONTNEED)``: the kernel's page cache keeps them,
  the process's resident set does not). What grows with N is only the file list and
  the labels (about 100 bytes an image).
* **bad files** -- a corrupt or truncated image is an error naming the file, or with
  ``skip_bad=True`` is left out; good images are packed at the front of the array, the
  dataset is the view of the first ``n_good`` rows, and the skipped files are listed in
  the entry's ``meta.json`` and in the dataset's provenance.
* **pixel limit** -- an image whose header claims more than ``HISTNET_MAX_IMAGE_PIXELS``
  pixels (width x height; default 40,000,000, i.e. 40 megapixels, about 120 MB decoded
  as RGB) is refused before it is decoded (Pillow's ``Image.open`` reads only the
  header), as a bad file: an error naming it, or skipped under ``skip_bad``. Pillow's
  own decompression-bomb check never reaches the user raw: its
  ``DecompressionBombWarning`` is silenced (this check says it, naming the file) and
  its ``DecompressionBombError`` reported as this one. A limit above Pillow's
  ``Image.MAX_IMAGE_PIXELS`` raises that one to match, for the process. An entry that
  skipped files under one limit is decoded again under another.
* **stale temporary folders** -- a decode killed outright (``kill -9``, a lost node)
  cannot remove its temporary folder. Each use of the cache removes a temporary folder
  (``.<key>.tmp-<pid>-<random>``) when nothing in it changed for an hour
  (:data:`STALE_TMP_SECONDS`; a live decode writes every batch) and no live process
  holds its lock (the writer keeps an ``flock`` on ``.lock`` inside it, which the
  kernel releases when the process dies). Both must hold, so a slow but live decode is
  never removed.

Decoding runs on a few threads (Pillow releases the GIL while it decodes), in file order.

Left out: eviction by size or age, and process-level parallelism.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import re
import shutil
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from numpy.lib.format import open_memmap

from ..errors import ConfigError, DataError
from ..io import cache_root, write_json
from ..progress import Stage
from .base import ArrayDataset

CACHE_VERSION = 1
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp", ".gif")
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError)

#: Environment variable capping the pixels (width x height) of one image, and its default.
MAX_PIXELS_ENV = "HISTNET_MAX_IMAGE_PIXELS"
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
#: A temporary entry unchanged for this long, and unlocked, is an orphan of a killed decode.
STALE_TMP_SECONDS = 3600
_TMP_NAME = re.compile(r"^\.[0-9a-f]{24}\.tmp-\d+-[0-9a-f]{8}$")
_LOCK_NAME = ".lock"
_OPEN_LOCK = threading.Lock()


class ImageTooLargeError(DataError, ValueError):
    """An image's header claims more pixels than the limit (``HISTNET_MAX_IMAGE_PIXELS``).

    A :class:`DataError`, and a ``ValueError`` so that the cache treats it as any other
    bad file (named, or skipped under ``skip_bad``).
    """


def max_image_pixels() -> int:
    """The most pixels (width x height) one image may have: ``$HISTNET_MAX_IMAGE_PIXELS`` or 40,000,000.

    Raises
    ------
    ConfigError
        The variable is set but is not a positive whole number (``4e7`` and
        ``40_000_000`` are accepted).
    """
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = float(raw.replace("_", ""))
    except ValueError:
        value = 0.0
    if not (value >= 1 and value.is_integer() and value < 2 ** 62):
        raise ConfigError(f"{MAX_PIXELS_ENV} must be a positive whole number of pixels per image "
                          f"(default {DEFAULT_MAX_IMAGE_PIXELS}), got {raw!r}")
    return int(value)


def _too_large(pixels: int, limit: int, size=None) -> ImageTooLargeError:
    dims = f"{size[0]}x{size[1]} = " if size else ""
    return ImageTooLargeError(
        f"image is {dims}{pixels} pixels, more than the limit of {limit} "
        f"(set {MAX_PIXELS_ENV} to read larger images)")


def _open_checked(path, limit: int):
    """``Image.open(path)`` (the header only) refusing images over ``limit`` pixels.

    Pillow checks the size in ``open`` too, with a warning above its ``MAX_IMAGE_PIXELS``
    and an error above twice that. Its warning is silenced here (the check below says
    the same, naming the file) and its error reported as :class:`ImageTooLargeError`.
    The warning filter is process-wide, so the (header-only, fast) ``open`` calls of the
    decoding threads take turns.
    """
    from PIL import Image

    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit  # the user asked for larger images; Pillow must not refuse them
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError as e:
            m = re.search(r"\((\d+) pixels\)", str(e))
            raise _too_large(int(m.group(1)) if m else limit + 1, limit) from None
    w, h = im.size
    if w * h > limit:
        im.close()
        raise _too_large(w * h, limit, (w, h))
    return im


# -- decoding one image ----------------------------------------------------------------------
def decode_image(path, image_size: Optional[int] = None, grayscale: Optional[bool] = None,
                 max_pixels: Optional[int] = None) -> np.ndarray:
    """Decode one image file to uint8 (H, W, C).

    Every mode becomes RGB first (greyscale ``L``/``1``, palette ``P`` with or without
    transparency, ``CMYK`` JPEGs, ``RGBA`` with the alpha dropped, 16-bit grey scaled by
    1/256); then the shorter side is resized and the centre square cropped when
    ``image_size`` is given (JPEGs are first reduced in the DCT domain with Pillow's
    ``draft`` to the smallest scale still at least ``image_size``, which makes large
    photos several times faster to decode); then ``grayscale=True`` takes BT.601 luma.

    Parameters
    ----------
    path : str or Path
    image_size : int, optional
        Side of the square result; None keeps the native size.
    grayscale : bool, optional
        True: one channel; otherwise RGB.
    max_pixels : int, optional
        Refuse an image whose header claims more pixels (width x height), before
        decoding it; default :func:`max_image_pixels`.

    Raises
    ------
    ImageTooLargeError
        The image has more than ``max_pixels`` pixels (a ``ValueError``).
    OSError, SyntaxError, ValueError
        From Pillow, for a file that is not a readable image (callers turn it into a
        :class:`DataError` naming the file).
    """
    from PIL import Image

    limit = max_image_pixels() if max_pixels is None else int(max_pixels)
    try:
        return _decode(_open_checked(path, limit), image_size, grayscale)
    except Image.DecompressionBombError as e:  # Pillow's check while loading (a GIF frame, ...)
        raise ImageTooLargeError(f"{e} (set {MAX_PIXELS_ENV} to read larger images)") from None


def _decode(im, image_size, grayscale) -> np.ndarray:
    from PIL import Image

    from .options import resize_shorter_crop, rgb_to_grey

    with im:
        if image_size is not None and im.format == "JPEG":
            im.draft(im.mode, (image_size, image_size))
        if im.mode.startswith("I;16") or im.mode == "I":
            a = np.asarray(im, dtype=np.int64)
            im = Image.fromarray(np.clip(a >> 8 if a.max() > 255 else a, 0, 255).astype(np.uint8))
        if im.mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")
        rgb = im.convert("RGB")
    if image_size is not None:
        rgb = resize_shorter_crop(rgb, image_size)
    a = np.asarray(rgb, dtype=np.uint8)
    return rgb_to_grey(a) if grayscale else a


# -- reading the cache -------------------------------------------------------------------------
class CachedArrayDataset(ArrayDataset):
    """An :class:`ArrayDataset` over a read-only memory map that keeps its resident set small.

    Reading through a memory map leaves the pages mapped (and counted in the process's
    resident set) until unmapped; for a cache bigger than memory that looks like a leak
    and competes with the method's own arrays. After every ``release_bytes`` read this
    dataset advises the kernel it no longer needs the mapping's pages; they stay in the
    page cache, so reading them again is still fast.
    """

    release_bytes = 16 << 20

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._read_since_release = 0

    def get_images(self, indices) -> np.ndarray:
        out = super().get_images(indices)
        self._read_since_release += out.nbytes
        if self._read_since_release >= self.release_bytes:
            self.release_pages()
        return out

    def release_pages(self) -> None:
        """Drop this mapping's pages from the resident set (the data stay on disk / in page cache)."""
        self._read_since_release = 0
        mm = getattr(self.images, "_mmap", None)
        if mm is not None and hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            with contextlib.suppress(OSError, ValueError):
                mm.madvise(mmap.MADV_DONTNEED)


# -- writing the cache ---------------------------------------------------------------------------
def file_entries(files: Sequence[Path], root: Path) -> list[tuple[str, int, int]]:
    """(path relative to ``root``, size, mtime_ns) of each file; a vanished file is a DataError."""
    out = []
    prefix = os.path.join(os.fspath(root), "")
    for f in files:
        f = os.fspath(f)
        try:
            st = os.stat(f)
        except OSError as e:
            raise DataError(f"{f}: cannot stat image file ({e.strerror})") from None
        out.append((f[len(prefix):] if f.startswith(prefix) else f, st.st_size, st.st_mtime_ns))
    return out


def _cache_key(root: Path, checksum: str, image_size, grayscale) -> tuple[str, str]:
    base = f"v{CACHE_VERSION}|{Path(root).resolve()}|size={image_size}|grey={grayscale}"
    source_id = hashlib.sha256(base.encode()).hexdigest()[:16]
    key = hashlib.sha256(f"{base}|{checksum}".encode()).hexdigest()[:24]
    return key, source_id


def _write_rows(path: Path, header_len: int, start: int, rows: np.ndarray) -> None:
    """Write ``rows`` at row ``start`` of the .npy at ``path`` through a map of only those rows."""
    row_bytes = int(np.prod(rows.shape[1:]))
    mm = np.memmap(path, dtype=np.uint8, mode="r+", offset=header_len + start * row_bytes, shape=rows.shape)
    mm[...] = rows
    mm.flush()
    del mm


def decode_to_cache(files: Sequence[Path], labels: np.ndarray, *, root: Path, name: str,
                    class_names: Sequence[str], image_size: Optional[int], grayscale: Optional[bool],
                    checksum: str, cache_dir=None, skip_bad: bool = False, progress=None,
                    batch_size: int = 256, provenance: Optional[dict] = None,
                    workers: Optional[int] = None) -> CachedArrayDataset:
    """Decode ``files`` (once) into the cache and return the dataset over it.

    Parameters
    ----------
    files : sequence of str or Path, length N
    labels : ndarray of shape (N,), int
    root : Path
        The data set's folder (part of the key; file names are stored relative to it).
    name, class_names
        For the returned dataset.
    image_size : int or None
        None keeps the native size, which must then be the same for every image.
    grayscale : bool or None
        True: one channel (BT.601 luma); False or None: RGB.
    checksum : str
        :func:`histnet.data.options.files_checksum` of the file list (the content key).
    cache_dir : path, optional
        Default ``histnet.io.cache_root() / "images"``.
    skip_bad : bool, default=False
        Leave unreadable images out (counted in provenance ``n_bad`` / ``bad_files``)
        instead of raising.
    progress : callable, optional
        Receives :class:`histnet.progress.ProgressEvent` per batch (stage ``"decode"``),
        and a last event whose message reports the skipped files.
    batch_size : int, default=256
        Images decoded and written per step.
    provenance : dict, optional
        Merged into the dataset's provenance.
    workers : int, optional
        Decoding threads (Pillow releases the GIL while it decodes and resizes);
        default 4 on machines with at least 4 cores, else 1.

    Returns
    -------
    CachedArrayDataset
        Images (n_good, H, W, C) uint8, a read-only memory map.

    Raises
    ------
    DataError
        An image cannot be decoded or has more pixels than ``HISTNET_MAX_IMAGE_PIXELS``
        (naming it; unless ``skip_bad``), images of mixed sizes with ``image_size=None``,
        no image decodable at all.
    ConfigError
        ``HISTNET_MAX_IMAGE_PIXELS`` is not a positive whole number.

    Notes
    -----
    Every call first removes the orphaned temporary folders of killed decodes in
    ``cache_dir`` (see the module docstring for the rule).
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = len(files)
    if n == 0:
        raise DataError(f"{root}: no image files to read")
    limit = max_image_pixels()
    cache_dir = Path(cache_dir) if cache_dir is not None else cache_root() / "images"
    remove_orphans(cache_dir)
    key, source_id = _cache_key(root, checksum, image_size, grayscale)
    entry = cache_dir / key
    prov = dict(provenance or {})

    meta = _read_entry(entry)
    if meta is not None and meta["bad_files"] and meta.get("max_image_pixels", limit) != limit:
        # Files were skipped under another pixel limit; under this one they may decode.
        shutil.rmtree(entry, ignore_errors=True)
        meta = None
    if meta is None:
        if workers is None:  # threads only pay off with cores to spare
            workers = 4 if (os.cpu_count() or 1) >= 4 else 1
        _build_entry(entry, files, labels, root=root, image_size=image_size, grayscale=grayscale,
                     skip_bad=skip_bad, progress=progress, batch_size=batch_size, source_id=source_id,
                     workers=workers, max_pixels=limit)
        _drop_stale(cache_dir, source_id, keep=key)
        meta = _read_entry(entry)
        if meta is None:
            raise DataError(f"{entry}: the decoded-image cache entry just written cannot be read")
    if meta["bad_files"] and not skip_bad:
        # The entry was built with skip_bad=True; honour this call's stricter option.
        raise DataError(f"{root / meta['bad_files'][0]}: cannot decode image, or over the pixel limit (pass "
                        f"skip_bad=True, histnet: --skip-bad, to skip the {len(meta['bad_files'])} bad file(s))")
    arr = open_memmap(entry / "images.npy", mode="r")
    n_good = meta["n_good"]
    kept = np.asarray(meta["kept"], dtype=np.int64) if meta["bad_files"] else slice(None)
    prov.update({
        "checksum": checksum, "cache": str(entry), "n_bad": len(meta["bad_files"]),
        "bad_files": meta["bad_files"],
    })
    if progress is not None and meta["bad_files"]:
        Stage("decode", n, progress).update(n, f"skipped {len(meta['bad_files'])} unreadable image(s)")
    return CachedArrayDataset(name, arr[:n_good], labels[kept], class_names, provenance=prov)


def _read_entry(entry: Path) -> Optional[dict]:
    """The entry's meta.json, or None if there is no usable entry (a damaged one is removed)."""
    if not (entry / "meta.json").is_file():
        return None
    try:
        meta = json.loads((entry / "meta.json").read_text())
        header = open_memmap(entry / "images.npy", mode="r")
        if meta.get("version") != CACHE_VERSION or header.shape[0] != meta["n_files"]:
            raise ValueError("stale entry")
        del header
        return meta
    except (OSError, ValueError, KeyError):
        # Someone deleted or damaged files inside the entry: decode again.
        shutil.rmtree(entry, ignore_errors=True)
        return None


def _build_entry(entry: Path, files, labels, *, root, image_size, grayscale, skip_bad, progress,
                 batch_size, source_id, workers, max_pixels) -> None:
    n = len(files)
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.parent / f".{entry.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    lock_fd = _lock(tmp)  # held until the entry is in place: a live decode is never an orphan
    pool = None
    try:
        stage = Stage("decode", n, progress)
        bad: list[str] = []
        kept: list[int] = []
        shape = None
        header_len = 0
        npy = tmp / "images.npy"
        pos = 0
        def try_decode(f):
            try:
                return decode_image(f, image_size, grayscale, max_pixels), None
            except _DECODE_ERRORS as e:
                return None, e

        pool = ThreadPoolExecutor(workers) if workers > 1 else None
        mapper = pool.map if pool is not None else map
        for start in range(0, n, batch_size):
            batch = []
            idx = range(start, min(start + batch_size, n))
            for i, (img, e) in zip(idx, mapper(try_decode, [files[i] for i in idx])):
                f = files[i]
                if e is not None:
                    if not skip_bad:
                        what = f"{e}" if isinstance(e, ImageTooLargeError) else f"cannot decode image ({e})"
                        raise DataError(f"{f}: {what}; pass skip_bad=True (histnet: --skip-bad) to skip bad files"
                                        ) from None
                    bad.append(_rel(f, root))
                    continue
                if shape is None:
                    shape = img.shape
                    mm = open_memmap(npy, mode="w+", dtype=np.uint8, shape=(n,) + shape)
                    header_len = mm.offset
                    del mm
                elif img.shape != shape:
                    raise DataError(
                        f"{f}: image is {img.shape[1]}x{img.shape[0]} but {_rel(files[kept[0]], root)} is "
                        f"{shape[1]}x{shape[0]}; images of mixed sizes need image_size"
                        if image_size is None else f"{f}: decoded to unexpected shape {img.shape}")
                batch.append(img)
                kept.append(i)
            if batch:
                _write_rows(npy, header_len, pos, np.stack(batch))
                pos += len(batch)
            stage.update(min(start + batch_size, n), f"{len(bad)} skipped" if bad else "")
        if pool is not None:
            pool.shutdown()
        if shape is None:
            raise DataError(f"{root}: none of the {n} image files could be decoded (first: {files[0]})")
        write_json(tmp / "meta.json", {
            "version": CACHE_VERSION, "source_id": source_id, "root": str(Path(root).resolve()),
            "n_files": n, "n_good": pos, "shape": list(shape), "image_size": image_size,
            "grayscale": grayscale, "bad_files": bad, "kept": kept if bad else [],
            "max_image_pixels": max_pixels,
        })
        with contextlib.suppress(OSError):
            os.unlink(tmp / _LOCK_NAME)  # the lock stays held (the descriptor is open) until closed
        try:
            os.rename(tmp, entry)
        except OSError:
            if not (entry / "meta.json").is_file():  # not a concurrent writer's finished entry
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # no thread may write after the cleanup
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if lock_fd is not None:
            os.close(lock_fd)


def _lock(tmp: Path) -> Optional[int]:
    """Hold an exclusive ``flock`` on ``tmp/.lock``; the descriptor, or None where locks are unsupported."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the age rule alone protects a live decode
        return None
    try:
        fd = os.open(tmp / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a cleaner holds it only for an instant
    except OSError:  # a file system without locks: as above
        pass
    return fd


def _locked(tmp: Path) -> bool:
    """True if a live process holds the lock of the temporary folder ``tmp``."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(tmp / _LOCK_NAME, os.O_RDWR)
    except OSError:  # no lock file: a decode that died before taking it, or after dropping it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # locks unsupported here: rely on the age rule
        return False
    finally:
        os.close(fd)  # closing also releases a lock just taken
    return False


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    with os.scandir(folder) as it:
        for e in it:
            with contextlib.suppress(OSError):
                newest = max(newest, e.stat(follow_symlinks=False).st_mtime)
    return newest


def remove_orphans(cache_dir, max_age: float = STALE_TMP_SECONDS, now: Optional[float] = None) -> list[str]:
    """Remove the temporary folders that killed decodes left in ``cache_dir``.

    A folder named like a temporary entry (``.<key>.tmp-<pid>-<random>``) is removed
    when neither it nor anything in it changed for ``max_age`` seconds and no live
    process holds the ``flock`` on its ``.lock``. Nothing else in the folder is touched.

    Parameters
    ----------
    cache_dir : path
        The decoded-image cache folder; missing is fine.
    max_age : float, default=STALE_TMP_SECONDS (one hour)
    now : float, optional
        The current time (``time.time()``), for tests.

    Returns
    -------
    list of str
        The names removed.
    """
    removed = []
    now = time.time() if now is None else now
    try:
        it = os.scandir(cache_dir)
    except OSError:
        return removed
    with it:
        candidates = [Path(e.path) for e in it if _TMP_NAME.match(e.name) and e.is_dir(follow_symlinks=False)]
    for tmp in candidates:
        try:
            if now - _newest_mtime(tmp) < max_age or _locked(tmp):
                continue
        except OSError:  # vanished meanwhile (its writer finished, or another cleaner)
            continue
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp.name)
    return removed


def _drop_stale(cache_dir: Path, source_id: str, keep: str) -> None:
    """Delete older entries of the same (root, options) whose files have since changed."""
    for meta in cache_dir.glob("*/meta.json"):
        if meta.parent.name == keep:
            continue
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads(meta.read_text())["source_id"] == source_id:
                shutil.rmtree(meta.parent, ignore_errors=True)


def _rel(f, root) -> str:
    f, prefix = os.fspath(f), os.path.join(os.fspath(root), "")
    return f[len(prefix):] if f.startswith(prefix) else f

