"""``load_splits`` / ``load_dataset``: one entry point from a name or a folder to ready splits.

A data set is named (``digits``, ``mnist5k``, ``mnist``, ``fashion-mnist``, ``cifar10``,
``cifar100``, ``imagenette``, ``tiny-imagenet``, ``ilsvrc2012``; the downloadable ones
are looked up under the data root, see :func:`data_root`) or given as a path to a
folder, which is recognised by its layout (:func:`histnet.data.folder.detect_layout`).

What happens, in order:

1. the reader of the format gives the published train and test splits -- in memory
   for the small array formats (built-ins, IDX, CIFAR), as file lists for folders;
2. ``n_per_class`` / ``test_n_per_class`` draw stratified subsets, seeded (for folders
   before decoding, so a 100-per-class run of ILSVRC decodes 100k images, not 1.28M);
3. images are brought to ``image_size`` (shorter side, centre crop) and to grey or
   colour -- folders through the decoded-image cache (:mod:`histnet.data.image_cache`);
4. ``val_fraction`` of every class of train is carved off as the validation split.

Every dataset's ``provenance`` has ``source``, ``split``, ``checksum`` (content hash of
the bytes for in-memory sets, of the file list with sizes and mtimes plus the decoding
options for folders, combined with the subset indices for subsets) and ``format``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ConfigError, DataError
from ..io import cache_root
from .base import ArrayDataset, Dataset, Splits
from .builtin import BUILTINS, load_builtin
from .options import (array_checksum, check_image_size, files_checksum, resize_array, set_channels,
                      stratified_holdout, stratified_subset, text_checksum)

#: Named sets that live under the data root, and the folder each lives in there.
NAMED_FOLDERS = {
    "mnist": "mnist", "fashion-mnist": "fashion-mnist", "cifar10": "cifar10", "cifar100": "cifar100",
    "imagenette": "imagenette", "tiny-imagenet": "tiny-imagenet", "ilsvrc2012": "ilsvrc2012",
}
SPLITS = ("train", "test", "val")


def data_root(root=None) -> Path:
    """The folder named data sets live in: ``root``, else ``$HISTNET_DATA``, else ``cache_root()/datasets``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("HISTNET_DATA")
    return Path(env).expanduser() if env else cache_root() / "datasets"


def _subset_seed(seed, which: int):
    return np.random.default_rng([int(seed), which])


def load_splits(name_or_path, root=None, image_size=None, grayscale=None, n_per_class=None,
                test_n_per_class=None, val_fraction=0.0, seed=0, skip_bad=False, cache_dir=None,
                progress=None) -> Splits:
    """Load a data set's train, test and (optional) validation splits.

    Parameters
    ----------
    name_or_path : str or Path
        A known name (see module docstring) or a folder in a known layout.
    root : path, optional
        Where named sets live (default ``$HISTNET_DATA`` or ``cache_root()/datasets``).
    image_size : int, optional
        Side of the square images: shorter side resized, centre cropped. None keeps the
        native size (an image folder of mixed sizes then raises).
    grayscale : bool, optional
        True: one channel (BT.601 luma); False: three (grey repeated); None: native.
    n_per_class, test_n_per_class : int, optional
        Keep this many images per class in train / test (stratified, drawn with
        ``seed``; train and test use independent streams).
    val_fraction : float, default=0.0
        Fraction of every training class moved to the validation split (seeded).
    seed : int, default=0
    skip_bad : bool, default=False
        Skip undecodable images of a folder (counted in ``provenance["n_bad"]``).
    cache_dir : path, optional
        Decoded-image cache (default ``cache_root()/images``).
    progress : callable, optional
        :class:`histnet.progress.ProgressEvent` callback (decoding).

    Returns
    -------
    Splits
        ``train``, ``test``, ``val`` (None when ``val_fraction`` is 0) and ``info``
        (name, format, source, n_classes, image_shape, n_bad -- images skipped by
        ``skip_bad`` -- and the options).

    Raises
    ------
    DataError
        Unknown name, missing data, malformed files (naming the file).
    ConfigError
        Bad option values.
    """
    out, info = _load(name_or_path, ("train", "test"), root=root, image_size=image_size, grayscale=grayscale,
                      n_per_class=n_per_class, test_n_per_class=test_n_per_class, val_fraction=val_fraction,
                      seed=seed, skip_bad=skip_bad, cache_dir=cache_dir, progress=progress)
    return Splits(train=out["train"], test=out["test"], val=out.get("val"), info=info)


