"""Every bad input ends in one clear line: ``histnet run`` on hostile or broken data sets.

Each case writes its data in the real published format (PNG, Tiny ImageNet folders,
IDX, CIFAR pickles) and runs the real command, ``histnet run pixels-svm -d FOLDER``
(click's CliRunner, or a subprocess where Python's own warning output is the point).
A bad input must exit with status 1 and print exactly one ``Error:`` line naming the
file, with no traceback and no warning before it.

The 14 cases driven here:

Reads stay inside the data folder
  1. an ImageFolder class folder that is a symbolic link out of the folder;
  2. an ImageFolder image that is a symbolic link out of the folder (a link whose
     target is inside the folder is read);
  3. Tiny ImageNet ``val_annotations.txt`` naming ``../../secret.JPEG``;
  4. the same file naming an absolute path.
Decompression bombs (``HISTNET_MAX_IMAGE_PIXELS``, default 40 megapixels)
  5. a tiny PNG claiming 50000 x 50000 pixels: named, and skipped by ``--skip-bad``;
  6. a valid 10000 x 10000 PNG: refused from its header, never decoded, no
     ``DecompressionBombWarning`` (a real subprocess, whose stderr is checked raw);
  7. the limit is adjustable: lowered, a 12 x 12 image is refused; raised, a
     7000 x 7000 header passes the check (and fails as the truncated image it is);
  8. a malformed ``HISTNET_MAX_IMAGE_PIXELS`` is one line naming the variable.
Image cache
  9. the temporary folder of a decode killed with SIGKILL is removed when the cache
     is next used, once an hour old; a fresh one and an old one still locked by a
     live process are kept.
IDX
  10. header dimensions whose product wraps around int64 (2^31 x 2^31 x 4);
  11. header dimensions far larger than a gzipped file can hold.
CIFAR
  12. a ``data`` entry declaring a (10^7, 3072) array in a file of a few hundred bytes;
  13. an object-dtype array made by calling ``numpy.ndarray(shape, 'O')``;
  14. an object dtype inside a structured dtype.
"""

import gzip
import json
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time
import warnings
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from histnet.data import load_splits
from histnet.data.image_cache import ImageTooLargeError, decode_image
from histnet_cli.main import cli

from test_data_cifar import make_cifar10
from test_data_folder import make_imagefolder, make_tiny_imagenet
from test_data_idx import make_mnist


