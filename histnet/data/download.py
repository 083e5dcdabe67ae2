"""Downloads of the public data sets: checksums, resumable transfers, safe extraction.

``fetch(name, root)`` downloads a data set from its official address into
``<root>/<name>/`` in the layout the readers expect:

* every file is fetched into ``<file>.part`` and renamed only when complete and its
  checksum (MD5 or SHA-256) matches; an interrupted transfer is resumed with an HTTP
  ``Range: bytes=<size of .part>-`` request (a server that ignores Range and answers
  200 restarts the file from zero). A transfer cut short (fewer bytes than the
  server's ``Content-Length``, or than the expected size) is a network fault: the
  ``.part`` is kept for the next try. Only a complete transfer whose checksum or size
  is wrong deletes it;
* a ``progress`` callback receives :class:`histnet.progress.ProgressEvent` s whose
  ``step``/``total`` are bytes done / bytes in all;
* archives (tar, tar.gz, zip) are checked member by member *before* anything is
  written -- an absolute path, a ``..`` component, a symbolic or hard link whose target
  leaves the destination (resolved as the file system would, through the archive's
  other links, e.g. ``s -> .`` then ``t -> s/..``), a link loop, or a device/FIFO member
  is refused with a :class:`DataError` naming the archive and the member -- then extracted into a
  temporary folder that is renamed to ``<root>/<name>`` when complete (tar members also
  pass through Python's ``filter="data"`` where available, as a second line of defence).

Every expected failure -- a network fault, a file that is not an archive, a symbolic
link loop or a file where the data root or the data set folder should be -- is a
one-line :class:`DownloadError` or :class:`DataError` naming the file; nothing outside
``<root>`` is written, and bytes already downloaded are kept.

Sources and checksums (see :data:`SOURCES`): the CIFAR archives' MD5s are published on
https://www.cs.toronto.edu/~kriz/cifar.html. LeCun's MNIST page and Fashion-MNIST's
repository publish no checksums for the ``.gz`` files; the MD5s used here are the ones
torchvision records for the same files (``torchvision.datasets.MNIST/FashionMNIST``).
fast.ai publishes no checksum for Imagenette; the
MD5 is torchvision's (``torchvision.datasets.Imagenette``, 160 px version). Stanford
publishes none for Tiny ImageNet; the MD5 is the one recorded by many third-party
loaders (e.g. avalanche's ``TinyImagenet``) and the size 248,100,043 bytes. Because
none of these except CIFAR's is published by the data set's authors, every download is
also checked by structure after extraction (:func:`histnet.data.folder.detect_layout`
must recognise the expected layout).

Left out: ILSVRC-2012 (needs an account: see ``catalog.dataset_info("ilsvrc2012")``),
parallel or multi-connection transfers, proxies beyond what ``urllib`` reads from the
environment.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import shutil
import stat
import tarfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Optional, Sequence

from ..errors import DataError, DownloadError
from ..progress import ProgressEvent


@dataclass(frozen=True)
class Resource:
    """One file of a data set: official URL, file name and checksum(s)."""

    url: str
    md5: Optional[str] = None
    sha256: Optional[str] = None
    size: Optional[int] = None
    archive: bool = False

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


_MNIST = "http://yann.lecun.com/exdb/mnist/"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

#: name -> (resources, layout kind the result must have, notes)
SOURCES = {
    "mnist": {
        "files": [
            Resource(_MNIST + "train-images-idx3-ubyte.gz", md5="f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            Resource(_MNIST + "train-labels-idx1-ubyte.gz", md5="d53e105ee54ea40749a09fcbcd1e9432"),
            Resource(_MNIST + "t10k-images-idx3-ubyte.gz", md5="9fb629c4189551a2d022fa330f9573f3"),
            Resource(_MNIST + "t10k-labels-idx1-ubyte.gz", md5="ec29112dd5afa0611ce80d1b7f02629c"),
        ],
        # LeCun's server often refuses scripted downloads; this is the mirror torchvision uses.
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/"],
        "layout": "idx",
        "checksum_source": "torchvision's MD5s of the official .gz files (LeCun publishes none)",
    },
    "fashion-mnist": {
        "files": [
            Resource(_FASHION + "train-images-idx3-ubyte.gz", md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            Resource(_FASHION + "train-labels-idx1-ubyte.gz", md5="25c81989df183df01b3e8a0aad5dffbe"),
            Resource(_FASHION + "t10k-images-idx3-ubyte.gz", md5="bef4ecab320f06d8554ea6380940ec79"),
            Resource(_FASHION + "t10k-labels-idx1-ubyte.gz", md5="bb300cfdad3c16e7a12a480ee83cd310"),
        ],
        "mirrors": ["https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
        "layout": "idx",
        "checksum_source": "torchvision's MD5s of the official .gz files (Zalando publishes none)",
    },
    "cifar10": {
        "files": [Resource("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                           md5="c58f30108f718f92721af3b95e74349a", archive=True)],
        "layout": "cifar10",
        "checksum_source": "published on https://www.cs.toronto.edu/~kriz/cifar.html",
    },
    "cifar100": {
        "files": [Resource("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                           md5="eb9058c3a382ffc7106e4002c42a8d85", archive=True)],
        "layout": "cifar100",
        "checksum_source": "published on https://www.cs.toronto.edu/~kriz/cifar.html",
    },
    "imagenette": {
        # The 160 px version (shorter side 160): 9,469 train / 3,925 val images, about 94 MB.
        "files": [Resource("https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
                           md5="e793b78cc4c9e9a4ccc0c1155377a412", archive=True)],
        "layout": "imagenette",
        "checksum_source": "torchvision's MD5 (fast.ai publishes none); structure checked too",
    },
    "tiny-imagenet": {
        "files": [Resource("http://cs231n.stanford.edu/tiny-imagenet-200.zip",
                           md5="90528d7ca1a48142e341f4ef8d21d0de", size=248_100_043, archive=True)],
        "layout": "tiny-imagenet",
        "checksum_source": "MD5 and size recorded by third-party loaders (Stanford publishes none); "
                           "structure checked too",
    },
}


# -- one file --------------------------------------------------------------------------------------
def file_digest(path, algorithm: str = "md5", chunk: int = 1 << 20) -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def verify_file(path, md5: Optional[str] = None, sha256: Optional[str] = None,
                size: Optional[int] = None) -> None:
    """Raise :class:`DownloadError` unless ``path`` has the given size/checksums."""
    path = Path(path)
    if size is not None and path.stat().st_size != size:
        raise DownloadError(f"{path}: size {path.stat().st_size} bytes, expected {size}")
    for algo, want in (("md5", md5), ("sha256", sha256)):
        if want:
            got = file_digest(path, algo)
            if got.lower() != want.lower():
                raise DownloadError(f"{path}: {algo} checksum mismatch: got {got}, expected {want} "
                                    "(the download is corrupt or the file changed upstream)")


def download_file(url: str, dest, md5: Optional[str] = None, sha256: Optional[str] = None,
                  size: Optional[int] = None, progress=None, timeout: float = 60.0,
                  chunk: int = 1 << 16) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` and verifying checksums.

    Parameters
    ----------
    url : str
    dest : path
        Final file; ``<dest>.part`` holds the bytes while the transfer runs.
    md5, sha256 : str, optional
        Expected hex digests. A complete transfer that does not match deletes the
        ``.part`` and raises.
    size : int, optional
        Expected size in bytes. Also tells a cut transfer from a complete one when the
        server sends no ``Content-Length``.
    progress : callable, optional
        Receives ``ProgressEvent("download <file>", bytes_done, bytes_total)``.
    timeout : float
        Seconds per network operation.

    Returns
    -------
    Path
        The verified file (returned at once if it is already there and valid).

    Raises
    ------
    DownloadError
        An HTTP error or a network fault (naming the URL). A transfer that stops
        early -- the connection closed before ``Content-Length`` bytes arrived, a
        reset, a timeout -- keeps the ``.part`` and says how many bytes arrived; the
        next call resumes it with ``Range: bytes=<size of .part>-``. A checksum or
        size mismatch of a complete transfer deletes the ``.part``.
    DataError
        A local file system fault (a symbolic link loop, no permission, a full
        disk), naming the path.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_file():
            try:
                verify_file(dest, md5, sha256, size)
                return dest
            except DownloadError:
                dest.unlink()
        part = dest.with_name(dest.name + ".part")
        start = part.stat().st_size if part.is_file() else 0
    except OSError as e:
        raise file_system_error(e) from None
    req = urllib.request.Request(url, headers={"User-Agent": "histnet"})
    if start:
        req.add_header("Range", f"bytes={start}-")
    t0 = time.perf_counter()
    stage = f"download {dest.name}"
    done, total = start, None
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if start and resp.status == 206:
                mode = "ab"
                total = _content_range_total(resp.headers.get("Content-Range")) or \
                    start + int(resp.headers.get("Content-Length") or 0) or None
            else:  # 200: the server sent the whole file (no Range support, or nothing to resume)
                mode, start = "wb", 0
                length = resp.headers.get("Content-Length")
                total = int(length) if length else None
            done = start
            with open(part, mode) as f:
                while True:
                    try:
                        block = resp.read(chunk)
                    except http.client.IncompleteRead as e:  # keep what did arrive
                        f.write(e.partial)
                        done += len(e.partial)
                        raise
                    if not block:
                        break
                    f.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(ProgressEvent(stage, done, total, "bytes", time.perf_counter() - t0))
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # nothing left to send: the .part may be complete
            total = start  # the server has no more; the checksum decides
        else:
            raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except http.client.IncompleteRead:  # a chunked transfer cut short
        raise _cut_short(url, part, done, total or size) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as e:
        if isinstance(e, OSError) and not isinstance(e, urllib.error.URLError) and e.filename:
            raise file_system_error(e) from None  # writing the .part failed, not the network
        reason = _one_line(getattr(e, "reason", None) or e) or type(e).__name__
        kept = f"; {done} bytes are kept in {part}" if done else ""
        raise DownloadError(f"{url}: download failed ({reason}){kept}; run the same command again "
                            "to resume") from None
    expected = total if total is not None else size
    if expected is not None and done < expected:
        # http.client returns b"" when the server closes before Content-Length: a network
        # fault, not a corrupt file. Keep what arrived; the next call resumes it.
        raise _cut_short(url, part, done, expected)
    try:
        verify_file(part, md5, sha256, size)
    except DownloadError as e:
        part.unlink(missing_ok=True)
        raise DownloadError(str(e).replace(str(part), f"{dest} (from {url})")) from None
    except OSError as e:
        raise file_system_error(e) from None
    try:
        os.replace(part, dest)
    except OSError as e:
        raise file_system_error(e) from None
    return dest


def _cut_short(url: str, part: Path, done: int, expected: Optional[int]) -> DownloadError:
    """The one-line error of a transfer the server ended early; ``part`` is kept."""
    of = f" of {expected}" if expected else ""
    return DownloadError(f"{url}: connection closed after {done}{of} bytes; run the same command "
                         f"again to resume (the bytes so far are kept in {part})")


def _one_line(text) -> str:
    """``text`` as one line: newlines and runs of blanks become single spaces."""
    return " ".join(str(text).split())


def file_system_error(e: OSError) -> DataError:
    """A one-line :class:`DataError` for a local file system fault, naming the path.

    Parameters
    ----------
    e : OSError
        The error; its ``filename`` (or, failing that, its message) names the path.

    Returns
    -------
    DataError
        ``"<path>: symbolic link loop ..."`` for ``ELOOP``, else ``"<path>: <strerror>"``.
    """
    where = e.filename if e.filename is not None else "?"
    if e.filename2 is not None:
        where = f"{where} -> {e.filename2}"
    if e.errno == errno.ELOOP:
        return DataError(f"{where}: symbolic link loop (a link that leads back to itself); "
                         "remove or fix the link and run the same command again")
    return DataError(f"{where}: {_one_line(e.strerror or e)}")


def _content_range_total(value: Optional[str]) -> Optional[int]:
    # "bytes 100-199/200" -> 200
    if value and "/" in value:
        tail = value.rsplit("/", 1)[1].strip()
        if tail.isdigit():
            return int(tail)
    return None


# -- safe extraction ---------------------------------------------------------------------------------
def _check_member_name(archive: Path, name: str) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise DataError(f"{archive}: refusing member {name!r}: absolute path")
    if ".." in p.parts:
        raise DataError(f"{archive}: refusing member {name!r}: '..' in the path")
    return p


def _inside(base: PurePosixPath, target: str) -> bool:
    """True if ``target``, read lexically from folder ``base``, stays inside the archive root.

    This is the first, purely textual check (``..`` counted against the folders named);
    :func:`_resolve` then follows the archive's other links as the file system would.
    """
    parts = []
    for part in (base / target).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return False
            parts.pop()
        else:
            parts.append(part)
    return True


#: Links followed in resolving one path before it counts as a loop (Linux's limit).
_MAX_LINK_HOPS = 40


class _Escape(Exception):
    """Internal: a path resolved outside the archive root; ``via`` is the last link followed."""

    def __init__(self, via):
        super().__init__(via)
        self.via = via


class _Loop(Exception):
    """Internal: more than :data:`_MAX_LINK_HOPS` links followed in resolving one path."""


def _is_absolute_link(target: str) -> bool:
    return target.startswith(("/", "\\")) or PurePosixPath(target).is_absolute() or \
        (len(target) > 1 and target[1] == ":")


def _resolve(parts: Sequence[str], links: dict) -> tuple:
    """Resolve a path inside the archive root the way the file system would.

    Parameters
    ----------
    parts : sequence of str
        The path's components, relative to the archive root.
    links : dict
        ``{resolved location (tuple of names): link target}`` of the symbolic links
        extracted so far. A component that is a link is replaced by its target, read
        from the link's folder; ``..`` goes up from the real folder reached, so
        ``s -> .`` then ``s/..`` leaves the root.

    Returns
    -------
    tuple of str
        The resolved location (no links, no ``.`` or ``..``).

    Raises
    ------
    _Escape
        The path leaves the root (``..`` above it, or a link to an absolute path).
    _Loop
        More than :data:`_MAX_LINK_HOPS` links followed.
    """
    out: list = []
    pending = list(parts)
    via = None
    hops = 0
    while pending:
        c = pending.pop(0)
        if c in ("", "."):
            continue
        if c == "..":
            if not out:
                raise _Escape(via)
            out.pop()
            continue
        here = (*out, c)
        if here in links:
            hops += 1
            if hops > _MAX_LINK_HOPS:
                raise _Loop()
            target = links[here]
            via = ("/".join(here), target)
            if _is_absolute_link(target):
                raise _Escape(via)
            pending = list(PurePosixPath(target).parts) + pending  # read from the link's folder
            continue
        out.append(c)
    return tuple(out)


def _check_tar_members(path: Path, members) -> list[str]:
    """Check tar members in extraction order, links resolved through earlier links.

    Every member's folder, and the target of every symbolic or hard link, is resolved
    with :func:`_resolve` against the links extracted before it; the symbolic links are
    resolved once more against all of them (a link is read when it is used, after the
    whole archive is out, so ``t -> s/..`` followed later by ``s -> .`` is refused too).

    Raises
    ------
    DataError
        One line naming the archive and the member.
    """
    def refuse(m, why):
        return DataError(f"{path}: refusing member {m.name!r}: {why}")

    def where(m, parts, what):
        try:
            return _resolve(parts, links)
        except _Escape as e:
            through = f" (through the link {e.via[0]!r} -> {e.via[1]!r})" if e.via else ""
            raise refuse(m, f"{what} points outside the folder{through}") from None
        except _Loop:
            raise refuse(m, f"{what} goes through a symbolic link loop") from None

    links: dict = {}
    symlinks = []
    names = []
    for m in members:
        p = _check_member_name(path, m.name)
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            raise refuse(m, "device file or FIFO")
        if not p.parts:
            names.append(m.name)
            continue
        folder = where(m, p.parts[:-1], "its folder")
        if m.issym() or m.islnk():
            target = m.linkname
            if _is_absolute_link(target):
                raise refuse(m, f"link to absolute path {target!r}")
            # symlink targets are relative to the link's folder, hard links to the archive root
            base = p.parent if m.issym() else PurePosixPath()
            if not _inside(base, target):
                raise refuse(m, f"link {target!r} points outside")
        if m.issym():
            key = (*folder, p.name)
            links[key] = m.linkname  # extraction replaces whatever was at that name
            where(m, [*key[:-1], *PurePosixPath(m.linkname).parts], f"link {m.linkname!r}")
            symlinks.append((m, key))
        elif m.islnk():
            where(m, PurePosixPath(m.linkname).parts, f"link {m.linkname!r}")
        else:
            # a file or folder written over an earlier link is written where the link leads
            where(m, (*folder, p.name), "the path")
        names.append(m.name)
    for m, key in symlinks:  # the links as they are read after extraction
        where(m, [*key[:-1], *PurePosixPath(links[key]).parts], f"link {links[key]!r}")
    return names


#: How the compressed or zip files histnet reads begin: a file that starts so is damaged.
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"PK\x03\x04", "zip"),
          (b"PK\x05\x06", "zip"))


def _not_an_archive(path: Path) -> DataError:
    """One line for a file that no tar or zip reader can open: what it looks like."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as e:
        return file_system_error(e)
    if not head:
        what = "it is empty"
    elif any(head.startswith(magic) for magic, _ in _MAGIC):
        kind = next(kind for magic, kind in _MAGIC if head.startswith(magic))
        return DataError(f"{path} is a damaged archive (it starts as {kind}, but no tar or zip can be "
                         "read from it); delete it and download it again")
    elif head.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        what = "it is an HTML/XML page, perhaps a server's error page"
    else:
        what = f"it starts with {head[:16]!r}"
    return DataError(f"{path} is not a tar/zip archive ({what})")


