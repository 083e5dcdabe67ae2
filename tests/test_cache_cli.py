"""`histnet cache list|clear` and histnet.cache_admin: what is listed, what is freed, nothing outside."""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from histnet.cache_admin import (CacheEntry, cache_folders, clear_entries, format_age, format_size, list_entries,
                                 parse_age)
from histnet.errors import ConfigError
from histnet.features.feature_cache import FeatureCache
from histnet_cli.main import cli

DAY = 86400


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A HISTNET_CACHE with two feature entries and one decoded-image entry (made by the real caches)."""
    from PIL import Image

    from histnet.data.image_cache import decode_to_cache

    root = tmp_path / "cache"
    monkeypatch.setenv("HISTNET_CACHE", str(root))
    fc = FeatureCache()
    fc.put({"feature": "hog-svm-train", "data": "0123456789abcdef"}, np.ones((30, 324), np.float32))
    fc.put({"feature": "sift-codebook", "data": "fedcba9876543210"}, np.zeros((8, 128)))
    pics = tmp_path / "pics"
    pics.mkdir()
    files = []
    for i in range(3):
        files.append(pics / f"{i}.png")
        Image.fromarray(np.full((6, 6, 3), 40 * i, np.uint8)).save(files[-1])
    decode_to_cache(files, np.arange(3) % 2, root=pics, name="pics", class_names=["a", "b"], image_size=None,
                    grayscale=False, checksum="pics-1")
    return root


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def _age(path, days):
    t = time.time() - days * DAY
    os.utime(path, (t, t), follow_symlinks=False)


def test_list_shows_each_folder_its_entries_and_the_totals(cache):
    res = invoke("cache", "list")
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert f"features: {cache / 'features'}" in out and f"images: {cache / 'images'}" in out
    assert "hog-svm-train, data 01234567, float32 30x324" in out
    assert "sift-codebook, data fedcba98, float64 8x128" in out
    assert f"{(cache.parent / 'pics').resolve()}, 3 images, 6x6x3" in out
    assert "2 entries" in out and "1 entry" in out and "total: 3 entries" in out
    entries = list_entries()
    assert [e.kind for e in entries] == ["features", "features", "images"]
    assert all(e.size > 0 and e.age() < 60 for e in entries)
    assert format_size(sum(e.size for e in entries)) in out.splitlines()[-1]
    only = invoke("cache", "list", "--images")
    assert "features:" not in only.stdout and "images:" in only.stdout and "total" not in only.stdout


def test_list_of_an_empty_or_missing_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HISTNET_CACHE", str(tmp_path / "nothing"))
    res = invoke("cache", "list")
    assert res.exit_code == 0 and "(no such folder yet)" in res.stdout and "total: 0 entries, 0 B" in res.stdout
    res = invoke("cache", "clear")
    assert res.exit_code == 0 and res.stdout.startswith("Nothing to clear in")


def test_clear_asks_first_and_removes_everything_on_yes(cache):
    res = invoke("cache", "clear", input="n\n")
    assert res.exit_code == 1 and "Delete 3 cache entries" in res.output and "Aborted" in res.output
    assert len(list_entries()) == 3
    res = invoke("cache", "clear", input="y\n")
    assert res.exit_code == 0, res.output
    assert "Freed" in res.stdout and "removed 3 entries (2 features, 1 images)" in res.stdout
    assert list_entries() == []
    assert not any((cache / "features").iterdir()) and not any((cache / "images").iterdir())


def test_clear_one_cache_only(cache):
    res = invoke("cache", "clear", "--images", "--yes")
    assert res.exit_code == 0 and "removed 1 entry (1 images)" in res.stdout
    assert [e.kind for e in list_entries()] == ["features", "features"]
    res = invoke("cache", "clear", "--features", "-y")
    assert res.exit_code == 0 and "removed 2 entries (2 features)" in res.stdout
    assert list_entries() == []


def test_clear_older_than(cache):
    before = list_entries()
    old = [e for e in before if e.path.name.startswith("sift-")][0]
    for p in old.files:
        _age(p, 40)
    image = list_entries(["images"])[0]
    for p in [image.path, *image.path.iterdir()]:
        _age(p, 10)
    assert [e.path for e in list_entries(older_than=parse_age("30d"))] == [old.path]
    res = invoke("cache", "clear", "--older-than", "30d", "--yes")
    assert res.exit_code == 0 and "removed 1 entry (1 features, 0 images)" in res.stdout
    assert [e.path for e in list_entries()] == [e.path for e in before if e.path != old.path]
    assert "1 entry" in invoke("cache", "list", "--older-than", "1w").stdout


def test_bad_input_is_one_error_line(cache, tmp_path, monkeypatch):
    res = invoke("cache", "clear", "--older-than", "soon", "--yes")
    assert res.exit_code == 1 and res.stderr.strip().startswith("Error:") and len(res.stderr.strip().splitlines()) == 1
    assert len(list_entries()) == 3
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache should be")
    monkeypatch.setenv("HISTNET_CACHE", str(blocked))
    res = invoke("cache", "list")
    assert res.exit_code == 1 and res.stderr.strip().startswith("Error:") and "Traceback" not in res.output
    (tmp_path / "c2").mkdir()
    (tmp_path / "c2" / "features").write_text("a file")
    monkeypatch.setenv("HISTNET_CACHE", str(tmp_path / "c2"))
    res = invoke("cache", "clear", "--yes")
    assert res.exit_code == 1 and res.stderr.strip() == f"Error: {tmp_path / 'c2' / 'features'}: the cache folder " \
                                                       f"is a file, not a folder"


def test_parse_and_format_helpers():
    assert parse_age("30d") == 30 * DAY and parse_age("12h") == 12 * 3600 and parse_age("90m") == 5400
    assert parse_age("45s") == 45 and parse_age("2w") == 14 * DAY and parse_age("1.5") == 1.5 * DAY
    for bad in ("", "d", "-3d", "3y", "3 days"):
        with pytest.raises(ConfigError):
            parse_age(bad)
    assert format_size(512) == "512 B" and format_size(1536) == "1.5 KiB" and format_size(3 << 30) == "3.0 GiB"
    assert format_age(40) == "40s" and format_age(300) == "5m" and format_age(3 * DAY + 5) == "3d"
    with pytest.raises(ConfigError):
        list_entries(["downloads"])


def test_symlinks_planted_in_the_cache_are_not_followed(cache, tmp_path):
    outside = tmp_path / "precious"
    (outside / "dir").mkdir(parents=True)
    (outside / "dir" / "meta.json").write_text('{"root": "x"}')
    (outside / "dir" / "images.npy").write_bytes(b"keep me")
    (outside / "file.npy").write_bytes(b"keep me too")
    feats, images = cache / "features", cache / "images"
    (feats / f"planted-{'a' * 24}.npy").symlink_to(outside / "file.npy")
    (feats / f"planted-{'a' * 24}.json").symlink_to(outside / "file.npy")
    (images / ("b" * 24)).symlink_to(outside / "dir", target_is_directory=True)
    entry = list_entries(["images"])[0].path
    (entry / "extra").symlink_to(outside / "dir", target_is_directory=True)  # a link inside a real entry
    (feats / "README").write_text("not a cache file")
    listed = invoke("cache", "list").stdout
    assert f"planted-{'a' * 24}" not in listed and "b" * 24 not in listed
    res = invoke("cache", "clear", "--yes")
    assert res.exit_code == 0, res.output
    assert "removed 3 entries" in res.stdout
    assert (outside / "file.npy").read_bytes() == b"keep me too"
    assert sorted(p.name for p in (outside / "dir").iterdir()) == ["images.npy", "meta.json"]
    assert (feats / f"planted-{'a' * 24}.npy").is_symlink() and (images / ("b" * 24)).is_symlink()
    assert (feats / "README").is_file() and not entry.exists()


def test_clear_entries_refuses_what_is_outside_the_cache_folders(cache, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "data").write_text("keep")
    folders = cache_folders()
    forged = [CacheEntry("images", victim, "forged", 1, 0.0, (victim,)),
              CacheEntry("images", folders["images"] / ".." / ".." / "victim", "dot-dot", 1, 0.0),
              CacheEntry("features", victim / "data", "forged file", 1, 0.0, (victim / "data",)),
              CacheEntry("other", victim, "unknown kind", 1, 0.0)]
    result = clear_entries(forged)
    assert result.removed == [] and result.freed == 0 and len(result.failed) == 4
    assert (victim / "data").read_text() == "keep"
    link = folders["images"] / ("c" * 24)
    link.symlink_to(victim, target_is_directory=True)
    result = clear_entries([CacheEntry("images", link, "link", 1, 0.0, (link,))])
    assert "link" in result.failed[0][1] and (victim / "data").is_file() and link.is_symlink()


def test_unfinished_writes_are_left_to_running_processes(cache):
    feats, images = cache / "features", cache / "images"
    fresh_tmp = feats / f".hog-{'d' * 24}.npy.abc123_x.tmp"
    fresh_tmp.write_bytes(b"being written")
    decoding = images / f".{'e' * 24}.tmp-123-0abc1234"
    decoding.mkdir()
    (decoding / "images.npy").write_bytes(b"being decoded")
    assert len(list_entries()) == 3                    # too recent to be a crashed run's leftovers
    for p in (fresh_tmp, decoding / "images.npy", decoding):
        _age(p, 1)
    assert sorted(e.summary for e in list_entries() if e.path.name.startswith(".")) == ["unfinished decode",
                                                                                      "unfinished write"]
    assert invoke("cache", "clear", "-y").exit_code == 0
    assert not fresh_tmp.exists() and not decoding.exists()


def test_histnet_subprocess_lists_and_clears(cache):
    exe = shutil.which("histnet") or os.path.join(os.path.dirname(sys.executable), "histnet")
    env = {**os.environ, "HISTNET_CACHE": str(cache)}

    def run(*args):
        return subprocess.run([exe, "cache", *args], input="", capture_output=True, text=True, timeout=120, env=env)

    listed = run("list")
    assert listed.returncode == 0, listed.stderr
    assert "total: 3 entries" in listed.stdout and "hog-svm-train" in listed.stdout
    refused = run("clear")                                 # no terminal to answer: nothing is deleted
    assert refused.returncode == 1 and len(list_entries()) == 3
    cleared = run("clear", "--yes")
    assert cleared.returncode == 0 and cleared.stdout.startswith("Freed ") and list_entries() == []
    bad = run("clear", "--older-than", "x", "--yes")
    assert bad.returncode == 1 and bad.stderr.startswith("Error:") and "Traceback" not in bad.stderr


def test_a_locked_decode_is_never_listed_however_old(cache):
    fcntl = pytest.importorskip("fcntl")
    decoding = cache / "images" / f".{'f' * 24}.tmp-123-0abc1234"
    decoding.mkdir()
    fd = os.open(decoding / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)                     # as a live decode holds it
        for p in (decoding / ".lock", decoding):
            _age(p, 1)
        assert decoding not in [e.path for e in list_entries()]
        assert invoke("cache", "clear", "--yes").exit_code == 0 and decoding.is_dir()
    finally:
        os.close(fd)
    assert decoding in [e.path for e in list_entries()]  # its writer died: now it is a leftover
