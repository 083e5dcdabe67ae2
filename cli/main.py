"""The `histnet` command: one click group; each command parses, calls histnet, prints.

The commands live one group of them per module: :mod:`.datasets`, :mod:`.methods`,
:mod:`.runs` (run, report), :mod:`.studies` (progression, crossover, cost) and
:mod:`.bench`; the options they share are in :mod:`.options`.

Expected failures (a :class:`histnet.errors.HistnetError`) print one line,
``Error: <message>``, on stderr and exit with status 1; usage errors exit with 2;
anything else is a bug and keeps its traceback. Progress bars go to stderr, only when
it is a terminal unless ``--progress`` forces them; ``--quiet`` silences the notes
(:mod:`.ui`).
"""

from __future__ import annotations

import sys

import click

from histnet import __version__

from .ablate import ablate_command
from .bench import bench_command
from .cache import cache_group
from .datasets import datasets_group
from .history import history_command
from .methods import methods_group
from .options import CONTEXT
from .predict import predict_command
from .runs import report_command, run_command
from .studies import cost_command, crossover_command, progression_command
from .ui import HistnetGroup, Ui


def version_message() -> str:
    """histnet's, numpy's and Python's versions, and whether a GPU is usable."""
    import numpy

    from histnet.backend import cupy_if_usable

    cp = cupy_if_usable()
    dev = "gpu available (cupy " + cp.__version__ + ")" if cp is not None else "no GPU (cpu only)"
    return f"histnet {__version__}, numpy {numpy.__version__}, python {sys.version.split()[0]}; {dev}"


def _print_version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        click.echo(version_message())
        ctx.exit()


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
      histnet predict runs/RUN photo.jpg  classify images with a trained model
    """
    ctx.obj = Ui(quiet=quiet, progress=progress)


for _command in (datasets_group, methods_group, run_command, report_command, progression_command,
                 crossover_command, cost_command, bench_command, cache_group, predict_command,
                 history_command, ablate_command):
    cli.add_command(_command)


def main():
    """The console entry point: run the group as ``histnet``, options also read from HISTNET_* variables."""
    cli(prog_name="histnet", auto_envvar_prefix="HISTNET")


if __name__ == "__main__":
    main()
