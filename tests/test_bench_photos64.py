"""benchmarks/photos64.py: its image folder (layout, counts, 64-px RGB JPEGs, the same for a
seed, a foreign folder left alone) and one whole run at a tiny size as a user runs it (a real
``python benchmarks/photos64.py`` process: the progression, the old-settings run, the tables)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "photos64.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_photos64", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def photos64():
    return _load()


def _files(root: Path) -> list:
    return sorted(p.relative_to(root) for p in root.rglob("*.jpg"))


def test_generate_writes_an_imagefolder_of_64px_colour_jpegs(tmp_path, photos64):
    from PIL import Image

    root = tmp_path / "p"
    info = photos64.generate(root, n_train=30, n_test=20, seed=3)
    assert info["generated"] and info["complete"]
    for split, n in (("train", 30), ("test", 20)):
        classes = sorted(d.name for d in (root / split).iterdir() if d.is_dir())
        assert classes == sorted(photos64.CLASSES) and len(classes) == 10
        assert sum(len(list((root / split / c).glob("*.jpg"))) for c in classes) == n
        assert {len(list((root / split / c).glob("*.jpg"))) for c in classes} == {n // 10}
    for path in list((root / "train").rglob("*.jpg"))[:5]:
        with Image.open(path) as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.size == (64, 64)
            a = np.asarray(im)
        assert a.std() > 10  # a picture, not a flat colour
    # histnet reads it as a 10-class ImageFolder with the same counts
    from histnet.data.folder import detect_layout, read_imagefolder

    assert detect_layout(root)[0] == "imagefolder"
    splits = read_imagefolder(root)
    assert len(splits["train"].files) == 30 and len(splits["test"].files) == 20
    assert len(splits["train"].class_names) == 10


def test_generate_is_deterministic_for_a_seed_and_skips_a_finished_folder(tmp_path, photos64):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    photos64.generate(a, n_train=20, n_test=10, seed=0)
    photos64.generate(b, n_train=20, n_test=10, seed=0)
    photos64.generate(c, n_train=20, n_test=10, seed=1)
    assert _files(a) == _files(b) == _files(c)
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in _files(a))
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in _files(a))
    # the same arguments again: nothing is rewritten
    before = {f: (a / f).stat().st_mtime_ns for f in _files(a)}
    assert photos64.generate(a, n_train=20, n_test=10, seed=0)["generated"] is False
    assert {f: (a / f).stat().st_mtime_ns for f in _files(a)} == before
    # other counts: its own earlier output is redone
    assert photos64.generate(a, n_train=30, n_test=10, seed=0)["generated"] is True
    assert len(list((a / "train").rglob("*.jpg"))) == 30


def test_generate_refuses_a_folder_it_did_not_write(tmp_path, photos64):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep me")
    with pytest.raises(photos64.FolderNotOurs, match="not written by photos64.py"):
        photos64.generate(root, n_train=10, n_test=10)
    assert [p.name for p in root.iterdir()] == ["notes.txt"]
    proc = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), "--generate-only"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not written by photos64.py" in proc.stderr
    assert (root / "notes.txt").read_text() == "keep me"
    # nor an --out it did not write (the images are written first, then --out is checked)
    proc = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tmp_path / "photos"), "--out", str(root),
                           "--n-train", "10", "--n-test", "10"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not written by photos64.py" in proc.stderr and "--out" in proc.stderr
    assert [p.name for p in root.iterdir()] == ["notes.txt"]


def test_a_tiny_run_end_to_end_prints_both_tables(tmp_path):
    root, out = tmp_path / "photos", tmp_path / "out"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), "--out", str(out), "--n-train", "20",
                           "--n-test", "10", "--methods", "pixels-svm", "--compare-today", "--no-figures"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| pixels-svm |" in proc.stdout and "Total wall time of the command" in proc.stdout
    assert "bar 15 min on two cores" in proc.stdout
    assert "| method | error, rules | error, old settings |" in proc.stdout
    assert (out / "summary.md").read_text().strip() == proc.stdout.strip()
    summary = json.loads((out / "summary.json").read_text())
    assert [r["method"] for r in summary["rows"]] == ["pixels-svm"]
    row = summary["rows"][0]
    assert row["status"] == "ok" and 0 <= row["top1_error"] <= 1 and row["fit_s"] > 0
    assert row["settings"] == {"downscale": 2}  # ceil(64 / 32): the rule's choice, from result.json
    assert summary["progression"]["wall_s"] > 0 and summary["within_bar"] is True
    (cmp,) = summary["today"]["compare"]
    assert cmp["method"] == "pixels-svm" and cmp["old_settings"] == {"downscale": "1"}
    assert cmp["no_worse"] == (cmp["rules_error"] <= cmp["old_error"])
    (old,) = summary["today"]["rows"]
    assert old["settings"] == {"downscale": 1}
    assert (out / "cache").is_dir()  # the run's own cache, under OUT
