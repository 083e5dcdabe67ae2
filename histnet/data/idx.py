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
header promises -- a truncated file is a :class:`DataError` naming the file.

Left out: IDX types other than unsigned byte (int16/32, float, double) -- no image set
histnet reads uses them.
"""

from __future__ import annotations

import gzip
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


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=f) as g:
                    return g.read()
            return f.read()
    except (EOFError, OSError, zlib.error) as e:
        raise DataError(f"{path}: cannot read IDX file ({e}); the file is truncated or corrupt") from None


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
        Missing file, wrong magic number, unexpected dimension count or size, or
        a file shorter or longer than its header says.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: IDX file not found")
    buf = _read_bytes(path)
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number {buf[:4].hex() or 'empty'})")
    if buf[2] != 0x08:
        raise DataError(f"{path}: IDX data type 0x{buf[2]:02x} is not unsigned byte (0x08)")
    ndim = buf[3]
    if expect_ndim is not None and ndim != expect_ndim:
        raise DataError(f"{path}: IDX file has {ndim} dimensions, expected {expect_ndim} "
                        f"(magic {buf[:4].hex()})")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise DataError(f"{path}: IDX file truncated inside its header")
    shape = tuple(int(d) for d in np.frombuffer(buf, ">u4", count=ndim, offset=4))
    n = int(np.prod(shape, dtype=np.int64))
    if len(buf) - header != n:
        what = "truncated" if len(buf) - header < n else "longer than its header says"
        raise DataError(f"{path}: IDX file {what}: header {shape} needs {n} data bytes, "
                        f"found {len(buf) - header}")
    return np.frombuffer(buf, np.uint8, count=n, offset=header).reshape(shape).copy()


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
        A file is missing or malformed, or image and label counts differ.
    """
    folder = Path(folder)
    img_stem, lab_stem = IDX_FILES[split]
    files = []
    for stem in (img_stem, lab_stem):
        p = find_idx_file(folder, stem)
        if p is None:
            raise DataError(f"{folder}: missing {stem} (or {stem}.gz) for the {split} split")
        files.append(p)
    images = read_idx(files[0], expect_ndim=3)
    labels = read_idx(files[1], expect_ndim=1).astype(np.int64)
    if len(images) != len(labels):
        raise DataError(f"{files[0]}: {len(images)} images but {files[1].name} has {len(labels)} labels")
    return images[..., None], labels, files


def looks_like_idx(folder: Path) -> bool:
    """True if ``folder`` holds the train image file of an MNIST-style set."""
    return find_idx_file(Path(folder), IDX_FILES["train"][0]) is not None
