"""Image-folder layouts written by the test (ImageFolder, Tiny ImageNet, ILSVRC-2012 val, Imagenette)
and the decoded-image cache."""

import os

import numpy as np
import pytest
from PIL import Image

from histnet.data import load_splits
from histnet.data.image_cache import CachedArrayDataset, decode_image
from histnet.data.folder import detect_layout
from histnet.errors import ConfigError, DataError


def _rgb(rng, h, w):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def make_imagefolder(root, size=(12, 12), per_class=3, test="val", seed=0):
    """train/<class>/ and <test>/<class>/ with PNG RGB, JPEG, CMYK JPEG, palette PNG and grey PNG."""
    rng = np.random.default_rng(seed)
    h, w = size
    for split, n in (("train", per_class), (test, 2)):
        for c in ("cat", "dog"):
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n):
                a = _rgb(rng, h, w)
                kind = i % 5
                if kind == 0:
                    Image.fromarray(a).save(d / f"{i}.png")
                elif kind == 1:
                    Image.fromarray(a).save(d / f"{i}.jpg", quality=90)
                elif kind == 2:
                    Image.fromarray(a).convert("CMYK").save(d / f"{i}.jpeg")
                elif kind == 3:
                    Image.fromarray(a).convert("P").save(d / f"{i}.png")
                else:
                    Image.fromarray(a).convert("L").save(d / f"{i}.PNG")
    return root


def pil_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_imagefolder_modes_pixels_and_provenance(tmp_path):
    root = make_imagefolder(tmp_path / "pets", per_class=5)
    events = []
    s = load_splits(root, cache_dir=tmp_path / "cache", progress=events.append)
    assert (len(s.train), len(s.test)) == (10, 4)
    assert s.train.class_names == ["cat", "dog"] and s.train.image_shape == (12, 12, 3)
    assert isinstance(s.train, CachedArrayDataset)
    files = sorted((root / "train" / "cat").iterdir()) + sorted((root / "train" / "dog").iterdir())
    imgs = s.train.get_images(np.arange(10))
    for f, img in zip(files, imgs):  # PNG, JPEG, CMYK JPEG, palette, grey: all RGB, pixel-exact vs Pillow
        assert np.array_equal(img, pil_rgb(f)), f.name
    assert s.train.labels.tolist() == [0] * 5 + [1] * 5
    grey_img = imgs[4]
    assert np.array_equal(grey_img[..., 0], grey_img[..., 2])
    p = s.train.provenance
    assert p["format"] == "imagefolder" and p["split"] == "train" and p["checksum"].startswith("sha256:")
    assert p["n_bad"] == 0 and str(root / "train") == p["source"]
    assert events and events[-1].stage == "decode" and events[-1].step == events[-1].total
    # The images are a read-only memory map of the cache.
    assert isinstance(s.train.images, np.memmap) and not s.train.images.flags.writeable


def test_cache_is_reused_then_invalidated(tmp_path):
    root = make_imagefolder(tmp_path / "pets")
    cache = tmp_path / "cache"
    s1 = load_splits(root, cache_dir=cache, image_size=8, grayscale=True)
    entry = s1.train.provenance["cache"]
    events = []
    s2 = load_splits(root, cache_dir=cache, image_size=8, grayscale=True, progress=events.append)
    assert s2.train.provenance["cache"] == entry and not events  # nothing decoded again
    assert np.array_equal(s1.train.get_images([0, 1]), s2.train.get_images([0, 1]))
    assert s2.train.image_shape == (8, 8, 1)
    # Another option is another entry.
    assert load_splits(root, cache_dir=cache, image_size=6).train.provenance["cache"] != entry
    # A changed file changes the key; the stale entry of the same options is removed.
    f = root / "train" / "cat" / "0.png"
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(f)
    os.utime(f, ns=(1, 1))
    s3 = load_splits(root, cache_dir=cache, image_size=8, grayscale=True)
    assert s3.train.provenance["cache"] != entry and not os.path.exists(entry)
    assert s3.train.get_images([0]).max() == 0
    assert s3.train.provenance["checksum"] != s1.train.provenance["checksum"]
    # No temporary folders left behind.
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]