def load_dataset(name_or_path, split: str = "train", root=None, **options) -> Dataset:
    """One split (``"train"``, ``"test"`` or ``"val"``) with the options of :func:`load_splits`.

    Only that split is read (and, for folders, decoded): ``split="test"`` of ILSVRC-2012
    does not decode the 1.28M training images.
    """
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split == "val" and not options.get("val_fraction"):
        raise ConfigError("split='val' needs val_fraction > 0")
    out, _ = _load(name_or_path, ("test",) if split == "test" else ("train",), root=root, **options)
    return out[split]


def _load(name_or_path, wanted, root=None, image_size=None, grayscale=None, n_per_class=None,
          test_n_per_class=None, val_fraction=0.0, seed=0, skip_bad=False, cache_dir=None, progress=None):
    """The work of :func:`load_splits` for the splits in ``wanted``; returns ({split: Dataset}, info)."""
    if image_size is not None:
        image_size = check_image_size(image_size)
    if grayscale is not None and not isinstance(grayscale, (bool, np.bool_)):
        raise ConfigError(f"grayscale must be True, False or None, got {grayscale!r}")
    if not isinstance(val_fraction, (int, float)) or not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    for opt, v in (("n_per_class", n_per_class), ("test_n_per_class", test_n_per_class), ("seed", seed)):
        least = 0 if opt == "seed" else 1
        if v is None and opt != "seed":
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < least:
            what = "a non-negative integer" if opt == "seed" else "a positive integer"
            raise ConfigError(f"{opt} must be {what}, got {v!r}")

    name, kind, folder = _resolve(name_or_path, root)
    options = {"image_size": image_size, "grayscale": grayscale, "n_per_class": n_per_class,
               "test_n_per_class": test_n_per_class, "val_fraction": val_fraction, "seed": seed}
    n_wanted = {"train": n_per_class, "test": test_n_per_class}
    out = {}
    if kind in ("builtin", "idx", "cifar10", "cifar100"):
        for split, (images, labels, classes, prov) in _read_arrays(name, kind, folder).items():
            if split not in wanted:
                continue
            idx = None
            if n_wanted[split] is not None:
                idx = stratified_subset(labels, n_wanted[split], _subset_seed(seed, split == "test"), classes, split)
                images, labels = images[idx], labels[idx]
            images = set_channels(resize_array(images, image_size), grayscale)
            prov = dict(prov, split=split)
            prov["checksum"] = array_checksum(images, labels) if (idx is not None or image_size or
                                                                  grayscale is not None) else prov["checksum"]
            out[split] = ArrayDataset(name, np.ascontiguousarray(images), labels, classes, provenance=prov)
    else:
        from .image_cache import decode_to_cache, file_entries
        from .folder import read_folder_layout

        for split, fs in read_folder_layout(kind, folder).items():
            if split not in wanted:
                continue
            files, labels = fs.files, fs.labels
            if n_wanted[split] is not None:
                idx = stratified_subset(labels, n_wanted[split], _subset_seed(seed, split == "test"),
                                        fs.class_names, split)
                files, labels = [files[i] for i in idx], labels[idx]
            # The file list identifies the folder's content; the decoding options are part of
            # what the decoded images are, so they go into the checksum too.
            checksum = files_checksum(file_entries(files, fs.root), extra=(
                f"{Path(fs.root).resolve()}|image_size={image_size}|grayscale={bool(grayscale)}"))
            prov = {"source": str(fs.root), "split": split, "format": fs.format, "n_files": len(files),
                    "class_ids": fs.class_ids, **fs.extra}
            out[split] = decode_to_cache(
                files, labels, root=fs.root, name=name, class_names=fs.class_names, image_size=image_size,
                grayscale=bool(grayscale), checksum=checksum, cache_dir=cache_dir, skip_bad=skip_bad,
                progress=progress, provenance=prov)
            if grayscale is None:
                out[split].provenance["channels"] = "rgb (folder images are converted to RGB)"

    if val_fraction > 0 and "train" in out:
        keep, held = stratified_holdout(out["train"].labels, val_fraction, _subset_seed(seed, 2))
        out["val"] = _subset(out["train"], held, "val")
        out["train"] = _subset(out["train"], keep, "train")
    first = next(iter(out.values()))
    info = {"name": name, "format": first.provenance.get("format"), "source": first.provenance.get("source"),
            "n_classes": first.n_classes, "image_shape": first.image_shape,
            "n_bad": sum(int(d.provenance.get("n_bad", 0)) for k, d in out.items() if k != "val"), **options}
    return out, info


