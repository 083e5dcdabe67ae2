"""FeatureCache and dataset_key: computed once, read back as a read-only map, keyed by content."""

import json

import numpy as np
import pytest

from histnet.backend import get_backend
from histnet.data import ArrayDataset
from histnet.errors import ConfigError
from histnet.features.feature_cache import FeatureCache, dataset_key, key_digest

fc = get_backend("cupy-standin").xp


def _dataset(seed=0, n=12, checksum="abc", labels=None):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)
    labels = rng.integers(0, 3, n) if labels is None else labels
    prov = {"source": "test", "split": "train"}
    if checksum:
        prov["checksum"] = checksum
    return ArrayDataset("toy", images, labels, ["a", "b", "c"], prov)


def test_computes_once_then_reads_a_read_only_map(tmp_path):
    cache = FeatureCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return np.arange(12, dtype=np.float32).reshape(3, 4)

    key = {"feature": "demo", "params": {"a": 1, "b": [1, 2]}, "data": "xyz"}
    first = cache.get_or_compute(key, compute)
    np.testing.assert_array_equal(first, np.arange(12, dtype=np.float32).reshape(3, 4))
    again = cache.get_or_compute(dict(reversed(list(key.items()))), compute)  # key order does not matter
    assert calls == [1] and (cache.hits, cache.misses) == (1, 1)
    np.testing.assert_array_equal(again, np.arange(12, dtype=np.float32).reshape(3, 4))
    assert isinstance(again, np.memmap) and not again.flags.writeable
    path = cache.path_for(key)
    assert path.name.startswith("demo-") and path.suffix == ".npy"
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["key"]["params"] == {"a": 1, "b": [1, 2]} and side["shape"] == [3, 4]
    # a changed parameter is another entry
    cache.get_or_compute({**key, "params": {"a": 2, "b": [1, 2]}}, compute)
    assert calls == [1, 1]
    assert cache.clear() == 2 and not path.exists()


def test_device_arrays_are_stored_on_the_host(tmp_path):
    cache = FeatureCache(tmp_path)
    out = cache.get_or_compute({"feature": "dev"}, lambda: fc.asarray(np.ones((2, 3), np.float32)))
    assert isinstance(out, np.ndarray) and out.sum() == 6


def test_damaged_file_is_recomputed(tmp_path):
    cache = FeatureCache(tmp_path)
    key = {"feature": "broken"}
    cache.get_or_compute(key, lambda: np.zeros(5))
    cache.path_for(key).write_bytes(b"not an npy file")
    out = cache.get_or_compute(key, lambda: np.full(5, 7.0))
    assert out.tolist() == [7.0] * 5


def test_bad_keys_are_one_line_errors(tmp_path):
    cache = FeatureCache(tmp_path)
    with pytest.raises(ConfigError, match="JSON"):
        cache.get_or_compute({"feature": "x", "f": object()}, lambda: np.zeros(1))
    with pytest.raises(ConfigError, match="dict"):
        cache.get_or_compute(["not", "a", "dict"], lambda: np.zeros(1))
    assert key_digest({"a": np.int64(3)}) == key_digest({"a": 3})


def test_default_directory_follows_histnet_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HISTNET_CACHE", str(tmp_path))
    assert FeatureCache().directory == tmp_path / "features"


def test_dataset_key_changes_with_content():
    base = dataset_key(_dataset())
    assert dataset_key(_dataset()) == base                      # stable across instances
    assert dataset_key(_dataset(checksum="other")) != base       # provenance checksum
    relabelled = _dataset(labels=np.zeros(12, np.int64))
    assert dataset_key(relabelled) != base                       # labels
    ds = _dataset()
    sub_a, sub_b = ds.subset([0, 1, 2]), ds.subset([0, 1, 3])
    assert dataset_key(sub_a) != dataset_key(sub_b) != base      # subset indices
    assert dataset_key(ds.subset([0, 1, 2])) == dataset_key(sub_a)
    # without a checksum the image bytes themselves are hashed
    a, b = _dataset(checksum=None), _dataset(checksum=None)
    b.images[0, 0, 0, 0] ^= 1
    assert dataset_key(a) != dataset_key(b)


