"""``histnet progression``, ``histnet crossover`` and ``histnet cost``: the studies of
:mod:`histnet.studies`, each parsed here, run there, and printed here.

Each command prints its table (Markdown) and, for the first two, the line under it on
stdout; the notes (what runs where, one line per finished job, the files written) go
to stderr.
"""

from __future__ import annotations

from contextlib import contextmanager

import click

from .options import (CommaList, budget_option, csv_list, data_options, dataset_option, device_option, executor_options,
                      figures_option,
                      methods_option, out_option, profile_option, resume_option, root_option, seed_option,
                      set_option, test_n_per_class_option)
from .runs import command_line, summary_line
from .ui import ui_of

#: How the command line spells the arguments that :class:`histnet.studies.OptionError` names.
OPTION_HINTS = {"sizes": "--sizes", "overrides": "--set"}


@contextmanager
def usage_errors():
    """Turn a malformed study option (:class:`histnet.studies.OptionError`) into a usage error (status 2)."""
    from histnet.studies import OptionError

    try:
        yield
    except OptionError as e:
        raise click.BadParameter(str(e), param_hint=OPTION_HINTS.get(e.option, e.option)) from None


def echo_study(ui, table, line: str, paths) -> None:
    """A study's table (Markdown) and the line under it on stdout; the files written as a note."""
    from histnet.report import to_markdown

    click.echo(to_markdown(table))
    click.echo(line)
    ui.note(f"written: {', '.join(str(p) for p in paths)}")


@click.command("progression", short_help="Every historical method on one data set, side by side.")
@dataset_option("A data set name or a folder in a known layout.")
@data_options
@profile_option("quick: minutes on a laptop; full: the papers' settings (hours).")
@methods_option("Only these methods (comma-separated; `alexnet` means the variant that fits the image size).")
@click.option("--until", type=click.IntRange(1990, 2100), default=2012, show_default=True, metavar="YEAR",
              help="The last year of the progression: 2012 is the road to AlexNet; 2015 adds ZFNet, NIN, VGG "
                   "and ResNet (and any plug-in up to that year).")
@device_option()
@seed_option("Seed of the split and of every method.")
@set_option("Override one method's hyper-parameter, e.g. --set alexnet-cifar.epochs=5 (repeatable).",
            metavar="METHOD.NAME=VALUE")
@executor_options("Run here, or on a Dask distributed cluster (--scheduler).")
@out_option("Run folder (default: runs/progression-<dataset>).")
@resume_option("Skip methods that finished; continue interrupted ones.")
@figures_option()
@budget_option("Equal compute: the wall-clock time every method's fit may take, e.g. 5m. Several, e.g. "
               "1m,4m,16m, run the progression at each and draw error against budget (budget.png).", many=True)
@click.pass_context
def progression_command(ctx, dataset, root, data, profile, methods, until, device, seed, sets, executor, scheduler,
                        out, resume, figures, budget):
    """Run pixels-svm, hog-svm, the three SIFT pipelines, dbn and AlexNet (with --until 2015
    also ZFNet, NIN, VGG and ResNet-20) in historical order on the same split with the same
    seed, then print the side-by-side table and write it (Markdown, CSV, LaTeX) with the
    figures.

    With no options: the built-in mnist5k and the quick profile, a few minutes on 2 cores.
    """
    from histnet.studies import run_progression

    ui = ui_of(ctx)
    common = dict(root=root, data=data, profile=profile, methods=csv_list(methods), until=until, device=device,
                  seed=seed, overrides=sets, executor=executor, scheduler=scheduler, out=out, resume=resume,
                  figures=figures, command=command_line(), progress=ui.progress, notify=ui.note,
                  on_result=lambda r: ui.note(summary_line(r)))
    with usage_errors():
        if budget and len(budget) > 1:
            from histnet.studies import run_budget_sweep

            res = run_budget_sweep(dataset, budget, **common)
            echo_study(ui, res.table, res.line, res.paths)
            return
        res = run_progression(dataset, budget=budget[0] if budget else None, **common)
    echo_study(ui, res.table, res.jump_line, res.paths)


@click.command("crossover", short_help="Accuracy against training images per class, per method.")
@dataset_option()
@root_option()
@click.option("--sizes", type=CommaList(), default="10,30,100,300,all", show_default=True,
              help="Training images per class, comma-separated; `all` = the whole training split.")
@methods_option("Methods to compare (`alexnet` = the variant that fits; default: those that join the crossover, "
                "built in: pixels-svm, hog-svm, sift-fisher-svm and alexnet).")
@test_n_per_class_option("Score on a stratified subset of N test images per class (default: the whole test split).")
@click.option("--seeds", type=CommaList(int), default="0", show_default=True,
              help="Seeds, comma-separated (error bars over seeds).")
@profile_option()
@device_option()
@executor_options()
@out_option("Run folder (default: runs/crossover-<dataset>).")
@resume_option("Skip finished jobs.")
@click.option("--reuse-from", "reuse_from", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="A run folder (e.g. the progression's) whose finished jobs with the same settings are copied "
                   "instead of run again: the `all` point of a full-test-split crossover (repeatable).")
@budget_option("Wall-clock time each job's fit may take, e.g. 2m.")
@click.pass_context
def crossover_command(ctx, dataset, root, sizes, methods, test_n_per_class, seeds, profile, device, executor, scheduler,
                      out, resume, reuse_from, budget):
    """Train each method on growing training sets and draw accuracy against images per
    class: where the CNN overtakes the hand-crafted pipelines ("scale matters")."""
    from histnet.studies import run_crossover

    ui = ui_of(ctx)
    with usage_errors():
        res = run_crossover(dataset, root=root, sizes=sizes, methods=csv_list(methods),
                            test_n_per_class=test_n_per_class, seeds=seeds,
                            profile=profile, device=device, executor=executor, scheduler=scheduler, out=out,
                            resume=resume, reuse_from=reuse_from, command=command_line(), progress=ui.progress,
                            notify=ui.note, on_result=lambda r: ui.note(summary_line(r)), budget=budget)
    echo_study(ui, res.table, res.crossover_line, res.figure_paths)


@click.command("cost", short_help="FLOPs, time and memory per method (CPU vs GPU where present).")
@dataset_option()
@root_option()
@methods_option("Methods (default: the whole progression).")
@profile_option()
@out_option("Run folder (default: runs/cost-<dataset>).")
@click.pass_context
def cost_command(ctx, dataset, root, methods, profile, out):
    """Run each method in a fresh process (so peak memory is its own) on the CPU, and on
    the GPU too when one is present; tabulate FLOPs per image, parameters, fit time,
    prediction speed and peak memory."""
    from histnet.report import to_markdown
    from histnet.studies import measure_cost

    res = measure_cost(dataset, root=root, methods=csv_list(methods), profile=profile, out=out,
                       notify=ui_of(ctx).note)
    click.echo(to_markdown(res.table))
