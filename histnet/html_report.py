"""One self-contained HTML page of a report: the table, the figures, the commands, the machines.

:func:`write_html` writes ``report.html`` beside ``table.md``: the side-by-side table
(every column, the published history among them), every PNG figure of the report embedded
as a ``data:`` URI, the command line of each run and the machines and library versions the
runs were measured with. It needs no network and no file beside it: the styles are inline,
there is no script and no web font, and every piece of text goes through
:func:`html.escape`, so a method name or a command holding ``<`` or ``&`` reads as typed.

Left out: the SVG copies of the figures (the PNGs carry the same drawing), per-class
accuracy, learning-curve numbers and anything else that is in ``result.json`` but not in
the table or a figure; the page links to no file, so it can be mailed on its own.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
from pathlib import Path
from typing import Optional, Sequence

from .io import atomic_write

#: What each figure file of a report shows, for the caption under it (by file stem).
FIGURE_CAPTIONS = {
    "progression": "History's ILSVRC results beside this run's errors, method by method.",
    "learning_curves": "Error and training loss per epoch, for the methods that train by epochs.",
    "confusion": "Confusion matrices, each row normalised to the images of its true class.",
    "filters": "What each method learned or computes: first-layer filters, HOG and SIFT pictures.",
    "crossover": "Test accuracy against training images per class.",
}

_STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #1b1b1b; background: #fff; line-height: 1.45; }
main { max-width: 1200px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 .3rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
p.meta, p.note, figcaption { color: #555; font-size: .9rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border: 1px solid #d0d0d0; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #fafafa; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.history { background: #fff8e6; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
pre { background: #f6f6f6; padding: .5rem .7rem; overflow-x: auto; font-size: .85rem; white-space: pre-wrap;
      word-break: break-all; }
dl { display: grid; grid-template-columns: max-content auto; gap: .1rem 1rem; font-size: .85rem; margin: .4rem 0; }
dt { color: #555; }
dd { margin: 0; font-family: ui-monospace, Menlo, Consolas, monospace; }
"""

#: Table columns whose cells are numbers (right-aligned).
_NUMERIC = {"top-1 error", "top-5 error", "fit time (s)", "predict (img/s)", "MFLOPs / image"}


def _e(value) -> str:
    """Escape any value as HTML text (quotes too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def table_html(table) -> str:
    """The side-by-side table (a pandas DataFrame of strings) as an HTML ``<table>``; every
    cell's text is ``str(value)``, as in ``table.md``."""
    cols = [str(c) for c in table.columns]
    head = "".join(f'<th scope="col">{_e(c)}</th>' for c in cols)
    rows = []
    for row in table.itertuples(index=False):
        cells = []
        for c, v in zip(cols, row):
            cls = "num" if c in _NUMERIC else "history" if c.startswith("history") else ""
            cells.append(f'<td class="{cls}">{_e(v)}</td>' if cls else f"<td>{_e(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody>\n</table></div>")


def figure_html(png: Path) -> str:
    """One PNG file as a ``<figure>`` with the image inline (base64 ``data:`` URI)."""
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    caption = FIGURE_CAPTIONS.get(png.stem, "")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(png.stem.replace("_", " "))}">'
            f"<figcaption>{_e(png.name)}{': ' + _e(caption) if caption else ''}</figcaption></figure>")


def _grouped(records: Sequence[dict], key) -> list:
    """``[(value, [method, ...]), ...]``: each distinct value of ``key(record)`` (compared
    as its repr, so dicts group) with the methods whose records hold it, in record order."""
    groups: dict = {}
    for r in records:
        v = key(r)
        if v in (None, "", {}):
            continue
        k = repr(sorted(v.items())) if isinstance(v, dict) else repr(v)
        groups.setdefault(k, (v, []))[1].append(str(r.get("method")))
    return [(v, list(dict.fromkeys(m))) for v, m in groups.values()]


def _dl(d: dict) -> str:
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in d.items()) + "</dl>"


def render_html(table, records: Sequence[dict], figures: Sequence = (), *, title: str = "histnet report",
                caption: str = "", when: Optional[str] = None) -> str:
    """The report page as a string.

    Parameters
    ----------
    table : pandas.DataFrame
        The side-by-side table (:func:`histnet.report.side_by_side`), every column kept.
    records : sequence of dict
        The result records behind it; their ``command``, ``machine`` and ``versions`` are
        listed, each distinct value once with the methods that share it.
    figures : sequence of path
        Figure files the report wrote; the PNGs are embedded, other formats skipped.
    title, caption : str
        The page heading and the line under the table (e.g. the 2012-jump line).
    when : str, optional
        The date shown under the heading (default: today).
    """
    pngs = [Path(p) for p in figures if Path(p).suffix.lower() == ".png"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>",
        "<body><main>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(len(records))} run record(s); {_e(when or _dt.date.today().isoformat())}. '
        "Every number below is read from the runs' result.json records.</p>",
        "<h2>Side by side</h2>",
        table_html(table),
    ]
    if caption:
        parts += [f'<p class="note">{_e(line)}</p>' for line in caption.splitlines() if line.strip()]
    if pngs:
        parts.append("<h2>Figures</h2>")
        parts += [figure_html(p) for p in pngs]
    commands = _grouped(records, lambda r: r.get("command"))
    if commands:
        parts.append("<h2>Commands</h2>")
        for cmd, methods in commands:
            parts.append(f'<p class="note">{_e(", ".join(methods))}:</p><pre>{_e(cmd)}</pre>')
    machines = _grouped(records, lambda r: r.get("machine") if isinstance(r.get("machine"), dict) else None)
    versions = _grouped(records, lambda r: r.get("versions") if isinstance(r.get("versions"), dict) else None)
    if machines or versions:
        parts.append("<h2>Machine</h2>")
        for d, methods in machines:
            parts.append(f'<p class="note">{_e(", ".join(methods))}:</p>{_dl(d)}')
        for d, methods in versions:
            parts.append(f'<p class="note">library versions ({_e(", ".join(methods))}):</p>{_dl(d)}')
    parts += ["</main></body>", "</html>"]
    return "\n".join(parts) + "\n"


def write_html(path, table, records: Sequence[dict], figures: Sequence = (), **kwargs) -> Path:
    """Write :func:`render_html`'s page to ``path`` atomically (UTF-8); return the path."""
    path = Path(path)
    with atomic_write(path, "wb") as f:  # bytes: UTF-8 whatever the locale
        f.write(render_html(table, records, figures, **kwargs).encode("utf-8"))
    return path
