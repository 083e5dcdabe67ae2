"""Downloads of the public data sets: checksums, resumable transfers, safe extraction.

``fetch(name, root)`` downloads a data set from its official address into
``<root>/<name>/`` in the layout the readers expect:

* every file is fetched into ``<file>.part`` and renamed only when complete and its
  checksum (MD5 or SHA-256) matches; an interrupted transfer is resumed with an HTTP
  ``Range: bytes=<size of .part>-`` request (a server that ignores Range and answers
  200 restarts the file from zero);
* a ``progress`` callback receives :class:`histnet.progress.ProgressEvent` s whose
  ``step``/``total`` are bytes done / bytes in all;
* archives (tar, tar.gz, zip) are checked member by member *before* anything is
  written -- an absolute path, a ``..`` component, a symbolic or hard link whose target
  leaves the destination, or a device/FIFO member is refused with a
  :class:`DataError` naming the archive and the member -- then extracted into a
  temporary folder that is renamed to ``<root>/<name>`` when complete (tar members also
  pass through Python's ``filter="data"`` where available, as a second line of defence).

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
import hashlib
import os
import shutil
import stat
import tarfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Optional

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
        Expected hex digests; a mismatch deletes the ``.part`` and raises.
    size : int, optional
        Expected size in bytes.
    progress : callable, optional
        Receives ``ProgressEvent("download <file>", bytes_done, bytes_total)``.
    timeout : float
        Seconds per network operation.

    Returns
    -------
    Path of the verified file (returned at once if it is already there and valid).

    Raises
    ------
    DownloadError
        Network or HTTP failure (naming the URL), or a checksum/size mismatch.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file():
        try:
            verify_file(dest, md5, sha256, size)
            return dest
        except DownloadError:
            dest.unlink()
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "histnet"})
    if start:
        req.add_header("Range", f"bytes={start}-")
    t0 = time.perf_counter()
    stage = f"download {dest.name}"
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
                    block = resp.read(chunk)
                    if not block:
                        break
                    f.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(ProgressEvent(stage, done, total, "bytes", time.perf_counter() - t0))
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # nothing left to send: the .part may be complete
            pass
        else:
            raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(f"{url}: download failed ({reason}); run again to resume from "
                            f"{part.name}") from None
    try:
        verify_file(part, md5, sha256, size)
    except DownloadError as e:
        part.unlink(missing_ok=True)
        raise DownloadError(str(e).replace(str(part), f"{dest} (from {url})")) from None
    os.replace(part, dest)
    return dest


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
    """True if ``target`` (relative to folder ``base`` inside the archive root) stays inside it."""
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


def check_archive(path) -> list[str]:
    """Check every member of a tar or zip archive; return their names.

    Raises
    ------
    DataError
        Naming the archive and the member: absolute path, ``..``, a link whose target
        is absolute or leaves the archive root, a device file or FIFO; or an archive
        that cannot be read.
    """
    path = Path(path)
    names = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                _check_member_name(path, info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise DataError(f"{path}: refusing member {info.filename!r}: symbolic link")
                if mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)):
                    raise DataError(f"{path}: refusing member {info.filename!r}: device or FIFO")
                names.append(info.filename)
        return names
    try:
        with tarfile.open(path) as t:
            for m in t.getmembers():
                p = _check_member_name(path, m.name)
                if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
                    raise DataError(f"{path}: refusing member {m.name!r}: device file or FIFO")
                if m.issym() or m.islnk():
                    target = m.linkname
                    if target.startswith(("/", "\\")) or PurePosixPath(target).is_absolute():
                        raise DataError(f"{path}: refusing member {m.name!r}: link to absolute path {target!r}")
                    # symlink targets are relative to the link's folder, hard links to the archive root
                    base = p.parent if m.issym() else PurePosixPath()
                    if not _inside(base, target):
                        raise DataError(f"{path}: refusing member {m.name!r}: link {target!r} points outside")
                names.append(m.name)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{path}: not a readable tar or zip archive ({e})") from None
    return names


def safe_extract(archive, dest) -> Path:
    """Extract ``archive`` into the new folder ``dest`` after :func:`check_archive`.

    Nothing is written if any member is refused. Extraction goes into a temporary
    folder beside ``dest`` that is renamed to ``dest`` when complete.

    Raises
    ------
    DataError
        An unsafe member (see :func:`check_archive`), or ``dest`` already exists.
    """
    archive, dest = Path(archive), Path(dest)
    check_archive(archive)
    if dest.exists():
        raise DataError(f"{dest}: already exists; remove it to extract {archive.name} again")
    tmp = dest.parent / f".{dest.name}.extract-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
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
    Path of the data set folder (existing folders are returned as they are).
    """
    from .folder import detect_layout

    if name not in SOURCES:
        raise DataError(f"no download for {name!r}; downloadable: {', '.join(SOURCES)}")
    src = SOURCES[name]
    root = Path(root)
    target = root / name
    if target.is_dir() and any(target.iterdir()):
        return target
    downloads = root / ".downloads" / name
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
        tmp.mkdir(parents=True)
        for path in got:
            shutil.copy2(path, tmp / path.name)
        os.rename(tmp, target)
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


def _promote(tmp: Path, target: Path) -> None:
    """Rename what one archive extracted to (``tmp/<archive stem>``) to ``target``."""
    tops = list(tmp.iterdir())
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(tops[0] if len(tops) == 1 else tmp, target)
