"""`histnet progression`: the table and figures, kill-and-resume, and a Dask LocalCluster."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from histnet_cli.main import cli

TINY = ["--dataset", "mnist5k", "--n-per-class", "20", "--test-n-per-class", "10", "--no-figures"]
ERROR_COLUMNS = ["method", "top-1 error", "top-5 error"]


def exe():
    return shutil.which("histnet") or os.path.join(os.path.dirname(sys.executable), "histnet")


def table(out):
    return pd.read_csv(Path(out) / "table.csv")[ERROR_COLUMNS]


def results(out):
    return {p.parent.name: p for p in Path(out).glob("*/result.json")}


def test_progression_prints_and_writes_the_table(tmp_path):
    res = CliRunner().invoke(cli, ["progression", *TINY[:-1], "--methods", "pixels-svm", "--out", str(tmp_path)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "| pixels-svm |" in res.output and "2012 jump" in res.output
    for name in ("table.md", "table.csv", "table.tex", "progression.png", "progression.svg", "COMMAND.txt"):
        assert (tmp_path / name).is_file(), name


def test_a_failing_method_gets_a_row_saying_why(tmp_path):
    # digits are 8x8: smaller than one HOG block of the paper's 8x8-px cells (the full profile),
    # so hog-svm fails and pixels-svm does not
    res = CliRunner().invoke(cli, ["progression", "-d", "digits", "--profile", "full", "--methods", "pixels-svm,hog-svm",
                                   "--no-figures", "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "table.csv").set_index("method")
    assert t.loc["pixels-svm", "top-1 error"].endswith("%")
    assert t.loc["hog-svm", "note"].startswith("failed")


def test_kill_and_resume_gives_the_same_table(tmp_path):
    methods = ["--methods", "pixels-svm,hog-svm,dbn"]
    full = tmp_path / "full"
    subprocess.run([exe(), "--quiet", "progression", *TINY, *methods, "--out", str(full)], check=True, timeout=600)

    part = tmp_path / "part"
    proc = subprocess.Popen([exe(), "--quiet", "progression", *TINY, *methods, "--out", str(part)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        done = [p for p in results(part).values() if json.loads(p.read_text()).get("status") == "ok"]
        # kill while dbn computes: pixels-svm and hog-svm finish within milliseconds on these
        # 100 digits, so a kill right after the first would land in the second's final writes
        if len(done) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {k: p.read_text() for k, p in results(part).items()}
    assert finished, "the first method should have finished before the kill"
    assert not list(part.rglob("*.tmp")), "no half-written file may remain"

    subprocess.run([exe(), "--quiet", "progression", *TINY, *methods, "--out", str(part), "--resume"],
                   check=True, timeout=600)
    assert not list(part.rglob("*.tmp"))
    for k, text in finished.items():  # no finished method ran twice
        assert (part / k / "result.json").read_text() == text
    pd.testing.assert_frame_equal(table(part), table(full))


def test_grid_on_a_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1")
        res = CliRunner().invoke(cli, ["progression", *TINY, "--methods", "pixels-svm", "--executor", "dask",
                                       "--scheduler", cluster.scheduler_address, "--out", str(tmp_path)],
                                 catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rec = json.loads(next(iter(results(tmp_path).values())).read_text())
    assert rec["status"] == "ok" and rec["method"] == "pixels-svm"
    assert "| pixels-svm |" in res.output


def test_dask_without_scheduler_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(cli, ["progression", *TINY, "--methods", "pixels-svm", "--executor", "dask",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 1 and "--scheduler" in res.output


def test_per_method_overrides_reach_only_that_method(tmp_path):
    res = CliRunner().invoke(cli, ["progression", *TINY, "--methods", "pixels-svm,hog-svm",
                                   "--set", "pixels-svm.C=0.5", "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    recs = {json.loads(p.read_text())["method"]: json.loads(p.read_text()) for p in results(tmp_path).values()}
    assert recs["pixels-svm"]["config"]["C"] == 0.5
    assert recs["hog-svm"]["overrides"] == {}
    bad = CliRunner().invoke(cli, ["progression", *TINY, "--methods", "pixels-svm", "--set", "pixels-svm.Cx=1",
                                   "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 1 and "did you mean C" in bad.output and not (tmp_path / "bad").exists()


def test_crossover_table_and_figure(tmp_path):
    res = CliRunner().invoke(cli, ["crossover", "-d", "mnist5k", "--sizes", "5,20", "--methods", "pixels-svm,hog-svm",
                                   "--test-n-per-class", "10", "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "crossover.csv")
    assert t["train images per class"].tolist() == [5, 20]
    assert {"pixels-svm", "hog-svm"} <= set(t.columns)
    assert (tmp_path / "crossover.png").is_file() and (tmp_path / "crossover.svg").is_file()
    assert len(results(tmp_path)) == 4


def test_crossover_reuses_the_progressions_finished_jobs(tmp_path):
    prog, cross = tmp_path / "prog", tmp_path / "cross"
    res = CliRunner().invoke(cli, ["progression", "-d", "mnist5k", "--methods", "hog-svm", "--no-figures",
                                   "--out", str(prog)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    (done,) = results(prog).values()
    res = CliRunner().invoke(cli, ["crossover", "-d", "mnist5k", "--sizes", "5,all", "--methods", "hog-svm",
                                   "--reuse-from", str(prog), "--out", str(cross)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "copied, not run again" in res.output
    got = results(cross)
    assert done.parent.name in got and len(got) == 2  # the `all` point is the progression's own run id
    rec, orig = json.loads(got[done.parent.name].read_text()), json.loads(done.read_text())
    assert rec["reused_from"] == str(done.parent) and rec["top1_error"] == orig["top1_error"]
    assert rec["timing"] == orig["timing"]  # copied, not fitted again
    t = pd.read_csv(cross / "crossover.csv")
    assert t["train images per class"].tolist() == [5, int(orig["dataset"]["n_train"] / orig["dataset"]["n_classes"])]
    assert t["hog-svm"].iloc[1] == f"{100 * orig['top1_error']:.2f}%"


def test_crossover_reuses_a_progression_run_of_the_same_configuration_under_another_id(tmp_path):
    # made with --set C to the quick profile's own value: another run id, the same configuration
    prog, cross = tmp_path / "prog", tmp_path / "cross"
    res = CliRunner().invoke(cli, ["progression", "-d", "mnist5k", "--methods", "hog-svm", "--set", "hog-svm.C=0.001",
                                   "--no-figures", "--out", str(prog)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    (done,) = results(prog).values()
    res = CliRunner().invoke(cli, ["crossover", "-d", "mnist5k", "--sizes", "5,all", "--methods", "hog-svm",
                                   "--reuse-from", str(prog), "--out", str(cross)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    got = results(cross)
    assert done.parent.name in got and len(got) == 2  # copied under the progression's id, not trained again
    rec = json.loads(got[done.parent.name].read_text())
    assert rec["reused_from"] == str(done.parent) and rec["timing"] == json.loads(done.read_text())["timing"]
    t = pd.read_csv(cross / "crossover.csv")
    assert t["hog-svm"].iloc[1] == f"{100 * rec['top1_error']:.2f}%"


def test_cost_runs_each_method_in_its_own_process(tmp_path):
    res = CliRunner().invoke(cli, ["cost", "--methods", "pixels-svm", "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "cost.csv")
    assert t["method"].tolist() == ["pixels-svm"] and t["device"].tolist() == ["cpu"]
    assert t["peak memory (MiB)"].iloc[0] > 0 and 0 <= t["top-1 error (%)"].iloc[0] < 50
    assert "pixels-svm on mnist5k: top-1 error" in res.output


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX stop signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_keeps_the_epochs_trained_and_resume_continues(tmp_path, sig):
    # `kill PID`, a scheduler's time limit or a closed terminal stops a background run as Ctrl-C
    # does: checkpoint saved at once, record 'interrupted', one line saying how to continue, and
    # the status a shell gives for that signal (128 + its number)
    epochs = 40
    cmd = [exe(), "run", "alexnet-cifar", *TINY[:-1], "--set", "width=0.125", "--set", f"epochs={epochs}",
           "--set", "checkpoint_minutes=60", "--out", str(tmp_path)]
    # the child starts with the signal at its default even when this suite runs under nohup
    # (SIGHUP ignored and inherited, which histnet leaves alone by design)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL))
    curve = []
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        curve = list(tmp_path.glob("*/curve.csv"))
        if curve and len(curve[0].read_text().splitlines()) >= 3:  # its header and two epochs
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert f"Stopped by {signal.Signals(sig).name}: finished results are kept" in err and "Traceback" not in err
    run = curve[0].parent
    assert json.loads((run / "result.json").read_text())["status"] == "interrupted"
    assert list(run.glob("*-checkpoint.npz")), "the checkpoint is saved at the signal, not at the hourly interval"
    before = curve[0].read_text().splitlines()
    assert 3 <= len(before) < epochs + 1
    # the same command with --resume continues from the checkpoint: the epochs already trained
    # keep their rows, and the run finishes
    res = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert json.loads((run / "result.json").read_text())["status"] == "ok"
    after = curve[0].read_text().splitlines()
    assert len(after) == epochs + 1 and after[:len(before)] == before
