"""Time budgets (``--budget``): parsing, the Trainer fitting its schedule to a deadline, each
recipe finishing with a complete, scored record, a budget too small being one clear error,
and the equal-compute progression (one budget: a budget column; several: error against budget)."""

import json
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from histnet.budget import Budget, BudgetError, format_duration, parse_duration
from histnet.experiment import JobSpec
from histnet.nn import SGD, Linear, OneCycleLR, ReLU, Sequential, Trainer
from histnet_cli.main import cli

TINY = ["--dataset", "mnist5k", "--n-per-class", "40", "--test-n-per-class", "10"]


def _record(out: Path, method: str) -> dict:
    (path,) = list(out.glob(f"{method}__*/result.json"))
    return json.loads(path.read_text())


@pytest.mark.parametrize("text,seconds", [("90", 90), ("90s", 90), ("2.5m", 150), ("10min", 600), ("1h", 3600),
                                          ("1h30m", 5400), (" 1m 30s ", 90), (".5s", 0.5)])
def test_durations_parse(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "3x", "0", "-5s", "1m30", "m", "inf"])
def test_bad_durations_say_what_is_accepted(text):
    with pytest.raises(ValueError, match="duration|positive|bare number"):
        parse_duration(text)


def test_durations_print_back():
    assert [format_duration(s) for s in (2.5, 90, 300, 3600, 5400)] == ["2.5s", "1m30s", "5m", "1h", "1h30m"]


def test_budget_log_and_clock():
    now = [100.0]
    b = Budget(10, clock=lambda: now[0]).start()
    now[0] += 4
    assert b.remaining() == pytest.approx(6) and not b.expired()
    b.note("stage one")
    b.note("stage two cut", limited=True)
    now[0] += 7
    assert b.expired() and b.remaining() == 0
    s = b.summary()
    assert s["limited"] and s["how"] == ["stage one", "stage two cut"] and s["used_s"] == pytest.approx(11)
    assert "--budget 10s is too small for m" in str(b.too_small("m", "why"))


