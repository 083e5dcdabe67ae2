"""``histnet methods list|info``: the registered methods, their parameters and profiles."""

from __future__ import annotations

import sys

import click

from .options import CONTEXT, MethodName
from .ui import HistnetGroup


@click.group("methods", cls=HistnetGroup, context_settings=CONTEXT, short_help="List and describe the methods.")
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
    if cls.summary:
        click.echo("")
        click.echo(cls.summary)
    if doc:  # the paper, the recipe and where it departs from the paper
        click.echo("")
        click.echo(doc)
    click.echo("\nparameters (set with --set NAME=VALUE or --config FILE.toml):")
    for f in dataclasses.fields(cls.Config):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "required")
        click.echo(f"  {f.name} = {default!r}")
    for prof, values in cls.profiles.items():
        click.echo(f"profile {prof}: " + (", ".join(f"{k}={v!r}" for k, v in values.items()) or "defaults"))
