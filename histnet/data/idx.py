"""Reader of the IDX format of MNIST and Fashion-MNIST, gzipped or not.

The format (LeCun, Cortes & Burges, "THE MNIST DATABASE of handwritten digits",
http://yann.lecun.com/exdb/mnist/): a big-endian header -- two zero bytes, a type
byte (0x08 = unsigned byte, the only one these sets use), a byte giving the number of
dimensions -- then one big-endian uint32 per dimension, then the data in C order.
Images are ``0x00000803`` (N, 28, 28), labels ``0x00000801`` (N,). Fashion-MNIST
(Xiao, Rasul & Vollgraf 2017) uses the same files and names.

A file is recognised as gzip by its first two bytes (``1f 8b``), not by its name.
Everything is checked against the header: the magic number, the type byte, the
dimension count the caller expects, and that the file holds exactly the bytes the
header promises -- a truncated file is a :class:`DataError` naming the file. The
header is read first and its dimensions multiplied exactly (Python integers, so a
product of huge dimensions cannot wrap around); the data are read only when they fit
the file: exactly the bytes after the header of a raw file, at most what deflate's
largest ratio (1032:1) lets the gzip file hold, and never more than the header
promises, so a corrupt or hostile header cannot ask for gigabytes.

Left out: IDX types other than unsigned byte (int16/32, float, double) -- no image set
histnet reads uses them.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

#: File name stems of the four files of an MNIST-style set, per split.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


#: Deflate's largest compression ratio: a gzip file of S bytes holds at most about 1032 * S.
GZIP_MAX_RATIO = 1032


def _read_checked(path: Path, expect_ndim: int | None) -> tuple[tuple, bytes]:
    """The shape in the header of ``path`` and its data bytes, read only after checking the size."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        gz = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        stream = gzip.GzipFile(fileobj=f) if gz else f
        with stream:
            head = stream.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise DataError(f"{path}: not an IDX file (bad magic number {head.hex() or 'empty'})")
            if head[2] != 0x08:
                raise DataError(f"{path}: IDX data type 0x{head[2]:02x} is not unsigned byte (0x08)")
            ndim = head[3]
            if expect_ndim is not None and ndim != expect_ndim:
                raise DataError(f"{path}: IDX file has {ndim} dimensions, expected {expect_ndim} "
                                f"(magic {head.hex()})")
            dims = stream.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise DataError(f"{path}: IDX file truncated inside its header")
            shape = tuple(int.from_bytes(dims[i:i + 4], "big") for i in range(0, 4 * ndim, 4))
            n = math.prod(shape)  # exact: no int64 wrap-around
            header = 4 + 4 * ndim
            room = size - header if not gz else GZIP_MAX_RATIO * size
            if n > room:
                what = (f"the file has {size - header} bytes after the header"
                        if not gz else f"a gzip file of {size} bytes cannot hold that many")
                raise DataError(f"{path}: IDX file truncated or its header corrupt: header dimensions "
                                f"{shape} need {n} data bytes, {what}")
            data = stream.read(n)
            extra = len(stream.read(1))
    if len(data) < n:
        raise DataError(f"{path}: IDX file truncated: header {shape} needs {n} data bytes, found {len(data)}")
    if extra:
        raise DataError(f"{path}: IDX file longer than its header says: header {shape} needs {n} data bytes, "
                        f"found more")
    return shape, data


def read_idx(path, expect_ndim: int | None = None) -> np.ndarray:
    """Read one IDX file of unsigned bytes.

    Parameters
    ----------
    path : str or Path
        ``.gz`` or raw.
    expect_ndim : int, optional
        3 for images, 1 for labels.

    Returns
    -------
    ndarray of uint8 with the shape of the header, e.g. (N, 28, 28).

    Raises
    ------
    DataError
        Missing file, wrong magic number, unexpected dimension count or size, a
        file shorter or longer than its header says, or header dimensions whose
        product the file cannot hold (checked before the data are read).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: IDX file not found")
    try:
        shape, data = _read_checked(path, expect_ndim)
    except (EOFError, OSError, zlib.error) as e:
        raise DataError(f"{path}: cannot read IDX file ({e}); the file is truncated or corrupt") from None
    return np.frombuffer(data, np.uint8).reshape(shape).copy()


def find_idx_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz`` (also the ``stem.idx3-ubyte`` spelling), if present."""
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        p = folder / name
        if p.is_file():
            return p
    return None


def read_idx_split(folder, split: str) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """Images (N, 28, 28, 1) uint8, labels (N,) int64 and the files of one split of a folder.

    Raises
    ------
    DataError
        A file is missing or malformed, image and label counts differ, or a file is a
        symbolic link out of ``folder``.
    """
    from .paths import check_inside, resolved_root

    folder = Path(folder)
    base = resolved_root(folder)
    img_stem, lab_stem = IDX_FILES[split]
    files = []
    for stem in (img_stem, lab_stem):
        p = find_idx_file(folder, stem)
        if p is None:
            raise DataError(f"{folder}: missing {stem} (or {stem}.gz) for the {split} split")
        check_inside(p, base, "IDX file")
        files.append(p)
    images = read_idx(files[0], expect_ndim=3)
    labels = read_idx(files[1], expect_ndim=1).astype(np.int64)
    if len(images) != len(labels):
        raise DataError(f"{files[0]}: {len(images)} images but {files[1].name} has {len(labels)} labels")
    return images[..., None], labels, files


def looks_like_idx(folder: Path) -> bool:
    """True if ``folder`` holds the train image file of an MNIST-style set."""
    return find_idx_file(Path(folder), IDX_FILES["train"][0]) is not None
