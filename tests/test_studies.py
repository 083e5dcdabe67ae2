"""The studies as library calls (histnet.studies), and the commands that print them."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

import toy_methods
from histnet.errors import ConfigError
from histnet.experiment import JobSpec
from histnet.methods import register
from histnet.report import crossover_line, crossover_point, records_to_frame, to_markdown
from histnet.studies import (CROSSOVER_SIZES, OptionError, data_options, parse_sizes, per_method_overrides,
                             run_crossover, run_progression)
from histnet_cli.main import cli

TINY_DATA = {"n_per_class": 10, "test_n_per_class": 5}
TWO = ["pixels-svm", "hog-svm"]


@register
class CnnMean(toy_methods.NearestMean):
    """Nearest class mean posing as a CNN, so that a crossover has both families (fast)."""

    name = "test-cnn-mean"
    year = 2012
    family = "cnn"
    profiles = {"quick": {}, "full": {}}


class Collect:
    """Callbacks that keep what a study reports."""

    def __init__(self):
        self.notes, self.results = [], []

    def note(self, line):
        self.notes.append(line)

    def result(self, rec):
        self.results.append(rec)


# -- inputs ------------------------------------------------------------------------------------------


def test_data_options_fill_every_option_and_refuse_unknown_ones():
    assert data_options({"n_per_class": 10}) == {"image_size": None, "grayscale": None, "n_per_class": 10,
                                                 "test_n_per_class": None, "val_fraction": 0.0, "skip_bad": False}
    with pytest.raises(ConfigError, match="n_per_clas"):
        data_options({"n_per_clas": 10})


def test_parse_sizes():
    assert parse_sizes(["10", 30, "all", None]) == [10, 30, None, None]
    assert parse_sizes(CROSSOVER_SIZES) == [10, 30, 100, 300, None]
    for bad in ("0", "x", -3, True, 2.5):
        with pytest.raises(OptionError) as e:
            parse_sizes([bad])
        assert e.value.option == "sizes" and "is not a positive count or 'all'" in str(e.value)


def test_per_method_overrides_from_strings_or_a_dict():
    assert per_method_overrides(["pixels-svm.C=0.5", "pixels-svm.max_iter=7"], TWO) == \
        {"pixels-svm": {"C": "0.5", "max_iter": "7"}}
    assert per_method_overrides({"hog-svm": {"C": 2.0}}, TWO) == {"hog-svm": {"C": 2.0}}
    assert per_method_overrides(None, TWO) == {}
    with pytest.raises(OptionError, match="expected METHOD.NAME=VALUE") as e:
        per_method_overrides(["pixels-svmC=1"], TWO)
    assert e.value.option == "overrides"
    with pytest.raises(OptionError, match=r"'dbn.epochs=1': dbn is not in this progression \(pixels-svm, hog-svm\)"):
        per_method_overrides(["dbn.epochs=1"], TWO)
    with pytest.raises(OptionError, match="dbn is not in this progression"):
        per_method_overrides({"dbn": {"epochs": 1}}, TWO)
    with pytest.raises(ConfigError, match="did you mean C"):
        per_method_overrides(["pixels-svm.Cx=1"], TWO)


# -- progression ------------------------------------------------------------------------------------


def test_run_progression_returns_the_table_records_and_files(tmp_path):
    seen = Collect()
    res = run_progression("mnist5k", data=TINY_DATA, methods=TWO, profile="quick", out=tmp_path, figures=False,
                          overrides={"pixels-svm": {"C": 0.5}}, command="python my_study.py",
                          notify=seen.note, on_result=seen.result)
    assert res.dataset == "mnist5k" and res.out == tmp_path and res.methods == TWO
    assert [r["method"] for r in res.records] == TWO and all(r["status"] == "ok" for r in res.records)
    assert [r["method"] for r in seen.results] == TWO
    assert seen.notes[0] == f"progression on mnist5k (quick profile): pixels-svm, hog-svm; runs in {tmp_path}"
    # the run ids are the command's: all six data options, the profile and the overrides
    want = JobSpec(method="pixels-svm", dataset="mnist5k", profile="quick", overrides={"C": 0.5},
                   data=data_options(TINY_DATA)).run_id()
    assert res.records[0]["run_id"] == want and (tmp_path / want / "result.json").is_file()
    assert res.records[0]["config"]["C"] == 0.5 and res.records[1]["overrides"] == {}
    assert res.records[0]["dataset"]["n_train"] == 100 and res.records[0]["command"] == "python my_study.py"
    assert res.table["method"].tolist() == TWO
    on_disk = pd.read_csv(tmp_path / "table.csv")
    assert on_disk["method"].tolist() == TWO
    assert on_disk["top-1 error"].tolist() == res.table["top-1 error"].tolist()
    assert sorted(p.name for p in res.paths) == ["table.csv", "table.md", "table.tex"]
    assert (tmp_path / "COMMAND.txt").read_text() == "python my_study.py\n"
    assert res.jump_line.startswith("2012 jump")


def test_run_progression_checks_overrides_before_running(tmp_path):
    with pytest.raises(OptionError, match="dbn is not in this progression"):
        run_progression("mnist5k", data=TINY_DATA, methods=TWO, overrides=["dbn.epochs=1"], out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_the_command_prints_the_table_run_progression_returns(tmp_path):
    res = CliRunner().invoke(cli, ["progression", "--methods", "pixels-svm,hog-svm", "--n-per-class", "10",
                                   "--test-n-per-class", "5", "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    seen = Collect()
    lib = run_progression("mnist5k", data=TINY_DATA, methods=TWO, out=tmp_path, resume=True,
                          command=(tmp_path / "COMMAND.txt").read_text().strip(), on_result=seen.result)
    assert all(r.get("skipped") for r in seen.results)  # the command's runs, not new ones
    assert to_markdown(lib.table) in res.stdout
    assert res.stdout.strip().splitlines()[-1] == lib.jump_line
    assert {"progression.png", "progression.svg"} <= {p.name for p in lib.paths}


# -- crossover --------------------------------------------------------------------------------------


def test_run_crossover_returns_the_pivot_the_line_and_the_figure(tmp_path):
    seen = Collect()
    res = run_crossover("mnist5k", sizes=["5", 10], methods=["hog-svm", "test-cnn-mean"], test_n_per_class=5,
                        out=tmp_path, command="cross", notify=seen.note, on_result=seen.result)
    assert res.methods == ["hog-svm", "test-cnn-mean"] and res.copied == []
    assert seen.notes == [f"crossover on mnist5k: 4 jobs in {tmp_path}"] and len(seen.results) == 4
    assert [(r["method"], r["data_options"]["n_per_class"]) for r in res.records] == \
        [("hog-svm", 5), ("test-cnn-mean", 5), ("hog-svm", 10), ("test-cnn-mean", 10)]
    assert res.table["train images per class"].tolist() == [5, 10]
    assert list(res.table.columns) == ["train images per class", "hog-svm", "test-cnn-mean"]
    assert res.table.loc[0, "hog-svm"] == f"{100 * res.records[0]['top1_error']:.2f}%"
    assert pd.read_csv(tmp_path / "crossover.csv")["hog-svm"].tolist() == res.table["hog-svm"].tolist()
    assert res.point is not None and res.point == crossover_point(records_to_frame(res.records))
    assert res.crossover_line == crossover_line(res.point) and "test-cnn-mean" in res.crossover_line
    assert res.crossover_line in (tmp_path / "crossover.md").read_text() or \
        res.crossover_line in (tmp_path / "crossover.tex").read_text()
    assert sorted(p.name for p in res.paths) == ["crossover.csv", "crossover.md", "crossover.png", "crossover.svg",
                                                 "crossover.tex"]
    assert (tmp_path / "COMMAND.txt").read_text() == "cross\n"


def test_run_crossover_copies_finished_jobs_instead_of_running_them(tmp_path):
    first = run_crossover("mnist5k", sizes=[5], methods=["pixels-svm"], test_n_per_class=5, out=tmp_path / "a")
    seen = Collect()
    again = run_crossover("mnist5k", sizes=[5], methods=["pixels-svm"], test_n_per_class=5, out=tmp_path / "b",
                          reuse_from=[tmp_path / "a"], notify=seen.note, on_result=seen.result)
    (rid,) = again.copied
    assert rid == first.records[0]["run_id"] and seen.results == []
    assert seen.notes[-1] == f"{rid}: finished in {tmp_path / 'a'}; copied, not run again"
    rec = json.loads((tmp_path / "b" / rid / "result.json").read_text())
    assert rec["reused_from"] == str(tmp_path / "a" / rid)
    assert again.table.equals(first.table)


def test_crossover_defaults_to_the_methods_that_declare_it(tmp_path, monkeypatch):
    import histnet.studies as studies

    class Stop(Exception):
        pass

    asked = []

    def fake_grid(specs, out, **kwargs):  # see what would run, run nothing
        asked.extend(specs)
        raise Stop

    monkeypatch.setattr(studies, "run_grid", fake_grid)
    with pytest.raises(Stop):
        run_crossover("mnist5k", sizes=[5], out=tmp_path)
    assert [s.method for s in asked] == ["pixels-svm", "hog-svm", "sift-fisher-svm", "alexnet-cifar"]


@pytest.mark.parametrize("args, text", [
    (["crossover", "--sizes", "5,x", "--methods", "pixels-svm"], "Invalid value for --sizes: 'x' is not a positive"),
    (["progression", "--methods", "pixels-svm", "--set", "hogC=1"], "Invalid value for --set: 'hogC=1': expected"),
    (["progression", "--methods", "pixels-svm", "--set", "hog-svm.C=1"], "hog-svm is not in this progression"),
])
def test_malformed_study_options_are_usage_errors(tmp_path, args, text):
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "never")])
    assert res.exit_code == 2 and text in res.output and not (tmp_path / "never").exists()