def check_archive(path) -> list[str]:
    """Check every member of a tar or zip archive; return their names.

    Nothing is extracted. Symbolic and hard link targets are resolved as the file
    system would resolve them after extraction, through the archive's other links
    (a link to a folder earlier in the archive counts; see :func:`_check_tar_members`).

    Parameters
    ----------
    path : path
        A ``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz`` or ``.zip`` file.

    Returns
    -------
    list of str
        The member names, in archive order.

    Raises
    ------
    DataError
        One line naming the archive and the member: an absolute path, ``..``, a link
        whose target is absolute or leads outside the archive root, a link loop, a
        device file or FIFO, a symbolic link in a zip; or one line naming the archive
        when it is not a tar or zip archive at all or is damaged.
    """
    path = Path(path)
    names = []
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as e:
        raise file_system_error(e) from None
    if is_zip:
        try:
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    _check_member_name(path, info.filename)
                    mode = info.external_attr >> 16
                    if stat.S_ISLNK(mode):
                        raise DataError(f"{path}: refusing member {info.filename!r}: symbolic link")
                    if mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)):
                        raise DataError(f"{path}: refusing member {info.filename!r}: device or FIFO")
                    names.append(info.filename)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as e:
            raise DataError(f"{path}: damaged zip archive ({_one_line(e)})") from None
        except OSError as e:
            raise file_system_error(e) from None
        return names
    try:
        t = tarfile.open(path)
    except tarfile.ReadError:
        raise _not_an_archive(path) from None
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: damaged tar archive ({_one_line(e)}); delete it and download it "
                        "again") from None
    except OSError as e:
        if e.filename is not None:
            raise file_system_error(e) from None
        raise DataError(f"{path}: damaged tar archive ({_one_line(e)}); delete it and download it "
                        "again") from None
    with t:
        try:
            members = t.getmembers()
        except (tarfile.TarError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: damaged tar archive ({_one_line(e)}); delete it and download "
                            "it again") from None
        except OSError as e:  # gzip/lzma/bz2 raise OSError subclasses for bad data
            if e.filename is not None:
                raise file_system_error(e) from None
            raise DataError(f"{path}: damaged tar archive ({_one_line(e)}); delete it and download "
                            "it again") from None
    return _check_tar_members(path, members)


