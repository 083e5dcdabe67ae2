"""Progress reporting from library code, without any user-interface dependency.

Library functions accept ``progress``, a callable taking a :class:`ProgressEvent`.
They call it at each step of long work; the CLI turns events into a bar with an ETA
on stderr, tests collect them in a list, and ``None`` means silence. The fixed text
shape is ``[RBM] epoch 3/10, reconstruction error 0.071, 1.8 s``
(:meth:`ProgressEvent.line`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass
class ProgressEvent:
    """One step of long work.

    Attributes
    ----------
    stage : str
        What is running, e.g. ``"RBM 1"``, ``"extract"``, ``"epoch"``.
    step : int
        Steps done so far (1-based after the first step finishes).
    total : int or None
        Steps in all, when known (for the ETA).
    message : str
        Extra text: the current loss, error, etc.
    elapsed : float
        Seconds since the stage started.
    """

    stage: str
    step: int
    total: Optional[int] = None
    message: str = ""
    elapsed: float = 0.0

    def line(self) -> str:
        count = f"{self.step}/{self.total}" if self.total else f"{self.step}"
        msg = f", {self.message}" if self.message else ""
        return f"[{self.stage}] {count}{msg}, {self.elapsed:.1f} s"

    @property
    def eta(self) -> Optional[float]:
        if not self.total or self.step <= 0:
            return None
        return self.elapsed / self.step * (self.total - self.step)


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class Stage:
    """Helper that stamps elapsed time on the events of one stage.

    >>> events = []
    >>> s = Stage("extract", total=2, progress=events.append)
    >>> s.update(1, "batch 1"); s.update(2)
    >>> [e.step for e in events]
    [1, 2]
    """

    name: str
    total: Optional[int] = None
    progress: Optional[ProgressCallback] = None
    start: float = field(default_factory=time.perf_counter)

    def update(self, step: int, message: str = "") -> None:
        if self.progress is not None:
            self.progress(ProgressEvent(self.name, step, self.total, message, time.perf_counter() - self.start))
