"""A time budget for one method's fit: ``--budget 10m``.

A :class:`Budget` is a wall-clock allowance that the experiment runner hands a method
(``Method.budget``; None means no limit) and starts just before ``fit``. Each recipe
honours it in its own way and writes down how, so that the record says where the time
went and what was cut:

* :class:`~histnet.methods.FeatureSvmMethod` (every hand-crafted pipeline): a dense-SIFT
  codebook samples descriptors for at most a fifth of the time; the training images are
  then described in a seeded order that deals the classes out in turn (every prefix is
  class-balanced) until half of what is left is spent, and the SVM's Newton iterations
  stop at the deadline (the weights after the last finished iteration are the model).
* :class:`~histnet.methods.ImageCnnMethod` (every CNN): the Trainer times its first
  steps and shortens the schedule to the whole epochs that fit (one partial epoch when
  not even one fits), so a one-cycle schedule still anneals; a step past the deadline
  ends training.
* ``dbn``: the pretraining epochs of each RBM and the fine-tuning epochs are cut to
  their share of the budget, measured epoch by epoch.

What is not counted: loading the data (shared by every method of a progression) and
scoring the test set (reported beside it as ``predict_s``). A budget too small to do
anything useful (a codebook, or the first batch of features, that takes all of it; the
time up before four training steps) is a :class:`BudgetError`, one ``Error:`` line naming
``--budget``.

Equal compute: ``histnet progression --budget 5m`` gives every method the same budget on
the same machine, the table says so, and several budgets (``--budget 1m,4m,16m``) draw
error against budget per method (:func:`histnet.studies.run_budget_sweep`).
"""

from __future__ import annotations

import math
import re
import time
from typing import Optional

from .errors import HistnetError


class BudgetError(HistnetError):
    """A ``--budget`` too small for a method to do anything on this data."""


_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(h|min|m|sec|s|)")


def parse_duration(text) -> float:
    """Seconds in a duration: ``90``, ``90s``, ``2.5m``, ``10min``, ``1h``, ``1h30m``.

    Raises ValueError with a message that says what is accepted.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        s = str(text).strip().lower().replace(" ", "")
        pos, seconds, units = 0, 0.0, []
        while pos < len(s):
            m = _PART.match(s, pos)
            if not m or m.end() == pos:
                raise ValueError(f"{text!r} is not a duration (examples: 90s, 10m, 1h30m)")
            if units and m.group(2) == "":
                raise ValueError(f"{text!r}: a bare number can only stand alone (seconds)")
            seconds += float(m.group(1)) * _UNITS[m.group(2)]
            units.append(m.group(2))
            pos = m.end()
        if not units:
            raise ValueError(f"{text!r} is not a duration (examples: 90s, 10m, 1h30m)")
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{text!r}: a budget must be a positive duration")
    return seconds


def format_duration(seconds: float) -> str:
    """``300`` -> ``"5m"``, ``90`` -> ``"1m30s"``, ``3600`` -> ``"1h"``, ``2.5`` -> ``"2.5s"``."""
    s = float(seconds)
    if s < 60:
        return f"{s:g}s"
    h, rest = divmod(int(round(s)), 3600)
    m, sec = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (sec, "s")) if v)


class Budget:
    """A wall-clock allowance for one fit, and the log of how it was spent.

    Parameters
    ----------
    seconds : float
        The allowance.
    clock : callable, optional
        Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, seconds: float, clock=time.perf_counter):
        self.seconds = float(seconds)
        self.clock = clock
        self.started: Optional[float] = None
        self.notes: list[str] = []
        self.limited = False

    def start(self) -> "Budget":
        self.started = self.clock()
        return self

    @property
    def deadline(self) -> float:
        """The clock value at which the budget ends."""
        if self.started is None:
            self.start()
        return self.started + self.seconds

    def elapsed(self) -> float:
        return 0.0 if self.started is None else self.clock() - self.started

    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed())

    def expired(self) -> bool:
        return self.started is not None and self.clock() >= self.deadline

    def note(self, text: str, limited: bool = False) -> None:
        """Write down how a stage spent (or was cut by) the budget; ``limited`` marks a cut."""
        self.notes.append(text)
        self.limited = self.limited or bool(limited)

    def too_small(self, method: str, need: str) -> BudgetError:
        """The error for a budget under what ``method`` needs (``need`` says what and how long)."""
        return BudgetError(f"--budget {format_duration(self.seconds)} is too small for {method} on this data: "
                           f"{need}; give it more time")

    def summary(self) -> dict:
        """What the record keeps: the allowance, the time used, whether it cut anything, how."""
        return {"seconds": self.seconds, "label": format_duration(self.seconds),
                "used_s": round(self.elapsed(), 3), "limited": self.limited, "how": list(self.notes)}

