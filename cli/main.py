"""The `histnet` command: one click group; each command parses, calls histnet, prints.

Expected failures (a :class:`histnet.errors.HistnetError`) print one line,
``Error: <message>``, on stderr and exit with status 1; usage errors exit with 2;
anything else is a bug and keeps its traceback. Progress bars go to stderr, only when
it is a terminal unless ``--progress`` forces them; ``--quiet`` silences the notes.
"""

from __future__ import annotations

import difflib
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import click

from histnet import __version__
from histnet.errors import HistnetError
from histnet.progress import ProgressEvent

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEVICE = click.Choice(["cpu", "gpu", "auto"])


# -- output helpers ------------------------------------------------------------------------------


class Ui:
    """What the commands print besides their results: notes and progress bars (stderr)."""

    def __init__(self, quiet: bool = False, progress=None):
        self.quiet = quiet
        self.bars = (not quiet) and (progress if progress is not None else sys.stderr.isatty())
        self._last = 0.0
        self._open = False

    def note(self, msg: str) -> None:
        if not self.quiet:
            self._end_bar()
            click.echo(msg, err=True)

    def _end_bar(self):
        if self._open:
            click.echo("", err=True)
            self._open = False

    def progress(self, ev: ProgressEvent) -> None:
        """Draw a one-line bar with ETA; redrawn at most 10 times a second."""
        if not self.bars:
            return
        now = time.monotonic()
        done = ev.total is not None and ev.step >= ev.total
        if now - self._last < 0.1 and not done:
            return
        self._last = now
        if ev.total:
            frac = min(ev.step / ev.total, 1.0)
            bar = "#" * int(20 * frac) + "-" * (20 - int(20 * frac))
            eta = ev.eta
            eta_s = f" ETA {int(eta // 60)}:{int(eta % 60):02d}" if eta is not None and not done else ""
            line = f"[{ev.stage}] |{bar}| {ev.step}/{ev.total}{eta_s}"
        else:
            line = f"[{ev.stage}] {ev.step}"
        if ev.message:
            line += f"  {ev.message}"
        if sys.stderr.isatty():
            click.echo("\r\033[K" + line[:150], err=True, nl=False)
            self._open = True
            if done:
                self._end_bar()
        else:
            click.echo(line, err=True)


def _ui(ctx) -> Ui:
    return ctx.find_root().obj


