"""Tables and figures from result records (records written by hand here)."""

import json

import numpy as np
import pandas as pd
import pytest

from histnet import report
from histnet.errors import HistnetError
from histnet.history import HISTORICAL_JUMP, published


def record(method, family, year, top1, top5=None, seed=0, status="ok", n_train=100, n_per_class=None, error=None):
    cm = np.eye(3, dtype=int) * 5
    return {
        "run_id": f"{method}__toy__seed{seed}", "method": method, "family": family, "year": year,
        "paper": f"{method} paper", "seed": seed, "status": status, "error": error,
        "top1_error": top1, "top5_error": top5, "device": "cpu",
        "dataset": {"name": "toy", "n_train": n_train, "n_classes": 3},
        "data_options": {"n_per_class": n_per_class},
        "timing": {"fit_s": 1.5, "predict_images_per_s": 1000.0},
        "describe": {"feature_dim": 324, "flops_per_image": 2e6},
        "metrics": {"confusion": cm.tolist()},
        "learning_curve": [{"epoch": 1, "val_error": 0.5}, {"epoch": 2, "val_error": 0.3}] if family == "cnn" else [],
    }


RECORDS = [
    record("pixels-svm", "baseline", 1995, 0.4),
    record("hog-svm", "hand-crafted", 2005, 0.30, seed=0),
    record("hog-svm", "hand-crafted", 2005, 0.20, seed=1),
    record("alexnet-cifar", "cnn", 2012, 0.10, top5=0.01),
    record("dbn", "dbn", 2006, None, status="failed", error="diverged at layer 2"),
]


def test_side_by_side_table_is_in_historical_order_with_means_over_seeds():
    table = report.side_by_side(report.records_to_frame(RECORDS))
    assert list(table["method"]) == ["pixels-svm", "hog-svm", "dbn", "alexnet-cifar"]
    hog = table[table["method"] == "hog-svm"].iloc[0]
    assert hog["top-1 error"] == "25.00% ± 5.00" and hog["note"] == "2 seeds"
    dbn = table[table["method"] == "dbn"].iloc[0]
    assert "failed" in dbn["note"] and "layer 2" in dbn["note"]
    assert table[table["method"] == "alexnet-cifar"].iloc[0]["top-5 error"] == "1.00%"
    hist = dict(zip(table["method"], table["history (published)"]))
    assert hist["alexnet-cifar"] == "ILSVRC-2012 test, SuperVision: 15.3% top-5"
    assert hist["dbn"] == "MNIST test, DBN 784-500-500-2000: 1.20% error" and hist["pixels-svm"] == ""


def test_the_jump_divides_cnn_by_best_hand_crafted():
    j = report.the_jump(report.records_to_frame(RECORDS))
    assert j["this_run"] == pytest.approx(0.10 / 0.25)
    assert j["history"] == pytest.approx(0.153 / 0.262)
    assert "0.40" in report.jump_line(j) and "0.58" in report.jump_line(j)


def test_the_jump_is_2012s_cnn_not_a_later_net():
    # with --until 2015 a 2013-2015 net may beat AlexNet: the jump still divides AlexNet's error
    later = record("resnet-20", "cnn", 2015, 0.05)
    recs = [r for r in RECORDS if r["method"] != "alexnet-cifar"]
    assert report.the_jump(report.records_to_frame(recs + [later]))["this_run"] is None
    j = report.the_jump(report.records_to_frame(RECORDS + [later]))
    assert j["cnn"][0] == "alexnet-cifar" and j["this_run"] == pytest.approx(0.10 / 0.25)


def test_the_jump_needs_one_comparison_only_among_the_runs_that_enter_it():
    # a later net run with two settings (40 and 80 epochs) is two rows of its own; it does not
    # withhold the 2012 jump, which it does not enter; AlexNet run with two settings does
    def net(method, year, top1, overrides):
        r = _run(method, 0, overrides=overrides, top1=top1)
        r.update(family="cnn", year=year)
        return r

    base = [_run("hog-svm", 0, top1=0.25), net("alexnet-cifar", 2012, 0.10, {})]
    twice = [net("resnet-20", 2015, 0.11, {}), net("resnet-20", 2015, 0.099, {"epochs": "80"})]
    j = report.the_jump(report.records_to_frame(base + twice))
    assert j["this_run"] == pytest.approx(0.10 / 0.25) and j["reason"] is None
    assert len(report.side_by_side(report.records_to_frame(base + twice))) == 4  # never averaged
    j = report.the_jump(report.records_to_frame(base + [net("alexnet-cifar", 2012, 0.2, {"epochs": "5"})]))
    assert j["this_run"] is None and "several settings" in report.jump_line(j)


