"""The studies behind ``histnet progression``, ``histnet crossover`` and ``histnet cost``.

Each study is one function that builds its jobs (:class:`histnet.experiment.JobSpec`),
runs them, writes its tables and figures with :mod:`histnet.report` into one run
folder, and returns a plain result object:

:func:`run_progression`
    every method of the progression on one split, side by side (``table.md``/``.csv``/
    ``.tex``, the figures, and the "2012 jump" line).
:func:`run_crossover`
    the methods trained on growing training sets (images per class), the pivot table
    ``crossover.md``/``.csv``/``.tex``, the figure and the line saying where the CNN
    overtakes the hand-crafted pipelines.
:func:`measure_cost`
    each method in a fresh ``python -m histnet_cli run`` process on the CPU, and on the
    GPU too when one is usable, and the table ``cost.md``/``.csv``/``.tex``.

Nothing here prints. Like :func:`histnet.experiment.run_grid`, the studies take
``notify`` (called with one line of text per note), ``progress`` (called with
:class:`histnet.progress.ProgressEvent`) and ``on_result`` (called with each record as
its job finishes); leave them out for silence. Example::

    from histnet.studies import run_progression

    res = run_progression("mnist5k", methods=["pixels-svm", "hog-svm"],
                          data={"n_per_class": 10, "test_n_per_class": 5}, out="runs/demo")
    print(res.table)
    print(res.jump_line)

The folders, file names and run ids are those the command line uses, so a study run
from Python and the same command resume each other's runs.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence, Union

import pandas as pd

from .errors import ConfigError, HistnetError
from .experiment import DATA_OPTION_NAMES, JobSpec, load_job_splits, read_result, reuse_finished, run_grid
from .methods import get_method, make_config, parse_overrides
from .methods.registry import DEFAULT_UNTIL, crossover_methods, progression_methods
from .progress import ProgressCallback

Notify = Optional[Callable[[str], None]]
OnResult = Optional[Callable[[dict], None]]

#: The data options of a study's jobs and their values when not given. A job's run id
#: covers all of them, so the same study asked twice gets the same run ids.
DATA_DEFAULTS = {"image_size": None, "grayscale": None, "n_per_class": None, "test_n_per_class": None,
                 "val_fraction": 0.0, "skip_bad": False}
assert tuple(DATA_DEFAULTS) == DATA_OPTION_NAMES

#: The training-set sizes of :func:`run_crossover` when none are given (None: all).
CROSSOVER_SIZES = (10, 30, 100, 300, None)


class OptionError(ConfigError):
    """A study option is malformed: a size that is not a count, an override that is not
    ``METHOD.NAME=VALUE`` or that names a method outside the study.

    Attributes
    ----------
    option : str
        The argument at fault: ``"sizes"`` or ``"overrides"`` (the command line shows
        these as ``--sizes`` and ``--set``).
    """

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


# -- results -------------------------------------------------------------------------------------


@dataclass
class ProgressionResult:
    """What :func:`run_progression` returns.

    Attributes
    ----------
    dataset : str
        The data set's name (as its records give it).
    out : pathlib.Path
        The run folder.
    methods : list of str
        The methods run, in historical order.
    records : list of dict
        One result record per method, in the order of ``methods``, as read back from
        the run folder.
    table : pandas.DataFrame
        The side-by-side table (one row per method), as written to ``table.csv``.
    jump : dict
        The "2012 jump" figures (:func:`histnet.report.the_jump`).
    jump_line : str
        The one line that states the jump, printed under the table.
    paths : list of pathlib.Path
        The tables and figures written (not ``COMMAND.txt``).
    """

    dataset: str
    out: Path
    methods: list
    records: list
    table: pd.DataFrame
    jump: dict
    jump_line: str
    paths: list = field(default_factory=list)


@dataclass
class CrossoverResult:
    """What :func:`run_crossover` returns.

    Attributes
    ----------
    dataset : str
        The data set's name.
    out : pathlib.Path
        The run folder.
    methods : list of str
        The methods compared.
    records : list of dict
        One record per job: those run (in job order), then those copied from
        ``reuse_from``.
    copied : list of str
        Run ids of the jobs copied from ``reuse_from`` instead of run (each in the run
        folder its source gave it: the same name unless the source made it under another id
        of the same configuration).
    table : pandas.DataFrame
        Mean top-1 error (formatted as a percentage) per training images per class
        (rows) and method (columns), as written to ``crossover.csv``.
    point : dict or None
        Where the CNN overtakes the hand-crafted pipelines
        (:func:`histnet.report.crossover_point`).
    crossover_line : str
        The one line that says so, printed under the table.
    table_paths : list of pathlib.Path
        ``crossover.md``, ``.csv`` and ``.tex``.
    figure_paths : list of pathlib.Path
        ``crossover.png`` and ``.svg`` (none when no job finished).
    """

    dataset: str
    out: Path
    methods: list
    records: list
    copied: list
    table: pd.DataFrame
    point: Optional[dict]
    crossover_line: str
    table_paths: list = field(default_factory=list)
    figure_paths: list = field(default_factory=list)

    @property
    def paths(self) -> list:
        """Every table and figure written."""
        return self.table_paths + self.figure_paths


@dataclass
class CostResult:
    """What :func:`measure_cost` returns.

    Attributes
    ----------
    dataset : str
        The data set's name.
    out : pathlib.Path
        The run folder; the runs of each device are in ``out/<device>``.
    methods : list of str
        The methods measured.
    devices : list of str
        ``["cpu"]``, or ``["cpu", "gpu"]`` when a GPU was usable.
    records : list of dict
        Every record found under ``out`` (earlier runs too), finished or not.
    table : pandas.DataFrame
        One row per finished run: FLOPs per image, parameters, feature dimension, fit
        time, prediction speed, peak memory and top-1 error, as written to ``cost.csv``.
    paths : list of pathlib.Path
        ``cost.md``, ``.csv`` and ``.tex``.
    """

    dataset: str
    out: Path
    methods: list
    devices: list
    records: list
    table: pd.DataFrame
    paths: list = field(default_factory=list)


# -- inputs ----------------------------------------------------------------------------------------


def data_options(data: Optional[Mapping] = None) -> dict:
    """All six data options of a job, the missing ones at their defaults.

    Parameters
    ----------
    data : mapping, optional
        Some of ``image_size``, ``grayscale``, ``n_per_class``, ``test_n_per_class``,
        ``val_fraction`` and ``skip_bad`` (see :func:`histnet.data.load_splits`).

    Returns
    -------
    dict
        Every option, in that order; :data:`DATA_DEFAULTS` fills the gaps. A job's run
        id covers this dict, so passing it whole keeps run ids equal to the command's.

    Raises
    ------
    ConfigError
        A key is not a data option.
    """
    data = dict(data or {})
    unknown = sorted(set(data) - set(DATA_DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown data option {', '.join(unknown)} (known: {', '.join(DATA_DEFAULTS)})")
    return {k: data.get(k, v) for k, v in DATA_DEFAULTS.items()}


def image_size_of(dataset: str, *, root=None, seed: int = 0, data: Optional[Mapping] = None) -> tuple[int, str]:
    """The image size and name of a data set, as its jobs would load it.

    Parameters
    ----------
    dataset : str
        A known data set name or a folder.
    root : str or path, optional
        Where named data sets live.
    seed : int, default=0
        The seed of the subset and split.
    data : mapping, optional
        Data options as for :func:`histnet.data.load_splits` (``image_size`` changes
        the answer); missing ones take that function's defaults.

    Returns
    -------
    (int, str)
        The height of the training images in pixels, and the data set's name. The
        splits stay loaded (:func:`histnet.experiment.load_job_splits`), so jobs with
        the same data options do not load them again.
    """
    shape, name = image_shape_of(dataset, root=root, seed=seed, data=data)
    return shape[0], name


def image_shape_of(dataset: str, *, root=None, seed: int = 0, data: Optional[Mapping] = None) -> tuple:
    """``((H, W, C), name)`` of a data set's training images, as its jobs would load them."""
    shape, _, name = training_set_of(dataset, root=root, seed=seed, data=data)
    return shape, name


