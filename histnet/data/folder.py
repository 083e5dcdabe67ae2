"""Image-folder layouts: ImageFolder, ILSVRC-2012, Tiny ImageNet, Imagenette, and layout detection.

Each reader turns a folder into, per split, a list of image files with their labels
(:class:`FileSplit`); :mod:`histnet.data.image_cache` then decodes them once into the
memory-mapped cache. The layouts:

* **ImageFolder** -- ``<root>/train/<class>/*.jpg|png`` and ``<root>/val/...`` or
  ``<root>/test/...``; class names are the sub-folder names of ``train/``, sorted (the
  convention of torchvision's ``ImageFolder``). This is the ILSVRC-2012 training layout.
* **ILSVRC-2012** (Russakovsky et al. 2015, IJCV 115:211) -- ``train/<wnid>/*.JPEG`` and
  the validation set either sorted into ``val/<wnid>/`` folders or as published: a flat
  ``val/ILSVRC2012_val_00000001.JPEG ...`` plus the devkit's
  ``ILSVRC2012_validation_ground_truth.txt`` (one 1-based ILSVRC2012_ID per line, in
  file-name order). IDs are mapped to wnids, in this order of preference, by
  (1) the devkit's ``meta.mat`` (``synsets`` struct: ``ILSVRC2012_ID``, ``WNID``,
  ``words``; read with scipy), (2) Kaggle's ``LOC_val_solution.csv`` (gives each image's
  wnid directly; the ground-truth file is then not needed), (3) a synset list
  ``LOC_synset_mapping.txt`` (or ``synsets.txt``) read as "line i is the wnid (and words) of
  ILSVRC2012_ID i".
  Caution for (3): the devkit numbers its IDs in ``meta.mat`` order, which is *not*
  sorted by wnid, while Kaggle's ``LOC_synset_mapping.txt`` is sorted by wnid; pair the
  devkit ground truth with ``meta.mat``, or write the list in ID order.
  Class indices follow the sorted wnids of ``train/`` in every case.
* **Tiny ImageNet** (Stanford CS231N, 2015) -- ``wnids.txt``, ``words.txt``,
  ``train/<wnid>/images/*.JPEG``, ``val/images/*.JPEG`` with ``val/val_annotations.txt``
  (file, wnid, box); the unlabelled ``test/`` is not used: the labelled ``val`` is the
  test split. Classes are the sorted wnids of ``wnids.txt``; names come from ``words.txt``.
* **Imagenette** (Howard 2019, fast.ai) -- an ImageFolder with ``train/`` and ``val/``
  whose folders are the ten ImageNet wnids below, shown by readable names.

:func:`detect_layout` recognises which of these (or MNIST IDX / CIFAR batches) a folder
is, also one level down (the folder an archive extracts to); anything else is one
:class:`DataError` that lists what was expected.

Reads stay inside the data set's folder: a split or class folder, image, label or
annotation file that is a symbolic link, or a name in ``val_annotations.txt`` such as
``../../x`` or ``/etc/x``, is followed only when its resolved target is inside the
folder (resolved itself, so a folder that *is* a link is fine); otherwise it is a
:class:`DataError` naming it (:func:`check_inside`).

Left out: ILSVRC bounding boxes, the Tiny ImageNet test images (no public labels), and
Imagewoof's names (its folders still load, under their wnids).
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import DataError
from .image_cache import IMAGE_EXTENSIONS
from .paths import check_inside, resolved_root

IMAGENETTE_NAMES = {
    "n01440764": "tench", "n02102040": "English springer", "n02979186": "cassette player",
    "n03000684": "chain saw", "n03028079": "church", "n03394916": "French horn",
    "n03417042": "garbage truck", "n03425413": "gas pump", "n03445777": "golf ball",
    "n03888605": "parachute",
}
WNID = re.compile(r"^n\d{8}$")
ILSVRC_VAL = re.compile(r"^ILSVRC2012_val_(\d{8})\.(jpe?g|JPE?G|png|PNG)$")
GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"

EXPECTED_LAYOUTS = (
    "MNIST/Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz] ...); "
    "cifar-10-batches-py (data_batch_1..5, test_batch, batches.meta); "
    "cifar-100-python (train, test, meta); "
    "Tiny ImageNet (wnids.txt, train/<wnid>/images/, val/val_annotations.txt); "
    "ILSVRC-2012 (train/<wnid>/, val/ILSVRC2012_val_*.JPEG + ILSVRC2012_validation_ground_truth.txt); "
    "ImageFolder/Imagenette (train/<class>/*.jpg|png and val/ or test/)"
)


@dataclass
class FileSplit:
    """One split of an image-folder data set before decoding.

    Attributes
    ----------
    files : list of str or Path, length N
    labels : ndarray of shape (N,), int64
    class_names : list of str (readable)
    class_ids : list of str (folder names / wnids)
    root : Path
    format : str
    """

    files: list
    labels: np.ndarray
    class_names: list
    class_ids: list
    root: Path
    format: str
    extra: dict = field(default_factory=dict)


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _images_in(folder: Path, base: Optional[str] = None) -> list[str]:
    """Sorted paths (as str: 100k ``Path`` objects cost seconds) of the image files in ``folder``.

    A symbolic link is kept only if it resolves inside ``base`` (a DataError otherwise);
    telling links apart costs nothing (``scandir`` knows), only links are resolved.
    """
    out = []
    with os.scandir(folder) as it:
        for e in it:
            if not _is_image_name(e.name) or not e.is_file():
                continue
            if base is not None and e.is_symlink():
                check_inside(e.path, base, "image (a symbolic link)")
            out.append(e.path)
    return sorted(out)


def _class_dirs(folder: Path, base: Optional[str] = None) -> list[Path]:
    """Sorted visible sub-folders of ``folder``; with ``base``, each must resolve inside it."""
    dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if base is not None:
        for d in dirs:
            check_inside(d, base, "class folder")
    return dirs


def _check_dir(folder: Path, what: str) -> None:
    if not folder.exists():
        raise DataError(f"{folder}: {what} not found")
    if not folder.is_dir():
        raise DataError(f"{folder}: {what} is not a folder")


# -- ImageFolder ------------------------------------------------------------------------------
def read_class_folders(split_dir: Path, class_ids: Optional[list] = None, sub: str = "",
                       fmt: str = "imagefolder", base: Optional[str] = None) -> FileSplit:
    """Files and labels of ``split_dir/<class>/[sub/]*``.

    Parameters
    ----------
    split_dir : Path
    class_ids : list of str, optional
        The class folders and their order (from the train split); by default the
        sorted sub-folders of ``split_dir``. A folder of ``split_dir`` not in the list
        is a DataError; a class missing from a test split is allowed.
    sub : str
        A folder inside each class folder holding the images (``"images"`` for Tiny
        ImageNet).
    fmt : str
        The layout name recorded in the split.
    base : str, optional
        The resolved data set folder that every folder and image read must lie in
        (:func:`check_inside`); default ``split_dir`` itself, resolved.

    Raises
    ------
    DataError
        Missing or empty ``split_dir``, an empty class folder, an unknown class, a
        folder or image that resolves outside ``base``.
    """
    _check_dir(split_dir, "split folder")
    base = resolved_root(split_dir) if base is None else base
    check_inside(split_dir, base, "split folder")
    dirs = _class_dirs(split_dir, base)
    if not dirs:
        raise DataError(f"{split_dir}: no class sub-folders (expected {split_dir}/<class>/*.jpg|png)")
    train_split = class_ids is None
    ids = [d.name for d in dirs] if train_split else list(class_ids)
    index = {c: i for i, c in enumerate(ids)}
    files, labels = [], []
    for d in dirs:
        if d.name not in index:
            raise DataError(f"{d}: class folder {d.name!r} is not one of the {len(ids)} training classes")
        img_dir = d / sub if sub else d
        if sub and img_dir.is_dir():
            check_inside(img_dir, base, "image folder")
        imgs = _images_in(img_dir, base) if img_dir.is_dir() else []
        if not imgs:
            raise DataError(f"{img_dir}: empty class folder (no .jpg/.jpeg/.png images)")
        files += imgs
        labels += [index[d.name]] * len(imgs)
    return FileSplit(files, np.asarray(labels, np.int64), list(ids), list(ids), split_dir, fmt)


def _find_test_dir(root: Path) -> Optional[Path]:
    for name in ("val", "test", "validation"):
        if (root / name).is_dir():
            return root / name
    return None


def read_imagefolder(root: Path, fmt: str = "imagefolder", names: Optional[dict] = None) -> dict:
    """``{"train": FileSplit, "test": FileSplit}`` of an ImageFolder (``val/`` or ``test/`` is the test split).

    Every folder and image read lies inside ``root`` (links out of it are a DataError).
    """
    base = resolved_root(root)
    train = read_class_folders(root / "train", fmt=fmt, base=base)
    test_dir = _find_test_dir(root)
    if test_dir is None:
        raise DataError(f"{root}: has train/ but no val/ or test/ folder")
    test = read_class_folders(test_dir, class_ids=train.class_ids, fmt=fmt, base=base)
    if names:
        for s in (train, test):
            s.class_names = [names.get(c, c) for c in s.class_ids]
    return {"train": train, "test": test}


# -- Tiny ImageNet ------------------------------------------------------------------------------
def _read_words(path: Path, base: str) -> dict:
    words = {}
    if path.is_file():
        check_inside(path, base, "word list")
        for line in path.read_text(errors="replace").splitlines():
            parts = line.split("\t", 1) if "\t" in line else line.split(" ", 1)
            if len(parts) == 2 and WNID.match(parts[0].strip()):
                words[parts[0].strip()] = parts[1].split(",")[0].strip()
    return words


def read_tiny_imagenet(root: Path) -> dict:
    """Train and test (= the labelled ``val``) splits of Tiny ImageNet.

    Every file read lies inside ``root``: a name in ``val_annotations.txt`` that leaves
    it (``../..``, an absolute path, a link out) is a DataError naming the line.
    """
    base = resolved_root(root)
    wnids_file = root / "wnids.txt"
    check_inside(wnids_file, base, "wnid list")
    wnids = sorted({w.strip() for w in wnids_file.read_text().split() if w.strip()})
    if not wnids:
        raise DataError(f"{wnids_file}: no wnids listed")
    words = _read_words(root / "words.txt", base)
    train = read_class_folders(root / "train", class_ids=wnids, sub="images", fmt="tiny-imagenet", base=base)
    present = set(train.labels.tolist())
    missing = [w for i, w in enumerate(wnids) if i not in present]
    if missing:
        raise DataError(f"{root / 'train' / missing[0]}: class folder missing or empty ({len(missing)} of "
                        f"{len(wnids)} wnids from wnids.txt have no training images)")
    ann = root / "val" / "val_annotations.txt"
    if not ann.is_file():
        raise DataError(f"{ann}: Tiny ImageNet validation annotations not found")
    check_inside(ann, base, "annotation file")
    index = {w: i for i, w in enumerate(wnids)}
    files, labels = [], []
    for ln, line in enumerate(ann.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2 or parts[1].strip() not in index:
            raise DataError(f"{ann}: line {ln}: expected '<file>\\t<wnid>...' with a wnid from wnids.txt, "
                            f"got {line[:60]!r}")
        f = root / "val" / "images" / parts[0].strip()
        check_inside(f, base, "listed image", listed_in=f"{ann}: line {ln}")
        if not f.is_file():
            raise DataError(f"{f}: listed in {ann.name} but missing")
        files.append(f)
        labels.append(index[parts[1].strip()])
    order = np.argsort([str(f) for f in files], kind="stable")
    names = [words.get(w, w) for w in wnids]
    train.class_names = names
    test = FileSplit([files[i] for i in order], np.asarray(labels, np.int64)[order], names, wnids,
                     root / "val", "tiny-imagenet")
    return {"train": train, "test": test}


# -- ILSVRC-2012 -----------------------------------------------------------------------------------
def _first_existing(*paths: Path, base: Optional[str] = None) -> Optional[Path]:
    """The first of ``paths`` that is a file; with ``base``, it must resolve inside it."""
    found = next((p for p in paths if p.is_file()), None)
    if found is not None and base is not None:
        check_inside(found, base, "label file")
    return found


def _meta_mat_ids(path: Path) -> tuple[dict, dict]:
    """ILSVRC2012_ID -> wnid and wnid -> words from the devkit's ``meta.mat``."""
    try:
        from scipy.io import loadmat

        syn = loadmat(str(path), squeeze_me=True)["synsets"]
        ids = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in syn}
        words = {str(s["WNID"]): str(s["words"]).split(",")[0] for s in syn}
    except Exception as e:  # scipy missing, or not the devkit file
        raise DataError(f"{path}: cannot read the ILSVRC devkit synsets ({type(e).__name__}: {e})") from None
    return ids, words


