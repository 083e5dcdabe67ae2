"""Is a network learning? The checks the :class:`~histnet.nn.Trainer` makes after each epoch.

A classifier that learns nothing predicts the class frequencies: its mean cross-entropy
is about ``ln K`` for K balanced classes and its training error about ``1 - 1/K``. A
net whose training loss stays there after a warm-up is not learning (a learning rate
too high or too low, augmentation that drowns the signal, an initialisation that
saturates), and the longer it trains the more time it wastes. A loss that climbs well
above its best is the other failure worth a word.

:func:`diagnose` reads the learning curve and names what it sees; the Trainer writes
its finding into the epoch's record (``health``, ``health_note``), shows it on the
progress line and, when asked to (``stop_if_stuck``), ends the run after
:func:`patience_epochs` epochs at chance, keeping the checkpoint.

The thresholds (all on per-epoch means in training mode):

* **at chance**: ``train_loss >= 0.98 ln K`` and ``train_error >= 0.9 (1 - 1/K)``;
* **warm-up**: the first ``max(1, ceil(0.1 E), ceil(100 / S))`` of E epochs of S steps are
  never judged (a paper-initialised AlexNet may sit at chance for an epoch or two);
* **stuck**: at chance for the last :func:`patience_epochs` epochs (at least 3 epochs
  and 300 steps), all after the warm-up;
* **rising**: after the warm-up, the loss of each of the last two epochs is above the
  previous one and the last is more than 25% above the best so far.
"""

from __future__ import annotations

import math
from typing import Optional

CHANCE_LOSS = 0.98   # fraction of ln K
CHANCE_ERROR = 0.9   # fraction of 1 - 1/K
RISE = 1.25          # over the best epoch loss so far

LIKELY_CAUSES = ("a learning rate too high or too low (lr), augmentation that drowns the signal "
                 "(pca_noise, crop_pad), or an initialisation that saturates (init)")


def warmup_epochs(epochs: int, steps_per_epoch: int) -> int:
    """Epochs at the start that are never judged."""
    return max(1, math.ceil(0.1 * epochs), math.ceil(100 / max(steps_per_epoch, 1)))


def patience_epochs(steps_per_epoch: int) -> int:
    """Consecutive epochs at chance after which a net counts as stuck."""
    return max(3, math.ceil(300 / max(steps_per_epoch, 1)))


def at_chance(entry: dict, n_classes: int) -> bool:
    """Whether one epoch's training loss and error are those of a constant guess."""
    if n_classes < 2 or entry.get("train_loss") is None or entry.get("train_error") is None:
        return False
    return (entry["train_loss"] >= CHANCE_LOSS * math.log(n_classes)
            and entry["train_error"] >= CHANCE_ERROR * (1 - 1 / n_classes))


def diagnose(history: list, n_classes: int, epochs: int, steps_per_epoch: int) -> Optional[dict]:
    """What the learning curve says about its last epoch, or None if all is well.

    Returns
    -------
    finding : dict or None
        ``kind`` (``"chance"`` or ``"rising"``), ``stuck`` (True once the net has been at
        chance for :func:`patience_epochs` epochs after the warm-up) and ``note``, one line
        for the progress bar, the record and the table.
    """
    if not history:
        return None
    done = len(history)
    warm = warmup_epochs(epochs, steps_per_epoch)
    if done <= warm:
        return None
    last = history[-1]
    chance_loss = math.log(n_classes) if n_classes >= 2 else float("nan")
    if at_chance(last, n_classes):
        run = 0
        for e in reversed(history[warm:]):
            if not at_chance(e, n_classes):
                break
            run += 1
        first = done - run + 1
        since = f"epoch {first}" if run == 1 else f"epochs {first}-{done}"
        note = (f"not learning: training loss {last['train_loss']:.3f} at chance (ln {n_classes} = "
                f"{chance_loss:.3f}), training error {100 * last['train_error']:.0f}%, {since}")
        return {"kind": "chance", "stuck": run >= patience_epochs(steps_per_epoch), "note": note}
    losses = [e.get("train_loss") for e in history]
    if done >= warm + 2 and None not in losses[-3:]:
        best = min(x for x in losses[:-1] if x is not None)
        if losses[-1] > losses[-2] > losses[-3] and losses[-1] > RISE * best:
            return {"kind": "rising", "stuck": False,
                    "note": (f"loss rising: training loss {losses[-1]:.3f} after epoch {done}, "
                             f"best {best:.3f}; the learning rate may be too high")}
    return None


#: A run whose training loss fell by more than this fraction in its last epoch was still learning.
STILL_FALLING = 0.10
#: Training error of the last epoch above which a run has not fitted its training set.
UNFIT = 0.5


def convergence_note(history: list) -> Optional[str]:
    """A note when training stopped far from convergence (the loss still falling fast), else None.

    Judged on the last two epochs' mean training losses: a drop of more than
    :data:`STILL_FALLING` (10%) in the last epoch means more epochs would still have paid off,
    so the row measures the schedule as much as the method. A one-epoch run cannot tell
    that way; any run whose last epoch still misclassified more than :data:`UNFIT` (half)
    of its training images has not fitted them, whatever its loss did (a quick net on
    64-px photos ended 2 epochs at 82% training error, its loss down 6%).
    """
    last = next((e for e in reversed(list(history or ())) if e.get("train_error") is not None), None)
    unfit = None
    if last is not None and math.isfinite(last["train_error"]) and last["train_error"] > UNFIT:
        unfit = (f"not converged: its last epoch still misclassified {100 * last['train_error']:.0f}% of its "
                 f"training images; a longer schedule would change this row")
    losses = [e.get("train_loss") for e in history or () if e.get("train_loss") is not None]
    if len(losses) < 2 or not all(math.isfinite(x) for x in losses[-2:]) or losses[-2] <= 0:
        return unfit
    drop = (losses[-2] - losses[-1]) / losses[-2]
    if drop <= STILL_FALLING:
        return unfit
    return (f"not converged: training loss still fell {100 * drop:.0f}% in the last of {len(losses)} epochs "
            f"({losses[-2]:.3g} -> {losses[-1]:.3g}); a longer schedule would change this row")


def health_warnings(history: list) -> list[str]:
    """The last note of each kind in a learning curve (for the record and the table)."""
    seen: dict = {}
    for e in history or ():
        if e.get("health"):
            seen[e["health"]] = e.get("health_note") or e["health"]
    converging = convergence_note(history)
    return list(seen.values()) + ([converging] if converging else [])
