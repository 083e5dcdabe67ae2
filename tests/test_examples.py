"""The examples are whole methods in one file each: installed as plug-ins (entry points)
they appear in `histnet methods list` and join `histnet progression` with no other edit."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_plugin import make_distribution

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["lenet5", "color_histogram_svm"])
def test_an_example_is_one_short_file(name):
    lines = (EXAMPLES / f"{name}.py").read_text().splitlines()
    code = [ln for ln in lines if ln.strip()]
    assert len(lines) <= 65, len(lines)
    assert not any(ln.startswith(("from histnet.methods._", "from histnet.methods.alexnet")) for ln in code)


def test_colour_histograms_match_a_loop_over_regions():
    mod = _load("color_histogram_svm")
    m = mod.ColorHistogramSvm()
    images = np.random.default_rng(0).integers(0, 256, (3, 9, 7, 3), dtype=np.uint8)
    got = m.extract(images).reshape(3, 2, 2, 3, 16)
    for n in range(3):
        for r, rows in enumerate([slice(0, 5), slice(5, 9)]):  # 9 rows: 0-4 in region 0 (r * 2 // 9)
            for q, cols in enumerate([slice(0, 4), slice(4, 7)]):
                for ch in range(3):
                    h, _ = np.histogram(images[n, rows, cols, ch], bins=16, range=(0, 256))
                    np.testing.assert_allclose(got[n, r, q, ch], h / h.sum(), rtol=1e-6)
    assert m.feature_dim((9, 7, 3)) == 192


def _histnet(*args, env, timeout=600):
    exe = shutil.which("histnet") or os.path.join(os.path.dirname(sys.executable), "histnet")
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_examples_installed_as_plugins_join_the_progression(tmp_path):
    site = tmp_path / "site"
    make_distribution(site, "histnet-example-lenet", (EXAMPLES / "lenet5.py").read_text(),
                      "lenet-5 = histnet_example_lenet:LeNet5")
    make_distribution(site, "histnet-example-hist", (EXAMPLES / "color_histogram_svm.py").read_text(),
                      "color-histogram-svm = histnet_example_hist:ColorHistogramSvm")
    env = dict(os.environ, PYTHONPATH=str(site) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    listed = _histnet("methods", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    for name, year in [("lenet-5", "1998"), ("color-histogram-svm", "1991")]:
        (line,) = [ln for ln in listed.stdout.splitlines() if ln.startswith(name + " ")]
        assert year in line

    out = tmp_path / "prog"
    ran = _histnet("--quiet", "progression", "-d", "mnist5k", "--n-per-class", "10", "--test-n-per-class", "5",
                   "--out", str(out), "--no-figures", env=env)
    assert ran.returncode == 0, ran.stderr
    rows = [ln for ln in (out / "table.md").read_text().splitlines()[2:]]
    methods = [r.split("|")[2].strip() for r in rows]
    # discovered from the registry, in historical order, beside every built-in slot
    assert methods[:3] == ["color-histogram-svm", "pixels-svm", "lenet-5"]
    assert {"hog-svm", "dbn", "sift-fisher-svm", "alexnet-cifar"} <= set(methods)
    for r in rows[:3]:
        assert "%" in r.split("|")[4]  # a top-1 error, not a failure