class HistnetGroup(click.Group):
    """The group turns HistnetError into one line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HistnetError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("\nInterrupted: finished results are kept; run again with --resume to continue.", err=True)
            ctx.exit(130)


class MethodName(click.ParamType):
    """A registered method name; unknown names get the closest suggestions."""

    name = "METHOD"

    def convert(self, value, param, ctx):
        from histnet.methods import available_methods, plugin_errors

        methods = available_methods()
        if value in methods:
            return value
        broken = plugin_errors()
        if value in broken:
            self.fail(f"method {value!r} is a plug-in that failed to load: {broken[value]}", param, ctx)
        close = difflib.get_close_matches(value, methods, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        self.fail(f"unknown method {value!r}{hint} (known: {', '.join(methods)})", param, ctx)


class DatasetName(click.ParamType):
    """A known data set name or an existing folder."""

    name = "DATASET"

    def convert(self, value, param, ctx):
        if os.sep in value or os.path.exists(value):
            if not os.path.exists(value):
                self.fail(f"{value}: no such folder", param, ctx)
            return value
        from histnet.data import catalog

        names = list(catalog.KNOWN)
        if value in names:
            return value
        close = difflib.get_close_matches(value, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        self.fail(f"unknown data set {value!r}{hint} (known: {', '.join(names)}; or give a folder)", param, ctx)


def _csv_list(value):
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _data_options(image_size, grayscale, n_per_class, test_n_per_class, val_fraction, skip_bad):
    return {"image_size": image_size, "grayscale": grayscale, "n_per_class": n_per_class,
            "test_n_per_class": test_n_per_class, "val_fraction": val_fraction, "skip_bad": skip_bad}


def data_options(f):
    """The data-loading options shared by run, progression, crossover and cost."""
    opts = [
        click.option("--root", type=click.Path(file_okay=False), default=None, envvar="HISTNET_DATA",
                     help="Folder where named data sets live (default: $HISTNET_DATA or ~/.cache/histnet/datasets)."),
        click.option("--image-size", type=click.IntRange(4, 4096), default=None,
                     help="Resize the shorter side and centre-crop to this square size (default: native)."),
        click.option("--grayscale/--color", default=None, help="Convert images to grey or to colour (default: native)."),
        click.option("--n-per-class", type=click.IntRange(1), default=None,
                     help="Use a stratified subset of N training images per class (seeded)."),
        click.option("--test-n-per-class", type=click.IntRange(1), default=None,
                     help="Use a stratified subset of N test images per class (seeded)."),
        click.option("--val-fraction", type=click.FloatRange(0, 0.9), default=0.0, show_default=True,
                     help="Carve a stratified validation split of this fraction from train."),
        click.option("--skip-bad", is_flag=True, help="Skip corrupt images (and report how many) instead of stopping."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _version_message():
    import numpy

    from histnet.backend import cupy_if_usable

    cp = cupy_if_usable()
    dev = "gpu available (cupy " + cp.__version__ + ")" if cp is not None else "no GPU (cpu only)"
    return f"histnet {__version__}, numpy {numpy.__version__}, python {sys.version.split()[0]}; {dev}"


def _print_version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        click.echo(_version_message())
        ctx.exit()


# -- the group -----------------------------------------------------------------------------------


@click.group(name="histnet", cls=HistnetGroup, context_settings=CONTEXT)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Print versions and the compute device, then exit.")
@click.option("-q", "--quiet", is_flag=True, help="Print results only: no notes, no progress bars.")
@click.option("--progress/--no-progress", default=None,
              help="Force progress bars on or off (default: on when stderr is a terminal).")
@click.pass_context
def cli(ctx, quiet, progress):
    """histnet: re-run the road to modern computer vision, side by side.

    HOG and dense-SIFT pipelines with linear SVMs (ILSVRC 2010-2011), deep belief nets
    (2006) and AlexNet (2012) on the same data, scored by the same evaluation.

    \b
    Start here:
      histnet progression            every method on the built-in mnist5k, one table
      histnet methods list           what can run
      histnet run hog-svm --dataset mnist5k
    """
    ctx.obj = Ui(quiet=quiet, progress=progress)


# -- datasets ------------------------------------------------------------------------------------


@cli.group("datasets", cls=HistnetGroup, short_help="List, describe and download data sets.")
def datasets_group():
    """Built-in and supported data sets: where each is and how to get it."""


@datasets_group.command("list", short_help="Built-in and supported sets, and whether present.")
@click.option("--root", type=click.Path(file_okay=False), default=None, envvar="HISTNET_DATA",
              help="Folder where named data sets live.")
def datasets_list(root):
    """List every data set histnet knows, where it would be, and whether it is present."""
    from histnet.data import catalog

    rows = catalog.list_datasets(root)
    w = max(len(r["name"]) for r in rows)
    for r in rows:
        present = "present" if r.get("present") else "missing"
        click.echo(f"{r['name']:<{w}}  {r.get('kind', ''):<8}  {present:<7}  {r.get('path') or '-'}  "
                   f"{r.get('description', '')}")


@datasets_group.command("info", short_help="Everything known about one data set.")
@click.argument("name", type=DatasetName())
@click.option("--root", type=click.Path(file_okay=False), default=None, envvar="HISTNET_DATA",
              help="Folder where named data sets live.")
def datasets_info(name, root):
    """Describe NAME: classes, sizes, layout, where it is and how to get it."""
    from histnet.data import catalog

    info = catalog.dataset_info(name, root)
    for k, v in info.items():
        if isinstance(v, (list, tuple)) and len(v) > 12:
            v = ", ".join(map(str, v[:12])) + f", ... ({len(v)} in all)"
        elif isinstance(v, (list, tuple)):
            v = ", ".join(map(str, v))
        text = str(v)
        if "\n" in text:
            click.echo(f"{k}:")
            for line in text.splitlines():
                click.echo(f"  {line}")
        else:
            click.echo(f"{k}: {text}")


@datasets_group.command("download", short_help="Download a data set from its official address.")
@click.argument("name", type=DatasetName())
@click.option("--root", type=click.Path(file_okay=False), required=True, envvar="HISTNET_DATA",
              help="Folder to download into.")
@click.option("--base-url", default=None, help="A mirror to download from instead of the official address.")
@click.pass_context
def datasets_download(ctx, name, root, base_url):
    """Download NAME into ROOT: checksum verified, resumable, extracted safely."""
    from histnet.data import catalog

    ui = _ui(ctx)
    path = catalog.download(name, root, progress=ui.progress, base_url=base_url)
    click.echo(f"{name}: ready in {path}")


# -- methods ---------------------------------------------------------------------------------------


@cli.group("methods", cls=HistnetGroup, short_help="List and describe the methods.")
def methods_group():
    """The registered methods: built-in and from `histnet.methods` entry points."""


@methods_group.command("list", short_help="Name, year, paper and family of every method.")
def methods_list():
    """List every registered method in historical order."""
    from histnet.methods import available_methods, plugin_errors

    methods = available_methods()
    w = max([len(n) for n in methods] + [4])
    for name, cls in methods.items():
        click.echo(f"{name:<{w}}  {cls.year or '':<4}  {cls.family:<12}  {cls.paper}")
    for name, err in plugin_errors().items():
        click.echo(f"{name:<{w}}  (plug-in failed to load: {err})", err=True)


@methods_group.command("info", short_help="A method's parameters, defaults and profiles.")
@click.argument("name", type=MethodName())
def methods_info(name):
    """Show NAME's paper, summary, parameters with defaults, and profiles."""
    import dataclasses

    from histnet.methods import get_method

    cls = get_method(name)
    click.echo(f"{cls.name} ({cls.year}, {cls.family}): {cls.paper}")
    doc = (cls.__module__ and sys.modules[cls.__module__].__doc__ or cls.__doc__ or "").strip()
    if cls.summary or doc:
        click.echo("")
        click.echo(cls.summary or doc.split("\n\n")[0])
    click.echo("\nparameters (set with --set NAME=VALUE or --config FILE.toml):")
    for f in dataclasses.fields(cls.Config):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "required")
        click.echo(f"  {f.name} = {default!r}")
    for prof, values in cls.profiles.items():
        click.echo(f"profile {prof}: " + (", ".join(f"{k}={v!r}" for k, v in values.items()) or "defaults"))