def training_set_of(dataset: str, *, root=None, seed: int = 0, data: Optional[Mapping] = None) -> tuple:
    """``((H, W, C), n_train, name)`` of a data set's training split, as its jobs would load it."""
    splits = load_job_splits(JobSpec(method="", dataset=dataset, seed=seed, root=root, data=dict(data or {})))
    return tuple(int(v) for v in splits.train.image_shape), len(splits.train), splits.train.name


def per_method_overrides(overrides, names: Sequence[str]) -> dict:
    """Check per-method hyper-parameter overrides against the methods of a study.

    Parameters
    ----------
    overrides : mapping or iterable of str or None
        Either ``{method: {name: value}}``, or strings ``"METHOD.NAME=VALUE"`` as
        ``histnet progression --set`` takes them (``"alexnet-cifar.epochs=5"``).
    names : sequence of str
        The methods of the study.

    Returns
    -------
    dict
        ``{method: {name: value}}``; values from strings stay strings (each method's
        config coerces them).

    Raises
    ------
    OptionError
        A string is not ``METHOD.NAME=VALUE``, or a method is not in ``names``
        (``option`` is ``"overrides"``).
    ConfigError
        A name is not a parameter of its method or a value does not fit it (the message
        suggests the closest names). Nothing has run yet.
    """
    out: dict = {}
    if isinstance(overrides, Mapping):
        for method, values in overrides.items():
            if method not in names:
                raise OptionError("overrides", f"{method} is not in this progression ({', '.join(names)})")
            out.setdefault(method, {}).update(values)
    else:
        for item in overrides or ():
            method, sep, rest = item.partition(".")
            if not sep or "=" not in rest:
                raise OptionError("overrides", f"{item!r}: expected METHOD.NAME=VALUE")
            if method not in names:
                raise OptionError("overrides",
                                  f"{item!r}: {method} is not in this progression ({', '.join(names)})")
            out.setdefault(method, {}).update(parse_overrides([rest]))
    for method, values in out.items():
        make_config(get_method(method), values)  # unknown names fail now, before anything runs
    return out