def _blobs(n=160, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = (rng.standard_normal((3, 8))[y] * 2 + rng.standard_normal((n, 8))).astype(np.float32)
    return X, y


def _slow_trainer(sleep_s):
    m = Sequential([Linear(8, 16, rng=0), ReLU(), Linear(16, 3, rng=1)])

    def prep(images, labels, rng, train):  # a step that takes sleep_s: the pace the plan reads
        time.sleep(sleep_s)
        return np.asarray(images, np.float32), np.asarray(labels)

    return Trainer(m, SGD(m, lr=0.1, momentum=0.9), OneCycleLR(0.2), preprocess=prep)


def test_trainer_shortens_its_schedule_to_the_deadline():
    X, y = _blobs()
    t = _slow_trainer(0.02)  # 10 steps an epoch of 16, about 0.2 s an epoch
    hist = t.fit((X, y), epochs=50, batch_size=16, seed=0, deadline=time.perf_counter() + 1.2)
    assert 1 <= t.epochs < 50 and len(hist) == t.epochs
    assert t.schedule.total_steps == t.epochs * 10  # the one-cycle schedule runs its whole course
    assert "of 50 epochs" in t.budget_plan
    assert hist[-1]["lr"] < 0.05  # annealed, not cut at the peak


def test_trainer_fits_a_partial_epoch_when_not_one_fits():
    X, y = _blobs(n=640)
    t = _slow_trainer(0.02)  # 40 steps an epoch, 0.8 s: more than the deadline
    hist = t.fit((X, y), epochs=5, batch_size=16, seed=0, deadline=time.perf_counter() + 0.4)
    assert t.epochs == 1 and t.max_steps is not None and t.max_steps < 40
    assert len(hist) == 1 and "steps of one 40-step epoch" in t.budget_plan


def test_trainer_deadline_before_the_probe_is_a_budget_error():
    X, y = _blobs()
    with pytest.raises(BudgetError, match="time was up"):
        _slow_trainer(0.01).fit((X, y), epochs=5, batch_size=16, seed=0, deadline=time.perf_counter())


def test_budget_joins_the_run_id_only_when_set():
    plain = JobSpec("hog-svm", "mnist5k", profile="quick")
    assert plain.run_id() == JobSpec("hog-svm", "mnist5k", profile="quick", budget=None).run_id()
    assert plain.run_id() != JobSpec("hog-svm", "mnist5k", profile="quick", budget=60).run_id()
    assert JobSpec("hog-svm", "mnist5k", budget=60).run_id() != JobSpec("hog-svm", "mnist5k", budget=120).run_id()


def test_a_feature_method_cut_by_its_budget_writes_a_complete_scored_record(tmp_path):
    res = CliRunner().invoke(cli, ["run", "hog-svm", *TINY, "--budget", "30s", "--out", str(tmp_path)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rec = _record(tmp_path, "hog-svm")
    assert rec["status"] == "ok" and 0 <= rec["top1_error"] < 0.5
    b = rec["budget"]
    assert b["seconds"] == 30 and b["honoured"] and b["used_s"] > 0
    assert any(h.startswith("features: all 400 training images") for h in b["how"])
    assert any(h.startswith("SVM: ") for h in b["how"])
    assert (tmp_path / rec["run_id"] / "model.npz").is_file()
    assert "budget 30s" in res.output


def test_a_cnn_cut_by_its_budget_is_scored_and_marked_not_converged(tmp_path):
    res = CliRunner().invoke(cli, ["run", "alexnet-cifar", *TINY, "--set", "epochs=200", "--set", "width=0.125",
                                   "--budget", "15s", "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rec = _record(tmp_path, "alexnet-cifar")
    assert rec["status"] == "ok" and rec["top1_error"] is not None
    assert rec["budget"]["limited"] and any("of 200 epochs" in h for h in rec["budget"]["how"])
    assert 1 <= len(rec["learning_curve"]) < 200
    assert any("not converged: cut by its 15s budget" in w for w in rec["warnings"])


def test_a_budget_too_small_is_one_clear_error(tmp_path):
    res = CliRunner().invoke(cli, ["run", "hog-svm", *TINY, "--budget", "0.001", "--out", str(tmp_path)])
    assert res.exit_code != 0
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "--budget 0.001s is too small for hog-svm" in lines[0]
    assert "Traceback" not in res.output
    assert _record(tmp_path, "hog-svm")["status"] == "failed"


@pytest.mark.parametrize("value", ["abc", "0", "-1m"])
def test_a_malformed_budget_is_a_usage_error(tmp_path, value):
    res = CliRunner().invoke(cli, ["run", "hog-svm", *TINY, "--budget", value, "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--budget" in res.output and not list(tmp_path.iterdir())


def test_equal_compute_progression_says_so(tmp_path):
    res = CliRunner().invoke(cli, ["progression", *TINY, "--no-figures", "--methods", "pixels-svm,hog-svm",
                                   "--budget", "20s", "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "equal compute: every method had 20s of wall clock" in res.output
    table = (tmp_path / "table.md").read_text()
    assert "| budget |" in table.splitlines()[0].replace("budget |", "budget |")
    assert table.count("20s (") == 2


def test_budget_sweep_draws_error_against_budget(tmp_path):
    res = CliRunner().invoke(cli, ["progression", *TINY, "--methods", "pixels-svm,hog-svm", "--budget", "5s,20s",
                                   "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "equal compute, the best method at each budget: 5s: " in res.output and "; 20s: " in res.output
    csv = (tmp_path / "budget.csv").read_text().splitlines()
    assert csv[0].split(",") == ["budget per method", "pixels-svm", "hog-svm"] and len(csv) == 3
    assert (tmp_path / "budget.png").stat().st_size > 10_000 and (tmp_path / "budget.svg").is_file()
    assert len(list(tmp_path.glob("*__*/result.json"))) == 4


def test_the_dbn_shares_its_budget_among_its_rbms_and_the_fine_tuning(tmp_path):
    res = CliRunner().invoke(cli, ["run", "dbn", *TINY, "--set", "rbm_epochs=500", "--set", "finetune_epochs=500",
                                   "--budget", "20s", "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rec = _record(tmp_path, "dbn")
    assert rec["status"] == "ok" and rec["top1_error"] is not None  # how good depends on the machine's pace
    how = rec["budget"]["how"]
    pre = next(h for h in how if h.startswith("pretraining: "))
    epochs = [int(v) for v in pre[len("pretraining: "):].split(" of ")[0].split(", ")]
    assert len(epochs) == 3 and all(1 <= e < 500 for e in epochs)
    assert any(h.startswith("fine-tuning: ") and "of 500 epochs" in h for h in how)
    assert rec["budget"]["limited"] and 1 <= len(rec["learning_curve"]) < 500


def test_crossover_and_ablate_hand_every_job_the_budget(tmp_path):
    res = CliRunner().invoke(cli, ["crossover", "-d", "mnist5k", "--sizes", "5,10", "--methods", "hog-svm",
                                   "--test-n-per-class", "10", "--budget", "30s", "--out", str(tmp_path / "x")],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    recs = [json.loads(p.read_text()) for p in (tmp_path / "x").glob("*/result.json")]
    assert len(recs) == 2 and all(r["budget"]["seconds"] == 30 for r in recs)
    res = CliRunner().invoke(cli, ["ablate", "dbn", *TINY, "--set", "rbm_epochs=2", "--set", "finetune_epochs=2",
                                   "--no-figures", "--budget", "1m", "--out", str(tmp_path / "a")],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    recs = [json.loads(p.read_text()) for p in (tmp_path / "a").glob("*/result.json")]
    assert len(recs) == 2 and all(r["budget"]["seconds"] == 60 and r["status"] == "ok" for r in recs)
