"""Bad input around runs, records and studies ends in one `Error:` line, through the CLI.

Cases driven here (15):

1-3. a training checkpoint that is truncated, empty, or not an .npz at all (garbage that
     numpy would offer to load "with allow_pickle"): the line names the file, says to run
     again without --resume or delete it, and never suggests unsafe loading;
4-5. `histnet report` on a result.json that is a JSON list, or whose fields have the wrong
     types;
6-8. `histnet crossover --seeds x`, `--seeds ,`, `--sizes ,`;
9-11. `--out` under a file (run and report) and `--out` where nothing can be written, checked
     before any computing;
12. a diverging net: numpy's RuntimeWarnings are not printed before the divergence line;
13. `histnet bench` outside a source checkout;
14. a data folder that is a symbolic link loop;
15. images too small for the paper's HOG cells: the line says which profile or option fits.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from histnet_cli.main import cli

TINY = ["-d", "mnist5k", "--n-per-class", "20", "--test-n-per-class", "5"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error_line(res, *needles):
    assert res.exit_code in (1, 2), res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    assert len(errors) == 1, res.output
    assert "Traceback" not in res.output and "Warning" not in res.output, res.output
    for n in needles:
        assert n in errors[0], (n, errors[0])
    return errors[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A finished one-epoch CNN run whose record is then removed, so --resume reads the checkpoint."""
    out = tmp_path_factory.mktemp("runs")
    res = invoke("run", "alexnet-cifar", *TINY, "--profile", "quick", "--set", "epochs=1", "--set", "width=0.125",
                 "--out", out)
    assert res.exit_code == 0, res.output
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return out, run


@pytest.mark.parametrize("damage,needle", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated"),
    (lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    (lambda p: p.write_bytes(b"\x80\x04garbage that is no zip file" * 10), "checkpoint"),
])
def test_a_damaged_checkpoint_is_named_and_never_loaded_unsafely(trained_run, damage, needle):
    out, run = trained_run
    ck = run / "alexnet-cifar-checkpoint.npz"
    saved = ck.read_bytes()
    (run / "result.json").unlink(missing_ok=True)
    try:
        damage(ck)
        res = invoke("run", "alexnet-cifar", *TINY, "--profile", "quick", "--set", "epochs=1", "--set",
                     "width=0.125", "--out", out, "--resume")
        line = one_error_line(res, str(ck), needle, "without --resume")
        assert "allow_pickle" not in line
    finally:
        ck.write_bytes(saved)


@pytest.mark.parametrize("content,needle", [
    ("[1, 2, 3]", "a JSON list, expected an object"),
    (json.dumps({"method": "hog-svm", "top1_error": "low", "status": "ok"}), "field 'top1_error' is a str"),
    (json.dumps({"method": "hog-svm", "dataset": [1], "status": "ok"}), "field 'dataset' is a list"),
])
def test_report_on_a_malformed_record(tmp_path, content, needle):
    run = tmp_path / "runs" / "x"
    run.mkdir(parents=True)
    (run / "result.json").write_text(content)
    one_error_line(invoke("report", tmp_path / "runs", "--out", tmp_path / "rep"), str(run / "result.json"), needle)
    assert not (tmp_path / "rep").exists()


@pytest.mark.parametrize("args,needle", [(["--seeds", "x"], "--seeds"), (["--seeds", ","], "--seeds"),
                                         (["--sizes", ","], "--sizes")])
def test_crossover_list_options(tmp_path, args, needle):
    res = invoke("crossover", *args, "--out", tmp_path / "c")
    assert res.exit_code == 2
    one_error_line(res, needle)
    assert not (tmp_path / "c").exists()


def test_out_under_a_file_or_unwritable_fails_before_computing(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    one_error_line(invoke("run", "pixels-svm", *TINY, "--out", f / "runs"), "--out", "is a file")
    one_error_line(invoke("report", Path(__file__).resolve().parent.parent / "results" / "progression-mnist5k",
                          "--out", f / "rep", "--no-figures"), "--out", "is a file")
    # /proc refuses new folders even to root, as a read-only mount would
    one_error_line(invoke("run", "pixels-svm", *TINY, "--out", "/proc/histnet-test-runs"), "--out",
                   "cannot write there")


def test_divergence_prints_no_numpy_warnings(tmp_path):
    exe = shutil.which("histnet") or os.path.join(os.path.dirname(sys.executable), "histnet")
    proc = subprocess.run([exe, "run", "alexnet-cifar", *TINY, "--profile", "quick", "--set", "lr=1e6",
                           "--set", "width=0.125", "--set", "epochs=3", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "diverged" in lines[0], proc.stderr
    assert "RuntimeWarning" not in proc.stderr


def test_bench_outside_a_checkout_says_what_is_needed(tmp_path):
    res = invoke("bench", "--dir", tmp_path / "nothing")
    one_error_line(res, "benchmarks ship with the source", "--dir")


def test_a_data_folder_that_is_a_symlink_loop(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    res = invoke("run", "pixels-svm", "-d", loop, "--out", tmp_path / "runs")
    assert res.exit_code == 2
    one_error_line(res, str(loop), "symbolic link that leads nowhere")
    assert not (tmp_path / "runs").exists()


def test_images_too_small_for_the_papers_hog_say_what_fits(tmp_path):
    res = invoke("run", "hog-svm", "--dataset", "digits", "--profile", "full", "--out", tmp_path)
    one_error_line(res, "8x8", "--profile quick", "pixels_per_cell=2,2")
    assert invoke("run", "hog-svm", "--dataset", "digits", "--out", tmp_path).exit_code == 0  # quick by default