def parse_sizes(sizes: Iterable[Union[int, str, None]]) -> list:
    """Training-set sizes (images per class) of a crossover.

    Parameters
    ----------
    sizes : iterable of int, str or None
        Positive counts (``10`` or ``"10"``), and ``"all"`` or None for the whole
        training split.

    Returns
    -------
    list of int or None
        In the order given; None stands for the whole training split.

    Raises
    ------
    OptionError
        An item is neither a positive count nor ``"all"`` (``option`` is ``"sizes"``).
    """
    counts = []
    for s in sizes:
        if s is None or s == "all":
            counts.append(None)
        elif isinstance(s, int) and not isinstance(s, bool) and s > 0:
            counts.append(s)
        elif isinstance(s, str) and s.isdigit() and int(s) > 0:
            counts.append(int(s))
        else:
            raise OptionError("sizes", f"{s!r} is not a positive count or 'all'")
    return counts


def _only(methods) -> Optional[list]:
    """``methods`` as a list for the registry (one name may come as a plain string), or None."""
    if isinstance(methods, str):
        return [methods]
    return list(methods) if methods else None


def _command_or_argv(command: Optional[str]) -> str:
    """The command line to store in records and ``COMMAND.txt`` (as run_grid's default)."""
    return command if command is not None else " ".join(sys.argv)


# -- the studies -----------------------------------------------------------------------------------