# -- run -------------------------------------------------------------------------------------------


def _summary_line(rec: dict) -> str:
    m = rec.get("method")
    ds = (rec.get("dataset") or {}).get("name", "?")
    if rec.get("status") != "ok":
        return f"{m} on {ds}: {rec.get('status')}: {rec.get('error')}"
    t = rec.get("timing", {})
    top5 = f"{100 * rec['top5_error']:.2f}%" if rec.get("top5_error") is not None else "n/a"
    skipped = " (finished earlier, skipped)" if rec.get("skipped") else ""
    return (f"{m} on {ds}: top-1 error {100 * rec['top1_error']:.2f}%, top-5 error {top5}, "
            f"fit {t.get('fit_s', 0):.1f} s, predict {t.get('predict_images_per_s', 0):,.0f} img/s{skipped}")


@cli.command("run", short_help="Train and score one method on one data set.")
@click.argument("method", type=MethodName())
@click.option("--dataset", "-d", type=DatasetName(), default="mnist5k", show_default=True,
              help="A data set name (see `histnet datasets list`) or a folder in a known layout.")
@data_options
@click.option("--device", type=DEVICE, default="cpu", show_default=True,
              help="cpu (numpy), gpu (cupy; an error without CUDA), or auto (GPU if present, else CPU).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the data subset/split and the method.")
@click.option("--profile", type=click.Choice(["quick", "full"]), default=None,
              help="A named set of hyper-parameters (see `histnet methods info METHOD`).")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a hyper-parameter, e.g. --set C=0.1 (repeatable).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="A TOML file of hyper-parameters (NAME = value); --set wins over it.")