def test_native_size_and_mixed_sizes(tmp_path):
    root = make_imagefolder(tmp_path / "pets")
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(root / "train" / "dog" / "big.png")
    with pytest.raises(DataError, match=r"big\.png: image is 30x20 .* mixed sizes need image_size"):
        load_splits(root, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())  # nothing half-written
    s = load_splits(root, cache_dir=tmp_path / "cache", image_size=10)
    big = s.train.get_images([len(s.train) - 3])  # dog/0.png, dog/1.jpg, dog/2.jpeg, dog/big.png sorted
    assert s.train.image_shape == (10, 10, 3) and big.shape == (1, 10, 10, 3)


def test_corrupt_and_truncated_images(tmp_path):
    root = make_imagefolder(tmp_path / "pets")
    bad = root / "train" / "cat" / "1.jpg"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated JPEG
    (root / "train" / "dog" / "junk.png").write_bytes(b"not an image at all")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"cat/1\.jpg: cannot decode image"):
        load_splits(root, cache_dir=cache)
    assert not list(cache.iterdir())  # atomic: no entry, no temp folder
    events = []
    s = load_splits(root, cache_dir=cache, skip_bad=True, progress=events.append)
    assert len(s.train) == 5 and s.train.provenance["n_bad"] == 2
    assert sorted(s.train.provenance["bad_files"]) == ["cat/1.jpg", "dog/junk.png"]
    assert s.train.labels.tolist() == [0, 0, 1, 1, 1]
    assert any("skipped 2 unreadable" in e.message for e in events)
    good = [f for f in sorted((root / "train" / "cat").iterdir()) if f.name != "1.jpg"]
    assert np.array_equal(s.train.get_images([1])[0], pil_rgb(good[1]))
    # The entry built with skip_bad does not hide bad files from a strict load.
    with pytest.raises(DataError, match="skip_bad=True"):
        load_splits(root, cache_dir=cache)


def test_empty_missing_and_unknown_layouts(tmp_path):
    root = make_imagefolder(tmp_path / "pets")
    (root / "train" / "bird").mkdir()
    with pytest.raises(DataError, match=r"train/bird: empty class folder"):
        load_splits(root, cache_dir=tmp_path / "cache")
    with pytest.raises(DataError, match="data set folder not found"):
        load_splits(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="data set folder is empty"):
        load_splits(tmp_path / "empty")
    (tmp_path / "odd" / "stuff").mkdir(parents=True)
    (tmp_path / "odd" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="not a known data set layout; expected one of: .*IDX.*cifar-10.*Tiny"):
        load_splits(tmp_path / "odd")
    root2 = make_imagefolder(tmp_path / "p2", test="test")
    (root2 / "test" / "fish").mkdir()
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(root2 / "test" / "fish" / "a.png")
    with pytest.raises(DataError, match="'fish' is not one of the 2 training classes"):
        load_splits(root2, cache_dir=tmp_path / "cache")


def test_subsets_before_decoding_and_val(tmp_path):
    root = make_imagefolder(tmp_path / "pets", per_class=6)
    events = []
    s = load_splits(root, cache_dir=tmp_path / "cache", n_per_class=4, test_n_per_class=1,
                    val_fraction=0.25, seed=3, progress=events.append)
    assert np.all(s.train.class_counts() == 3) and np.all(s.val.class_counts() == 1)
    assert np.all(s.test.class_counts() == 1)
    assert events[0].total in (8, 2)  # only the chosen files were decoded
    x, y = next(s.val.batches(10))
    assert x.shape == (2, 12, 12, 3) and y.tolist() == [0, 1]


