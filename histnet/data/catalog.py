"""The catalog of known data sets: what each is, whether it is here, how to get it.

``list_datasets(root)`` gives one row per known set (for ``histnet datasets list``),
``dataset_info(name, root)`` everything known about one (with ``how_to_get``: the
download command, or for ILSVRC-2012 -- which needs an ImageNet account -- how to lay
out a local copy and point ``--root`` at it), and ``download(name, root)`` fetches a
downloadable set (:func:`histnet.data.download.fetch`).

The figures (class and image counts, sizes) are those of the published sets: LeCun et
al. 1998 (MNIST), Xiao et al. 2017 (Fashion-MNIST), Krizhevsky 2009 (CIFAR), Howard 2019
(Imagenette, the 160 px version), CS231N 2015 (Tiny ImageNet), Russakovsky et al. 2015
(ILSVRC-2012).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import DataError
from .builtin import BUILTINS
from .loaders import NAMED_FOLDERS, data_root

ILSVRC_HOW_TO = """\
ILSVRC-2012 cannot be downloaded automatically: the images are available to registered
ImageNet users (https://image-net.org/download-images, "ILSVRC2012" -- training images
(138 GB), validation images (6.3 GB) and the development kit). Lay a local copy out as

  <root>/ilsvrc2012/train/n01440764/n01440764_10026.JPEG ...   (1,000 wnid folders:
                                                                untar ILSVRC2012_img_train.tar,
                                                                then each class tar inside it)
  <root>/ilsvrc2012/val/ILSVRC2012_val_00000001.JPEG ...      (50,000 files, flat)
  <root>/ilsvrc2012/ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt
  <root>/ilsvrc2012/ILSVRC2012_devkit_t12/data/meta.mat       (maps ILSVRC2012_IDs to wnids)

(untar ILSVRC2012_devkit_t12.tar.gz into <root>/ilsvrc2012). Alternatives for the labels:
Kaggle's LOC_val_solution.csv (+ LOC_synset_mapping.txt for the names) in
<root>/ilsvrc2012, or val/ already sorted into wnid folders. Then run with
`--root <root> --dataset ilsvrc2012`, or give the folder itself as the dataset.
Decoding 1.28M JPEGs takes hours on one core; it happens once (the decoded-image cache),
and --image-size 64 or --n-per-class keeps the cache small (1.28M x 64x64x3 = 15.7 GB)."""

#: name -> what is known without looking at the disk.
KNOWN = {
    **{name: dict(kind="builtin", **{k: v for k, v in meta.items()}) for name, meta in BUILTINS.items()},
    "mnist": dict(kind="download", n_classes=10, image_size=(28, 28, 1), n_images=70000,
                  description="MNIST handwritten digits, IDX format: 60,000 train / 10,000 test"),
    "fashion-mnist": dict(kind="download", n_classes=10, image_size=(28, 28, 1), n_images=70000,
                          description="Zalando Fashion-MNIST, IDX format: 60,000 train / 10,000 test"),
    "cifar10": dict(kind="download", n_classes=10, image_size=(32, 32, 3), n_images=60000,
                    description="CIFAR-10 python batches: 50,000 train / 10,000 test"),
    "cifar100": dict(kind="download", n_classes=100, image_size=(32, 32, 3), n_images=60000,
                     description="CIFAR-100 python batches (fine labels): 50,000 train / 10,000 test"),
    "imagenette": dict(kind="download", n_classes=10, image_size="shorter side 160", n_images=13394,
                       description="Imagenette v2, 160 px: 10 easy ImageNet classes, 9,469 train / 3,925 val"),
    "tiny-imagenet": dict(kind="download", n_classes=200, image_size=(64, 64, 3), n_images=110000,
                          description="Tiny ImageNet: 200 classes, 100,000 train / 10,000 val (val used as test)"),
    "ilsvrc2012": dict(kind="local", n_classes=1000, image_size="variable (about 400x350)", n_images=1331167,
                       description="ImageNet ILSVRC-2012: 1,281,167 train / 50,000 val; needs an account"),
}


def _present(name: str, root: Optional[Path]) -> tuple[bool, Optional[str]]:
    if KNOWN[name]["kind"] == "builtin":
        return True, None
    folder = data_root(root) / NAMED_FOLDERS[name]
    present = folder.is_dir() and any(folder.iterdir())
    return present, str(folder)


def list_datasets(root=None) -> list[dict]:
    """One dict per known data set.

    Returns
    -------
    list of dict with ``name``, ``kind`` (``"builtin"``, ``"download"`` or ``"local"``),
    ``present`` (bool), ``path`` (str or None), ``n_classes``, ``image_size``,
    ``n_images`` and ``description``.
    """
    rows = []
    for name, meta in KNOWN.items():
        present, path = _present(name, root)
        rows.append({"name": name, "kind": meta["kind"], "present": present, "path": path,
                     "n_classes": meta["n_classes"], "image_size": meta["image_size"],
                     "n_images": meta["n_images"], "description": meta["description"]})
    return rows


def dataset_info(name: str, root=None) -> dict:
    """Everything known about one data set, with ``how_to_get`` instructions.

    Downloadable sets add ``urls``, ``checksums`` and ``checksum_source``.

    Raises
    ------
    DataError
        Unknown name.
    """
    from .download import SOURCES

    if name not in KNOWN:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(KNOWN)}")
    meta = dict(KNOWN[name])
    present, path = _present(name, root)
    info = {"name": name, **meta, "present": present, "path": path}
    if meta["kind"] == "builtin":
        info["how_to_get"] = "built in: nothing to download (" + meta["source"] + ")"
    elif name == "ilsvrc2012":
        info["how_to_get"] = ILSVRC_HOW_TO
    else:
        src = SOURCES[name]
        info["urls"] = [r.url for r in src["files"]]
        info["checksums"] = {r.filename: {"md5": r.md5, "sha256": r.sha256} for r in src["files"]}
        info["checksum_source"] = src["checksum_source"]
        info["how_to_get"] = (f"histnet datasets download {name} [--root DIR]  "
                              f"(into {data_root(root) / NAMED_FOLDERS[name]})")
    return info


def download(name: str, root=None, progress=None, base_url: Optional[str] = None) -> Path:
    """Download ``name`` into the data root; returns its folder.

    ``base_url`` replaces the official address (a mirror or a test server).

    Raises
    ------
    DataError
        Built-in or account-only sets, unknown names, unsafe archives.
    DownloadError
        Network failure or checksum mismatch.
    """
    from .download import fetch

    if name not in KNOWN:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(KNOWN)}")
    if KNOWN[name]["kind"] == "builtin":
        raise DataError(f"{name} is built in: nothing to download")
    if name == "ilsvrc2012":
        raise DataError("ilsvrc2012 needs an ImageNet account and cannot be downloaded automatically; "
                        "see `histnet datasets info ilsvrc2012`")
    return fetch(name, data_root(root), progress=progress, base_url=base_url)