def run_progression(dataset: str, *, root=None, data: Optional[Mapping] = None, profile: str = "quick",
                    methods: Optional[Sequence[str]] = None, until: Optional[int] = DEFAULT_UNTIL,
                    device: str = "cpu", seed: int = 0,
                    overrides=None, executor: str = "local", scheduler: Optional[str] = None, out=None,
                    resume: bool = False, figures: bool = True, command: Optional[str] = None,
                    progress: Optional[ProgressCallback] = None, notify: Notify = None,
                    on_result: OnResult = None, budget: Optional[float] = None) -> ProgressionResult:
    """Run the methods of the progression on one split and write the side-by-side table.

    Every method runs on the same split with the same seed and profile, in historical
    order; a method that fails gets a row saying why and the others go on.

    Parameters
    ----------
    dataset : str
        A known data set name (``"mnist5k"``) or a folder in a known layout.
    root : str or path, optional
        Where named data sets live.
    data : mapping, optional
        Data options (:func:`data_options`), e.g. ``{"n_per_class": 10}``.
    profile : {"quick", "full"}, default="quick"
        The methods' profile.
    methods : sequence of str, optional
        Only these methods or progression slots (``"alexnet"`` is the variant that fits
        the image size); default: the whole progression.
    until : int or None, default=2012
        The last year of the progression when ``methods`` is not given: 2012 is the road
        to AlexNet; 2015 adds ZFNet, NIN, VGG and ResNet; None, every year.
    device : {"cpu", "gpu", "auto"}, default="cpu"
        Where the methods compute.
    seed : int, default=0
        Seed of the split and of every method.
    overrides : mapping or iterable of str, optional
        Per-method hyper-parameters, ``{method: {name: value}}`` or
        ``"METHOD.NAME=VALUE"`` strings (:func:`per_method_overrides`).
    executor : {"local", "dask"}, default="local"
        Where the jobs run (:func:`histnet.experiment.run_grid`).
    scheduler : str, optional
        The Dask scheduler address (``tcp://HOST:PORT``) for ``executor="dask"``.
    out : str or path, optional
        The run folder; default ``runs/progression-<data set name>``.
    resume : bool, default=False
        Skip methods that finished; continue interrupted ones from their checkpoints.
    figures : bool, default=True
        Draw the figures too.
    command : str, optional
        The command line stored in each record and in ``COMMAND.txt``; default: this
        process's ``sys.argv``.
    progress, notify, on_result : callable, optional
        Progress events, one-line notes, and each record as its job finishes.
    budget : float, optional
        Seconds of wall clock each method's fit may take (:mod:`histnet.budget`): equal
        compute. The table gains a ``budget`` column saying how each method spent it, and
        the line under it says that the comparison is at equal compute.

    Returns
    -------
    ProgressionResult

    Raises
    ------
    HistnetError
        No method of the progression is available, the data cannot be loaded, or the
        executor cannot start.
    OptionError, ConfigError
        An override is malformed or names an unknown parameter; raised before any job
        runs (after the note naming the methods).
    """
    from .report import jump_line, load_records, write_report

    data = data_options(data)
    size, name = image_size_of(dataset, root=root, seed=seed, data=data)
    names = progression_methods(size, _only(methods), until=until)
    if not names:
        raise HistnetError("no method of the progression is available")
    out = Path(out or f"runs/progression-{Path(name).name}")
    if notify:
        notify(f"progression on {name} ({profile} profile): {', '.join(names)}; runs in {out}")
    per_method = per_method_overrides(overrides, names)
    specs = [JobSpec(method=m, dataset=dataset, seed=seed, profile=profile, root=root, device=device, data=data,
                     overrides=per_method.get(m, {}), tag="progression", budget=budget) for m in names]
    command = _command_or_argv(command)
    records = run_grid(specs, out, resume=resume, executor=executor, scheduler=scheduler, progress=progress,
                       on_result=on_result, command=command, notify=notify)
    # read back from the folder, so a record from an earlier session reads as a fresh one
    by_id = {r.get("run_id"): r for r in load_records([out])}
    records = [by_id.get(s.run_id(), r) for s, r in zip(specs, records)]
    res = write_report(records, out, dataset=name, figures=figures)
    (out / "COMMAND.txt").write_text(command + "\n")
    line = jump_line(res["jump"])
    if budget is not None:
        line = equal_compute_line(budget, records) + "\n" + line
    return ProgressionResult(dataset=name, out=out, methods=names, records=records, table=res["table"],
                             jump=res["jump"], jump_line=line, paths=res["paths"])


