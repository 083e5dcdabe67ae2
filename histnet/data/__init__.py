"""The common dataset module: containers, built-in sets, on-disk formats, downloads,
batching and augmentation. See :mod:`histnet.data.base` for the container."""

from .base import ArrayDataset, Dataset, Splits, SubsetDataset

__all__ = ["Dataset", "ArrayDataset", "SubsetDataset", "Splits"]
