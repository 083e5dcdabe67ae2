"""`cnn-features-svm` (DeCAF): a trained CNN run's penultimate layer feeds a linear SVM on
another data set, through the CLI as any method; its features are the trunk's outputs."""

import json

import numpy as np
from click.testing import CliRunner

from histnet.data.synthetic import oriented_gratings
from histnet.methods import get_method, make_config
from histnet.nn import Linear
from histnet_cli.main import cli

TINY = ["-d", "mnist5k", "--n-per-class", "20", "--test-n-per-class", "5"]


def _trained_cnn(tmp_path):
    """A small alexnet-cifar trained on generated colour images, kept as a run would keep it."""
    cls = get_method("alexnet-cifar")
    m = cls(make_config(cls, {"epochs": 2, "width": 0.25}, profile="quick")).fit(oriented_gratings(160, 32, 4))
    run = tmp_path / "cnn-run"
    run.mkdir()
    m.save(run / "model.npz", info={"class_names": [f"c{i}" for i in range(4)], "image_shape": [32, 32, 3]})
    return m, run


def test_features_are_the_trunk_before_the_classifier(tmp_path):
    cnn, run = _trained_cnn(tmp_path)
    cls = get_method("cnn-features-svm")
    m = cls(make_config(cls, {"source": str(run)}))
    grey = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    feats = m.extract(grey)
    assert feats.shape == (3, m.feature_dim()) == (3, 48)  # fc7 of a quarter-width net: 192 / 4
    x, _ = cnn._prepare(np.repeat(grey, 3, axis=-1), None, None, False)  # grey repeated into RGB
    layers = cnn.net_.layers
    for layer in layers[:max(i for i, l in enumerate(layers) if isinstance(l, Linear))]:
        x = layer.forward(x, train=False)
    np.testing.assert_allclose(feats, x, rtol=1e-5)
    assert (feats >= 0).all()  # after the ReLU


def test_off_the_shelf_features_run_as_any_method(tmp_path):
    _, run = _trained_cnn(tmp_path)
    res = CliRunner().invoke(cli, ["run", "cnn-features-svm", *TINY, "--set", f"source={run}", "--json",
                                   "--out", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output.strip().splitlines()[-1])
    assert rec["status"] == "ok" and rec["family"] == "transfer" and rec["describe"]["feature_dim"] == 48
    assert rec["top1_error"] < 0.8  # chance is 0.9: features of a net trained on gratings still carry digits
    # what goes wrong: no source; a source that is not a CNN
    res = CliRunner().invoke(cli, ["run", "cnn-features-svm", *TINY, "--out", str(tmp_path / "r2")])
    assert res.exit_code == 1 and "set source=RUN" in res.output
    assert CliRunner().invoke(cli, ["run", "pixels-svm", *TINY, "--out", str(tmp_path / "px")]).exit_code == 0
    (px,) = (tmp_path / "px").iterdir()
    res = CliRunner().invoke(cli, ["run", "cnn-features-svm", *TINY, "--set", f"source={px}",
                                   "--out", str(tmp_path / "r3")])
    assert res.exit_code == 1 and "a pixels-svm model, not a CNN" in res.output