def equal_compute_line(budget: float, records: Sequence[dict]) -> str:
    """The line that says a progression compared its methods at equal compute."""
    from .budget import format_duration

    machine = next((r.get("machine") for r in records if r and r.get("machine")), None) or {}
    where = f" on {machine.get('cpu', 'this machine')} ({machine.get('cores', '?')} cores)" if machine else ""
    return (f"equal compute: every method had {format_duration(budget)} of wall clock for its fit{where}; "
            "scoring is not counted; the budget column says how each spent it, and a row it cut is marked "
            "not converged")


def run_crossover(dataset: str, *, root=None, sizes: Optional[Iterable] = None,
                  methods: Optional[Sequence[str]] = None, test_n_per_class: Optional[int] = None,
                  seeds: Iterable[int] = (0,), profile: str = "quick", device: str = "cpu",
                  executor: str = "local", scheduler: Optional[str] = None, out=None, resume: bool = False,
                  reuse_from: Iterable = (), command: Optional[str] = None,
                  progress: Optional[ProgressCallback] = None, notify: Notify = None,
                  on_result: OnResult = None, budget: Optional[float] = None) -> CrossoverResult:
    """Train each method on growing training sets and find where the CNN overtakes.

    One job per (size, method, seed), in that nesting order. The jobs' data options are
    spelled as :func:`run_progression` spells them, so the ``None`` (all) point scored on
    the whole test split has the progression's run id and ``reuse_from`` can copy it.

    Parameters
    ----------
    dataset : str
        A known data set name or a folder.
    root : str or path, optional
        Where named data sets live.
    sizes : iterable, optional
        Training images per class (:func:`parse_sizes`; None or ``"all"``: the whole
        training split); default :data:`CROSSOVER_SIZES`, ``(10, 30, 100, 300, None)``.
    methods : sequence of str, optional
        Methods or progression slots to compare; default: those that declare
        ``crossover`` (:func:`histnet.methods.registry.crossover_methods`).
    test_n_per_class : int, optional
        Score on a stratified subset of this many test images per class; default: the
        whole test split.
    seeds : iterable of int, default=(0,)
        Seeds (the table and figure average over them; the figure shows their spread).
    profile : {"quick", "full"}, default="quick"
        The methods' profile.
    device : {"cpu", "gpu", "auto"}, default="cpu"
        Where the methods compute.
    executor, scheduler
        As for :func:`run_progression`.
    out : str or path, optional
        The run folder; default ``runs/crossover-<data set name>``.
    resume : bool, default=False
        Skip finished jobs.
    reuse_from : iterable of str or path, default=()
        Run folders whose finished jobs with the same run id, or the same resolved
        configuration, are copied instead of run (:func:`histnet.experiment.reuse_finished`).
    command : str, optional
        The command line stored in each record and in ``COMMAND.txt``; default: this
        process's ``sys.argv``.
    progress, notify, on_result : callable, optional
        Progress events, one-line notes, and each record as its job finishes.
    budget : float, optional
        Seconds of wall clock each job's fit may take (:mod:`histnet.budget`).

    Returns
    -------
    CrossoverResult

    Raises
    ------
    OptionError
        A size is neither a positive count nor ``"all"``.
    HistnetError
        The data cannot be loaded or the executor cannot start.
    """
    from .report import (crossover_line, crossover_point, plot_crossover, records_to_frame, with_images_per_class,
                         write_tables)

    size, name = image_size_of(dataset, root=root, seed=0, data={})
    names = progression_methods(size, _only(methods)) if methods else crossover_methods(size)
    seed_list = [int(s) for s in seeds]
    counts = parse_sizes(CROSSOVER_SIZES if sizes is None else sizes)
    reuse_from = [str(p) for p in reuse_from]
    out = Path(out or f"runs/crossover-{Path(name).name}")
    specs = [JobSpec(method=m, dataset=dataset, seed=sd, profile=profile, root=root, device=device,
                     data=data_options({"n_per_class": n, "test_n_per_class": test_n_per_class}), tag="crossover",
                     budget=budget)
             for n in counts for m in names for sd in seed_list]
    if notify:
        notify(f"crossover on {name}: {len(specs)} jobs in {out}")
    copied = reuse_finished(specs, out, reuse_from)
    for rid in copied:
        if notify:
            notify(f"{rid}: finished in {', '.join(reuse_from)}; copied, not run again")
    command = _command_or_argv(command)
    # notify is not passed on: the crossover has never printed the jobs' device notes
    records = run_grid([s for s in specs if s.run_id() not in copied], out, resume=resume, executor=executor,
                       scheduler=scheduler, progress=progress, on_result=on_result, command=command)
    records += [read_result(out / name) for name in copied.values()]
    df = records_to_frame(records)
    ok = with_images_per_class(df)
    ok["train images per class"] = ok["ipc"].astype(int)
    table = (ok.pivot_table(index="train images per class", columns="method", values="top1_error", aggfunc="mean")
             .map(lambda v: f"{100 * v:.2f}%").reset_index())
    point = crossover_point(df)
    line = crossover_line(point)
    table_paths = write_tables(table, out, "crossover",
                               caption=f"top-1 error against training images per class, {name}. {line}")
    figure_paths = plot_crossover(df, out / "crossover", name)
    (out / "COMMAND.txt").write_text(command + "\n")
    return CrossoverResult(dataset=name, out=out, methods=names, records=records, copied=list(copied), table=table,
                           point=point, crossover_line=line, table_paths=table_paths, figure_paths=figure_paths)


