"""Loading options shared by every reader: size, colour, subsets, validation split, hashes.

Each reader produces native images; the functions here turn them into what a run asked
for, the same way for every format, so that ``digits`` at 32 px grey and an ImageFolder
at 32 px grey go through identical arithmetic:

* **size** -- :func:`resize_shorter_crop`: scale the shorter side to ``image_size``
  (bilinear, with Pillow's antialiasing when shrinking), then cut the centre square.
  This is the test-time preprocessing of Krizhevsky, Sutskever & Hinton (2012),
  section 2 ("we down-sampled the images to a fixed resolution of 256 x 256 ... rescaled
  the image such that the shorter side was of length 256, and then cropped out the
  central 256 x 256 patch").
* **colour** -- :func:`rgb_to_grey` is ITU-R BT.601 luma, ``Y = 0.299 R + 0.587 G +
  0.114 B`` rounded to uint8 (C = 1); :func:`grey_to_rgb` repeats the channel (C = 3).
* **subsets** -- :func:`stratified_subset` takes ``n`` images of every class, seeded;
  :func:`stratified_holdout` carves a fraction of every class off (the validation split,
  and the fixed test split of the built-ins).
* **hashes** -- :func:`array_checksum` and :func:`files_checksum` give the stable content
  hash every dataset's ``provenance["checksum"]`` carries.

Left out: random crops, flips and colour noise are training-time augmentation
(:mod:`histnet.data.augment`), not loading options.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Optional, Sequence

import numpy as np

from ..backend import get_array_module
from ..errors import ConfigError, DataError

#: ITU-R BT.601 luma weights for (R, G, B).
BT601 = (0.299, 0.587, 0.114)


# -- colour ------------------------------------------------------------------------------
def luma(images, dtype="float32"):
    """ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of RGB images, unrounded.

    Parameters
    ----------
    images : array of shape (..., 3), any real dtype (numpy, cupy or stand-in)
    dtype : float dtype of the result

    Returns
    -------
    y : array of shape (...), in the units of ``images``, on their device.
    """
    xp = get_array_module(images)
    if images.shape[-1] != 3:
        raise DataError(f"luma: expected 3 channels, got shape {tuple(images.shape)}")
    return images.astype(dtype) @ xp.asarray(BT601, dtype=dtype)


def rgb_to_grey(images):
    """ITU-R BT.601 luma of RGB images, as uint8 with one channel.

    Parameters
    ----------
    images : array of shape (..., 3), uint8
        numpy, cupy or stand-in array.

    Returns
    -------
    grey : array of shape (..., 1), uint8
        ``round(0.299 R + 0.587 G + 0.114 B)`` (:func:`luma`, rounded), on the same device
        as ``images``; one-channel images are returned as they are.
    """
    xp = get_array_module(images)
    if images.shape[-1] == 1:
        return images
    if images.shape[-1] != 3:
        raise DataError(f"rgb_to_grey: expected 3 channels, got shape {tuple(images.shape)}")
    return xp.clip(xp.rint(luma(images, xp.float32)), 0, 255).astype(xp.uint8)[..., None]


def grey_to_rgb(images):
    """Repeat a single grey channel three times: (..., 1) uint8 -> (..., 3) uint8."""
    xp = get_array_module(images)
    if images.shape[-1] == 3:
        return images
    if images.shape[-1] != 1:
        raise DataError(f"grey_to_rgb: expected 1 channel, got shape {tuple(images.shape)}")
    return xp.repeat(images, 3, axis=-1)


def set_channels(images, grayscale: Optional[bool]):
    """Apply the ``grayscale`` option: None keeps native, True gives C=1, False gives C=3."""
    if grayscale is None:
        return images
    return rgb_to_grey(images) if grayscale else grey_to_rgb(images)


# -- size --------------------------------------------------------------------------------
def resize_shorter_crop(img, image_size: int):
    """Scale a PIL image so its shorter side is ``image_size``, then crop the centre square.

    Parameters
    ----------
    img : PIL.Image.Image
        Any size, mode ``"L"`` or ``"RGB"``.
    image_size : int
        Side of the square output.

    Returns
    -------
    PIL.Image.Image of size (image_size, image_size)
        Bilinear resampling; Pillow's bilinear filter widens its support when shrinking,
        so downscaling is antialiased.
    """
    from PIL import Image

    w, h = img.size
    if (w, h) != (image_size, image_size):
        scale = image_size / min(w, h)
        nw, nh = max(image_size, round(w * scale)), max(image_size, round(h * scale))
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - image_size) // 2, (nh - image_size) // 2
        img = img.crop((left, top, left + image_size, top + image_size))
    return img


def resize_array(images: np.ndarray, image_size: Optional[int]) -> np.ndarray:
    """Apply :func:`resize_shorter_crop` to every image of a host uint8 (N, H, W, C) array.

    Used for the in-memory formats (IDX, CIFAR, built-ins) at load time; the folder
    readers resize while decoding. Returns ``images`` unchanged if already that size.
    """
    if image_size is None:
        return images
    image_size = check_image_size(image_size)
    n, h, w, c = images.shape
    if (h, w) == (image_size, image_size):
        return images
    from PIL import Image

    out = np.empty((n, image_size, image_size, c), np.uint8)
    for i in range(n):  # load-time only: Pillow resizes one image at a time
        im = Image.fromarray(images[i, :, :, 0] if c == 1 else images[i])
        out[i] = np.asarray(resize_shorter_crop(im, image_size)).reshape(image_size, image_size, c)
    return out


def check_image_size(image_size) -> int:
    """Validate the ``image_size`` option (a positive int)."""
    try:
        s = int(image_size)
    except (TypeError, ValueError):
        raise ConfigError(f"image_size must be a positive integer, got {image_size!r}") from None
    if s != image_size or s < 1:
        raise ConfigError(f"image_size must be a positive integer, got {image_size!r}")
    return s


# -- subsets -------------------------------------------------------------------------------
def stratified_subset(labels: np.ndarray, n_per_class: int, seed, class_names: Sequence[str] = (),
                      what: str = "train") -> np.ndarray:
    """Indices of ``n_per_class`` images drawn at random from every class.

    Parameters
    ----------
    labels : ndarray of shape (N,), int
    n_per_class : int
        Images to keep per class.
    seed : int or numpy.random.Generator
    class_names : sequence of str, optional
        Used to name the class in the error.
    what : str
        The split, for the error message.

    Returns
    -------
    indices : ndarray of shape (n_per_class * n_classes_present,), int64, sorted
        Sorted, so a memory-mapped dataset is read front to back.

    Raises
    ------
    ConfigError
        ``n_per_class`` is not positive, or a class has fewer images than that.
    """
    if int(n_per_class) != n_per_class or n_per_class < 1:
        raise ConfigError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < n_per_class:
            name = class_names[c] if c < len(class_names) else str(c)
            raise ConfigError(
                f"n_per_class={n_per_class} but class {name!r} has only {len(idx)} {what} images"
            )
        keep.append(rng.permutation(idx)[:n_per_class])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


def stratified_holdout(labels: np.ndarray, fraction: float, seed) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held out), holding out ``fraction`` of every class.

    Each class ``c`` with ``n_c`` images gives ``round(fraction * n_c)`` images to the
    held-out part (at least one when ``fraction > 0`` and ``n_c >= 2``; never all of
    them), chosen by a permutation from ``numpy.random.default_rng(seed)``.

    Returns
    -------
    kept, held : ndarray of int64, each sorted
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {fraction!r}")
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    kept, held = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(fraction * len(idx)))
        if fraction > 0 and len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        held.append(idx[:k])
        kept.append(idx[k:])
    cat = lambda parts: np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)  # noqa: E731
    return cat(kept), cat(held)


# -- hashes --------------------------------------------------------------------------------
def array_checksum(*arrays) -> str:
    """``sha256:<hex>`` of the shapes, dtypes and bytes of host arrays (stable content hash)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        # Hash in slices so a memory map is not pulled into memory all at once.
        flat = a.reshape(-1).view(np.uint8) if a.size else np.zeros(0, np.uint8)
        step = 1 << 24
        for s in range(0, len(flat), step):
            h.update(flat[s:s + step].data)
    return "sha256:" + h.hexdigest()


def files_checksum(entries: Iterable[tuple[str, int, int]], extra: str = "") -> str:
    """``sha256:<hex>`` of a file list: (relative path, size, mtime_ns) per file, plus ``extra``."""
    h = hashlib.sha256(extra.encode())
    for rel, size, mtime in entries:
        h.update(f"{rel}\0{size}\0{mtime}\n".encode())
    return "sha256:" + h.hexdigest()


def text_checksum(*parts) -> str:
    """``sha256:<hex>`` of some strings (used to derive subset checksums)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode())
        h.update(b"\0")
    return "sha256:" + h.hexdigest()