@click.option("--out", type=click.Path(file_okay=False), default="runs", show_default=True,
              help="Folder for run folders (each holds result.json and checkpoints).")
@click.option("--resume", is_flag=True, help="Skip a finished identical run; continue an interrupted one from its checkpoint.")
@click.option("--json", "as_json", is_flag=True, help="Print the result record as one JSON object on stdout.")
@click.pass_context
def run_command(ctx, method, dataset, root, image_size, grayscale, n_per_class, test_n_per_class, val_fraction,
                skip_bad, device, seed, profile, sets, config_file, out, resume, as_json):
    """Train METHOD on the training split of DATASET and score it on the test split.

    The record (metrics, timings, config, versions, machine, this command line) is
    written atomically to OUT/<run id>/result.json.
    """
    from histnet.experiment import JobSpec, run_job
    from histnet.io import to_json
    from histnet.methods import parse_overrides
    from histnet.methods.config import load_toml_config

    ui = _ui(ctx)
    overrides = load_toml_config(config_file) if config_file else {}
    overrides.update(parse_overrides(sets))
    from histnet.methods import get_method, make_config

    make_config(get_method(method), overrides, profile)  # a bad --set fails here, before any folder is made
    spec = JobSpec(method=method, dataset=dataset, seed=seed, profile=profile, overrides=overrides, root=root,
                   device=device, data=_data_options(image_size, grayscale, n_per_class, test_n_per_class,
                                                     val_fraction, skip_bad))
    rec = run_job(spec, out, resume=resume, progress=ui.progress, notify=ui.note,
                  command=shlex.join(["histnet"] + sys.argv[1:]))
    if as_json:
        click.echo(to_json(rec, indent=None))
        if rec.get("status") != "ok":
            ctx.exit(1)
    elif rec.get("status") != "ok":
        raise click.ClickException(f"{rec.get('error')} (record: {Path(out) / spec.run_id() / 'result.json'})")
    else:
        click.echo(_summary_line(rec))
        ui.note(f"record: {Path(out) / spec.run_id() / 'result.json'}")


# -- report ----------------------------------------------------------------------------------------


@cli.command("report", short_help="Side-by-side table (and figures) of run folders.")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Where to write table.md/.csv/.tex and figures (default: the single RUNS folder, else ./report).")
@click.option("--figures/--no-figures", default=True, show_default=True, help="Also draw the figures.")
@click.pass_context
def report_command(ctx, runs, out, figures):
    """Read RUNS (run folders, or folders holding them) into one table.

    The table is printed and written as Markdown, CSV and LaTeX.
    """
    from histnet.report import jump_line, load_records, to_markdown, write_report

    records = load_records(runs)
    if not records:
        raise click.ClickException(f"no result.json under {', '.join(runs)}")
    out = out or (runs[0] if len(runs) == 1 and Path(runs[0]).is_dir() else "report")
    res = write_report(records, out, figures=figures)
    click.echo(to_markdown(res["table"]))
    click.echo(jump_line(res["jump"]))
    _ui(ctx).note(f"written: {', '.join(str(p) for p in res['paths'])}")


# -- progression, crossover, cost ----------------------------------------------------------------


def _image_size_of(dataset, root, seed, data):
    from histnet.experiment import JobSpec, load_job_splits

    splits = load_job_splits(JobSpec(method="", dataset=dataset, seed=seed, root=root, data=data))
    return splits.train.image_shape[0], splits.train.name


def _per_method_overrides(sets, names) -> dict:
    """``["alexnet-cifar.epochs=5"]`` -> ``{"alexnet-cifar": {"epochs": "5"}}``, names checked."""
    from histnet.methods import get_method, make_config, parse_overrides

    out: dict = {}
    for item in sets:
        method, sep, rest = item.partition(".")
        if not sep or "=" not in rest:
            raise click.BadParameter(f"{item!r}: expected METHOD.NAME=VALUE", param_hint="--set")
        if method not in names:
            raise click.BadParameter(f"{item!r}: {method} is not in this progression ({', '.join(names)})",
                                     param_hint="--set")
        out.setdefault(method, {}).update(parse_overrides([rest]))
    for method, ov in out.items():
        make_config(get_method(method), ov)  # unknown names fail now, before anything runs
    return out