@dataclass
class BudgetSweepResult:
    """What :func:`run_budget_sweep` returns.

    Attributes
    ----------
    dataset : str
        The data set's name.
    out : pathlib.Path
        The run folder.
    methods : list of str
        The methods compared.
    budgets : list of float
        The budgets, in seconds, smallest first.
    records : list of dict
        One record per (budget, method) job.
    table : pandas.DataFrame
        Top-1 error per budget (rows) and method (columns), as in ``budget.csv``.
    line : str
        Who leads at each budget, printed under the table.
    paths : list of pathlib.Path
        ``budget.md``/``.csv``/``.tex`` and ``budget.png``/``.svg``.
    """

    dataset: str
    out: Path
    methods: list
    budgets: list
    records: list
    table: pd.DataFrame
    line: str
    paths: list = field(default_factory=list)


def run_budget_sweep(dataset: str, budgets: Iterable[float], *, root=None, data: Optional[Mapping] = None,
                     profile: str = "quick", methods: Optional[Sequence[str]] = None,
                     until: Optional[int] = DEFAULT_UNTIL, device: str = "cpu", seed: int = 0, overrides=None,
                     executor: str = "local", scheduler: Optional[str] = None, out=None, resume: bool = False,
                     figures: bool = True, command: Optional[str] = None,
                     progress: Optional[ProgressCallback] = None, notify: Notify = None,
                     on_result: OnResult = None) -> BudgetSweepResult:
    """The progression at several equal-compute budgets: who wins as the budget grows.

    The "hardware lottery" reading of this history: every method gets the same wall
    clock for its fit (:mod:`histnet.budget`) at each budget, on one machine, one split
    and one seed. Writes ``budget.md``/``.csv``/``.tex`` (top-1 error per budget and
    method) and ``budget.png``/``.svg`` (error against budget, log scale: the crossover's
    sibling, with compute in place of data). Arguments as :func:`run_progression`.
    """
    from .report import budget_line, plot_budget, records_to_frame, write_tables
    from .budget import format_duration

    budgets = sorted({float(b) for b in budgets})
    if not budgets:
        raise OptionError("budget", "give at least one budget")
    data = data_options(data)
    size, name = image_size_of(dataset, root=root, seed=seed, data=data)
    names = progression_methods(size, _only(methods), until=until)
    if not names:
        raise HistnetError("no method of the progression is available")
    out = Path(out or f"runs/budget-{Path(name).name}")
    per_method = per_method_overrides(overrides, names)
    specs = [JobSpec(method=m, dataset=dataset, seed=seed, profile=profile, root=root, device=device, data=data,
                     overrides=per_method.get(m, {}), tag="budget", budget=b) for b in budgets for m in names]
    if notify:
        notify(f"equal compute on {name}: {', '.join(names)} at {', '.join(map(format_duration, budgets))} "
               f"each ({len(specs)} jobs); runs in {out}")
    command = _command_or_argv(command)
    records = run_grid(specs, out, resume=resume, executor=executor, scheduler=scheduler, progress=progress,
                       on_result=on_result, command=command, notify=notify)
    df = records_to_frame(records)
    ok = df[(df["status"] == "ok") & df["budget_s"].notna()].copy()
    ok["budget"] = ok["budget_s"].map(format_duration)
    table = (ok.pivot_table(index="budget_s", columns="method", values="top1_error", aggfunc="mean")
             .reindex(columns=[m for m in names if m in set(ok["method"])])
             .map(lambda v: "n/a" if pd.isna(v) else f"{100 * v:.2f}%"))
    table.index = [format_duration(b) for b in table.index]
    table = table.rename_axis("budget per method").reset_index()
    line = budget_line(df)
    paths = write_tables(table, out, "budget", caption=f"top-1 error at equal compute, {name}. {line}")
    if figures:
        paths += plot_budget(df, out / "budget", name)
    (out / "COMMAND.txt").write_text(command + "\n")
    return BudgetSweepResult(dataset=name, out=out, methods=names, budgets=budgets, records=records, table=table,
                             line=line, paths=paths)