def make_tiny_imagenet(root, seed=0):
    rng = np.random.default_rng(seed)
    wnids = ["n02000002", "n01000001", "n03000003"]
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (root / "words.txt").write_text("n01000001\tgoldfish, Carassius auratus\nn02000002\tcat\n"
                                    "n03000003\tbus, autobus\nn09999999\tunused\n")
    for w in wnids:
        d = root / "train" / w / "images"
        d.mkdir(parents=True)
        for i in range(2):
            Image.fromarray(_rgb(rng, 8, 8)).save(d / f"{w}_{i}.JPEG")
        (root / "train" / w / f"{w}_boxes.txt").write_text("")
    (root / "val" / "images").mkdir(parents=True)
    lines = []
    for i, w in enumerate(["n03000003", "n01000001", "n02000002", "n03000003"]):
        Image.fromarray(_rgb(rng, 8, 8)).save(root / "val" / "images" / f"val_{i}.JPEG")
        lines.append(f"val_{i}.JPEG\t{w}\t0\t0\t7\t7")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    (root / "test" / "images").mkdir(parents=True)
    return root


def test_tiny_imagenet_layout(tmp_path):
    root = make_tiny_imagenet(tmp_path / "tiny" / "tiny-imagenet-200")
    assert detect_layout(tmp_path / "tiny") == ("tiny-imagenet", root)
    s = load_splits(tmp_path / "tiny", cache_dir=tmp_path / "cache")
    assert s.train.class_names == ["goldfish", "cat", "bus"]  # sorted wnids, names from words.txt
    assert s.train.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert s.test.labels.tolist() == [2, 0, 1, 2] and s.test.provenance["format"] == "tiny-imagenet"
    assert np.array_equal(s.test.get_images([1])[0], pil_rgb(root / "val" / "images" / "val_1.JPEG"))


def make_ilsvrc(root, with_gt=True, seed=0):
    rng = np.random.default_rng(seed)
    wnids = ["n01440764", "n01443537", "n01484850"]
    for w in wnids:
        (root / "train" / w).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(_rgb(rng, 10, 14)).save(root / "train" / w / f"{w}_{i}.JPEG")
    (root / "val").mkdir()
    for i in range(1, 5):
        Image.fromarray(_rgb(rng, 14, 10)).save(root / "val" / f"ILSVRC2012_val_{i:08d}.JPEG")
    # Synset list in ILSVRC2012_ID order: ID 1 = n01484850, ID 2 = n01440764, ID 3 = n01443537.
    (root / "LOC_synset_mapping.txt").write_text(
        "n01484850 great white shark, white shark\nn01440764 tench, Tinca tinca\nn01443537 goldfish\n")
    if with_gt:
        (root / "ILSVRC2012_validation_ground_truth.txt").write_text("2\n1\n3\n1\n")
    return root


def test_ilsvrc_val_ground_truth(tmp_path):
    root = make_ilsvrc(tmp_path / "ilsvrc")
    assert detect_layout(root)[0] == "ilsvrc2012"
    s = load_splits(root, cache_dir=tmp_path / "cache", image_size=8)
    assert s.train.class_names == ["tench", "goldfish", "great white shark"]
    # IDs 2,1,3,1 -> wnids n01440764, n01484850, n01443537, n01484850 -> sorted-wnid indices 0,2,1,2
    assert s.test.labels.tolist() == [0, 2, 1, 2]
    assert s.test.image_shape == (8, 8, 3) and "ground_truth" in s.test.provenance["val_labels"]
    (root / "ILSVRC2012_validation_ground_truth.txt").write_text("2\n1\n4\n1\n")
    with pytest.raises(DataError, match="ground_truth.txt: label 4 is out of range for the 3 synsets"):
        load_splits(root, cache_dir=tmp_path / "cache", image_size=8)
    (root / "ILSVRC2012_validation_ground_truth.txt").unlink()
    with pytest.raises(DataError, match="validation images need labels"):
        load_splits(root, cache_dir=tmp_path / "cache", image_size=8)


def test_ilsvrc_named_under_root_with_kaggle_solution(tmp_path):
    root = make_ilsvrc(tmp_path / "data" / "ilsvrc2012", with_gt=False)
    (root / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\n"
        "ILSVRC2012_val_00000002,n01443537 1 2 3 4\nILSVRC2012_val_00000001,n01484850 1 2 3 4 n01484850 5 6 7 8\n"
        "ILSVRC2012_val_00000003,n01440764 0 0 1 1\nILSVRC2012_val_00000004,n01440764 0 0 1 1\n")
    s = load_splits("ilsvrc2012", root=tmp_path / "data", cache_dir=tmp_path / "cache", image_size=8,
                    grayscale=True)
    assert s.test.labels.tolist() == [2, 1, 0, 0] and s.test.image_shape == (8, 8, 1)
    assert s.info["name"] == "ilsvrc2012"


