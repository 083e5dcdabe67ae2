"""``histnet cache list|clear``: what the feature and decoded-image caches hold, and freeing it.

The listing and deleting are :mod:`histnet.cache_admin`'s; this module parses the
options, asks for confirmation and prints.
"""

from __future__ import annotations

import click

from .options import CONTEXT
from .ui import HistnetGroup, ui_of


@click.group("cache", cls=HistnetGroup, context_settings=CONTEXT,
             short_help="List or clear the feature and decoded-image caches.")
def cache_group():
    """The on-disk caches: extracted features and decoded images.

    Both live under $HISTNET_CACHE (default ~/.cache/histnet) and are rebuilt when
    needed, so clearing them costs only the time to compute them again.
    """


def _which(features: bool, images: bool) -> tuple:
    if features == images:  # neither or both
        return ("features", "images")
    return ("features",) if features else ("images",)


def _older(text):
    from histnet.cache_admin import parse_age

    return None if text is None else parse_age(text)


def _kind_options(verb: str):
    def deco(f):
        f = click.option("--older-than", "older_than", metavar="AGE", default=None,
                         help=f"Only {verb} entries not modified for AGE (30d, 12h, 90m, 45s, 2w).")(f)
        f = click.option("--images", is_flag=True, help=f"Only {verb} the decoded-image cache.")(f)
        f = click.option("--features", is_flag=True, help=f"Only {verb} the feature cache.")(f)
        return f
    return deco


@cache_group.command("list", short_help="Each cache entry: what, size, age; and the totals.")
@_kind_options("list")
def cache_list(features, images, older_than):
    """List every entry of the feature and decoded-image caches, with sizes, ages and totals."""
    from histnet.cache_admin import cache_folders, format_age, format_size, list_entries

    kinds = _which(features, images)
    folders = cache_folders()
    entries = list_entries(kinds, older_than=_older(older_than))
    for kind in kinds:
        mine = [e for e in entries if e.kind == kind]
        where = folders[kind]
        state = "" if where.is_dir() else "  (no such folder yet)"
        click.echo(f"{kind}: {where}{state}")
        for e in mine:
            click.echo(f"  {format_size(e.size):>10}  {format_age(e.age()):>4}  {e.path.name}  {e.summary}")
        click.echo(f"  {len(mine)} entr{'y' if len(mine) == 1 else 'ies'}, {format_size(sum(e.size for e in mine))}")
    if len(kinds) > 1:
        click.echo(f"total: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, "
                   f"{format_size(sum(e.size for e in entries))}")


@cache_group.command("clear", short_help="Delete cache entries (all, one cache, or older ones).")
@_kind_options("clear")
@click.option("-y", "--yes", is_flag=True, allow_from_autoenv=False, help="Do not ask for confirmation.")
@click.pass_context
def cache_clear(ctx, features, images, older_than, yes):
    """Delete the entries of the feature and decoded-image caches (all, or those chosen).

    Only what the caches themselves wrote is deleted, and no symbolic link inside their
    folders is followed. Asks first unless --yes.
    """
    from histnet.cache_admin import cache_folders, clear_entries, format_size, list_entries
    from histnet.errors import DataError

    kinds = _which(features, images)
    folders = cache_folders()
    entries = list_entries(kinds, older_than=_older(older_than))
    where = " and ".join(str(folders[k]) for k in kinds)
    if not entries:
        click.echo(f"Nothing to clear in {where}.")
        return
    total = format_size(sum(e.size for e in entries))
    if not yes:
        click.confirm(f"Delete {len(entries)} cache entr{'y' if len(entries) == 1 else 'ies'} ({total}) "
                      f"from {where}?", abort=True, err=True)
    result = clear_entries(entries, folders)
    counts = ", ".join(f"{sum(e.kind == k for e in result.removed)} {k}" for k in kinds)
    click.echo(f"Freed {format_size(result.freed)}: removed {len(result.removed)} entr"
               f"{'y' if len(result.removed) == 1 else 'ies'} ({counts}).")
    ui = ui_of(ctx)
    for entry, why in result.failed[1:]:
        ui.note(f"not removed: {entry.path}: {why}")
    if result.failed:
        entry, why = result.failed[0]
        raise DataError(f"{len(result.failed)} entr{'y' if len(result.failed) == 1 else 'ies'} not removed; "
                        f"{entry.path}: {why}")
