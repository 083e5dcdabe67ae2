"""``histnet run`` (one method on one data set) and ``histnet report`` (tables of run folders)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from .options import (MethodName, budget_option, data_options, dataset_option, device_option, figures_option,
                      out_option, resume_option, seed_option, set_option)
from .ui import ui_of


def command_line() -> str:
    """This invocation as the user would type it: ``histnet <arguments>``."""
    return shlex.join(["histnet"] + sys.argv[1:])


def summary_line(rec: dict) -> str:
    """One line for a run record: its errors, fit time and prediction speed, or why it failed."""
    m = rec.get("method")
    ds = (rec.get("dataset") or {}).get("name", "?")
    if rec.get("status") != "ok":
        return f"{m} on {ds}: {rec.get('status')}: {rec.get('error')}"
    b = rec.get("budget")
    spent = f", budget {b['label']}: " + "; ".join(b.get("how") or []) if b else ""
    t = rec.get("timing", {})
    top5 = f"{100 * rec['top5_error']:.2f}%" if rec.get("top5_error") is not None else "n/a"
    skipped = " (finished earlier, skipped)" if rec.get("skipped") else ""
    return (f"{m} on {ds}: top-1 error {100 * rec['top1_error']:.2f}%, top-5 error {top5}, "
            f"fit {t.get('fit_s', 0):.1f} s, predict {t.get('predict_images_per_s', 0):,.0f} img/s{spent}{skipped}")


@click.command("run", short_help="Train and score one method on one data set.")
@click.argument("method", type=MethodName())
@dataset_option("A data set name (see `histnet datasets list`) or a folder in a known layout.")
@data_options
@device_option("cpu (numpy), gpu (cupy; an error without CUDA), or auto (GPU if present, else CPU).")
@seed_option("Seeds the data subset/split and the method.")
@click.option("--profile", type=click.Choice(["quick", "full"]), default=None,
              help="quick (the default, as in histnet progression): minutes on a laptop; full: the papers' "
                   "settings (hours). See `histnet methods info METHOD`.")
@set_option("Override a hyper-parameter, e.g. --set C=0.1 (repeatable).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="A TOML file of hyper-parameters (NAME = value); --set wins over it.")
@out_option("Folder for run folders (each holds result.json and checkpoints).", default="runs")
@resume_option("Skip a finished identical run; continue an interrupted one from its checkpoint.")
@click.option("--json", "as_json", is_flag=True, help="Print the result record as one JSON object on stdout.")
@click.option("--save/--no-save", "save_model", default=True, show_default=True,
              help="Keep the fitted model as model.npz in the run folder (for histnet predict).")
@budget_option("Wall-clock time the fit may take, e.g. 90s, 10m, 1h: the method shortens its epochs, "
               "training images or SVM iterations to fit, and the record says how.")
@click.pass_context
def run_command(ctx, method, dataset, root, data, device, seed, profile, sets, config_file, out, resume, as_json,
                save_model, budget):
    """Train METHOD on the training split of DATASET and score it on the test split.

    The record (metrics, timings, config, versions, machine, this command line) is
    written atomically to OUT/<run id>/result.json.
    """
    from histnet.experiment import JobSpec, run_job
    from histnet.io import to_json
    from histnet.methods import get_method, load_toml_config, make_config, parse_overrides

    ui = ui_of(ctx)
    overrides = load_toml_config(config_file) if config_file else {}
    overrides.update(parse_overrides(sets))
    if profile is None and "quick" in get_method(method).profiles:
        profile = "quick"  # run and progression default alike
    make_config(get_method(method), overrides, profile)  # a bad --set fails here, before any folder is made
    spec = JobSpec(method=method, dataset=dataset, seed=seed, profile=profile, overrides=overrides, root=root,
                   device=device, data=data, save_model=save_model, budget=budget)
    rec = run_job(spec, out, resume=resume, progress=ui.progress, notify=ui.note, command=command_line())
    # --resume may find the run under another id (the same configuration, find_finished)
    record_path = Path(out) / (rec.get("run_id") or spec.run_id()) / "result.json"
    if as_json:
        click.echo(to_json(rec, indent=None))
        if rec.get("status") != "ok":
            ctx.exit(1)
    elif rec.get("status") != "ok":
        raise click.ClickException(f"{rec.get('error')} (record: {record_path})")
    else:
        click.echo(summary_line(rec))
        ui.note(f"record: {record_path}" + (f"; model: {record_path.parent / rec['model']}" if rec.get("model") else ""))


def terminal_columns():
    """The width of the terminal stdout writes to, in characters; None when stdout is not a
    terminal (a pipe, a file, a test), where ``histnet report`` prints every column."""
    import shutil

    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):  # a replaced or closed stream
        return None
    return shutil.get_terminal_size().columns


@click.command("report", short_help="Side-by-side table (and figures) of run folders.")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True))
@out_option("Where to write table.md/.csv/.tex, the figures and report.html "
            "(default: the single RUNS folder, else ./report).")
@figures_option("Also draw the figures and write report.html (the table, figures, commands and machines "
                "on one page that opens offline).")
@click.pass_context
def report_command(ctx, runs, out, figures):
    """Read RUNS (run folders, or folders holding them) into one table.

    The table is printed and written as Markdown, CSV and LaTeX; with the figures, also
    as report.html. In a terminal too narrow for every column, the printed table keeps
    year, method, data set, setting, errors, fit time and note; the files keep every column.
    """
    from histnet.report import jump_line, load_records, markdown_width, narrow_table, to_markdown, write_report

    records = load_records(runs)
    if not records:
        raise click.ClickException(f"no result.json under {', '.join(runs)}")
    out = out or (runs[0] if len(runs) == 1 and Path(runs[0]).is_dir() else "report")
    res = write_report(records, out, dataset=None, figures=figures)
    full = to_markdown(res["table"])
    columns = terminal_columns()
    if columns is not None and markdown_width(full) > columns:
        narrow = narrow_table(res["table"])
        click.echo(to_markdown(narrow))
        files = "table.md, table.csv, table.tex" + (" and report.html" if figures else "")
        click.echo(f"(narrow view: {len(narrow.columns)} of {len(res['table'].columns)} columns, for a terminal "
                   f"{columns} characters wide; {files} in {out} keep every column)")
    else:
        click.echo(full)
    click.echo(jump_line(res["jump"]))
    ui_of(ctx).note(f"written: {', '.join(str(p) for p in res['paths'])}")
