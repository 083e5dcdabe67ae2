"""``histnet bench``: run a source checkout's speed benchmarks against the peer libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from .ui import ui_of


def _benchmarks_folder(given):
    """The folder of ``speed_*.py`` scripts: ``--dir``, ./benchmarks, or the source checkout
    histnet is installed from (an editable install); else one clear error line."""
    import histnet

    candidates = [Path(given)] if given else [Path("benchmarks"),
                                              Path(histnet.__file__).resolve().parent.parent / "benchmarks"]
    for c in candidates:
        if c.is_dir() and any(c.glob("speed_*.py")):
            return c
    where = f"--dir {given}" if given else "./benchmarks (nor beside the installed histnet)"
    raise click.ClickException(
        f"no speed_*.py benchmarks in {where}: the benchmarks ship with the source, not the package; "
        "run histnet bench from a checkout of histnet (git clone, then pip install '.[bench]'), or pass "
        "--dir CHECKOUT/benchmarks")


@click.command("bench", short_help="Run the speed benchmarks against the peer libraries.")
@click.argument("names", nargs=-1)
@click.option("--dir", "bench_dir", type=click.Path(file_okay=False), default=None,
              help="The benchmarks folder of a histnet source checkout (default: ./benchmarks, or the "
                   "checkout histnet is installed from).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Also write the table as Markdown here.")
@click.pass_context
def bench_command(ctx, names, bench_dir, out):
    """Run benchmarks/speed_NAME.py (all, or NAMES) and tabulate the JSON line each prints.

    Each benchmark runs histnet and its peer library in one process on the same input;
    its ratio is the only timing claim (see the script's docstring for its direction).
    Needs the bench extra: pip install '.[bench]'.
    """
    ui = ui_of(ctx)
    bench_dir = _benchmarks_folder(bench_dir)
    scripts = sorted(Path(bench_dir).glob("speed_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem[len("speed_"):] in names]
        missing = set(names) - {s.stem[len("speed_"):] for s in scripts}
        if missing:
            raise click.BadParameter(f"no benchmark {', '.join(sorted(missing))} in {bench_dir}", param_hint="NAMES")
    rows = []
    for s in scripts:
        ui.note(f"running {s} ...")
        proc = subprocess.run([sys.executable, str(s)], capture_output=True, text=True)
        line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
        if proc.returncode != 0 or line is None:
            rows.append((s.stem, f"failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}"))
        else:
            rows.append((s.stem, line))
    text = "| benchmark | result (JSON) |\n|---|---|\n" + "".join(f"| {a} | `{b}` |\n" for a, b in rows)
    click.echo(text)
    if out:
        from histnet.io import atomic_write

        with atomic_write(out, "w") as f:
            f.write(text)
