"""``histnet datasets list|info|download``: the data sets histnet knows and where they are."""

from __future__ import annotations

import click

from .options import CONTEXT, DatasetName, root_option
from .ui import HistnetGroup, ui_of


@click.group("datasets", cls=HistnetGroup, context_settings=CONTEXT,
             short_help="List, describe and download data sets.")
def datasets_group():
    """Built-in and supported data sets: where each is and how to get it."""


@datasets_group.command("list", short_help="Built-in and supported sets, and whether present.")
@root_option("Folder where named data sets live.")
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
@root_option("Folder where named data sets live.")
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
@root_option("Folder to download into (default: $HISTNET_DATA or ~/.cache/histnet/datasets, where every command looks).")
@click.option("--base-url", default=None, help="A mirror to download from instead of the official address.")
@click.pass_context
def datasets_download(ctx, name, root, base_url):
    """Download NAME into ROOT: checksum verified, resumable, extracted safely."""
    from histnet.data import catalog

    path = catalog.download(name, root, progress=ui_of(ctx).progress, base_url=base_url)
    click.echo(f"{name}: ready in {path}")
