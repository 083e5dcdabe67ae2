"""What the user sees besides the results: notes, progress bars and one-line errors.

Notes and progress bars go to stderr, so stdout holds only results. Bars are drawn
only when stderr is a terminal unless ``--progress`` forces them; ``--quiet`` silences
notes and bars. Expected failures (a :class:`histnet.errors.HistnetError`) print one
line, ``Error: <message>``, and exit with status 1 (:class:`HistnetGroup`).
"""

from __future__ import annotations

import sys
import time

import click

from histnet.errors import HistnetError
from histnet.progress import ProgressEvent


class Ui:
    """Notes and progress bars on stderr, for the commands to pass to histnet as callbacks.

    Parameters
    ----------
    quiet : bool, default=False
        Print neither notes nor bars.
    progress : bool or None, default=None
        Draw bars (True), never (False), or only when stderr is a terminal (None).
    """

    def __init__(self, quiet: bool = False, progress=None):
        self.quiet = quiet
        self.bars = (not quiet) and (progress if progress is not None else sys.stderr.isatty())
        self._last = 0.0
        self._open = False

    def note(self, msg: str) -> None:
        """Print one line on stderr (ending an open bar first), unless quiet."""
        if not self.quiet:
            self._end_bar()
            click.echo(msg, err=True)

    def _end_bar(self):
        if self._open:
            click.echo("", err=True)
            self._open = False

    def progress(self, ev: ProgressEvent) -> None:
        """Draw a one-line bar with ETA; redrawn at most 10 times a second."""
        if not self.bars:
            return
        now = time.monotonic()
        done = ev.total is not None and ev.step >= ev.total
        if now - self._last < 0.1 and not done:
            return
        self._last = now
        if ev.total:
            frac = min(ev.step / ev.total, 1.0)
            bar = "#" * int(20 * frac) + "-" * (20 - int(20 * frac))
            eta = ev.eta
            eta_s = f" ETA {int(eta // 60)}:{int(eta % 60):02d}" if eta is not None and not done else ""
            line = f"[{ev.stage}] |{bar}| {ev.step}/{ev.total}{eta_s}"
        else:
            line = f"[{ev.stage}] {ev.step}"
        if ev.message:
            line += f"  {ev.message}"
        if sys.stderr.isatty():
            click.echo("\r\033[K" + line[:150], err=True, nl=False)
            self._open = True
            if done:
                self._end_bar()
        else:
            click.echo(line, err=True)


def ui_of(ctx: click.Context) -> Ui:
    """The :class:`Ui` that the ``histnet`` group made for this invocation."""
    return ctx.find_root().obj


class HistnetGroup(click.Group):
    """A group that turns a HistnetError into one line and exit status 1.

    Ctrl-C prints how to continue (``--resume``) and exits with status 130.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HistnetError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("\nInterrupted: finished results are kept; run again with --resume to continue.", err=True)
            ctx.exit(130)