def test_imagenette_names(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "imagenette2-160"
    for split in ("train", "val"):
        for w in ("n01440764", "n03888605"):
            (root / split / w).mkdir(parents=True)
            Image.fromarray(_rgb(rng, 16, 20)).save(root / split / w / "a.JPEG")
    assert detect_layout(root)[0] == "imagenette"
    s = load_splits(root, cache_dir=tmp_path / "cache", image_size=16)
    assert s.train.class_names == ["tench", "parachute"]
    assert s.train.provenance["class_ids"] == ["n01440764", "n03888605"]


def test_decode_image_grey_option_and_draft(tmp_path):
    rng = np.random.default_rng(0)
    a = _rgb(rng, 64, 48)
    Image.fromarray(a).save(tmp_path / "a.png")
    g = decode_image(tmp_path / "a.png", 24, grayscale=True)
    ref = np.asarray(Image.fromarray(a).resize((24, 32), Image.BILINEAR))[4:28]
    want = np.rint(ref.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    assert g.shape == (24, 24, 1) and np.abs(g[..., 0].astype(int) - want).max() <= 1
    with pytest.raises(ConfigError):
        load_splits(tmp_path, image_size=2.5)


def test_ilsvrc_val_with_devkit_meta_mat(tmp_path):
    sio = pytest.importorskip("scipy.io")
    root = make_ilsvrc(tmp_path / "ilsvrc")
    (root / "LOC_synset_mapping.txt").unlink()
    devkit = root / "ILSVRC2012_devkit_t12" / "data"
    devkit.mkdir(parents=True)
    (root / "ILSVRC2012_validation_ground_truth.txt").rename(devkit / "ILSVRC2012_validation_ground_truth.txt")
    # The devkit's synsets struct: IDs in its own (not wnid-sorted) order, plus non-leaf synsets.
    dt = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("num_children", "O")]
    syn = np.array([(1, "n01484850", "great white shark, white shark", 0), (2, "n01440764", "tench, Tinca tinca", 0),
                    (3, "n01443537", "goldfish, Carassius auratus", 0), (4, "n00000001", "fish", 3)], dtype=dt)
    sio.savemat(devkit / "meta.mat", {"synsets": syn})
    s = load_splits(root, cache_dir=tmp_path / "cache", image_size=8)
    assert s.test.labels.tolist() == [0, 2, 1, 2]
    assert s.train.class_names == ["tench", "goldfish", "great white shark"]
    assert "meta.mat" in s.test.provenance["val_labels"]


def test_streaming_releases_pages_and_stays_correct(tmp_path):
    root = make_imagefolder(tmp_path / "pets", per_class=5)
    s = load_splits(root, cache_dir=tmp_path / "cache")
    ref = np.array(s.train.images)
    s.train.release_bytes = 1  # drop the mapping's pages after every batch
    got = np.concatenate([x for x, _ in s.train.batches(batch_size=3, shuffle=True, rng=np.random.default_rng(0))])
    order = np.random.default_rng(0).permutation(len(s.train))
    assert np.array_equal(got, ref[order])


def test_damaged_cache_entry_is_rebuilt(tmp_path):
    root = make_imagefolder(tmp_path / "pets")
    s = load_splits(root, cache_dir=tmp_path / "cache")
    ref = s.train.get_images(np.arange(len(s.train)))
    entry = s.train.provenance["cache"]
    del s
    os.unlink(os.path.join(entry, "images.npy"))
    s2 = load_splits(root, cache_dir=tmp_path / "cache")
    assert s2.train.provenance["cache"] == entry
    assert np.array_equal(s2.train.get_images(np.arange(len(s2.train))), ref)


def test_threaded_decoding_matches_serial(tmp_path):
    from histnet.data.image_cache import decode_to_cache, file_entries
    from histnet.data.folder import read_imagefolder
    from histnet.data.options import files_checksum

    root = make_imagefolder(tmp_path / "pets", per_class=7)
    (root / "train" / "cat" / "9.png").write_bytes(b"broken")
    fs = read_imagefolder(root)["train"]
    out = []
    for workers in (1, 3):
        ds = decode_to_cache(fs.files, fs.labels, root=fs.root, name="pets", class_names=fs.class_names,
                             image_size=10, grayscale=False, skip_bad=True, batch_size=4, workers=workers,
                             checksum=files_checksum(file_entries(fs.files, fs.root)),
                             cache_dir=tmp_path / f"cache{workers}")
        out.append((ds.get_images(np.arange(len(ds))), ds.labels, ds.provenance["bad_files"]))
    assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])
    assert out[0][2] == out[1][2] == ["cat/9.png"]


