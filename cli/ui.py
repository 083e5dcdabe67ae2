"""What the user sees besides the results: notes, progress bars and one-line errors.

Notes and progress bars go to stderr, so stdout holds only results. Bars are drawn
only when stderr is a terminal unless ``--progress`` forces them; ``--quiet`` silences
notes and bars. Expected failures (a :class:`histnet.errors.HistnetError`) print one
line, ``Error: <message>``, and exit with status 1 (:class:`HistnetGroup`).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
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


class Stopped(KeyboardInterrupt):
    """A stop signal other than Ctrl-C (SIGTERM, SIGHUP), raised where the program is.

    A subclass of ``KeyboardInterrupt``, so everything that keeps work on Ctrl-C keeps it
    here too: the trainer saves its checkpoint, a run's record says ``interrupted``, and
    ``--resume`` continues.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


#: Signals that ask a process to stop and would otherwise kill it on the spot: ``kill`` and
#: ``timeout`` send SIGTERM, as do ``docker stop``, systemd and batch schedulers at the end
#: of a job's time; SIGHUP comes when the terminal closes.
STOP_SIGNALS = ("SIGTERM", "SIGHUP")


def _stop(signum, frame):
    # The first stop signal stops histnet the way Ctrl-C does; a second one kills it as
    # usual (every file histnet writes is written whole or not at all, so that is safe too).
    signal.signal(signum, signal.SIG_DFL)
    raise Stopped(signum)


@contextlib.contextmanager
def stop_signals_as_interrupts():
    """Within this block, SIGTERM and SIGHUP stop histnet the way Ctrl-C does.

    Without it a background run told to stop (``kill PID``, the end of a scheduler's time
    slot) would die mid-epoch and lose the epochs since its last checkpoint. Signals that
    are not at their default (ignored under ``nohup``, or handled by a program that embeds
    histnet) are left alone; the handlers are restored on the way out.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in STOP_SIGNALS:
        sig = getattr(signal, name, None)  # no SIGHUP on Windows
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            previous[sig] = signal.signal(sig, _stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class HistnetGroup(click.Group):
    """A group that turns a HistnetError into one line and exit status 1.

    Ctrl-C prints how to continue (``--resume``) and exits with status 130; SIGTERM and SIGHUP
    do the same (:func:`stop_signals_as_interrupts`) and exit with 128 + the signal number
    (143, 129), the status a shell reports for a process the signal killed.
    """

    def invoke(self, ctx):
        try:
            with stop_signals_as_interrupts():
                return super().invoke(ctx)
        except HistnetError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt as e:
            how = f"Stopped by {e.name}" if isinstance(e, Stopped) else "Interrupted"
            try:
                click.echo(f"\n{how}: finished results are kept; run again with --resume to continue.", err=True)
            except OSError:  # after SIGHUP the terminal that would show the line may be gone
                pass
            ctx.exit(128 + e.signum if isinstance(e, Stopped) else 130)
