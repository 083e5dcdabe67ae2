"""Learning-rate schedules for the :class:`~histnet.nn.trainer.Trainer`.

A schedule answers ``lr(step)`` for the 0-based global batch index, may answer
``momentum(step)`` (None: leave the optimiser's momentum alone), hears
``epoch_end(epoch, val_error)`` after each epoch, and round-trips its state through
``state_dict()`` / ``load_state_dict()`` (JSON-able dicts), so a resumed run uses the
same rates. :meth:`Schedule.setup` tells it the run's length before the first step.

* :class:`ConstantLR` - one rate.
* :class:`PlateauLR` - AlexNet's rule: "divide the learning rate by 10 when the
  validation error rate stopped improving with the current learning rate ... reduced
  three times prior to termination" (Krizhevsky et al. 2012, section 5).
* :class:`StepLR` - multiply by ``gamma`` every ``step_epochs`` epochs.
* :class:`CosineLR` - linear warm-up, then half a cosine down to ``min_lr``
  (Loshchilov & Hutter 2017, arXiv:1608.03983, without restarts).
* :class:`OneCycleLR` - Smith & Topin's one-cycle policy (arXiv:1708.07120) with the
  defaults of ``torch.optim.lr_scheduler.OneCycleLR`` (cosine phases, initial rate
  max/25, final rate initial/1e4, momentum cycled 0.95 -> 0.85 -> 0.95), which the
  PyTorch CIFAR anchor uses with ``pct_start=0.2``.
"""

from __future__ import annotations

import math

from ..errors import ConfigError


class Schedule:
    """Base class: a constant rate ``lr``."""

    def __init__(self, lr: float):
        if lr < 0:
            raise ConfigError(f"{type(self).__name__}: lr={lr} must be >= 0")
        self.base_lr = float(lr)
        self.steps_per_epoch = 1
        self.epochs = 1

    def setup(self, steps_per_epoch: int, epochs: int) -> None:
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.epochs = max(1, int(epochs))

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def lr(self, step: int) -> float:
        return self.base_lr

    def momentum(self, step: int):
        return None

    def epoch_end(self, epoch: int, val_error) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class ConstantLR(Schedule):
    """The same rate at every step."""


class PlateauLR(Schedule):
    """Divide the rate by ``1/factor`` when the validation error stops improving.

    Parameters
    ----------
    lr : float
        Initial rate (the paper: 0.01).
    factor : float, default=0.1
    patience : int, default=1
        Epochs without an improvement larger than ``threshold`` before a reduction.
    threshold : float, default=1e-3
        An improvement smaller than this (absolute error) does not count.
    max_reductions : int, default=3
        The paper reduced three times; further plateaus leave the rate alone.
    """

    def __init__(self, lr, factor=0.1, patience=1, threshold=1e-3, max_reductions=3):
        super().__init__(lr)
        self.factor, self.patience = float(factor), int(patience)
        self.threshold, self.max_reductions = float(threshold), int(max_reductions)
        self.best = math.inf
        self.bad_epochs = 0
        self.reductions = 0

    def lr(self, step):
        return self.base_lr * self.factor ** self.reductions

    def epoch_end(self, epoch, val_error):
        if val_error is None:
            return
        if val_error < self.best - self.threshold:
            self.best = float(val_error)
            self.bad_epochs = 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience and self.reductions < self.max_reductions:
            self.reductions += 1
            self.bad_epochs = 0

    def state_dict(self):
        return {"best": None if math.isinf(self.best) else self.best,
                "bad_epochs": self.bad_epochs, "reductions": self.reductions}

    def load_state_dict(self, state):
        self.best = math.inf if state.get("best") is None else float(state["best"])
        self.bad_epochs = int(state.get("bad_epochs", 0))
        self.reductions = int(state.get("reductions", 0))


class StepLR(Schedule):
    """``lr * gamma ** (epoch // step_epochs)``."""

    def __init__(self, lr, step_epochs: int = 10, gamma: float = 0.1):
        super().__init__(lr)
        if step_epochs < 1:
            raise ConfigError(f"StepLR: step_epochs={step_epochs} must be >= 1")
        self.step_epochs, self.gamma = int(step_epochs), float(gamma)

    def lr(self, step):
        epoch = step // self.steps_per_epoch
        return self.base_lr * self.gamma ** (epoch // self.step_epochs)


class CosineLR(Schedule):
    """Linear warm-up over ``warmup_epochs`` (fractions allowed), then cosine decay to ``min_lr``."""

    def __init__(self, lr, warmup_epochs: float = 0.0, min_lr: float = 0.0):
        super().__init__(lr)
        self.warmup_epochs, self.min_lr = float(warmup_epochs), float(min_lr)

    def lr(self, step):
        warm = int(round(self.warmup_epochs * self.steps_per_epoch))
        if step < warm:
            return self.base_lr * (step + 1) / warm
        span = max(1, self.total_steps - warm)
        t = min(1.0, (step - warm) / span)
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * t))


class OneCycleLR(Schedule):
    """One-cycle policy, the same numbers as ``torch.optim.lr_scheduler.OneCycleLR``.

    Parameters
    ----------
    lr : float
        The peak (``max_lr``).
    pct_start : float, default=0.2
        Fraction of the steps spent rising (the anchor's 0.2; PyTorch's default is 0.3).
    div_factor : float, default=25
        Initial rate = lr / div_factor.
    final_div_factor : float, default=1e4
        Final rate = initial / final_div_factor.
    cycle_momentum : bool, default=True
        Cycle momentum between ``max_momentum`` (at low rates) and ``base_momentum``.
    """

    def __init__(self, lr, pct_start=0.2, div_factor=25.0, final_div_factor=1e4,
                 cycle_momentum=True, base_momentum=0.85, max_momentum=0.95):
        super().__init__(lr)
        self.pct_start, self.div_factor, self.final_div_factor = float(pct_start), float(div_factor), float(final_div_factor)
        self.cycle_momentum = bool(cycle_momentum)
        self.base_momentum, self.max_momentum = float(base_momentum), float(max_momentum)

    @staticmethod
    def _cos(start, end, pct):
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def _phase(self, step):
        up_end = float(self.pct_start * self.total_steps) - 1
        down_end = float(self.total_steps - 1)
        step = min(step, self.total_steps - 1)
        if step <= up_end:
            return 0, (step / up_end) if up_end > 0 else 1.0
        return 1, (step - up_end) / (down_end - up_end)

    def lr(self, step):
        initial = self.base_lr / self.div_factor
        final = initial / self.final_div_factor
        phase, pct = self._phase(step)
        return self._cos(initial, self.base_lr, pct) if phase == 0 else self._cos(self.base_lr, final, pct)

    def momentum(self, step):
        if not self.cycle_momentum:
            return None
        phase, pct = self._phase(step)
        if phase == 0:
            return self._cos(self.max_momentum, self.base_momentum, pct)
        return self._cos(self.base_momentum, self.max_momentum, pct)


SCHEDULES = {"constant": ConstantLR, "plateau": PlateauLR, "step": StepLR,
             "cosine": CosineLR, "onecycle": OneCycleLR}


def make_schedule(name: str, lr: float, **kwargs) -> Schedule:
    """Build a schedule by name (``constant``, ``plateau``, ``step``, ``cosine``, ``onecycle``)."""
    if name not in SCHEDULES:
        raise ConfigError(f"schedule={name!r}: choose one of {', '.join(SCHEDULES)}")
    return SCHEDULES[name](lr, **kwargs)
