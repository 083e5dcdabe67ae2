"""The dataset container every method reads from.

A :class:`Dataset` is images as ``uint8`` arrays of shape (N, H, W, C), integer
labels in ``[0, n_classes)``, the class names, and provenance (source, split,
checksum). Labels always sit in memory (8 bytes an image: 10 MB for ILSVRC-2012's
1.28M images); images may not: :class:`ArrayDataset` holds them in a numpy array,
which for large sets is a read-only memory map of the decoded-image cache, so
pages are read from disk as batches touch them and memory does not grow with the
number of images.

Methods never index the whole image array at once; they stream it with
:meth:`Dataset.batches`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import numpy as np

from ..errors import DataError


class Dataset:
    """Images (N, H, W, C) uint8 plus labels (N,) int64, class names and provenance.

    Subclasses implement :meth:`get_images`. Attributes
    ----------
    name : str
    labels : ndarray of shape (n_images,), int64
    class_names : list of str
    image_shape : tuple (H, W, C)
    provenance : dict
        ``source`` (path or URL), ``split``, ``checksum`` and anything a loader adds.
    """

    def __init__(self, name: str, labels, class_names: Sequence[str], image_shape, provenance=None):
        self.name = name
        self.labels = np.asarray(labels, dtype=np.int64)
        self.class_names = list(class_names)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.provenance = dict(provenance or {})
        if self.labels.ndim != 1:
            raise DataError(f"{name}: labels must be one-dimensional, got shape {self.labels.shape}")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            bad = int(self.labels.max() if self.labels.max() >= len(self.class_names) else self.labels.min())
            raise DataError(
                f"{name}: label {bad} is out of range for {len(self.class_names)} classes "
                f"(labels must be in 0..{len(self.class_names) - 1})"
            )

    # -- to implement ----------------------------------------------------------------
    def get_images(self, indices) -> np.ndarray:
        """Images at ``indices`` as uint8 (len(indices), H, W, C)."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        h, w, c = self.image_shape
        split = self.provenance.get("split", "?")
        return f"<{type(self).__name__} {self.name} [{split}]: {len(self)} images {h}x{w}x{c}, {self.n_classes} classes>"

    def batches(self, batch_size: int = 256, indices=None, shuffle: bool = False, rng=None
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(images, labels)`` batches of at most ``batch_size`` images.

        Parameters
        ----------
        batch_size : int, default=256
        indices : array of int, optional
            Restrict to these images (in this order unless ``shuffle``).
        shuffle : bool, default=False
            Visit images in a random order drawn from ``rng``.
        rng : numpy.random.Generator, optional
            Required when ``shuffle`` is true.
        """
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
        if shuffle:
            if rng is None:
                raise ValueError("batches(shuffle=True) needs an rng")
            idx = rng.permutation(idx)
        for start in range(0, len(idx), batch_size):
            sel = idx[start:start + batch_size]
            yield self.get_images(sel), self.labels[sel]

    def subset(self, indices, split: Optional[str] = None) -> "Dataset":
        """A view of some images (lazy datasets stay lazy)."""
        return SubsetDataset(self, np.asarray(indices, dtype=np.int64), split=split)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.n_classes)


class ArrayDataset(Dataset):
    """A dataset whose images are one array (in memory or memory-mapped).

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C), uint8
    labels : ndarray of shape (N,)
    """

    def __init__(self, name, images, labels, class_names, provenance=None):
        images = images if isinstance(images, np.ndarray) else np.asarray(images)
        if images.ndim == 3:  # (N, H, W) grey
            images = images[..., None]
        if images.ndim != 4:
            raise DataError(f"{name}: images must be N x H x W x C, got shape {images.shape}")
        if images.dtype != np.uint8:
            raise DataError(f"{name}: images must be uint8, got {images.dtype}")
        if len(images) != len(labels):
            raise DataError(f"{name}: {len(images)} images but {len(labels)} labels")
        super().__init__(name, labels, class_names, images.shape[1:], provenance)
        self.images = images

    def get_images(self, indices) -> np.ndarray:
        indices = np.asarray(indices)
        # Sorted fancy indexing on a memmap reads pages in order; restore the order after.
        if isinstance(self.images, np.memmap) and len(indices) > 1:
            order = np.argsort(indices, kind="stable")
            out = np.empty((len(indices),) + self.images.shape[1:], np.uint8)
            out[order] = self.images[indices[order]]
            return out
        return np.asarray(self.images[indices])


class SubsetDataset(Dataset):
    """Some images of a parent dataset, by index."""

    def __init__(self, parent: Dataset, indices: np.ndarray, split: Optional[str] = None):
        prov = dict(parent.provenance)
        if split is not None:
            prov["split"] = split
        prov["n_of_parent"] = f"{len(indices)} of {len(parent)}"
        super().__init__(parent.name, parent.labels[indices], parent.class_names, parent.image_shape, prov)
        self.parent = parent
        self.indices = indices

    def get_images(self, indices) -> np.ndarray:
        return self.parent.get_images(self.indices[np.asarray(indices, dtype=np.int64)])


@dataclass
class Splits:
    """The splits a run uses: ``train``, optional ``val`` (carved from train), ``test``."""

    train: Dataset
    test: Dataset
    val: Optional[Dataset] = None
    info: dict = field(default_factory=dict)