def test_load_dataset_decodes_only_its_split(tmp_path):
    from histnet.data import load_dataset

    root = make_imagefolder(tmp_path / "pets", per_class=6)
    events = []
    test = load_dataset(root, split="test", cache_dir=tmp_path / "cache", progress=events.append)
    assert len(test) == 4 and {e.total for e in events} == {4}
    val = load_dataset(root, split="val", val_fraction=0.5, cache_dir=tmp_path / "cache", seed=2)
    assert val.provenance["split"] == "val" and np.all(val.class_counts() == 3)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        load_dataset(root, seed=-1)
    with pytest.raises(ConfigError, match="n_per_class must be a positive integer"):
        load_dataset(root, n_per_class="many")


def test_folder_checksum_follows_decoding_options(tmp_path):
    root = make_imagefolder(tmp_path / "pets")
    a = load_splits(root, cache_dir=tmp_path / "cache", image_size=8)
    b = load_splits(root, cache_dir=tmp_path / "cache", image_size=8, grayscale=True)
    c = load_splits(root, cache_dir=tmp_path / "cache", image_size=8)
    assert a.train.provenance["checksum"] == c.train.provenance["checksum"]
    assert a.train.provenance["checksum"] != b.train.provenance["checksum"]
    assert a.train.provenance["checksum"] != a.test.provenance["checksum"]


def test_ilsvrc_and_nested_layouts_stay_inside_the_folder(tmp_path):
    root = make_ilsvrc(tmp_path / "ilsvrc")
    outside = tmp_path / "outside.JPEG"
    Image.fromarray(np.zeros((10, 14, 3), np.uint8)).save(outside)
    link = root / "val" / "ILSVRC2012_val_00000099.JPEG"
    link.symlink_to(outside)
    with pytest.raises(DataError, match=r"ILSVRC2012_val_00000099\.JPEG: image .*outside the data set folder"):
        load_splits(root, cache_dir=tmp_path / "cache")
    # The folder an archive extracts to, one level down, must not be a link out either.
    make_imagefolder(tmp_path / "real")
    (tmp_path / "named").mkdir()
    (tmp_path / "named" / "pets").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(DataError, match=r"named/pets: data set folder resolves to .*real, outside"):
        detect_layout(tmp_path / "named")


def test_remove_orphans_rule(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    import time

    from histnet.data.image_cache import STALE_TMP_SECONDS, remove_orphans

    cache = tmp_path / "cache"
    old, locked, young = (cache / f".{c * 24}.tmp-7-0000000{i}" for i, c in enumerate("abc"))
    other = cache / ".notes"  # not a temporary entry: never touched
    for d in (old, locked, young, other):
        d.mkdir(parents=True)
        (d / "images.npy").write_bytes(b"x")
    fd = os.open(locked / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    now = time.time()
    for d in (old, locked, other):
        for p in [*d.iterdir(), d]:
            os.utime(p, (now - STALE_TMP_SECONDS - 60,) * 2)
    try:
        assert remove_orphans(cache) == [old.name]
    finally:
        os.close(fd)
    assert remove_orphans(cache) == [locked.name]
    assert remove_orphans(cache, now=now + 2 * STALE_TMP_SECONDS) == [young.name] and other.is_dir()
    assert remove_orphans(tmp_path / "missing") == []