def measure_cost(dataset: str, *, root=None, methods: Optional[Sequence[str]] = None, profile: str = "quick",
                 out=None, notify: Notify = None) -> CostResult:
    """FLOPs, time and memory per method, each measured in a process of its own.

    Every method runs as ``python -m histnet_cli --quiet run METHOD ... --resume`` (so
    its peak memory is its own and a finished run is not repeated), on the CPU and, when
    :func:`histnet.backend.cupy_if_usable` finds a GPU, on the GPU too. Needs the
    ``histnet_cli`` package (installed with histnet).

    Parameters
    ----------
    dataset : str
        A known data set name or a folder.
    root : str or path, optional
        Where named data sets live.
    methods : sequence of str, optional
        Methods or progression slots; default: the whole progression.
    profile : {"quick", "full"}, default="quick"
        The methods' profile.
    out : str or path, optional
        The run folder; default ``runs/cost-<data set name>``.
    notify : callable, optional
        Called with ``"<method> on <device> ..."`` before each run and with the last
        line the run printed (its summary, or its error) after it.

    Returns
    -------
    CostResult
    """
    from .backend import cupy_if_usable
    from .report import load_records, records_to_frame, write_tables

    size, name = image_size_of(dataset, root=root, seed=0, data={})
    names = progression_methods(size, _only(methods))
    devices = ["cpu"] + (["gpu"] if cupy_if_usable() is not None else [])
    out = Path(out or f"runs/cost-{Path(name).name}")
    for dev in devices:
        for m in names:
            cmd = [sys.executable, "-m", "histnet_cli", "--quiet", "run", m, "--dataset", dataset, "--profile", profile,
                   "--device", dev, "--out", str(out / dev), "--resume"] + (["--root", str(root)] if root else [])
            if notify:
                notify(f"{m} on {dev} ...")
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = (proc.stdout if proc.returncode == 0 else proc.stderr).strip().splitlines()
            if notify:
                notify(lines[-1] if lines else f"{m} on {dev}: no output (exit status {proc.returncode})")
    records = load_records([out])
    df = records_to_frame(records)
    df = df[df["status"] == "ok"]
    table = pd.DataFrame({
        "method": df["method"], "device": df["device"],
        "MFLOPs / image": (df["flops_per_image"].astype(float) / 1e6).round(2),
        "params": df["n_params"], "feature dim": df["feature_dim"],
        "fit (s)": df["fit_s"].round(1), "predict (img/s)": df["predict_img_s"].round(0),
        "peak memory (MiB)": df["peak_rss_mb"].round(0), "top-1 error (%)": (100 * df["top1_error"]).round(2),
    }).fillna("n/a")
    paths = write_tables(table, out, "cost", caption=f"cost per method on {name}")
    return CostResult(dataset=name, out=out, methods=names, devices=devices, records=records, table=table,
                      paths=paths)