def _synset_list(path: Path) -> tuple[dict, dict]:
    """Line i (1-based) of a synset list -> (i -> wnid), and wnid -> first word."""
    ids, words = {}, {}
    for i, line in enumerate([ln for ln in path.read_text().splitlines() if ln.strip()], 1):
        wnid, _, rest = line.strip().partition(" ")
        if not WNID.match(wnid):
            raise DataError(f"{path}: line {i}: expected '<wnid> <words>', got {line[:60]!r}")
        ids[i] = wnid
        words[wnid] = rest.split(",")[0].strip() or wnid
    return ids, words


def find_ilsvrc_labels(root: Path) -> Optional[Path]:
    """The file that labels a flat ILSVRC-2012 val folder, if any."""
    return _first_existing(root / GROUND_TRUTH, root / "val" / GROUND_TRUTH,
                           root / "ILSVRC2012_devkit_t12" / "data" / GROUND_TRUTH,
                           root / "LOC_val_solution.csv")


def read_ilsvrc2012(root: Path) -> dict:
    """Train and val (as test) splits of an ILSVRC-2012 folder (see the module docstring).

    Every folder, image and label file read lies inside ``root`` (links out are a DataError).
    """
    base = resolved_root(root)
    train = read_class_folders(root / "train", fmt="ilsvrc2012", base=base)
    wnids = train.class_ids
    index = {w: i for i, w in enumerate(wnids)}
    val = root / "val"
    _check_dir(val, "ILSVRC-2012 validation folder")
    check_inside(val, base, "validation folder")
    words: dict = {}
    mapping_file = _first_existing(root / "LOC_synset_mapping.txt", root / "synsets.txt", base=base)
    meta = _first_existing(root / "ILSVRC2012_devkit_t12" / "data" / "meta.mat", root / "meta.mat", base=base)
    if _class_dirs(val, base):  # val already sorted into wnid folders
        test = read_class_folders(val, class_ids=wnids, fmt="ilsvrc2012", base=base)
        if meta is not None:
            words = _meta_mat_ids(meta)[1]
        elif mapping_file is not None:
            words = _synset_list(mapping_file)[1]
    else:
        with os.scandir(val) as it:
            entries = [e for e in it if ILSVRC_VAL.match(e.name)]
        for e in entries:
            if e.is_symlink():
                check_inside(e.path, base, "image (a symbolic link)")
        files = sorted(Path(e.path) for e in entries)
        if not files:
            raise DataError(f"{val}: no ILSVRC2012_val_*.JPEG files and no class folders")
        solution = _first_existing(root / "LOC_val_solution.csv", base=base)
        gt = _first_existing(root / GROUND_TRUTH, val / GROUND_TRUTH,
                             root / "ILSVRC2012_devkit_t12" / "data" / GROUND_TRUTH, base=base)
        if meta is not None and gt is not None:
            id_to_wnid, words = _meta_mat_ids(meta)
            file_wnids = _gt_wnids(gt, id_to_wnid, len(files), meta)
            how = f"{gt.name} + {meta.name}"
        elif solution is not None:
            by_image = {}
            with open(solution, newline="") as f:
                for row in csv.DictReader(f):
                    by_image[row["ImageId"]] = row["PredictionString"].split()[0]
            missing = [p.name for p in files if p.stem not in by_image]
            if missing:
                raise DataError(f"{solution}: no label for {missing[0]} ({len(missing)} images unlabelled)")
            file_wnids = [by_image[p.stem] for p in files]
            how = solution.name
            if mapping_file is not None:
                words = _synset_list(mapping_file)[1]
        elif gt is not None and mapping_file is not None:
            id_to_wnid, words = _synset_list(mapping_file)
            file_wnids = _gt_wnids(gt, id_to_wnid, len(files), mapping_file)
            how = f"{gt.name} + {mapping_file.name} (line i = ILSVRC2012_ID i)"
        else:
            raise DataError(
                f"{val}: flat ILSVRC-2012 validation images need labels: {GROUND_TRUTH} with the devkit's "
                f"meta.mat (or LOC_synset_mapping.txt in ILSVRC2012_ID order), or LOC_val_solution.csv, in {root}")
        unknown = [w for w in file_wnids if w not in index]
        if unknown:
            raise DataError(f"{val}: validation label {unknown[0]} is not a class folder of {root / 'train'}")
        test = FileSplit(files, np.asarray([index[w] for w in file_wnids], np.int64), wnids, wnids, val,
                         "ilsvrc2012", {"val_labels": how})
    names = [words.get(w, w) for w in wnids]
    train.class_names = test.class_names = names
    return {"train": train, "test": test}