def _stripes(n_per_class, seed):
    """Three classes of 32x32 images: stripes at 0, 45 and 90 degrees, random phase, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32]
    images, labels = [], []
    for k, angle in enumerate(np.deg2rad([0.0, 45.0, 90.0])):
        for _ in range(n_per_class):
            phase = rng.uniform(0, 2 * np.pi)
            wave = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 0.8 + phase)
            img = 127 + 80 * wave + rng.normal(0, 20, wave.shape)
            images.append(np.clip(img, 0, 255).astype(np.uint8))
            labels.append(k)
    images = np.stack(images)[..., None]
    return ArrayDataset("stripes", images, np.array(labels), ["0", "45", "90"],
                        {"source": "synthetic", "split": "train", "checksum": f"stripes-{seed}-{n_per_class}"})


def test_hog_svm_second_fit_reads_cached_features(monkeypatch, tmp_path):
    from histnet.methods import get_method, make_config

    monkeypatch.setenv("HISTNET_CACHE", str(tmp_path))
    cls = get_method("hog-svm")
    train = _stripes(10, seed=0)
    calls = []
    original = cls.extract_dataset

    def counting(self, data):
        calls.append(len(data))
        return original(self, data)

    monkeypatch.setattr(cls, "extract_dataset", counting)
    first = cls(make_config(cls, {"C": 0.01}, profile="quick")).fit(train)
    second = cls(make_config(cls, {"C": 1.0}, profile="quick")).fit(train)
    assert calls == [30]                        # another C: features come from the cache
    assert not np.allclose(first.svm_.coef_, second.svm_.coef_)
    cls(make_config(cls, {"orientations": 6}, profile="quick")).fit(train)
    assert calls == [30, 30]                    # another HOG parameter: extracted again
    cls(make_config(cls, {"cache_features": False}, profile="quick")).fit(train)
    assert calls == [30, 30, 30]


# -- verification: a damaged entry is deleted, recomputed once, and reported in one line -----------
def _zero_data(path):
    """Overwrite the array bytes with zeros, keeping the header (only the checksum can tell)."""
    arr = np.load(path, mmap_mode="r")
    offset, nbytes = arr.offset, arr.nbytes
    del arr
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\0" * nbytes)


def _wrong_shape(path):
    np.save(path, np.ones((4, 3), np.float32))


def _wrong_dtype(path):
    np.save(path, np.arange(12, dtype=np.float32).reshape(3, 4).view(np.int32))


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 8)


def _pad(path):
    with open(path, "ab") as f:
        f.write(b"\0" * 8)


def _not_npy(path):
    path.write_bytes(b"not an npy file")


def _old_json(path):
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text())
    side.write_text(json.dumps({"key": meta["key"], "shape": meta["shape"], "dtype": meta["dtype"]}))


def _corrupt_json(path):
    path.with_suffix(".json").write_text('{"key": {"feature": ')


def _no_json(path):
    path.with_suffix(".json").unlink()


def _other_key_json(path):
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text())
    side.write_text(json.dumps({**meta, "digest": key_digest({"feature": "someone-else"})}))


@pytest.mark.parametrize("damage", [_zero_data, _wrong_shape, _wrong_dtype, _truncate, _pad, _not_npy,
                                    _old_json, _corrupt_json, _no_json, _other_key_json])
def test_an_entry_that_does_not_verify_is_recomputed_exactly_once(tmp_path, recwarn, damage):
    notes = []
    cache = FeatureCache(tmp_path, notify=notes.append)
    key = {"feature": "verify", "data": "abc"}
    good = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    calls = []

    def compute():
        calls.append(1)
        return good

    cache.get_or_compute(key, compute)
    damage(cache.path_for(key))
    out = cache.get_or_compute(key, compute)
    assert len(calls) == 2 and cache.invalid == 1
    np.testing.assert_array_equal(out, good)
    again = FeatureCache(tmp_path, notify=notes.append).get_or_compute(key, compute)  # a later run
    np.testing.assert_array_equal(again, good)
    assert len(calls) == 2                                    # recomputed once, then trusted again
    assert len(notes) == 1 and "\n" not in notes[0] and cache.path_for(key).name in notes[0]
    assert "computing it again" in notes[0]
    assert not [w for w in recwarn.list]                      # no Python warnings


def test_get_deletes_an_entry_that_does_not_verify(tmp_path):
    notes = []
    cache = FeatureCache(tmp_path, notify=notes.append)
    key = {"feature": "gone"}
    cache.put(key, np.ones(4))
    assert cache.get(key) is not None and notes == []
    _zero_data(cache.path_for(key))
    assert cache.get(key) is None
    assert "checksum" in notes[0] and key not in cache
    assert not cache.path_for(key).exists() and not cache.path_for(key).with_suffix(".json").exists()


def test_without_notify_a_bad_entry_is_recomputed_silently(tmp_path, capsys):
    cache = FeatureCache(tmp_path)
    key = {"feature": "quiet"}
    cache.put(key, np.ones(3))
    _truncate(cache.path_for(key))
    assert cache.get_or_compute(key, lambda: np.full(3, 2.0)).tolist() == [2.0] * 3
    assert capsys.readouterr() == ("", "")


def test_json_records_shape_dtype_and_a_checksum_of_the_bytes(tmp_path):
    from histnet.features.feature_cache import FORMAT_VERSION, array_checksum, file_checksum

    cache = FeatureCache(tmp_path)
    fortran = np.asfortranarray(np.arange(24, dtype=np.int16).reshape(4, 6))
    path = cache.path_for({"feature": "f"})
    out = cache.put({"feature": "f"}, fortran)
    np.testing.assert_array_equal(out, fortran)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["format"] == FORMAT_VERSION and meta["shape"] == [4, 6] and meta["dtype"] == "int16"
    assert meta["checksum"] == array_checksum(fortran) == file_checksum(path, out.offset)
    assert meta["checksum"].startswith("blake2b-256:")
    assert array_checksum(np.zeros((4, 6), np.int16)) != meta["checksum"]
    for odd in (np.float64(3.5), np.zeros((0, 5), np.float32)):   # scalar and empty arrays round-trip
        got = cache.get_or_compute({"feature": "odd", "shape": list(np.shape(odd))}, lambda: odd)
        again = cache.get({"feature": "odd", "shape": list(np.shape(odd))})
        assert again is not None and again.shape == np.shape(odd) and np.array_equal(got, odd)
    nan_key = {"feature": "nan", "params": {"tol": float("nan"), "max": float("inf")}}
    cache.put(nan_key, np.ones(2))
    assert cache.get(nan_key) is not None                 # JSON writes NaN as null; the digest still matches


def test_clear_unlinks_links_without_following_them(tmp_path):
    outside = tmp_path / "outside.npy"
    np.save(outside, np.ones(3))
    cache = FeatureCache(tmp_path / "cache")
    cache.put({"feature": "a"}, np.zeros(2))
    (cache.directory / f"planted-{'0' * 24}.npy").symlink_to(outside)
    (cache.directory / "unrelated.txt").write_text("not ours")
    assert cache.clear() == 2
    assert outside.is_file() and np.load(outside).tolist() == [1.0] * 3
    assert (cache.directory / "unrelated.txt").is_file()