def test_a_resumed_run_shows_the_time_of_all_its_epochs():
    # fit_s is the finishing process's; the epochs trained before a resume count too
    resumed = record("resnet-20", "cnn", 2015, 0.11)
    resumed["timing"].update(fit_s=7051.4, epochs_s=9422.2)
    whole = record("alexnet-cifar", "cnn", 2012, 0.17)
    whole["timing"].update(fit_s=3290.0, epochs_s=3210.5)
    reused = record("alexnet-cifar", "cnn", 2012, 0.18)  # an arm that only re-tests trained weights
    reused.update(run_id="arm", weights_from="other-run")
    reused["timing"].update(fit_s=0.6, epochs_s=597.2)
    assert [report.training_seconds(r) for r in (resumed, whole, reused)] == [9422.2, 3290.0, 0.6]
    table = report.side_by_side(report.records_to_frame([resumed, whole]))
    assert dict(zip(table["method"], table["fit time (s)"])) == {"resnet-20": "9,422.2", "alexnet-cifar": "3,290.0"}


def test_tables_are_written_in_three_formats(tmp_path):
    table = report.side_by_side(report.records_to_frame(RECORDS))
    paths = report.write_tables(table, tmp_path, caption="toy & co")
    assert sorted(p.suffix for p in paths) == [".csv", ".md", ".tex"]
    assert pd.read_csv(tmp_path / "table.csv")["method"].tolist() == table["method"].tolist()
    md = (tmp_path / "table.md").read_text().splitlines()
    assert md[0].startswith("| year | method") and len(md) == 2 + len(table)
    tex = (tmp_path / "table.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\%" in tex and r"toy \& co" in tex


def test_report_writes_figures_from_run_folders(tmp_path):
    for r in RECORDS:
        d = tmp_path / r["run_id"]
        d.mkdir()
        (d / "result.json").write_text(json.dumps(r))
    np.savez(tmp_path / "hog-svm__toy__seed0" / "figures.npz", hog=np.random.default_rng(0).random((16, 16)))
    recs = report.load_records([tmp_path])
    assert len(recs) == len(RECORDS)
    res = report.write_report(recs, tmp_path / "out", dataset="toy")
    names = {p.name for p in res["paths"]}
    for stem in ("progression", "learning_curves", "confusion", "filters"):
        assert f"{stem}.png" in names and f"{stem}.svg" in names
    assert (tmp_path / "out" / "progression.png").stat().st_size > 10_000


def test_crossover_figure(tmp_path):
    recs = [record(m, f, y, e, n_train=n * 3, n_per_class=n)
            for n, (e1, e2) in zip([10, 100], [(0.3, 0.5), (0.2, 0.1)])
            for m, f, y, e in [("hog-svm", "hand-crafted", 2005, e1), ("alexnet-cifar", "cnn", 2012, e2)]]
    paths = report.plot_crossover(report.records_to_frame(recs), tmp_path / "crossover", "toy")
    assert [p.suffix for p in paths] == [".png", ".svg"]


def _crossover_records(errors):
    return [record(m, f, y, e, n_train=n * 3, n_per_class=n)
            for n, (eh, ep, ec) in errors.items()
            for m, f, y, e in [("hog-svm", "hand-crafted", 2005, eh), ("pixels-svm", "baseline", 1995, ep),
                               ("alexnet-cifar", "cnn", 2012, ec)]]


def test_crossover_point_is_where_the_cnn_stays_ahead():
    # gaps (hand-crafted minus CNN): -0.2, -0.05, +0.15 -> between 100 and 1000, a quarter of the
    # way in log size: 100 * 10 ** 0.25; the baseline (pixels, 0.1 error) is not hand-crafted
    df = report.records_to_frame(_crossover_records({10: (0.5, 0.1, 0.7), 100: (0.4, 0.1, 0.45),
                                                      1000: (0.35, 0.1, 0.2)}))
    p = report.crossover_point(df)
    assert (p["below"], p["size"], p["cnn"], p["hand"]) == (100, 1000, "alexnet-cifar", "hog-svm")
    assert p["at"] == pytest.approx(100 * 10 ** 0.25) and p["gap"] == pytest.approx(0.15)
    assert "between 100 and 1000" in report.crossover_line(p)
    # ahead, behind, ahead: the crossover is the last change
    df = report.records_to_frame(_crossover_records({10: (0.5, 0.9, 0.4), 100: (0.4, 0.9, 0.45),
                                                      1000: (0.35, 0.9, 0.2)}))
    assert report.crossover_point(df)["below"] == 100
    # ahead everywhere, and never ahead at the largest size
    df = report.records_to_frame(_crossover_records({10: (0.5, 0.9, 0.4), 100: (0.4, 0.9, 0.3)}))
    assert report.crossover_point(df)["below"] is None
    df = report.records_to_frame(_crossover_records({10: (0.5, 0.9, 0.4), 100: (0.3, 0.9, 0.35)}))
    behind = report.crossover_point(df)
    assert behind["size"] is None and behind["largest"] == 100
    line = report.crossover_line(behind)
    assert "not reached" in line and "5.0 points of error behind" in line
    cnn_only = report.records_to_frame([r for r in _crossover_records({10: (0.5, 0.9, 0.4)})
                                        if r["family"] != "hand-crafted"])
    assert report.crossover_point(cnn_only) is None and "needs a CNN and a hand-crafted" in report.crossover_line(None)


def test_missing_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(HistnetError, match="no such run folder"):
        report.load_records([tmp_path / "nope"])
    (tmp_path / "result.json").write_text("{half")
    with pytest.raises(HistnetError, match="not a valid result record"):
        report.load_records([tmp_path])


def test_published_history_has_citations_and_the_papers_numbers():
    df = published().set_index("key")
    assert df["citation"].notna().all()
    assert df.loc["ilsvrc2010-nec-uiuc", "top5_error"] == 0.282
    assert df.loc["ilsvrc2010-nec-uiuc", "top1_error"] == 0.471
    assert df.loc["ilsvrc2011-xrce", "top5_error"] == 0.258
    assert df.loc["ilsvrc2012-supervision-7cnn", "top5_error"] == 0.153
    assert df.loc["alexnet-t1-cnn", ["top1_error", "top5_error"]].tolist() == [0.375, 0.170]
    assert df.loc["alexnet-t2-1cnn", ["top1_error", "top5_error"]].tolist() == [0.407, 0.182]
    assert HISTORICAL_JUMP == pytest.approx(0.58, abs=0.005)


def test_a_training_warning_reaches_the_table_note():
    warned = record("alexnet-cifar", "cnn", 2012, 0.85)
    warned["warnings"] = ["not learning: training loss 2.301 at chance (ln 10 = 2.303), training error 89%, epochs 3-9"]
    table = report.side_by_side(report.records_to_frame([record("hog-svm", "hand-crafted", 2005, 0.3), warned]))
    note = dict(zip(table["method"], table["note"]))
    assert note["hog-svm"] == "" and note["alexnet-cifar"].startswith("not learning: training loss 2.301")


def _run(method, seed, dataset="toy", overrides=None, n_per_class=None, top1=0.3):
    r = record(method, "hand-crafted", 2005, top1, seed=seed, n_per_class=n_per_class)
    h = abs(hash((dataset, json.dumps(overrides, sort_keys=True), n_per_class))) % 10 ** 8
    r.update(run_id=f"{method}__{dataset}__seed{seed}__{h:08d}", overrides=overrides or {}, profile="quick")
    r["dataset"]["name"] = dataset
    return r


def test_only_runs_that_differ_in_the_seed_alone_are_averaged():
    recs = [_run("hog-svm", 0, top1=0.2), _run("hog-svm", 1, top1=0.4),           # seeds: averaged
            _run("hog-svm", 0, overrides={"C": "0.1"}, top1=0.9),                  # another config
            _run("hog-svm", 0, n_per_class=10, top1=0.7)]                          # another size
    table = report.side_by_side(report.records_to_frame(recs))
    assert len(table) == 3 and "setting" in table.columns and "data set" not in table.columns
    rows = {s: (e, n) for s, e, n in zip(table["setting"], table["top-1 error"], table["note"])}
    assert rows["profile quick"] == ("30.00% ± 10.00", "2 seeds")
    assert rows["profile quick, C=0.1"] == ("90.00%", "")
    assert rows["profile quick, n_per_class=10"] == ("70.00%", "")
    j = report.the_jump(report.records_to_frame(recs))
    assert j["this_run"] is None and "several settings" in report.jump_line(j)


def test_a_report_mixing_data_sets_shows_them_and_draws_no_progression(tmp_path):
    recs = [_run("hog-svm", 0, dataset="mnist5k", top1=0.03), _run("hog-svm", 0, dataset="cifar10", top1=0.5),
            _run("alexnet-cifar", 0, dataset="cifar10", top1=0.2)]
    recs[2]["family"] = "cnn"
    res = report.write_report(recs, tmp_path, figures=True)
    table = res["table"]
    assert sorted(table["data set"]) == ["cifar10", "cifar10", "mnist5k"]
    assert sorted(table["top-1 error"]) == ["20.00%", "3.00%", "50.00%"]  # nothing averaged across sets
    assert "several data sets" in report.jump_line(res["jump"])
    assert not (tmp_path / "progression.png").exists()


def test_the_committed_crossover_reports_sizes_not_seeds():
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "results" / "crossover-cifar10"
    table = report.side_by_side(report.records_to_frame(report.load_records([folder])))
    hog = table[table["method"] == "hog-svm"]
    assert list(hog["setting"]) == [f"profile full, n_per_class={n}" for n in (10, 30, 100, 300, 1000)] + [
        "profile full"]
    assert not any("seeds" in n for n in table["note"])


def test_histnet_report_on_the_committed_crossover(tmp_path):
    from pathlib import Path

    from click.testing import CliRunner

    from histnet_cli.main import cli

    folder = Path(__file__).resolve().parent.parent / "results" / "crossover-cifar10"
    res = CliRunner().invoke(cli, ["report", str(folder), "--out", str(tmp_path), "--no-figures"])
    assert res.exit_code == 0, res.output
    assert "n_per_class=1000" in res.output and "seeds" not in res.output
    assert "not one comparison" in res.output


def test_latex_escapes_each_special_character_once():
    table = pd.DataFrame({"method": ["a\\b {c} 5% d_e ~f ^g #h &i $j"]})
    body = report.to_latex(table).splitlines()[6]
    assert body == (r"a\textbackslash{}b \{c\} 5\% d\_e \textasciitilde{}f \textasciicircum{}g \#h \&i \$j \\")


def test_figure_captions_carry_the_day_the_runs_finished():
    recs = [dict(record("hog-svm", "hand-crafted", 2005, 0.3), finished="2026-11-30T10:00:00Z"),
            dict(record("alexnet-cifar", "cnn", 2012, 0.2), finished="2026-11-29T10:00:00Z")]
    assert report.run_date(recs) == "2026-11-30"
    assert report.run_date(report.records_to_frame(recs)) == "2026-11-30"
    assert report.caption_text("toy", when="2026-11-30") == "histnet run on toy, 2026-11-30"


# -- figures: legend, class names, titles ----------------------------------------------------------


def _overlaps(fig, ax):
    """The bars and value labels of ``ax`` that its legend covers on the drawn figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = ax.get_legend().get_window_extent(renderer)
    artists = list(ax.patches) + list(ax.texts)
    return [a for a in artists if box.overlaps(a.get_window_extent(renderer))]


@pytest.mark.parametrize("errors", [
    [0.10, 0.20, 0.30, 0.95],   # the tallest bar on the right, where the legend used to sit
    [0.95, 0.20, 0.30, 0.10],   # the tallest on the left
    [0.90, 0.92, 0.94, 0.96],   # every bar tall: the axis must make room
])
def test_the_progression_legend_hides_no_bar_and_no_value(errors):
    specs = [("pixels-svm", "baseline", 1995), ("hog-svm", "hand-crafted", 2005), ("dbn", "dbn", 2006),
             ("alexnet-cifar", "cnn", 2012)]
    recs = [record(m, f, y, e, top5=e / 2) for (m, f, y), e in zip(specs, errors)]
    fig = report.figure_progression(report.records_to_frame(recs), "toy")
    ax = fig.axes[1]
    assert ax.get_title() == "This run: toy"
    assert len(ax.texts) == 4 and {t.get_text() for t in ax.texts} == {f"{100 * e:.1f}" for e in errors}
    assert _overlaps(fig, ax) == []
    assert ax.get_ylim()[1] > 100 * max(errors)


def test_confusion_matrices_name_their_classes():
    named = record("hog-svm", "hand-crafted", 2005, 0.3)
    named["metrics"]["class_names"] = ["cat", "automobile", "a very long class name"]
    unnamed = record("pixels-svm", "baseline", 1995, 0.4)  # an older record: no names stored
    fig = report.figure_confusions([named, unnamed], "toy")
    ax_named, ax_unnamed = fig.axes[0], fig.axes[1]
    want = ["cat", "automobile", "a very lo\u2026"]
    assert [t.get_text() for t in ax_named.get_xticklabels()] == want
    assert [t.get_text() for t in ax_named.get_yticklabels()] == want
    assert ax_named.get_xlabel() == "predicted class" and ax_named.get_ylabel() == "true class"
    assert ax_unnamed.get_xlabel() == "predicted class (index)"
    assert report.short_name("automobile") == "automobile" and len(report.short_name("x" * 40)) == 10
    many = record("hog-svm", "hand-crafted", 2005, 0.3)
    many["metrics"]["class_names"] = [f"class {i}" for i in range(3)]
    assert report.class_labels(many, 4) is None  # names that do not match the matrix are not used


def test_the_learning_curve_title_names_only_the_curves_drawn():
    train_only = dict(record("alexnet-cifar", "cnn", 2012, 0.2),
                      learning_curve=[{"epoch": 1, "train_error": 0.5, "train_loss": 1.2},
                                      {"epoch": 2, "train_error": 0.3, "train_loss": 0.9}])
    fig = report.figure_learning_curves([train_only], "toy")
    assert fig.axes[0].get_title() == "Error per epoch (train solid)"
    both = dict(train_only, learning_curve=[dict(c, val_error=0.4) for c in train_only["learning_curve"]])
    assert report.figure_learning_curves([both], "toy").axes[0].get_title() == (
        "Error per epoch (train solid, validation dashed)")
    val_only = record("alexnet-cifar", "cnn", 2012, 0.2)  # the helper's curve: validation error only
    assert report.figure_learning_curves([val_only], "toy").axes[0].get_title() == (
        "Error per epoch (validation dashed)")
    assert report.figure_learning_curves([record("hog-svm", "hand-crafted", 2005, 0.3)], "toy") is None


# -- the printed table in a narrow terminal ----------------------------------------------------------


def _report_folder(tmp_path):
    for r in RECORDS:
        d = tmp_path / "runs" / r["run_id"]
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps(r))
    return tmp_path / "runs"


def _invoke_report(runs, out, columns, monkeypatch):
    from click.testing import CliRunner

    from histnet_cli import runs as runs_cli
    from histnet_cli.main import cli

    if columns != "unpatched":
        monkeypatch.setattr(runs_cli, "terminal_columns", lambda: columns)
    res = CliRunner().invoke(cli, ["report", str(runs), "--out", str(out), "--no-figures"])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_report_prints_a_narrow_table_in_a_narrow_terminal(tmp_path, monkeypatch):
    runs = _report_folder(tmp_path)
    wide = _invoke_report(runs, tmp_path / "a", "unpatched", monkeypatch)  # not a terminal: as before
    full_md = (tmp_path / "a" / "table.md").read_text()
    assert full_md in wide and "narrow view" not in wide
    assert _invoke_report(runs, tmp_path / "b", 1000, monkeypatch) == wide  # a wide terminal: the same
    narrow = _invoke_report(runs, tmp_path / "c", 80, monkeypatch)
    header = narrow.splitlines()[0]
    assert header == "| year | method | top-1 error | top-5 error | fit time (s) | note |"
    assert "| 2005 | hog-svm | 25.00% ± 5.00 | n/a | 1.5 | 2 seeds |" in narrow
    assert "paper" not in header and "history" not in header
    assert "narrow view: 6 of 11 columns" in narrow and "keep every column" in narrow
    assert len([ln for ln in narrow.splitlines() if "narrow view" in ln]) == 1
    assert narrow.strip().splitlines()[-1].startswith("2012 jump")
    assert (tmp_path / "c" / "table.md").read_text() == full_md  # the files keep every column


def test_terminal_columns_is_none_off_a_terminal(monkeypatch):
    import io
    import os
    import sys

    from histnet_cli.runs import terminal_columns

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert terminal_columns() is None
    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback=(80, 24): os.terminal_size((72, 24)))
    assert terminal_columns() == 72


def test_narrow_table_keeps_the_settings_and_data_sets():
    recs = [_run("hog-svm", 0, dataset="mnist5k"), _run("hog-svm", 0, dataset="cifar10", overrides={"C": "1"})]
    table = report.side_by_side(report.records_to_frame(recs))
    assert list(report.narrow_table(table).columns) == ["year", "method", "data set", "setting", "top-1 error",
                                                        "top-5 error", "fit time (s)", "note"]


def test_the_jump_line_says_when_the_cnn_row_is_not_converged():
    cnn = record("alexnet-cifar", "cnn", 2012, 0.10)
    cnn["warnings"] = ["not converged: training loss still fell 64% in the last of 3 epochs (0.94 -> 0.34)"]
    j = report.the_jump(report.records_to_frame([record("hog-svm", "hand-crafted", 2005, 0.2), cnn]))
    assert j["cnn_not_converged"] and "the CNN row is not converged" in report.jump_line(j)
    j2 = report.the_jump(report.records_to_frame([record("hog-svm", "hand-crafted", 2005, 0.2),
                                                  record("alexnet-cifar", "cnn", 2012, 0.10)]))
    assert "not converged" not in report.jump_line(j2)