def safe_extract(archive, dest) -> Path:
    """Extract ``archive`` into the new folder ``dest`` after :func:`check_archive`.

    Nothing is written if any member is refused. Extraction goes into a temporary
    folder beside ``dest`` that is renamed to ``dest`` when complete, and is removed
    if extraction fails.

    Parameters
    ----------
    archive : path
        A tar (plain or compressed) or zip file.
    dest : path
        The folder to create; it must not exist.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DataError
        An unsafe member or a file that is not an archive (see :func:`check_archive`),
        a damaged archive, ``dest`` already there, or a file system fault; one line
        each, naming the archive or the path.
    """
    archive, dest = Path(archive), Path(dest)
    check_archive(archive)
    if os.path.lexists(dest):
        raise DataError(f"{dest}: already exists; remove it to extract {archive.name} again")
    tmp = dest.parent / f".{dest.name}.extract-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir(parents=True)
    except OSError as e:
        raise file_system_error(e) from None
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        else:
            with tarfile.open(archive) as t:
                if hasattr(tarfile, "data_filter"):
                    t.extractall(tmp, filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    t.extractall(tmp)
        os.rename(tmp, dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{archive}: cannot be extracted ({_one_line(e)})") from None
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise file_system_error(e) if e.filename is not None else \
            DataError(f"{archive}: cannot be extracted ({_one_line(e)})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


# -- a whole data set ---------------------------------------------------------------------------------
def fetch(name: str, root, progress=None, base_url: Optional[str] = None) -> Path:
    """Download data set ``name`` into ``<root>/<name>`` and check its layout.

    Parameters
    ----------
    name : str
        A key of :data:`SOURCES`.
    root : path
        The data root.
    progress : callable, optional
        Byte-level :class:`ProgressEvent` s.
    base_url : str, optional
        Fetch every file from ``<base_url>/<file name>`` instead of the official
        address (a mirror, or a local server in the tests). Without it, the official
        address is tried first and then the listed mirrors.

    Returns
    -------
    Path
        The data set folder (an existing, non-empty folder is returned as it is).

    Raises
    ------
    DownloadError
        A network or HTTP fault (the bytes already downloaded are kept in
        ``<root>/.downloads/<name>``, and the next call resumes them) or a checksum
        mismatch.
    DataError
        An unknown name; the root, ``<root>/<name>`` or the download folder is a
        symbolic link loop, a dangling link or a file (checked before anything is
        downloaded); an unsafe or damaged archive, or a file that is not one; a result
        not in the expected layout; a file system fault. One line each, naming the path.
    """
    from .folder import detect_layout

    if name not in SOURCES:
        raise DataError(f"no download for {name!r}; downloadable: {', '.join(SOURCES)}")
    src = SOURCES[name]
    root = Path(root)
    target = root / name
    downloads = root / ".downloads" / name
    try:
        _check_folder(root, "the data root")
        _check_folder(target, f"the {name} folder")
        if target.is_dir() and any(target.iterdir()):
            return target
        if target.is_symlink():  # a link to an empty folder: os.rename cannot replace it
            raise DataError(f"{target}: is a symbolic link to the empty folder {os.path.realpath(target)}; "
                            "remove the link and run the same command again")
        _check_folder(downloads.parent, "the download folder")
        _check_folder(downloads, "the download folder")
        got = _download_all(name, src, downloads, progress, base_url)
        if all(r.archive for r in src["files"]):
            tmp = root / f".{name}.unpack-{uuid.uuid4().hex[:8]}"
            try:
                for path in got:
                    safe_extract(path, tmp / path.name.split(".")[0])
                _promote(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp = root / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
            try:
                tmp.mkdir(parents=True)
                for path in got:
                    shutil.copy2(path, tmp / path.name)
                os.rename(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        raise file_system_error(e) from None
    try:
        kind, _ = detect_layout(target)
    except DataError as e:
        kind, why = None, str(e)
    else:
        why = f"it looks like {kind}"
    if kind != src["layout"]:
        shutil.rmtree(target, ignore_errors=True)  # do not leave a folder that looks "present"
        raise DataError(f"{target}: downloaded {name} is not in the expected {src['layout']} layout ({why})")
    shutil.rmtree(downloads, ignore_errors=True)
    with contextlib.suppress(OSError):
        (root / ".downloads").rmdir()
    return target


def _download_all(name: str, src: dict, downloads: Path, progress, base_url: Optional[str]) -> list[Path]:
    """Download every file of ``src`` into ``downloads``, trying the mirrors in turn.

    A checksum mismatch stops at once (another address would not change the file);
    any other :class:`DownloadError` moves on to the next address, and the last one is
    raised when none succeeds.
    """
    got = []
    for res in src["files"]:
        urls = [base_url.rstrip("/") + "/" + res.filename] if base_url else \
            [res.url] + [m + res.filename for m in src.get("mirrors", [])]
        err = None
        for url in urls:
            try:
                got.append(download_file(url, downloads / res.filename, md5=res.md5, sha256=res.sha256,
                                         size=res.size, progress=progress))
                err = None
                break
            except DownloadError as e:
                err = e
                if "checksum" in str(e):
                    raise
        if err is not None:
            raise err
    return got


def _check_folder(path: Path, what: str) -> None:
    """Raise a one-line :class:`DataError` unless ``path`` is absent or a folder.

    Parameters
    ----------
    path : Path
        A folder :func:`fetch` will use or create.
    what : str
        What the folder is, for the message (``"the data root"``).

    Raises
    ------
    DataError
        ``path`` is a symbolic link loop, a link to nothing, a file, or cannot be
        looked at (no permission, a file where a parent folder should be).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise DataError(f"{path}: {what} is a symbolic link to {os.readlink(path)!r}, which does "
                            "not exist; remove the link or create the folder it points at") from None
        return
    except OSError as e:
        raise file_system_error(e) from None
    if not stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: {what} is a file, not a folder; move it away or choose another root")


def _promote(tmp: Path, target: Path) -> None:
    """Rename what one archive extracted to (``tmp/<archive stem>``) to ``target``."""
    tops = list(tmp.iterdir())
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(tops[0] if len(tops) == 1 else tmp, target)
