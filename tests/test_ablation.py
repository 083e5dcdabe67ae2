"""`histnet ablate`: arms' overrides reach the method, a user's own arm runs, the verdicts on
synthetic records, and a killed ablation resumes arm by arm to the same table."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from histnet.ablation import FULL, Arm, ablation_table, arms_of, epochs_to, judge, lowest_error, parse_arm, run_ablation
from histnet.errors import ConfigError
from histnet.methods import get_method, make_config
from histnet.nn import Conv2D, MaxPool2D, Tanh
from histnet.nn.core import _all_layers
from histnet_cli.main import cli

TINY = {"n_per_class": 10, "test_n_per_class": 5}
SHORT = {"epochs": "2", "width": "0.125"}


def _net(name, arm):
    cls = get_method(name)
    over = dict(cls.ablations[arm]["set"])
    return cls(make_config(cls, over, profile="full")).build(3, 10)


def test_the_arms_overrides_reach_the_network():
    layers = _all_layers(_net("alexnet-cifar", "tanh"))
    assert sum(isinstance(l, Tanh) for l in layers) == 7 and not any(type(l).__name__ == "ReLU" for l in layers)
    pools = [l for l in _all_layers(_net("alexnet-cifar", "pool-2x2")) if isinstance(l, MaxPool2D)]
    assert [(p.k, p.stride) for p in pools] == [(2, 2)] * 3
    names = [l.name for l in _all_layers(_net("alexnet-cifar", "minus-conv4"))]
    assert "conv4" not in names and "conv5" in names
    groups = {l.name: l.groups for l in _all_layers(_net("alexnet-cifar", "two-groups")) if isinstance(l, Conv2D)}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    one = {l.name: l.groups for l in _all_layers(_net("alexnet", "one-group")) if isinstance(l, Conv2D)}
    assert set(one.values()) == {1}
    assert _net("resnet-20", "plain").n_params() == 269_722
    # the defaults are the published nets
    full = {l.name: l.groups for l in _all_layers(get_method("alexnet")().build(3, 10)) if isinstance(l, Conv2D)}
    assert full["conv2"] == full["conv4"] == full["conv5"] == 2


def test_arms_are_data_and_a_users_arm_parses():
    arms = arms_of(get_method("alexnet-cifar"))
    assert {"tanh", "no-lrn", "pool-2x2", "no-dropout", "no-augmentation", "pca-noise", "center-crop",
            "minus-conv4", "half-width"} <= {a.name for a in arms}
    assert all(a.claim and a.citation for a in arms if a.expect)
    a = parse_arm("no-flip=flip=false,crop_pad=0")
    assert a.name == "no-flip" and a.overrides == {"flip": "false", "crop_pad": "0"} and a.expect == ""
    assert parse_arm("wide=width=2.0").overrides == {"width": "2.0"}
    with pytest.raises(ConfigError, match="expected NAME=PARAM=VALUE"):
        parse_arm("nothing")
    with pytest.raises(ConfigError, match="declares no arm 'fly'"):
        arms_of(get_method("alexnet-cifar"), ["fly"])


def _rec(err, curve=None, status="ok"):
    return {"method": "m", "status": status, "top1_error": err, "learning_curve": curve or [],
            "timing": {"fit_s": 1.0}, "error": "boom" if status != "ok" else None}


def _curve(errors):
    return [{"epoch": i + 1, "train_error": e, "seconds": 10.0} for i, e in enumerate(errors)]


def test_verdicts_on_synthetic_records():
    worse = Arm("no-x", "", {}, expect="worse")
    assert judge(worse, [_rec(0.20)], [_rec(0.25)])[0] == "holds"
    assert judge(worse, [_rec(0.20)], [_rec(0.15)])[0] == "does not hold here"
    assert "spread is unknown" in judge(worse, [_rec(0.20)], [_rec(0.25)])[1]
    # several seeds: a difference no larger than the spread is noise, never an effect
    v, why = judge(worse, [_rec(0.20), _rec(0.24)], [_rec(0.22), _rec(0.23)])
    assert v == "within the noise" and "not an effect" in why
    assert judge(worse, [_rec(0.20), _rec(0.21)], [_rec(0.30), _rec(0.31)])[0] == "holds"
    assert judge(worse, [_rec(0.2)], [_rec(None, status="failed")])[0] == "not comparable"
    assert judge(Arm("mine", "", {}), [_rec(0.2)], [_rec(0.3)])[0] == "reported"
    assert judge(Arm("more", "", {}, expect="better"), [_rec(0.2)], [_rec(0.1)])[0] == "holds"
    slower = Arm("tanh", "", {}, expect="slower")
    relu, tanh = _curve([0.6, 0.3, 0.2, 0.1]), _curve([0.8, 0.6, 0.5, 0.4, 0.3, 0.24])
    assert epochs_to(relu) == (3, 30.0) and epochs_to(tanh) == (6, 60.0)
    v, why = judge(slower, [_rec(0.1, relu)], [_rec(0.2, tanh)])
    assert v == "holds" and "2.0 times faster (paper: six, at 25%)" in why
    v, why = judge(slower, [_rec(0.1, relu)], [_rec(0.2, _curve([0.8, 0.7]))])
    assert v == "holds" and "tanh not in 2" in why
    # a schedule too short for ReLU to reach 25%: the same measure at the lowest error both reached
    v, why = judge(slower, [_rec(0.5, _curve([0.6, 0.5]))], [_rec(0.5, _curve([0.8, 0.6, 0.55]))])
    assert v == "holds" and "did not reach 25% training error in 2 epochs; measured at 55.0%" in why
    assert "after 2.0 epochs with ReLU, 3.0 with tanh: 1.5 times faster" in why
    assert judge(slower, [_rec(0.5, _curve([0.6, 0.5]))], [_rec(0.5, [])])[0] == "not comparable"
    # the trainer's trace resolves the measure to a tenth of an epoch
    traced = [{"epoch": 1, "train_error": 0.5, "seconds": 10.0,
               "trace": [[0.5, 0.6, 5.0], [1.0, 0.4, 10.0]]},
              {"epoch": 2, "train_error": 0.3, "seconds": 10.0,
               "trace": [[1.5, 0.33, 5.0], [2.0, 0.24, 10.0]]}]
    assert epochs_to(traced) == (2.0, 20.0) and epochs_to(traced, 0.4) == (1.0, 10.0)
    assert epochs_to(traced, 0.35) == (1.5, 15.0) and lowest_error(traced) == 0.24
    # an epoch's last window of one small batch (records before the trainer folded the
    # remainder in) is too noisy to measure with, and is left out
    tail = [{"epoch": 1, "train_error": 0.5, "seconds": 10.0,
             "trace": [[0.4, 0.6, 4.0], [0.8, 0.5, 8.0], [0.998, 0.45, 9.9], [1.0, 0.1, 10.0]]}]
    assert lowest_error(tail) == 0.45 and epochs_to(tail, 0.2) is None
    table = ablation_table([worse], {FULL: [_rec(0.2)], "no-x": [_rec(0.25)]})
    assert list(table["arm"]) == [FULL, "no-x"] and table.iloc[1]["vs full (points)"] == "+5.00"


def test_a_users_arm_runs_through_the_cli(tmp_path):
    res = CliRunner().invoke(cli, ["ablate", "pixels-svm", "--n-per-class", "10", "--test-n-per-class", "5",
                                   "--arm", "tiny-c=C=1e-6", "--out", str(tmp_path / "abl")])
    assert res.exit_code == 0, res.output
    rows = [ln for ln in res.output.splitlines() if ln.startswith("| tiny-c ")]
    assert len(rows) == 1 and "| reported |" in rows[0]
    assert "Quick runs are not evidence" in res.output
    assert (tmp_path / "abl" / "ablation.md").is_file() and (tmp_path / "abl" / "COMMAND.txt").is_file()
    bad = CliRunner().invoke(cli, ["ablate", "pixels-svm", "--arm", "x=nonsense=1", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 1 and "arm 'x'" in bad.output and "nonsense" in bad.output
    assert not (tmp_path / "b").exists()


def test_kill_and_resume_gives_the_same_table(tmp_path):
    kw = dict(data=TINY, overrides=SHORT, arms=["tanh", "no-lrn"], figures=False)
    ref = run_ablation("alexnet-cifar", "mnist5k", out=tmp_path / "ref", **{**kw, "figures": True})
    assert (tmp_path / "ref" / "training_error.png").is_file()  # the paper's Figure 1 measure, drawn
    calls = {"n": 0}

    def stop_in_second_arm(ev):
        if "epoch" in ev.stage:
            calls["n"] += 1
            if calls["n"] == 6:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_ablation("alexnet-cifar", "mnist5k", out=tmp_path / "run", progress=stop_in_second_arm, **kw)
    res = run_ablation("alexnet-cifar", "mnist5k", out=tmp_path / "run", resume=True, **kw)
    assert res.records[FULL][0].get("skipped") is True
    cols = ["arm", "top-1 error", "vs full (points)", "epochs to 25% train error", "verdict"]
    got, want = res.table[cols].copy(), ref.table[cols].copy()
    got["epochs to 25% train error"] = got["epochs to 25% train error"].str.split(" ").str[0]
    want["epochs to 25% train error"] = want["epochs to 25% train error"].str.split(" ").str[0]
    assert got.equals(want)
    curves = [json.dumps([e["train_loss"] for e in r["learning_curve"]]) for rs in res.records.values() for r in rs]
    ref_curves = [json.dumps([e["train_loss"] for e in r["learning_curve"]]) for rs in ref.records.values()
                  for r in rs]
    assert curves == ref_curves


def test_the_committed_dbn_ablation_table_matches_the_records():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "results"
    md = (root / "ablation-dbn-mnist" / "ablation.md").read_text()
    arms = {a["arm"]: a for a in json.loads((root / "dbn-mnist" / "result.json").read_text())["arms"]}
    assert f"| {100 * arms['pretrained']['test_error']:.2f}% |" in md
    assert f"| {100 * arms['random-init']['test_error']:.2f}% |" in md and "| holds |" in md
    assert np.isclose(100 * (arms["random-init"]["test_error"] - arms["pretrained"]["test_error"]), 0.95)


def test_an_arm_that_changes_nothing_under_the_profile_is_not_comparable(tmp_path):
    # the quick profile already has no augmentation: that arm is the full recipe itself; and
    # colour noise on grey digits is no change either (the method's inert_settings)
    res = run_ablation("alexnet-cifar", "mnist5k", data=TINY, overrides=SHORT, arms=["no-augmentation", "pca-noise"],
                       figures=False, out=tmp_path / "a")
    for arm in ("no-augmentation", "pca-noise"):
        row = res.table[res.table["arm"] == arm].iloc[0]
        assert row["verdict"] == "not comparable" and "changes nothing here" in row["why"]
        assert not res.records.get(arm)  # and it is not run
    net = get_method("alexnet-cifar")()
    assert net.inert_settings((28, 28, 1)) == {"pca_noise": 0.0} and net.inert_settings((32, 32, 3)) == {}
    assert len([d for d in (tmp_path / "a").iterdir() if d.is_dir()]) == 1


def test_an_arm_that_only_scores_differently_reuses_the_full_recipes_weights(tmp_path):
    # with ten-crop testing in the recipe, the centre-crop arm is the same net scored another way
    res = run_ablation("alexnet-cifar", "mnist5k", data=TINY, overrides={**SHORT, "test_crops": "ten"},
                       arms=["center-crop"], figures=False, out=tmp_path / "a")
    (full,), (arm,) = res.records[FULL], res.records["center-crop"]
    assert arm["status"] == "ok" and arm["weights_from"] == full["run_id"]
    assert arm["learning_curve"] == full["learning_curve"]  # no training of its own
    assert arm["config"]["test_crops"] == "center" and full["config"]["test_crops"] == "ten"
    assert arm["timing"]["fit_s"] < full["timing"]["fit_s"] / 3
    row = res.table[res.table["arm"] == "center-crop"].iloc[0]
    assert "scored with the full recipe's trained weights" in row["why"]
    # the scored copy is the full recipe's net: its ten-crop scores are the full recipe's
    from histnet.experiment import JobSpec, run_job
    again = run_job(JobSpec("alexnet-cifar", "mnist5k", profile="quick", overrides={**SHORT, "test_crops": "ten",
                                                                                     "epochs": "2"},
                            data=TINY, weights_from=full["run_id"]), tmp_path / "a")
    assert again["top1_error"] == full["top1_error"]


def test_a_scoring_arm_takes_the_weights_of_a_full_recipe_resume_found_under_another_id(tmp_path):
    # the full recipe made earlier with one more --set value, equal to the profile's: another run
    # id, the same configuration; --resume reuses it, and the scoring arm scores its weights
    from histnet.experiment import JobSpec, run_job
    from histnet.studies import data_options
    over = {**SHORT, "test_crops": "ten"}
    made = run_job(JobSpec("alexnet-cifar", "mnist5k", profile="quick", overrides={**over, "momentum": "0.9"},
                           data=data_options(TINY)), tmp_path / "a")
    assert made["status"] == "ok"
    res = run_ablation("alexnet-cifar", "mnist5k", data=TINY, overrides=over, arms=["center-crop"], figures=False,
                       out=tmp_path / "a", resume=True)
    (full,), (arm,) = res.records[FULL], res.records["center-crop"]
    assert full.get("skipped") and full["run_id"] == made["run_id"]
    assert arm["status"] == "ok" and arm["weights_from"] == made["run_id"]
    assert arm["learning_curve"] == made["learning_curve"]
    assert len([p for p in (tmp_path / "a").iterdir() if p.is_dir()]) == 2  # no second full recipe trained


def test_an_arm_whose_runs_are_the_full_recipes_is_not_comparable():
    curve = _curve([0.5, 0.3])
    for c in curve:
        c["train_loss"] = 1.0
    same = ablation_table([Arm("pca-noise", "", {}, expect="better")],
                          {FULL: [_rec(0.053, curve)], "pca-noise": [_rec(0.053, [dict(c) for c in curve])]})
    assert same.iloc[1]["verdict"] == "not comparable" and "no effect on this data" in same.iloc[1]["why"]


def test_the_caption_gives_the_schedule_this_data_gets(tmp_path):
    # 100 images in batches of 64: 2 steps an epoch, so min_steps=6 raises 2 epochs to 3
    res = run_ablation("alexnet-cifar", "mnist5k", data=TINY, overrides={**SHORT, "min_steps": "6"}, arms=["no-lrn"],
                       figures=False, out=tmp_path / "a")
    assert "epochs=2" in res.caption and "on these 100 training images 3 epochs, raised to reach min_steps=6" in res.caption
    assert [len(r["learning_curve"]) for rs in res.records.values() for r in rs] == [3, 3]



def test_the_committed_cifar10_ablation_table_matches_its_records():
    """results/ablation-cifar10: every row of the committed table is what its records give."""
    import pandas as pd
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "results" / "ablation-cifar10"
    by_arm = {}
    for f in sorted(folder.glob("*/result.json")):
        rec = json.loads(f.read_text())
        by_arm.setdefault(rec["tag"].removeprefix("ablation "), []).append(rec)
    arms = arms_of(get_method("alexnet-cifar"))
    assert set(by_arm) == {FULL} | {a.name for a in arms}  # every arm ran on the full CIFAR-10 copy
    assert all(r["status"] == "ok" and r["dataset"]["n_train"] == 50000 for rs in by_arm.values() for r in rs)
    assert by_arm["center-crop"][0]["weights_from"] == by_arm[FULL][0]["run_id"]
    table = ablation_table(arms, by_arm)
    committed = pd.read_csv(folder / "ablation.csv", dtype=str, keep_default_na=False)
    cols = ["arm", "top-1 error", "vs full (points)", "verdict", "why"]
    assert committed[cols].equals(table[cols].astype(str))
    assert (folder / "training_error.png").is_file() and (folder / "COMMAND.txt").is_file()
