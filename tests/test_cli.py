"""The `histnet` command as a user runs it: CliRunner and a real subprocess."""

import json
import os
import shutil
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from histnet_cli.main import cli

SMALL = ["--n-per-class", "20", "--test-n-per-class", "10"]


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def all_commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))


def test_help_on_every_command():
    for path in [()] + list(all_commands(cli)):
        res = invoke(*path, "--help")
        assert res.exit_code == 0, path
        assert "Usage: histnet" in res.output


def test_version_names_versions_and_device():
    res = invoke("--version")
    assert res.exit_code == 0 and "histnet" in res.output and "numpy" in res.output
    assert "GPU" in res.output or "gpu" in res.output


def test_methods_list_shows_the_progression():
    res = invoke("methods", "list")
    assert res.exit_code == 0
    assert "pixels-svm" in res.output


def test_run_prints_json_with_top1_and_top5(tmp_path):
    res = invoke("run", "pixels-svm", "--dataset", "mnist5k", *SMALL, "--json", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    assert 0 <= rec["top1_error"] < 0.5 and rec["top5_error"] is not None  # 10 classes: top-5 defined
    assert rec["status"] == "ok" and rec["dataset"]["n_train"] == 200
    assert (tmp_path / rec["run_id"] / "result.json").is_file()


def test_report_reads_run_folders(tmp_path):
    invoke("run", "pixels-svm", "-d", "mnist5k", *SMALL, "--out", tmp_path / "runs", "--seed", "1")
    res = invoke("report", tmp_path / "runs", "--out", tmp_path / "rep", "--no-figures")
    assert res.exit_code == 0 and "| pixels-svm |" in res.output
    for ext in ("md", "csv", "tex"):
        assert (tmp_path / "rep" / f"table.{ext}").is_file()


@pytest.mark.parametrize("args, code, text", [
    (["run", "pixels-svn"], 2, "did you mean pixels-svm"),
    (["run", "pixels-svm", "--dataset", "mnist5kk"], 2, "did you mean mnist5k"),
    (["run", "pixels-svm", "--dataset", "/no/such/folder"], 2, "no such folder"),
    (["report", "/no/such/runs"], 2, "does not exist"),
])
def test_usage_errors_exit_2_with_a_hint(args, code, text):
    res = invoke(*args)
    assert res.exit_code == code and text in res.output


def test_bad_parameter_is_one_line_exit_1(tmp_path):
    res = invoke("run", "pixels-svm", "-d", "mnist5k", *SMALL, "--set", "Cc=1", "--out", tmp_path)
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "did you mean C" in lines[0] and "Traceback" not in res.output


def test_gpu_without_cuda_is_one_line_exit_1(tmp_path, monkeypatch):
    import histnet.backend as backend

    monkeypatch.setattr(backend, "cupy_if_usable", lambda: None)
    res = CliRunner().invoke(cli, ["run", "pixels-svm", "-d", "mnist5k", *SMALL, "--device", "gpu",
                                   "--out", str(tmp_path)], env={"HISTNET_CUPY_STANDIN": ""})
    assert res.exit_code == 1 and "no CUDA GPU" in res.output and "Traceback" not in res.output


def test_folder_in_no_known_layout_is_one_line_exit_1(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    res = invoke("run", "pixels-svm", "-d", tmp_path / "junk", "--out", tmp_path / "runs")
    assert res.exit_code == 1 and res.output.count("Error:") == 1 and "junk" in res.output


def test_gpu_path_runs_under_the_cupy_standin(tmp_path):
    res = CliRunner().invoke(cli, ["run", "pixels-svm", "-d", "mnist5k", *SMALL, "--device", "gpu", "--json",
                                   "--out", str(tmp_path)], env={"HISTNET_CUPY_STANDIN": "1"})
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    assert rec["device"] == "cupy-standin" and rec["status"] == "ok"


def test_real_subprocess(tmp_path):
    exe = shutil.which("histnet") or os.path.join(os.path.dirname(sys.executable), "histnet")
    proc = subprocess.run([exe, "--quiet", "run", "pixels-svm", "-d", "mnist5k", *SMALL, "--json",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert "top1_error" in rec and "top5_error" in rec
    assert rec["command"].startswith("histnet --quiet run pixels-svm")
    bad = subprocess.run([exe, "run", "pixels-svm", "-d", "mnist5k", "--set", "C=abc", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and bad.stderr.strip().startswith("Error:") and "Traceback" not in bad.stderr


def test_python_dash_m_runs_the_same_command():
    proc = subprocess.run([sys.executable, "-m", "histnet_cli", "crossover", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("Usage: histnet crossover")
    assert proc.stdout.split() == invoke("crossover", "--help").output.split()  # wrapped to another width


def test_the_cli_uses_only_public_names_of_histnet():
    import ast
    import pathlib

    import histnet_cli

    def private(name):
        return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))

    for path in pathlib.Path(histnet_cli.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] == "histnet":
                names = node.module.split(".") + [a.name for a in node.names]
                assert not [n for n in names if private(n)], f"{path.name}: from {node.module} import ..."
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "histnet":
                        assert not [n for n in a.name.split(".") if private(n)], f"{path.name}: {a.name}"


def test_datasets_download_defaults_its_root_like_every_command(tmp_path):
    # `datasets info` suggests `histnet datasets download NAME`: it must work without --root
    res = CliRunner().invoke(cli, ["datasets", "download", "mnist5k"], env={"HISTNET_DATA": str(tmp_path)})
    assert res.exit_code == 1 and "Missing option" not in res.output and "built in" in res.output