def _gt_wnids(gt: Path, id_to_wnid: dict, n_files: int, mapping: Path) -> list:
    ids = []
    for ln, line in enumerate(gt.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            ids.append(int(line))
        except ValueError:
            raise DataError(f"{gt}: line {ln}: expected a 1-based ILSVRC2012_ID, got {line[:40]!r}") from None
    if len(ids) != n_files:
        raise DataError(f"{gt}: {len(ids)} labels for {n_files} validation images")
    bad = [i for i in ids if i not in id_to_wnid]
    if bad:
        raise DataError(f"{gt}: label {bad[0]} is out of range for the {len(id_to_wnid)} synsets of {mapping.name}")
    return [id_to_wnid[i] for i in ids]


# -- detection ----------------------------------------------------------------------------------------
def detect_layout(path) -> tuple[str, Path]:
    """Recognise a data-set folder by its layout.

    Returns
    -------
    (kind, folder)
        kind is one of ``"idx"``, ``"cifar10"``, ``"cifar100"``, ``"tiny-imagenet"``,
        ``"ilsvrc2012"``, ``"imagenette"``, ``"imagefolder"``; folder is where the layout
        was found (``path`` or its only sub-folder with a known layout).

    Raises
    ------
    DataError
        Missing or empty folder, no known layout (the message lists the layouts), or a
        one-level-down folder that is a link out of ``path``.
    """
    from .cifar import detect_cifar
    from .idx import looks_like_idx

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: data set folder not found")
    if not path.is_dir():
        raise DataError(f"{path}: not a folder (give the folder that holds the data set)")
    if not any(path.iterdir()):
        raise DataError(f"{path}: data set folder is empty")

    def one(folder: Path) -> Optional[str]:
        if looks_like_idx(folder):
            return "idx"
        kind = detect_cifar(folder)
        if kind:
            return kind
        if (folder / "wnids.txt").is_file() and (folder / "train").is_dir():
            return "tiny-imagenet"
        if (folder / "train").is_dir() and (folder / "val").is_dir() and not _class_dirs(folder / "val") \
                and any(ILSVRC_VAL.match(p.name) for p in (folder / "val").iterdir()):
            return "ilsvrc2012"
        if (folder / "train").is_dir() and _find_test_dir(folder) is not None and _class_dirs(folder / "train"):
            ids = {d.name for d in _class_dirs(folder / "train")}
            if ids and ids <= set(IMAGENETTE_NAMES):
                return "imagenette"
            if ids and all(WNID.match(i) for i in ids) and len(ids) > 10:
                return "ilsvrc2012"
            return "imagefolder"
        return None

    kind = one(path)
    if kind:
        return kind, path
    subs = _class_dirs(path)
    if len(subs) == 1:
        kind = one(subs[0])
        if kind:
            check_inside(subs[0], resolved_root(path), "data set folder")
            return kind, subs[0]
    raise DataError(f"{path}: not a known data set layout; expected one of: {EXPECTED_LAYOUTS}")


def read_folder_layout(kind: str, folder: Path) -> dict:
    """``{"train": FileSplit, "test": FileSplit}`` for an image-folder ``kind`` from :func:`detect_layout`."""
    if kind == "tiny-imagenet":
        return read_tiny_imagenet(folder)
    if kind == "ilsvrc2012":
        return read_ilsvrc2012(folder)
    if kind == "imagenette":
        return read_imagefolder(folder, fmt="imagenette", names=IMAGENETTE_NAMES)
    if kind == "imagefolder":
        return read_imagefolder(folder)
    raise DataError(f"{folder}: {kind} is not an image-folder layout")
