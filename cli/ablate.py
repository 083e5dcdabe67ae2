"""``histnet ablate``: a method's design claims, one arm each, beside its full recipe."""

from __future__ import annotations

import click

from .options import (CommaList, MethodName, budget_option, data_options, dataset_option, device_option, executor_options,
                      figures_option, out_option, profile_option, resume_option, set_option)
from .runs import command_line, summary_line
from .studies import echo_study
from .ui import ui_of


@click.command("ablate", short_help="The papers' design claims, one arm each, beside the full recipe.")
@click.argument("method", type=MethodName())
@dataset_option("A data set name or a folder in a known layout.")
@data_options
@profile_option("The recipe every arm starts from (quick: minutes, and not evidence; full: the paper's).")
@click.option("--arms", "arm_names", type=CommaList(), default=None, metavar="A,B,...",
              help="Only these of the method's declared arms (see `histnet methods info METHOD`).")
@click.option("--arm", "extra_arms", multiple=True, metavar="NAME=PARAM=VALUE[,PARAM=VALUE]",
              help="One more arm of your own, e.g. --arm no-flip=flip=false (repeatable).")
@set_option("Override a hyper-parameter in every arm, e.g. a shared shorter schedule: --set epochs=5 (repeatable).")
@click.option("--seeds", type=CommaList(int), default="0", show_default=True,
              help="Seeds, comma-separated: several tell an effect from run-to-run noise.")
@device_option()
@executor_options("Run here, or on a Dask distributed cluster (--scheduler).")
@out_option("Run folder (default: runs/ablation-<method>-<dataset>).")
@resume_option("Skip arms that finished; continue interrupted ones.")
@figures_option()
@budget_option("Wall-clock time every arm's fit may take, e.g. 5m: the arms compared at equal time.")
@click.pass_context
def ablate_command(ctx, method, dataset, root, data, profile, arm_names, extra_arms, sets, seeds, device, executor,
                   scheduler, out, resume, figures, budget):
    """Run METHOD's full recipe and one arm per design claim it declares (same data, seeds and
    schedule), then print and write (Markdown, CSV, LaTeX) one row per arm: the change, the
    error and its difference from the full recipe, the training time, the paper's claim with
    its citation, and a verdict (holds / does not hold here / within the noise / not
    comparable) with the reason.

    With no options: the built-in mnist5k and the quick profile, which checks the machinery
    in minutes and is not evidence for or against any claim.
    """
    from histnet.ablation import parse_arm, run_ablation
    from histnet.methods import parse_overrides

    ui = ui_of(ctx)
    extra = [parse_arm(a) for a in extra_arms]
    res = run_ablation(method, dataset, root=root, data=data, profile=profile, arms=arm_names, extra_arms=extra,
                       overrides=parse_overrides(sets), seeds=seeds, device=device, executor=executor,
                       scheduler=scheduler, out=out, resume=resume, figures=figures, command=command_line(),
                       progress=ui.progress, notify=ui.note, on_result=lambda r: ui.note(summary_line(r)),
                       budget=budget)
    echo_study(ui, res.table, res.caption, res.paths)
