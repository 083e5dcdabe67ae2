"""Every CNN method's `full` profile learns: on a few hundred generated colour images the
training loss falls far below chance within a few hundred steps.

This is the test that would have caught the PCA colour noise a hundred times too strong
(the `alexnet` and `alexnet-64` full profiles use it; with it, the loss here stays above
1.1 = 0.8 ln 4). The recipe is the profile's; only what must shrink to fit a test changes:
the width (1/8 or 1/16), the data (a few hundred images), the schedule's length (about
200 steps) and the batch (32, the learning rate scaled linearly with it).
"""

import math

import pytest

from histnet.data.synthetic import oriented_gratings
from histnet.methods import available_methods, make_config

# resnet-56 is resnet-20's code and profile with three times the blocks: one of them is enough here
SAME_AS = {"resnet-56": "resnet-20"}
CNNS = sorted(n for n, c in available_methods().items()
              if c.family == "cnn" and "full" in c.profiles and n not in SAME_AS)

# width per native input size: small enough for a test, wide enough that every group splits
WIDTH = {32: 0.25, 64: 0.125, 227: 0.0625}
WIDTH_OF = {"nin-cifar": 0.125, "vgg-cifar": 0.125}  # 192- and 512-filter layers


def test_the_cnn_methods_are_all_here():
    assert {"alexnet", "alexnet-64", "alexnet-cifar", "zfnet-cifar", "vgg-cifar", "nin-cifar", "resnet-20"} <= set(CNNS)
    for a, b in SAME_AS.items():
        ca, cb = available_methods()[a], available_methods()[b]
        assert ca.profiles == cb.profiles and ca.layers is cb.layers


@pytest.mark.slow
@pytest.mark.parametrize("name", CNNS)
def test_full_profile_learns_on_generated_colour_images(name):
    cls = available_methods()[name]
    size = cls.input_size
    full = make_config(cls, profile="full")
    n, batch = (320, 32) if size <= 64 else (160, 32)
    overrides = {"width": WIDTH_OF.get(name, WIDTH.get(size, 0.0625)), "batch_size": batch, "lr": full.lr * batch / full.batch_size,
                 "epochs": math.ceil(200 / math.ceil(n / batch)), "min_steps": 0, "stop_if_stuck": False}
    if full.init == "paper":
        # N(0, 0.01) keeps the signal only at the published widths (each layer scales it by
        # about 0.01 sqrt(fan-in)); at 1/16 width it vanishes and nothing trains, noise or not.
        # He initialisation on standardised input keeps the rest of the recipe testable.
        overrides.update(init="he", normalize="meanstd")
    cfg = make_config(cls, overrides, profile="full")
    assert cfg.pca_noise == full.pca_noise and cfg.crop_pad == full.crop_pad and cfg.flip == full.flip
    m = cls(cfg, seed=0).fit(oriented_gratings(n, size, 4, seed=1))
    losses = [h["train_loss"] for h in m.history_]
    assert losses[-1] < 0.5 * math.log(4), losses


def test_a_stuck_net_ends_the_run_with_one_line_and_a_record(tmp_path):
    """`histnet run` of a net that cannot learn (learning rate 0): one `Error:` line with the
    likely causes, exit status 1, and a failed record that keeps the learning curve."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    exe = shutil.which("histnet") or os.path.join(os.path.dirname(sys.executable), "histnet")
    proc = subprocess.run([exe, "run", "alexnet-cifar", "-d", "mnist5k", "--n-per-class", "20",
                           "--test-n-per-class", "5", "--profile", "quick", "--set", "lr=0", "--set", "width=0.125",
                           "--set", "epochs=200", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    err = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert len(err) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "not learning" in err[0] and "ln 10 = 2.303" in err[0] and "stop_if_stuck=false" in err[0]
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    rec = json.loads((run / "result.json").read_text())
    assert rec["status"] == "failed" and rec["warnings"] and "not learning" in rec["warnings"][0]
    # 4 steps an epoch: 25 epochs of warm-up, then 75 at chance
    assert len(rec["learning_curve"]) == 100
    assert (run / "alexnet-cifar-checkpoint.npz").is_file()
