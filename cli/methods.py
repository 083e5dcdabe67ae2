"""``histnet methods list|info``: the registered methods, their parameters and profiles."""

from __future__ import annotations

import inspect
import re
import sys
import textwrap

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


#: A numpy-style entry line: ``name : type`` or ``name, other : type`` (the type optional).
_ENTRY = re.compile(r"^([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::\s*(.*))?$")


def _split_top(text: str) -> list:
    """``text`` split at the commas outside braces, brackets and quotes."""
    parts, depth, quote, cur = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    return parts + [cur.strip()] if cur.strip() else parts


def _plain(text: str) -> str:
    """reST markup out of a description: ``x`` and :role:`x` read as x."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


def parse_attributes(doc: str) -> dict:
    """The ``Attributes`` section of a numpy-style docstring.

    Entries are ``name : type, default=...`` (or ``a, b : type``, or a bare name) at the
    section's indentation, each followed by indented description lines. The section ends
    at the next heading or at a line that is not an entry.

    Returns
    -------
    dict
        ``{name: (type, description)}``: the type without its ``default=`` part (the
        field's real default is printed instead: a net's own defaults differ from the
        docstring's), the description on one line; either may be "". Names sharing one
        entry share its description; ``a, b : int, float`` gives each its own type.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    out: dict = {}
    i = next((k for k, ln in enumerate(lines[:-1]) if ln.startswith("Attributes")
              and set(lines[k + 1].strip()) == {"-"}), None)
    if i is None:
        return out
    names: list = []
    body = lines[i + 2:]
    for k, ln in enumerate(body):
        if not ln.strip():
            continue
        if ln[0].isspace():
            for n in names:
                t, d = out[n]
                out[n] = (t, (d + " " + _plain(ln.strip())).strip())
            continue
        m = _ENTRY.match(ln.strip())
        if not m or (k + 1 < len(body) and body[k + 1].strip() and set(body[k + 1].strip()) == {"-"}):
            break  # not an entry, or the next section's heading
        names = [n.strip() for n in m.group(1).split(",")]
        kind = re.sub(r",?\s*default\s*=.*$", "", m.group(2) or "").strip()
        kinds = _split_top(kind)
        for j, n in enumerate(names):
            out[n] = (kinds[j] if len(names) > 1 and len(kinds) == len(names) else kind, "")
    return out


def config_attributes(config_cls) -> dict:
    """:func:`parse_attributes` over ``config_cls`` and its bases: a subclass's docstring
    adds to its bases' and wins where both describe a name (a config made by
    ``config_with_defaults`` carries its base's docstring). Dataclasses without a
    docstring of their own add nothing."""
    out: dict = {}
    for klass in reversed(getattr(config_cls, "__mro__", ())):
        for name, (kind, desc) in parse_attributes(klass.__dict__.get("__doc__") or "").items():
            old_kind, old_desc = out.get(name, ("", ""))
            out[name] = (kind or old_kind, desc or old_desc)
    return out


def parameter_line(name: str, default, kind: str = "", meaning: str = "", width: int = 100) -> str:
    """``  name = default  (type/allowed) meaning``, wrapped at ``width`` with the
    continuation indented; ``  name = default`` when the docstring says nothing of it."""
    line = f"  {name} = {default!r}"
    extra = " ".join(x for x in [f"({kind})" if kind else "", meaning] if x)
    if not extra:
        return line
    return textwrap.fill(f"{line}  {extra}", width=width, subsequent_indent=" " * 6, break_long_words=False,
                         break_on_hyphens=False)


@methods_group.command("info", short_help="A method's parameters, defaults and profiles.")
@click.argument("name", type=MethodName())
@click.option("--dataset", "-d", default=None, metavar="DATASET",
              help="Also show the settings the method would derive from this data set's images.")
@click.option("--root", type=click.Path(file_okay=False), default=None, envvar="HISTNET_DATA",
              help="Where named data sets live.")
def methods_info(name, dataset, root):
    """Show NAME's paper, summary, parameters with defaults, and profiles.

    Each parameter is printed as ``name = default  (type or allowed values) meaning``,
    read from the ``Attributes`` section of the method's config docstring; a parameter
    the docstring does not describe shows its name and default only.
    """
    import dataclasses
    import shutil

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
    described = config_attributes(cls.Config)
    width = max(60, min(shutil.get_terminal_size().columns, 120))
    for f in dataclasses.fields(cls.Config):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "required")
        kind, meaning = described.get(f.name, ("", ""))
        click.echo(parameter_line(f.name, default, kind, meaning, width))
    for prof, values in cls.profiles.items():
        click.echo(f"profile {prof}: " + (", ".join(f"{k}={v!r}" for k, v in values.items()) or "defaults"))
    if dataset:
        from histnet.methods import make_config
        from histnet.studies import training_set_of

        shape, n_train, set_name = training_set_of(dataset, root=root)
        click.echo(f"\nsettings derived from {set_name} ({n_train:,} training images of {'x'.join(map(str, shape))}):")
        for prof in cls.profiles:
            derived = cls(make_config(cls, profile=prof)).settings_for(shape, n_train)
            click.echo(f"  profile {prof}: " + (", ".join(f"{k}={v!r}" for k, v in derived.items())
                                                 or "none (nothing follows the data)"))
