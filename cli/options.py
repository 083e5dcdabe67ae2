"""The options and parameter types the commands share, each written once.

Each factory returns a click decorator. The type, default and environment variable of
an option live here; a command may word its help to fit (``help=``), since "run folder"
means one run for ``histnet run`` and a whole study for ``histnet progression``.
"""

from __future__ import annotations

import difflib
import functools
import os

import click


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEVICE = click.Choice(["cpu", "gpu", "auto"])
PROFILE = click.Choice(["quick", "full"])
EXECUTOR = click.Choice(["local", "dask"])


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
                if os.path.islink(value):
                    self.fail(f"{value}: a symbolic link that leads nowhere (a loop, or its target is gone)",
                              param, ctx)
                self.fail(f"{value}: no such folder", param, ctx)
            return value
        from histnet.data import catalog

        names = list(catalog.KNOWN)
        if value in names:
            return value
        close = difflib.get_close_matches(value, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        self.fail(f"unknown data set {value!r}{hint} (known: {', '.join(names)}; or give a folder)", param, ctx)


class CommaList(click.ParamType):
    """A comma-separated list with at least one item; ``of=int`` makes each an integer.

    ``--seeds x`` or ``--sizes ,`` is a usage error naming the option, not a traceback or
    a silent default.
    """

    name = "LIST"

    def __init__(self, of=str):
        self.of = of

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        items = [v.strip() for v in str(value).split(",") if v.strip()]
        if not items:
            self.fail(f"{value!r} holds no item (expected a comma-separated list)", param, ctx)
        if self.of is int:
            bad = [v for v in items if not v.lstrip("-").isdigit()]
            if bad:
                self.fail(f"{bad[0]!r} is not an integer (expected e.g. 0,1,2)", param, ctx)
            return [int(v) for v in items]
        return items


class Duration(click.ParamType):
    """A time budget: ``90s``, ``10m``, ``1h30m`` (a bare number is seconds) -> seconds.

    With ``many``, a comma-separated list of them (``1m,4m,16m``) -> a list of seconds.
    """

    name = "DURATION"

    def __init__(self, many: bool = False):
        self.many = many

    def convert(self, value, param, ctx):
        from histnet.budget import parse_duration

        if isinstance(value, (float, list)):
            return value
        items = [v.strip() for v in str(value).split(",") if v.strip()] if self.many else [value]
        if not items:
            self.fail(f"{value!r} holds no duration (expected e.g. 1m,4m)", param, ctx)
        try:
            out = [parse_duration(v) for v in items]
        except ValueError as e:
            self.fail(str(e), param, ctx)
        return out if self.many else out[0]


def csv_list(value):
    """``"a, b,"`` -> ``["a", "b"]``; an empty or missing value -> None."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _stack(*decorators):
    """One decorator applying ``decorators`` so that they read top to bottom as written."""
    def apply(f):
        for d in reversed(decorators):
            f = d(f)
        return f
    return apply


# -- data --------------------------------------------------------------------------------------------


def dataset_option(help: str = "Data set name or folder."):
    """``--dataset/-d``: a data set name or folder, default mnist5k."""
    return click.option("--dataset", "-d", type=DatasetName(), default="mnist5k", show_default=True, help=help)


def root_option(help: str = "Where named data sets live.", required: bool = False):
    """``--root``: where named data sets live (also $HISTNET_DATA)."""
    return click.option("--root", type=click.Path(file_okay=False), default=None, required=required,
                        envvar="HISTNET_DATA", help=help)


def test_n_per_class_option(help: str = "Use a stratified subset of N test images per class (seeded)."):
    """``--test-n-per-class N``."""
    return click.option("--test-n-per-class", type=click.IntRange(1), default=None, help=help)


def data_options(f):
    """``--root`` and the data-loading options, passed to the command as ``root`` and ``data``.

    ``data`` is the dict of :data:`histnet.experiment.DATA_OPTION_NAMES` (``image_size``,
    ``grayscale``, ``n_per_class``, ``test_n_per_class``, ``val_fraction``, ``skip_bad``),
    every key present, as a job's ``data`` holds them.
    """
    @functools.wraps(f)
    def with_data(*args, **kwargs):
        from histnet.experiment import DATA_OPTION_NAMES  # here, not at import: --help stays fast

        kwargs["data"] = {name: kwargs.pop(name) for name in DATA_OPTION_NAMES}
        return f(*args, **kwargs)

    return _stack(
        root_option("Folder where named data sets live (default: $HISTNET_DATA or ~/.cache/histnet/datasets)."),
        click.option("--image-size", type=click.IntRange(4, 4096), default=None,
                     help="Resize the shorter side and centre-crop to this square size (default: native)."),
        click.option("--grayscale/--color", default=None, help="Convert images to grey or to colour (default: native)."),
        click.option("--n-per-class", type=click.IntRange(1), default=None,
                     help="Use a stratified subset of N training images per class (seeded)."),
        test_n_per_class_option(),
        click.option("--val-fraction", type=click.FloatRange(0, 0.9), default=0.0, show_default=True,
                     help="Carve a stratified validation split of this fraction from train."),
        click.option("--skip-bad", is_flag=True,
                     help="Skip corrupt images (and report how many) instead of stopping."),
    )(with_data)


# -- how methods run -----------------------------------------------------------------------------------


def methods_option(help: str, default=None):
    """``--methods A,B,...``: method names or progression slots, comma-separated (see :func:`csv_list`)."""
    return click.option("--methods", default=default, show_default=default is not None, metavar="A,B,...",
                        help=help)


def device_option(help: str = "cpu, gpu or auto."):
    """``--device``: cpu, gpu or auto, default cpu."""
    return click.option("--device", type=DEVICE, default="cpu", show_default=True, help=help)


def seed_option(help: str):
    """``--seed``: an integer, default 0."""
    return click.option("--seed", type=int, default=0, show_default=True, help=help)


def profile_option(help: str = "Method profile.", default="quick"):
    """``--profile``: quick or full (default quick; None leaves each method's defaults)."""
    return click.option("--profile", type=PROFILE, default=default, show_default=default is not None, help=help)


def set_option(help: str, metavar: str = "NAME=VALUE"):
    """``--set``, repeatable, passed to the command as ``sets`` (a tuple of strings)."""
    return click.option("--set", "sets", multiple=True, metavar=metavar, help=help)


def executor_options(help: str = "Where jobs run."):
    """``--executor local|dask`` and ``--scheduler tcp://HOST:PORT``."""
    return _stack(
        click.option("--executor", type=EXECUTOR, default="local", show_default=True, help=help),
        click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="The Dask scheduler address."),
    )


# -- where results go ------------------------------------------------------------------------------------


def out_option(help: str, default=None):
    """``--out``: a folder for runs or tables."""
    return click.option("--out", type=click.Path(file_okay=False), default=default,
                        show_default=default is not None, help=help)


def resume_option(help: str):
    """``--resume``: a flag."""
    return click.option("--resume", is_flag=True, help=help)


def budget_option(help: str = "Wall-clock time each method's fit may take, e.g. 90s, 10m, 1h "
                                 "(see docs/architecture.md, 'Time budgets').", many: bool = False):
    """``--budget``: a duration in seconds (``many``: a comma-separated list of them)."""
    return click.option("--budget", type=Duration(many), default=None,
                        metavar="DURATIONS" if many else "DURATION", help=help)


def figures_option(help: str = "Draw the figures."):
    """``--figures/--no-figures``, default on."""
    return click.option("--figures/--no-figures", default=True, show_default=True, help=help)
