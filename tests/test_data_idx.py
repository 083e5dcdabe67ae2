"""MNIST / Fashion-MNIST IDX files written by the test in the real format."""

import gzip
import struct

import numpy as np
import pytest

from histnet.data import load_splits
from histnet.data.idx import read_idx
from histnet.errors import DataError


def write_idx(path, array, gz=False, magic=None):
    array = np.asarray(array, np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) if magic is None else magic
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.tobytes()
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)
    return data


def make_mnist(folder, n_train=30, n_test=10, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, stem, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = np.arange(n) % 10
        ext = ".gz" if gz else ""
        write_idx(folder / f"{stem}-images-idx3-ubyte{ext}", x, gz)
        write_idx(folder / f"{stem}-labels-idx1-ubyte{ext}", y, gz)
        out[split] = (x, y)
    return out


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_loads_exact_pixels(tmp_path, gz):
    ref = make_mnist(tmp_path / "mnist", gz=gz)
    s = load_splits(tmp_path / "mnist")
    assert (len(s.train), len(s.test)) == (30, 10)
    assert s.train.image_shape == (28, 28, 1)
    assert np.array_equal(s.train.get_images(np.arange(30))[..., 0], ref["train"][0])
    assert np.array_equal(s.test.labels, ref["test"][1])
    assert s.train.provenance["format"] == "mnist-idx" and s.train.class_names[3] == "3"
    assert s.train.provenance["checksum"].startswith("sha256:")


def test_named_mnist_and_fashion_under_root(tmp_path):
    make_mnist(tmp_path / "mnist")
    make_mnist(tmp_path / "fashion-mnist", seed=1)
    m = load_splits("mnist", root=tmp_path, image_size=32, grayscale=False)
    assert m.train.image_shape == (32, 32, 3)
    f = load_splits("fashion-mnist", root=tmp_path)
    assert f.train.class_names[0] == "T-shirt/top" and f.train.provenance["format"] == "fashion-mnist-idx"


def test_bad_magic_names_file(tmp_path):
    make_mnist(tmp_path, gz=False)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(b"\x00\x00\x0d\x03" + p.read_bytes()[4:])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: IDX data type 0x0d"):
        load_splits(tmp_path)
    p.write_bytes(b"\x12\x34" + p.read_bytes()[2:])
    with pytest.raises(DataError, match="bad magic number"):
        read_idx(p)
    # Label file given where images are expected: wrong number of dimensions.
    with pytest.raises(DataError, match="1 dimensions, expected 3"):
        read_idx(tmp_path / "train-labels-idx1-ubyte", expect_ndim=3)


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_file_names_file(tmp_path, gz):
    make_mnist(tmp_path, gz=gz)
    name = "t10k-images-idx3-ubyte" + (".gz" if gz else "")
    p = tmp_path / name
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError, match=name.replace(".", r"\.") + ".*truncated"):
        load_splits(tmp_path)


def test_label_out_of_range_and_count_mismatch(tmp_path):
    make_mnist(tmp_path, gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0] * 9 + [12]))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: label 12 is out of range"):
        load_splits(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(7))
    with pytest.raises(DataError, match="10 images but t10k-labels-idx1-ubyte has 7 labels"):
        load_splits(tmp_path)


def test_default_root_from_environment(tmp_path, monkeypatch):
    make_mnist(tmp_path / "store" / "mnist", n_train=20, n_test=10)
    monkeypatch.setenv("HISTNET_DATA", str(tmp_path / "store"))
    s = load_splits("mnist", n_per_class=2, val_fraction=0.5, seed=1)
    assert len(s.train) == 10 and len(s.val) == 10 and s.info["n_bad"] == 0
    assert s.train.provenance["source"] == str(tmp_path / "store" / "mnist")


@pytest.mark.parametrize("gz", [True, False])
def test_header_checked_against_the_file_before_reading(tmp_path, gz):
    import struct as st

    p = tmp_path / "train-images-idx3-ubyte"
    huge = st.pack(">HBB", 0, 8, 3) + st.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    p.write_bytes(gzip.compress(huge + bytes(10)) if gz else huge + bytes(10))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: IDX file truncated or its header corrupt: "
                                        r"header dimensions \(4294967295, 4294967295, 4294967295\)"):
        read_idx(p, expect_ndim=3)
    write_idx(p, np.zeros((2, 3, 3)), gz)
    p.write_bytes((gzip.compress(gzip.decompress(p.read_bytes()) + b"\0") if gz else p.read_bytes() + b"\0"))
    with pytest.raises(DataError, match="longer than its header says"):
        read_idx(p, expect_ndim=3)
