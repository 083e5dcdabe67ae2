"""CIFAR-10/100 python batches written by the test as the real ones are, and the restricted unpickler."""

import os
import pickle
import subprocess

import numpy as np
import pytest

from histnet.data import load_splits
from histnet.data.cifar import safe_load_pickle
from histnet.errors import DataError


def _batch(rng, n, label_key, n_classes, extra=None):
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    d = {b"batch_label": b"batch", b"data": data, label_key: [int(v) for v in np.arange(n) % n_classes],
         b"filenames": [b"img_%d.png" % i for i in range(n)]}
    d.update(extra or {})
    return d


def make_cifar10(root, n=4, protocol=2):
    """cifar-10-batches-py with 5 train batches of n images and a test batch."""
    rng = np.random.default_rng(0)
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = _batch(rng, n, b"labels", 10)
        with open(d / name, "wb") as f:
            pickle.dump(batches[name], f, protocol=protocol)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    with open(d / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": names, b"num_cases_per_batch": n, b"num_vis": 3072}, f, protocol=protocol)
    return batches


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_batches_pixel_layout(tmp_path, protocol):
    batches = make_cifar10(tmp_path, protocol=protocol)
    s = load_splits(tmp_path)
    assert (len(s.train), len(s.test)) == (20, 4)
    assert s.train.class_names[:3] == ["airplane", "automobile", "bird"]
    img = s.test.get_images([1])[0]
    row = batches["test_batch"][b"data"][1]
    # Row layout: 1024 red values, then green, then blue, each a 32x32 image in row-major order.
    assert img.shape == (32, 32, 3)
    assert img[0, 0, 0] == row[0] and img[0, 1, 0] == row[1] and img[1, 0, 0] == row[32]
    assert img[0, 0, 1] == row[1024] and img[31, 31, 2] == row[3071]
    assert s.train.labels[4:8].tolist() == batches["data_batch_2"][b"labels"]
    assert s.train.provenance["format"] == "cifar10-python"


def test_cifar100_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / "c100" / "cifar-100-python"
    d.mkdir(parents=True)
    for name, n in (("train", 6), ("test", 3)):
        b = _batch(rng, n, b"fine_labels", 100, {b"coarse_labels": [0] * n})
        b[b"fine_labels"] = [99, 5, 7, 1, 2, 3][:n]
        with open(d / name, "wb") as f:
            pickle.dump(b, f, protocol=2)
    with open(d / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [b"c%d" % i for i in range(100)],
                     b"coarse_label_names": [b"s%d" % i for i in range(20)]}, f, protocol=2)
    s = load_splits(tmp_path / "c100", grayscale=True)
    assert s.train.n_classes == 100 and s.train.labels.tolist() == [99, 5, 7, 1, 2, 3]
    assert s.train.image_shape == (32, 32, 1) and s.test.class_names[99] == "c99"


class _RunsCode:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize("payload", ["os.system", "eval", "subprocess", "nested"])
def test_crafted_pickle_never_runs(tmp_path, payload):
    marker = tmp_path / "PWNED"
    if payload == "os.system":
        evil = _RunsCode(os.system, f"touch {marker}")
    elif payload == "eval":
        evil = _RunsCode(eval, f"open({str(marker)!r}, 'w').close()")
    elif payload == "subprocess":
        evil = _RunsCode(subprocess.call, ["touch", str(marker)])
    else:  # hidden inside an otherwise valid batch dict
        evil = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [_RunsCode(os.system, f"touch {marker}")]}
    p = tmp_path / "data_batch_1"
    p.write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_1: refused or corrupt pickle \(global .* is not allowed"):
        safe_load_pickle(p)
    assert not marker.exists()
    # Sanity check of the test itself: the plain unpickler would have run it.
    if payload == "os.system":
        pickle.loads(p.read_bytes())
        assert marker.exists()


def test_object_arrays_and_corrupt_pickles_refused(tmp_path):
    p = tmp_path / "test_batch"
    p.write_bytes(pickle.dumps({b"data": np.array([1, "x"], dtype=object)}, protocol=2))
    with pytest.raises(DataError, match="test_batch: refused or corrupt pickle"):
        safe_load_pickle(p)
    make_cifar10(tmp_path / "c10")
    tb = tmp_path / "c10" / "cifar-10-batches-py" / "test_batch"
    tb.write_bytes(tb.read_bytes()[:500])
    with pytest.raises(DataError, match="test_batch: .*(truncated|corrupt)"):
        load_splits(tmp_path / "c10")


def test_cifar_labels_out_of_range(tmp_path):
    make_cifar10(tmp_path)
    d = tmp_path / "cifar-10-batches-py"
    b = pickle.loads((d / "test_batch").read_bytes())
    b[b"labels"][0] = 10
    (d / "test_batch").write_bytes(pickle.dumps(b, protocol=2))
    with pytest.raises(DataError, match="test_batch: label 10 is out of range for 10 classes"):
        load_splits(tmp_path)
    b = pickle.loads((d / "data_batch_2").read_bytes())
    b[b"labels"][1] = -1
    (d / "data_batch_2").write_bytes(pickle.dumps(b, protocol=2))
    with pytest.raises(DataError, match="data_batch_2: label -1 is out of range"):
        load_splits(tmp_path)


def test_unpickler_refuses_object_dtypes_and_arrays_larger_than_the_file(tmp_path):
    from histnet.data.cifar import RestrictedUnpickler

    p = tmp_path / "data_batch_1"
    for obj, text in [(_RunsCode(np.ndarray, (3,), "O"), r"object dtype dtype\('O'\)"),
                      (_RunsCode(np.ndarray, (3,), [("a", "O")]), "object dtype"),
                      (_RunsCode(np.ndarray, (10 ** 12,), "u1"), r"needs 1000000000000 bytes, more than the \d+ bytes"),
                      (_RunsCode(np.ndarray, (-1,), "u1"), "not a tuple of non-negative ints")]:
        p.write_bytes(pickle.dumps({b"data": obj}, protocol=2))
        with pytest.raises(DataError, match=r"data_batch_1: refused or corrupt pickle \(.*" + text):
            safe_load_pickle(p)
    # _reconstruct, as numpy itself pickles arrays, is held to the same limit.
    import io

    data = pickle.dumps(np.zeros((4, 5), np.uint8), protocol=2)
    arr = RestrictedUnpickler(io.BytesIO(data), max_array_bytes=len(data)).load()
    assert arr.shape == (4, 5) and arr.dtype == np.uint8
    crafted = data.replace(b"K\x00\x85", b"J\x00\x00\x00\x40\x85", 1)  # _reconstruct shape (0,) -> (2**30,)
    assert crafted != data
    with pytest.raises(pickle.UnpicklingError, match="more than the"):
        RestrictedUnpickler(io.BytesIO(crafted), max_array_bytes=len(crafted)).load()
