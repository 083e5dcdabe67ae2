"""The common dataset module: containers, built-in sets, on-disk formats, downloads,
batching and augmentation. See :mod:`histnet.data.base` for the container,
:mod:`histnet.data.loaders` for :func:`load_splits` / :func:`load_dataset`, and
:mod:`histnet.data.catalog` for the list of known data sets and their downloads."""

from . import catalog
from .base import ArrayDataset, Dataset, Splits, SubsetDataset
from .loaders import data_root, load_dataset, load_splits

__all__ = ["Dataset", "ArrayDataset", "SubsetDataset", "Splits", "load_splits", "load_dataset",
           "data_root", "catalog"]