# -- helpers ---------------------------------------------------------------------------------------------
def run_cli(data, out, *extra, env=None):
    """``histnet --quiet run pixels-svm -d DATA --out OUT ...``; (result, warnings emitted)."""
    args = ["--quiet", "run", "pixels-svm", "-d", str(data), "--out", str(out), *map(str, extra)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    return res, caught


def assert_one_error(output, exit_code, caught, *names):
    """Exit 1, one line in all, starting ``Error:`` and naming ``names``; no traceback, no warning."""
    assert exit_code == 1, output
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    assert "Traceback" not in output and "Warning" not in output, output
    assert not [w for w in caught if "DecompressionBomb" in type(w.message).__name__ or
                issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path, width, height, *, bit_depth=8, colour=2, idat=None):
    """A PNG file: signature, IHDR, IDAT, IEND (the chunks of the PNG specification, with CRCs).

    ``idat`` None writes the whole image (all zero); otherwise just those compressed
    bytes, i.e. a header claiming ``width x height`` over almost no data.
    """
    if idat is None:
        channels = {0: 1, 2: 3}[colour]
        row = b"\0" + bytes((width * channels * bit_depth + 7) // 8)
        comp = zlib.compressobj(9)
        idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return path


def histnet_exe():
    return shutil.which("histnet") or os.path.join(os.path.dirname(sys.executable), "histnet")


# -- 1-4: reads stay inside the data folder ------------------------------------------------------------
def test_class_folder_linked_out_of_the_folder_is_refused(tmp_path):
    root = make_imagefolder(tmp_path / "pets")
    outside = make_imagefolder(tmp_path / "elsewhere")
    (root / "train" / "zebra").symlink_to(outside / "train" / "cat", target_is_directory=True)
    res, caught = run_cli(root, tmp_path / "runs", env={"HISTNET_CACHE": str(tmp_path / "cache")})
    line = assert_one_error(res.output, res.exit_code, caught, root / "train" / "zebra")
    assert "outside the data set folder" in line and str(outside / "train" / "cat") in line


def test_image_linked_out_of_the_folder_is_refused_inside_is_read(tmp_path):
    root = make_imagefolder(tmp_path / "pets")
    secret = tmp_path / "private" / "secret.png"
    secret.parent.mkdir()
    Image.fromarray(np.full((12, 12, 3), 7, np.uint8)).save(secret)
    link = root / "train" / "dog" / "zz.png"
    link.symlink_to(secret)
    res, caught = run_cli(root, tmp_path / "runs", env={"HISTNET_CACHE": str(tmp_path / "cache")})
    assert_one_error(res.output, res.exit_code, caught, link, secret)
    # A link whose target is inside the folder is an ordinary image.
    link.unlink()
    link.symlink_to(root / "train" / "cat" / "0.png")
    s = load_splits(root, cache_dir=tmp_path / "cache2")
    assert len(s.train) == 7 and np.array_equal(s.train.get_images([6])[0], s.train.get_images([0])[0])
    # So is a data set folder that is itself a link (the user named it).
    (tmp_path / "alias").symlink_to(root, target_is_directory=True)
    assert len(load_splits(tmp_path / "alias", cache_dir=tmp_path / "cache2").train) == 7


@pytest.mark.parametrize("name", ["../../../secret.JPEG", "ABSOLUTE"])
def test_tiny_imagenet_annotations_naming_files_outside_are_refused(tmp_path, name):
    root = make_tiny_imagenet(tmp_path / "tiny")
    secret = tmp_path / "secret.JPEG"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(secret)
    assert (root / "val" / "images" / "../../../secret.JPEG").resolve() == secret.resolve()
    name = str(secret) if name == "ABSOLUTE" else name
    ann = root / "val" / "val_annotations.txt"
    ann.write_text(ann.read_text() + f"{name}\tn01000001\t0\t0\t7\t7\n")
    res, caught = run_cli(root, tmp_path / "runs", env={"HISTNET_CACHE": str(tmp_path / "cache")})
    line = assert_one_error(res.output, res.exit_code, caught, ann, "line 5", secret)
    assert "outside the data set folder" in line


# -- 5-8: decompression bombs ------------------------------------------------------------------------------
def test_png_claiming_50000_squared_pixels_is_named_and_skipped(tmp_path):
    root = make_imagefolder(tmp_path / "pets")
    bomb = write_png(root / "train" / "cat" / "bomb.png", 50000, 50000, idat=zlib.compress(b"\0" * 64))
    env = {"HISTNET_CACHE": str(tmp_path / "cache")}
    res, caught = run_cli(root, tmp_path / "runs", env=env)
    line = assert_one_error(res.output, res.exit_code, caught, bomb, "2500000000 pixels", "HISTNET_MAX_IMAGE_PIXELS")
    assert "--skip-bad" in line
    res, caught = run_cli(root, tmp_path / "runs", "--skip-bad", "--json", env=env)
    assert res.exit_code == 0 and not caught, res.output
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    assert rec["status"] == "ok" and rec["dataset"]["n_train"] == 6, rec["dataset"]  # 7 files, 1 skipped
    s = load_splits(root, cache_dir=tmp_path / "cache" / "images", skip_bad=True)  # the entry the run made
    assert s.train.provenance["n_bad"] == 1 and s.train.provenance["bad_files"] == ["cat/bomb.png"]
    assert not [p for p in (tmp_path / "cache" / "images").iterdir() if p.name.startswith(".")]


def test_valid_10000_squared_png_is_refused_from_its_header(tmp_path, monkeypatch):
    from PIL import ImageFile

    root = make_imagefolder(tmp_path / "pets")
    big = write_png(root / "train" / "dog" / "big.png", 10000, 10000, bit_depth=1, colour=0)
    with warnings.catch_warnings():  # Pillow warns (89 MP is its limit)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(big) as im:  # a real image, which Pillow alone would decode into 100 MP
            assert im.size == (10000, 10000) and im.mode == "1"
    # Refused before any pixel is decoded.
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded a 100 MP image"))
    with pytest.raises(ImageTooLargeError, match=r"10000x10000 = 100000000 pixels, more than the limit of 40000000"):
        decode_image(big, 32)
    monkeypatch.undo()
    # The real command, as a user sees it: stderr holds the one line, and no Pillow warning.
    env = dict(os.environ, HISTNET_CACHE=str(tmp_path / "cache"), PYTHONWARNINGS="default")
    proc = subprocess.run([histnet_exe(), "--quiet", "run", "pixels-svm", "-d", str(root), "--out",
                           str(tmp_path / "runs")], capture_output=True, text=True, timeout=300, env=env)
    assert_one_error(proc.stdout + proc.stderr, proc.returncode, [], big, "10000x10000")


def test_pixel_limit_is_adjustable(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", PILImage.MAX_IMAGE_PIXELS)  # restored after the test
    root = make_imagefolder(tmp_path / "pets")
    env = {"HISTNET_CACHE": str(tmp_path / "cache"), "HISTNET_MAX_IMAGE_PIXELS": "100"}
    res, caught = run_cli(root, tmp_path / "runs", env=env)
    assert_one_error(res.output, res.exit_code, caught, root / "train" / "cat" / "0.png", "12x12 = 144 pixels",
                     "limit of 100")
    # 7000 x 7000 = 49 MP: over the default, under a raised limit, so it reaches the
    # decoder, which finds the truncated data.
    tall = write_png(root / "train" / "dog" / "tall.png", 7000, 7000, idat=zlib.compress(b"\0" * 64))
    res, caught = run_cli(root, tmp_path / "runs", env={"HISTNET_CACHE": str(tmp_path / "cache")})
    assert_one_error(res.output, res.exit_code, caught, tall, "49000000 pixels")
    res, caught = run_cli(root, tmp_path / "runs", env={"HISTNET_CACHE": str(tmp_path / "cache"),
                                                        "HISTNET_MAX_IMAGE_PIXELS": "5e7"})
    line = assert_one_error(res.output, res.exit_code, caught, tall, "cannot decode image")
    assert "pixels, more than" not in line


@pytest.mark.parametrize("value", ["lots", "-5", "0", "1.5"])
def test_malformed_pixel_limit_is_one_line(tmp_path, value):
    root = make_imagefolder(tmp_path / "pets")
    res, caught = run_cli(root, tmp_path / "runs", env={"HISTNET_CACHE": str(tmp_path / "cache"),
                                                        "HISTNET_MAX_IMAGE_PIXELS": value})
    assert_one_error(res.output, res.exit_code, caught, "HISTNET_MAX_IMAGE_PIXELS", repr(value))


# -- 9: orphaned temporary folders of the image cache ------------------------------------------------------
KILLED_DECODE = textwrap.dedent("""
    import sys, time
    import histnet.data.image_cache as ic
    from histnet.data import load_splits

    real = ic.decode_image
    def slow(*args, **kwargs):
        time.sleep(0.5)
        return real(*args, **kwargs)
    ic.decode_image = slow
    load_splits(sys.argv[1], cache_dir=sys.argv[2], image_size=8)
""")


def test_orphans_of_a_killed_decode_are_removed_when_stale(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    root = make_imagefolder(tmp_path / "pets", per_class=20)
    cache = tmp_path / "cache" / "images"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_DECODE, str(root), str(cache)])
    try:
        deadline = time.time() + 120
        while not (cache.is_dir() and [p for p in cache.iterdir() if (p / ".lock").exists()]):
            assert time.time() < deadline and proc.poll() is None, "the decode did not start"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (orphan,) = [p for p in cache.iterdir() if ".tmp-" in p.name]
    # A fresh temporary folder of a killed decode, and an old one held by a live process.
    fresh = cache / ".0123456789abcdef01234567.tmp-1-0badcafe"
    held = cache / ".89abcdef0123456789abcdef.tmp-2-deadbeef"
    for d in (fresh, held):
        d.mkdir()
        (d / "images.npy").write_bytes(b"partial")
    lock = os.open(held / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)
    hours_ago = time.time() - 2 * 3600
    for d in (orphan, held):
        for p in [*d.iterdir(), d]:
            os.utime(p, (hours_ago, hours_ago))
    try:
        res, caught = run_cli(root, tmp_path / "runs", "--image-size", "8",
                              env={"HISTNET_CACHE": str(tmp_path / "cache")})
        assert res.exit_code == 0 and not caught, res.output
        assert not orphan.exists() and fresh.is_dir() and held.is_dir()
    finally:
        os.close(lock)
    # Unlocked now, the old one goes at the next use (another size: the process memoises
    # the splits it loaded); the fresh one stays until it is an hour old. Entries: train and
    # test at two sizes, none with a lock file left in it.
    res, _ = run_cli(root, tmp_path / "runs", "--image-size", "6", env={"HISTNET_CACHE": str(tmp_path / "cache")})
    assert res.exit_code == 0 and not held.exists() and fresh.is_dir()
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 4 and all((e / "meta.json").is_file() and not (e / ".lock").exists() for e in entries)


# -- 10-11: IDX headers -------------------------------------------------------------------------------------
def test_idx_dimensions_wrapping_int64_are_named(tmp_path):
    make_mnist(tmp_path / "mnist", gz=False)
    p = tmp_path / "mnist" / "train-images-idx3-ubyte"
    # 2^31 * 2^31 * 4 = 2^64, which int64 arithmetic wraps to 0: an "empty" file matched.
    p.write_bytes(struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", 2 ** 31, 2 ** 31, 4))
    res, caught = run_cli(tmp_path / "mnist", tmp_path / "runs")
    line = assert_one_error(res.output, res.exit_code, caught, p, "18446744073709551616 data bytes")
    assert "reshape" not in line


def test_idx_dimensions_larger_than_a_gzip_file_can_hold(tmp_path):
    make_mnist(tmp_path / "mnist", gz=True)
    p = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    p.write_bytes(gzip.compress(struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", 4_000_000_000) + bytes(100)))
    res, caught = run_cli(tmp_path / "mnist", tmp_path / "runs")
    assert_one_error(res.output, res.exit_code, caught, p, "4000000000 data bytes", "cannot hold")


# -- 12-14: CIFAR pickles ------------------------------------------------------------------------------------
class _Reduce:
    """Pickles as ``fn(*args)``: how a crafted file asks the unpickler for a call."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize("data, text", [
    (_Reduce(np.ndarray, (10 ** 7, 3072), "u1"), "needs 30720000000 bytes, more than the"),
    (_Reduce(np.ndarray, (4, 3072), "O"), "object dtype dtype('O') is not allowed"),
    (_Reduce(np.ndarray, (4,), [("pixels", "u1", (3072,)), ("x", "O")]), "object dtype"),
], ids=["huge-shape", "object-dtype", "structured-object"])
def test_cifar_batch_asking_for_huge_or_object_arrays_is_named(tmp_path, data, text):
    make_cifar10(tmp_path / "c10")
    p = tmp_path / "c10" / "cifar-10-batches-py" / "data_batch_3"
    p.write_bytes(pickle.dumps({b"batch_label": b"x", b"data": data, b"labels": [0, 1, 2, 3]}, protocol=2))
    res, caught = run_cli(tmp_path / "c10", tmp_path / "runs")
    assert_one_error(res.output, res.exit_code, caught, p, text)
