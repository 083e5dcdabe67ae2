"""A method from another distribution, through the `histnet.methods` entry point, appears in the
CLI and runs; a broken plug-in costs one line and the built-in methods still run."""

import json
import os
import shutil
import subprocess
import sys

PLUGIN = '''
import dataclasses
import numpy as np
from histnet.methods import Method

@dataclasses.dataclass
class Cfg:
    pass

class MeanPixel(Method):
    """Classifies by the nearest class-mean brightness (a deliberately tiny plug-in)."""
    name = "plugin-mean-pixel"
    year = 2030
    paper = "A plug-in, 2030"
    family = "baseline"
    Config = Cfg

    def fit(self, train, val=None):
        sums = np.zeros(train.n_classes); counts = np.zeros(train.n_classes)
        for images, labels in train.batches(500):
            np.add.at(sums, labels, images.reshape(len(images), -1).mean(1))
            counts += np.bincount(labels, minlength=train.n_classes)
        self.means_ = sums / np.maximum(counts, 1)
        return self

    def predict_scores(self, images):
        m = images.reshape(len(images), -1).mean(1)
        return -np.abs(m[:, None] - self.means_[None, :])
'''


def make_distribution(site, name, module_source, entry_points):
    pkg = site / name.replace("-", "_")
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(module_source)
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[histnet.methods]\n" + entry_points + "\n")


def histnet(*args, env):
    exe = shutil.which("histnet") or os.path.join(os.path.dirname(sys.executable), "histnet")
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=300)


def test_entry_point_method_is_listed_and_runs(tmp_path):
    site = tmp_path / "site"
    make_distribution(site, "histnet-plugin-demo", PLUGIN,
                      "plugin-mean-pixel = histnet_plugin_demo:MeanPixel")
    make_distribution(site, "histnet-plugin-broken", "raise ImportError('missing dependency xyz')",
                      "plugin-broken = histnet_plugin_broken:Nothing")
    env = dict(os.environ, PYTHONPATH=str(site) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    listed = histnet("methods", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "plugin-mean-pixel" in listed.stdout and "2030" in listed.stdout
    assert "pixels-svm" in listed.stdout  # built-ins still there
    broken = [ln for ln in listed.stderr.splitlines() if "plugin-broken" in ln]
    assert len(broken) == 1 and "missing dependency xyz" in broken[0]

    ran = histnet("--quiet", "run", "plugin-mean-pixel", "-d", "mnist5k", "--n-per-class", "20",
                  "--test-n-per-class", "10", "--json", "--out", str(tmp_path / "runs"), env=env)
    assert ran.returncode == 0, ran.stderr
    rec = json.loads(ran.stdout)
    assert rec["method"] == "plugin-mean-pixel" and rec["status"] == "ok"
    assert 0.0 <= rec["top1_error"] <= 1.0 and rec["metrics"]["n_images"] == 100

    failed = histnet("run", "plugin-broken", "-d", "mnist5k", env=env)
    assert failed.returncode == 2 and "plugin-broken" in failed.stderr