def _subset(ds: Dataset, idx: np.ndarray, split: str) -> Dataset:
    sub = ds.subset(idx, split=split)
    sub.provenance["checksum"] = text_checksum(ds.provenance.get("checksum"), array_checksum(idx))
    return sub


def _resolve(name_or_path, root) -> tuple[str, str, Optional[Path]]:
    """(dataset name, kind, folder) for a name or a path."""
    from .folder import detect_layout

    key = str(name_or_path)
    if key in BUILTINS:
        return key, "builtin", None
    if key in NAMED_FOLDERS:
        folder = data_root(root) / NAMED_FOLDERS[key]
        if not folder.is_dir() or not any(folder.iterdir()):
            how = ("it needs an ImageNet account: see `histnet datasets info ilsvrc2012`"
                   if key == "ilsvrc2012" else f"run `histnet datasets download {key}`")
            raise DataError(f"{folder}: data set {key!r} not found under the data root; {how}, "
                            "or pass root= / --root pointing at a local copy")
        kind, where = detect_layout(folder)
        return key, kind, where
    path = Path(name_or_path).expanduser()
    if not path.exists() and os.sep not in key and "/" not in key:
        known = ", ".join(list(BUILTINS) + list(NAMED_FOLDERS))
        raise DataError(f"unknown data set {key!r}: give one of {known}, or a path to a folder")
    kind, where = detect_layout(path)
    return path.resolve().name or key, kind, where


def _read_arrays(name: str, kind: str, folder: Optional[Path]) -> dict:
    """``{split: (images, labels, class_names, provenance)}`` for the in-memory formats."""
    if kind == "builtin":
        b = load_builtin(name)
        return {s: (d.images, d.labels, d.class_names, d.provenance) for s, d in b.items()}
    out = {}
    if kind == "idx":
        from .idx import FASHION_CLASSES, MNIST_CLASSES, read_idx_split

        fashion = "fashion" in name.lower() or "fashion" in str(folder).lower()
        classes = FASHION_CLASSES if fashion else MNIST_CLASSES
        for split in ("train", "test"):
            images, labels, files = read_idx_split(folder, split)
            _check_labels(labels, len(classes), files[1])
            out[split] = (images, labels, classes, {
                "source": str(folder), "format": "fashion-mnist-idx" if fashion else "mnist-idx",
                "files": [f.name for f in files], "checksum": array_checksum(images, labels)})
        return out
    from .cifar import read_cifar

    for split in ("train", "test"):
        images, labels, classes, files = read_cifar(folder, split, kind)
        _check_labels(labels, len(classes), files[-1])
        out[split] = (images, labels, classes, {
            "source": str(files[-1].parent), "format": f"{kind}-python",
            "files": [f.name for f in files], "checksum": array_checksum(images, labels)})
    return out


def _check_labels(labels: np.ndarray, n_classes: int, path) -> None:
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        bad = int(labels.max() if labels.max() >= n_classes else labels.min())
        raise DataError(f"{path}: label {bad} is out of range for {n_classes} classes (0..{n_classes - 1})")


__all__ = ["load_splits", "load_dataset", "data_root"]