@cli.command("progression", short_help="Every historical method on one data set, side by side.")
@click.option("--dataset", "-d", type=DatasetName(), default="mnist5k", show_default=True,
              help="A data set name or a folder in a known layout.")
@data_options
@click.option("--profile", type=click.Choice(["quick", "full"]), default="quick", show_default=True,
              help="quick: minutes on a laptop; full: the papers' settings (hours).")
@click.option("--methods", default=None, metavar="A,B,...",
              help="Only these methods (comma-separated; `alexnet` means the variant that fits the image size).")
@click.option("--device", type=DEVICE, default="cpu", show_default=True, help="cpu, gpu or auto.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split and of every method.")
@click.option("--set", "sets", multiple=True, metavar="METHOD.NAME=VALUE",
              help="Override one method's hyper-parameter, e.g. --set alexnet-cifar.epochs=5 (repeatable).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Run here, or on a Dask distributed cluster (--scheduler).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="The Dask scheduler address.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run folder (default: runs/progression-<dataset>).")
@click.option("--resume", is_flag=True, help="Skip methods that finished; continue interrupted ones.")
@click.option("--figures/--no-figures", default=True, show_default=True, help="Draw the figures.")
@click.pass_context
def progression_command(ctx, dataset, root, image_size, grayscale, n_per_class, test_n_per_class, val_fraction,
                        skip_bad, profile, methods, device, seed, sets, executor, scheduler, out, resume, figures):
    """Run pixels-svm, hog-svm, the three SIFT pipelines, dbn and AlexNet in historical order
    on the same split with the same seed, then print the side-by-side table and write it
    (Markdown, CSV, LaTeX) with the figures.

    With no options: the built-in mnist5k and the quick profile, a few minutes on 2 cores.
    """
    from histnet.experiment import JobSpec, run_grid
    from histnet.methods.registry import progression_methods
    from histnet.report import jump_line, to_markdown, write_report

    ui = _ui(ctx)
    data = _data_options(image_size, grayscale, n_per_class, test_n_per_class, val_fraction, skip_bad)
    size, name = _image_size_of(dataset, root, seed, data)
    names = progression_methods(size, _csv_list(methods))
    if not names:
        raise click.ClickException("no method of the progression is available")
    out = Path(out or f"runs/progression-{Path(name).name}")
    ui.note(f"progression on {name} ({profile} profile): {', '.join(names)}; runs in {out}")
    overrides = _per_method_overrides(sets, names)
    specs = [JobSpec(method=m, dataset=dataset, seed=seed, profile=profile, root=root, device=device, data=data,
                     overrides=overrides.get(m, {}), tag="progression") for m in names]

    def done(rec):
        ui.note(_summary_line(rec))

    command = shlex.join(["histnet"] + sys.argv[1:])
    records = run_grid(specs, out, resume=resume, executor=executor, scheduler=scheduler, progress=ui.progress,
                       on_result=done, command=command, notify=ui.note)
    from histnet.report import load_records

    by_id = {r.get("run_id"): r for r in load_records([out])}
    records = [by_id.get(s.run_id(), r) for s, r in zip(specs, records)]
    res = write_report(records, out, dataset=name, figures=figures)
    (out / "COMMAND.txt").write_text(command + "\n")
    click.echo(to_markdown(res["table"]))
    click.echo(jump_line(res["jump"]))
    ui.note(f"written: {', '.join(str(p) for p in res['paths'])}")


@cli.command("crossover", short_help="Accuracy against training images per class, per method.")
@click.option("--dataset", "-d", type=DatasetName(), default="mnist5k", show_default=True, help="Data set name or folder.")
@click.option("--root", type=click.Path(file_okay=False), default=None, envvar="HISTNET_DATA", help="Where named data sets live.")
@click.option("--sizes", default="10,30,100,300,all", show_default=True,
              help="Training images per class, comma-separated; `all` = the whole training split.")
@click.option("--methods", default="pixels-svm,hog-svm,sift-fisher-svm,alexnet", show_default=True, metavar="A,B,...",
              help="Methods to compare (`alexnet` = the variant that fits).")
@click.option("--test-n-per-class", type=click.IntRange(1), default=None,
              help="Score on a stratified subset of N test images per class (default: the whole test split).")
@click.option("--seeds", default="0", show_default=True, help="Seeds, comma-separated (error bars over seeds).")
@click.option("--profile", type=click.Choice(["quick", "full"]), default="quick", show_default=True, help="Method profile.")
@click.option("--device", type=DEVICE, default="cpu", show_default=True, help="cpu, gpu or auto.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True, help="Where jobs run.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="The Dask scheduler address.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run folder (default: runs/crossover-<dataset>).")
@click.option("--resume", is_flag=True, help="Skip finished jobs.")
@click.option("--reuse-from", "reuse_from", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="A run folder (e.g. the progression's) whose finished jobs with the same settings are copied "
                   "instead of run again: the `all` point of a full-test-split crossover (repeatable).")
@click.pass_context
def crossover_command(ctx, dataset, root, sizes, methods, test_n_per_class, seeds, profile, device, executor, scheduler,
                      out, resume, reuse_from):
    """Train each method on growing training sets and draw accuracy against images per
    class: where the CNN overtakes the hand-crafted pipelines ("scale matters")."""
    from histnet.experiment import JobSpec, read_result, reuse_finished, run_grid
    from histnet.methods.registry import progression_methods
    from histnet.report import (crossover_line, crossover_point, plot_crossover, records_to_frame, to_markdown,
                                with_images_per_class, write_tables)

    ui = _ui(ctx)
    size, name = _image_size_of(dataset, root, 0, {})
    names = progression_methods(size, _csv_list(methods))
    seed_list = [int(s) for s in _csv_list(seeds)]
    counts = []
    for s in _csv_list(sizes):
        if s == "all":
            counts.append(None)
        elif s.isdigit() and int(s) > 0:
            counts.append(int(s))
        else:
            raise click.BadParameter(f"{s!r} is not a positive count or 'all'", param_hint="--sizes")
    out = Path(out or f"runs/crossover-{Path(name).name}")
    # the data options are spelled as the progression spells them, so that the `all` point with
    # the whole test split has the progression's run id (and --reuse-from can take it)
    specs = [JobSpec(method=m, dataset=dataset, seed=sd, profile=profile, root=root, device=device,
                     data=_data_options(None, None, n, test_n_per_class, 0.0, False), tag="crossover")
             for n in counts for m in names for sd in seed_list]
    ui.note(f"crossover on {name}: {len(specs)} jobs in {out}")
    copied = reuse_finished(specs, out, reuse_from)
    for rid in copied:
        ui.note(f"{rid}: finished in {', '.join(reuse_from)}; copied, not run again")
    records = run_grid([s for s in specs if s.run_id() not in copied], out, resume=resume, executor=executor,
                       scheduler=scheduler, progress=ui.progress, on_result=lambda r: ui.note(_summary_line(r)),
                       command=shlex.join(["histnet"] + sys.argv[1:]))
    records += [read_result(out / rid) for rid in copied]
    df = records_to_frame(records)
    ok = with_images_per_class(df)
    ok["train images per class"] = ok["ipc"].astype(int)
    table = (ok.pivot_table(index="train images per class", columns="method", values="top1_error", aggfunc="mean")
             .map(lambda v: f"{100 * v:.2f}%").reset_index())
    line = crossover_line(crossover_point(df))
    write_tables(table, out, "crossover", caption=f"top-1 error against training images per class, {name}. {line}")
    paths = plot_crossover(df, out / "crossover", name)
    (out / "COMMAND.txt").write_text(shlex.join(["histnet"] + sys.argv[1:]) + "\n")
    click.echo(to_markdown(table))
    click.echo(line)
    ui.note(f"written: {', '.join(str(p) for p in paths)}")


@cli.command("cost", short_help="FLOPs, time and memory per method (CPU vs GPU where present).")
@click.option("--dataset", "-d", type=DatasetName(), default="mnist5k", show_default=True, help="Data set name or folder.")
@click.option("--root", type=click.Path(file_okay=False), default=None, envvar="HISTNET_DATA", help="Where named data sets live.")
@click.option("--methods", default=None, metavar="A,B,...", help="Methods (default: the whole progression).")
@click.option("--profile", type=click.Choice(["quick", "full"]), default="quick", show_default=True, help="Method profile.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run folder (default: runs/cost-<dataset>).")
@click.pass_context
def cost_command(ctx, dataset, root, methods, profile, out):
    """Run each method in a fresh process (so peak memory is its own) on the CPU, and on
    the GPU too when one is present; tabulate FLOPs per image, parameters, fit time,
    prediction speed and peak memory."""
    import pandas as pd

    from histnet.backend import cupy_if_usable
    from histnet.methods.registry import progression_methods
    from histnet.report import load_records, records_to_frame, to_markdown, write_tables

    ui = _ui(ctx)
    size, name = _image_size_of(dataset, root, 0, {})
    names = progression_methods(size, _csv_list(methods))
    devices = ["cpu"] + (["gpu"] if cupy_if_usable() is not None else [])
    out = Path(out or f"runs/cost-{Path(name).name}")
    for dev in devices:
        for m in names:
            cmd = [sys.executable, "-m", "histnet_cli", "--quiet", "run", m, "--dataset", dataset, "--profile", profile,
                   "--device", dev, "--out", str(out / dev), "--resume"] + (["--root", root] if root else [])
            ui.note(f"{m} on {dev} ...")
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = (proc.stdout if proc.returncode == 0 else proc.stderr).strip().splitlines()
            ui.note(lines[-1] if lines else f"{m} on {dev}: no output (exit status {proc.returncode})")
    df = records_to_frame(load_records([out]))
    df = df[df["status"] == "ok"]
    table = pd.DataFrame({
        "method": df["method"], "device": df["device"],
        "MFLOPs / image": (df["flops_per_image"].astype(float) / 1e6).round(2),
        "params": df["n_params"], "feature dim": df["feature_dim"],
        "fit (s)": df["fit_s"].round(1), "predict (img/s)": df["predict_img_s"].round(0),
        "peak memory (MiB)": df["peak_rss_mb"].round(0), "top-1 error (%)": (100 * df["top1_error"]).round(2),
    }).fillna("n/a")
    write_tables(table, out, "cost", caption=f"cost per method on {name}")
    click.echo(to_markdown(table))


# -- bench ---------------------------------------------------------------------------------------------


@cli.command("bench", short_help="Run the speed benchmarks against the peer libraries.")
@click.argument("names", nargs=-1)
@click.option("--dir", "bench_dir", type=click.Path(exists=True, file_okay=False), default="benchmarks",
              show_default=True, help="The benchmarks folder of a histnet source checkout.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Also write the table as Markdown here.")
@click.pass_context
def bench_command(ctx, names, bench_dir, out):
    """Run benchmarks/speed_NAME.py (all, or NAMES) and tabulate the JSON line each prints.

    Each benchmark runs histnet and its peer library in one process on the same input;
    its ratio is the only timing claim (see the script's docstring for its direction).
    Needs the bench extra: pip install '.[bench]'.
    """
    ui = _ui(ctx)
    scripts = sorted(Path(bench_dir).glob("speed_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem[len("speed_"):] in names]
        missing = set(names) - {s.stem[len("speed_"):] for s in scripts}
        if missing:
            raise click.BadParameter(f"no benchmark {', '.join(sorted(missing))} in {bench_dir}", param_hint="NAMES")
    rows = []
    for s in scripts:
        ui.note(f"running {s} ...")
        proc = subprocess.run([sys.executable, str(s)], capture_output=True, text=True)
        line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
        if proc.returncode != 0 or line is None:
            rows.append((s.stem, f"failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}"))
        else:
            rows.append((s.stem, line))
    text = "| benchmark | result (JSON) |\n|---|---|\n" + "".join(f"| {a} | `{b}` |\n" for a, b in rows)
    click.echo(text)
    if out:
        from histnet.io import atomic_write

        with atomic_write(out, "w") as f:
            f.write(text)


def main():
    cli(prog_name="histnet", auto_envvar_prefix="HISTNET")


if __name__ == "__main__":
    main()
