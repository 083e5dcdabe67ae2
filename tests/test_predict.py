"""A trained model is kept and usable: `histnet run` saves model.npz beside the record,
`histnet predict` classifies image files with it by class name, with the same error as the
record on the same test images."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from histnet.data import load_splits
from histnet_cli.main import cli

DATA = ["-d", "mnist5k", "--n-per-class", "30", "--test-n-per-class", "5"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _test_images_as_png(folder):
    """The run's own test split (same seed and subset), written as PNG files."""
    splits = load_splits("mnist5k", seed=0, n_per_class=30, test_n_per_class=5)
    folder.mkdir()
    for i in range(len(splits.test)):
        Image.fromarray(splits.test.get_images([i])[0][..., 0]).save(folder / f"{i:03d}.png")
    return splits.test.labels, splits.test.class_names


@pytest.mark.parametrize("method,extra", [
    ("pixels-svm", []),
    ("alexnet-cifar", ["--profile", "quick", "--set", "epochs=1", "--set", "width=0.125"]),
])
def test_predict_on_the_test_images_gives_the_records_error(tmp_path, method, extra):
    res = invoke("run", method, *DATA, *extra, "--out", tmp_path / "runs", "--json")
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output.strip().splitlines()[-1])
    run = tmp_path / "runs" / rec["run_id"]
    assert rec["model"] == "model.npz" and (run / "model.npz").is_file()
    labels, names = _test_images_as_png(tmp_path / "imgs")
    res = invoke("predict", run, tmp_path / "imgs", "--json", "--top", "5")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [o["image"].endswith(f"{i:03d}.png") for i, o in enumerate(out)] == [True] * len(labels)
    predicted = [names.index(o["top"][0]["class"]) for o in out]
    assert np.mean(np.asarray(predicted) != labels) == pytest.approx(rec["top1_error"])
    top5_miss = [names[y] not in [t["class"] for t in o["top"]] for o, y in zip(out, labels)]
    assert np.mean(top5_miss) == pytest.approx(rec["top5_error"])


def test_predict_as_a_user_runs_it_and_what_goes_wrong(tmp_path):
    assert invoke("run", "pixels-svm", *DATA, "--out", tmp_path / "runs").exit_code == 0
    (run,) = (tmp_path / "runs").iterdir()
    _test_images_as_png(tmp_path / "imgs")
    exe = shutil.which("histnet") or os.path.join(os.path.dirname(sys.executable), "histnet")
    proc = subprocess.run([exe, "predict", str(run), str(tmp_path / "imgs" / "000.png")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert line.startswith(str(tmp_path / "imgs" / "000.png") + ": ") and len(line.split(", ")) == 5
    # not an image, a folder of runs, a run kept with --no-save: one Error line each
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    for args, needle in [((run, bad), "notes.png: not a readable image"),
                         ((tmp_path / "runs", bad), "no model.npz in this folder")]:
        res = invoke("predict", *args)
        assert res.exit_code == 1 and res.output.startswith("Error:") and needle in res.output, res.output
    res = invoke("run", "pixels-svm", *DATA, "--no-save", "--seed", "1", "--out", tmp_path / "unsaved", "--json")
    rec = json.loads(res.output.strip().splitlines()[-1])
    assert rec["model"] is None and not (tmp_path / "unsaved" / rec["run_id"] / "model.npz").exists()


def test_a_compact_model_is_smaller_and_scores_as_the_original(tmp_path):
    from histnet.experiment import predict_in_batches
    from histnet.io import load_npz
    from histnet.methods.saved import compact_model, load_model

    res = invoke("run", "alexnet-cifar", *DATA, "--set", "epochs=1", "--set", "width=0.25", "--out", tmp_path, "--json")
    assert res.exit_code == 0, res.output
    run = tmp_path / json.loads(res.output.strip().splitlines()[-1])["run_id"]
    info = compact_model(run, tmp_path / "small.npz")
    before, after = info["bytes"]
    assert after < 0.6 * before and {"net/conv2.W", "net/fc6.W"} <= set(info["arrays"])  # the large weights
    stored = load_npz(tmp_path / "small.npz")
    assert {str(stored[f"state/{a}"].dtype) for a in info["arrays"]} == {"float16"}
    assert json.loads(str(stored["meta"]))["compact"]["dtype"] == "float16"
    test = load_splits("mnist5k", seed=0, n_per_class=30, test_n_per_class=5).test
    full, small = load_model(run), load_model(tmp_path / "small.npz")
    assert all(p.dtype == np.float32 for p in small.net_.state_dict().values())
    a, b = predict_in_batches(full, test), predict_in_batches(small, test)
    assert np.abs(a - b).max() < 1e-2 and (a.argmax(1) == b.argmax(1)).mean() >= 0.98


def test_a_compact_dbn_without_its_rbms_still_predicts(tmp_path):
    from histnet.experiment import predict_in_batches
    from histnet.io import load_npz
    from histnet.methods.saved import compact_model, load_model

    res = invoke("run", "dbn", *DATA, "--set", "hidden_layers=16,8", "--set", "rbm_epochs=1",
                 "--set", "finetune_epochs=1", "--out", tmp_path, "--json")
    assert res.exit_code == 0, res.output
    run = tmp_path / json.loads(res.output.strip().splitlines()[-1])["run_id"]
    compact_model(run, tmp_path / "mlp.npz", dtype="float32", drop=("rbm/",))
    stored = load_npz(tmp_path / "mlp.npz")
    assert not any(k.startswith("state/rbm/") for k in stored) and any(k.startswith("state/mlp/") for k in stored)
    assert json.loads(str(stored["meta"]))["compact"]["dropped"]
    test = load_splits("mnist5k", seed=0, n_per_class=30, test_n_per_class=5).test
    np.testing.assert_array_equal(predict_in_batches(load_model(run), test),
                                  predict_in_batches(load_model(tmp_path / "mlp.npz"), test))
