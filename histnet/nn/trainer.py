"""The one training loop for every gradient-trained model in histnet.

:class:`Trainer` runs epochs of mini-batches from the dataset module, a validation
pass after each epoch, and returns the learning curve (a list of per-epoch dicts).
It reports a :class:`~histnet.progress.ProgressEvent` after every batch (the CLI turns
those into a bar with an ETA), writes a checkpoint every ``checkpoint_every_s``
seconds, when training ends and on Ctrl-C, and stops with
:class:`~histnet.errors.DivergenceError` when the loss or a gradient stops being finite.

After every epoch it asks :func:`histnet.nn.health.diagnose` whether the net is learning:
a loss that stays at chance after a warm-up, or one that rises, is written into the
epoch's record (``health``, ``health_note``) and shown on the progress line; with
``stop_if_stuck`` a net stuck at chance ends the run with
:class:`~histnet.errors.NotLearningError`, after saving the checkpoint.

Determinism and resuming
------------------------
All randomness of a run is derived from ``seed`` and the position in it: the order of
epoch ``e`` is ``default_rng([seed, e]).permutation(n)``, and batch ``b`` of epoch ``e``
gets the host generator ``default_rng([seed, e, b])`` (crops, flips, colour noise) and a
device generator seeded from it (dropout). A checkpoint therefore only needs the
position ``(epoch, batch)``, the weights, the optimiser velocities, the schedule state
and the running sums of the epoch; a resumed run gives the same numbers, bit for bit
on the same machine, as a run that was never interrupted.

Checkpoints are ``.npz`` files written atomically (:func:`histnet.io.save_npz`) and
read with ``allow_pickle=False``; metadata is one JSON string inside.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..backend import FLOAT, get_array_module, to_device, to_host
from ..budget import BudgetError
from ..errors import CheckpointError, ConfigError, DivergenceError, NotLearningError
from ..evaluate import top_k_error
from ..io import load_npz, save_npz
from ..progress import ProgressEvent
from .core import check_signature
from .health import LIKELY_CAUSES, diagnose
from .losses import softmax_cross_entropy
from .schedules import ConstantLR, Schedule

CHECKPOINT_FORMAT = "histnet-trainer-checkpoint-v1"
#: The learning curve, rewritten after every epoch beside the checkpoint (``curve.csv``).
CURVE_FILE = "curve.csv"


def default_preprocess(xp):
    """``(images, labels, rng, train) -> (x, y)``: cast to float32 and move to the device."""

    def prep(images, labels, rng, train):
        return to_device(np.asarray(images, dtype=FLOAT), xp), to_device(np.asarray(labels, np.int64), xp)

    return prep


def _iter_batches(data, batch_size, indices):
    """Batches of ``data`` (a Dataset, or a tuple ``(X, y)`` of host arrays) at ``indices``."""
    if hasattr(data, "batches"):
        yield from data.batches(batch_size, indices=indices, shuffle=False)
        return
    X, y = data
    for s in range(0, len(indices), batch_size):
        sel = indices[s:s + batch_size]
        yield X[sel], y[sel]


def _n_items(data) -> int:
    return len(data) if hasattr(data, "batches") else len(data[1])


def trace_windows(epoch: dict) -> list:
    """An epoch's trace windows; a last window under half the previous one's span is left out
    (records made before :class:`Trainer` folded the remainder into the last window end in a
    window of one small batch, too noisy to measure with)."""
    tr = list(epoch.get("trace") or ())
    if len(tr) >= 3 and (tr[-1][0] - tr[-2][0]) < 0.5 * (tr[-2][0] - tr[-3][0]):
        tr = tr[:-1]
    return tr


class Trainer:
    """Mini-batch training of a model with explicit forward/backward.

    Parameters
    ----------
    model : Sequential (or anything with forward/backward/parameters/state_dict/
        load_state_dict/signature/set_rng)
    optimizer : SGD
    schedule : Schedule, optional
        Sets ``optimizer.lr`` (and momentum, for one-cycle) before every step; default
        a constant rate equal to ``optimizer.lr``.
    loss : callable, default=softmax_cross_entropy
        ``loss(outputs, y) -> (float, doutputs)``.
    preprocess : callable, optional
        ``preprocess(images, labels, rng, train) -> (x, y)`` device arrays, called on every
        host batch; ``rng`` is the batch's host generator (augmentation), ``train`` False
        for validation. Default: cast to float32 and move to the device.
    xp : module, optional
        Array module of the model (taken from its first parameter by default).
    progress : callable, optional
        Receives a :class:`ProgressEvent` after every batch (stage ``"epoch i/E"``).
        Raising ``KeyboardInterrupt`` from it behaves like Ctrl-C.
    checkpoint_every_s : float, default=300
        Seconds between periodic checkpoints (when ``checkpoint_path`` is given); one is also
        written when training ends and on Ctrl-C.
    name : str, default="train"
        Prefix of the progress stage.
    stop_if_stuck : bool, default=False
        End the run (:class:`NotLearningError`, checkpoint kept) when the training loss has
        stayed at chance after the warm-up (:mod:`histnet.nn.health`). Off, the finding is
        only reported. The CNN recipes turn it on; the DBN's fine-tuning from random weights
        legitimately sits at chance for dozens of epochs, so it only warns.
    """

    def __init__(self, model, optimizer, schedule: Optional[Schedule] = None, *,
                 loss: Callable = softmax_cross_entropy, preprocess: Optional[Callable] = None,
                 xp=None, progress=None, checkpoint_every_s: float = 300.0, name: str = "train",
                 stop_if_stuck: bool = False):
        self.model = model
        self.optimizer = optimizer
        self.schedule = schedule if schedule is not None else ConstantLR(optimizer.lr)
        self.loss = loss
        params = model.parameters()
        self.xp = xp if xp is not None else (get_array_module(params[0][1]) if params else np)
        self.preprocess = preprocess if preprocess is not None else default_preprocess(self.xp)
        self.progress = progress
        self.checkpoint_every_s = float(checkpoint_every_s)
        self.name = name
        self.stop_if_stuck = bool(stop_if_stuck)
        self.n_classes = 0
        self.history: list = []
        self.step = 0

    # -- the loop ------------------------------------------------------------------------
    def fit(self, train, val=None, *, epochs: int, batch_size: int, seed: int = 0,
            checkpoint_path=None, resume: bool = False, deadline: Optional[float] = None) -> list:
        """Train for ``epochs`` epochs; return the learning curve.

        Parameters
        ----------
        train, val : Dataset or tuple (X, y) of host arrays
            ``val`` is scored after every epoch (top-1 error); optional.
        epochs, batch_size : int
        seed : int, default=0
            Everything random in the run derives from it (see the module docstring).
        checkpoint_path : path, optional
            Where checkpoints go. Without it nothing is written.
        resume : bool, default=False
            Continue from ``checkpoint_path`` if that file exists.
        deadline : float, optional
            A ``time.perf_counter()`` value when training must end (a time budget). The
            first :attr:`PROBE_STEPS` steps are timed and the schedule is shortened to the
            whole epochs that fit before it (one partial epoch when not one does), so the
            learning rate still follows its whole course; a step that would start after it
            ends training early, with the partial epoch in the curve. ``budget_plan`` and
            ``cut_by_deadline`` say what happened.

        Returns
        -------
        history : list of dict
            One per epoch: ``epoch`` (1-based), ``train_loss`` and ``train_error`` (means over
            the epoch's batches, in training mode), ``val_error`` (None without ``val``),
            ``lr`` (the last step's rate), ``seconds``.

        Raises
        ------
        DivergenceError
            A loss or gradient became NaN/inf; the message names the layer and the step,
            and the checkpoint on disk is the last good one.
        CheckpointError
            ``resume`` found a checkpoint of another network or run.
        KeyboardInterrupt
            Re-raised after saving a checkpoint.
        BudgetError
            ``deadline`` passed before the first :attr:`PROBE_STEPS` steps were done.
        """
        if epochs < 1 or batch_size < 1:
            raise ConfigError(f"Trainer.fit: epochs={epochs} and batch_size={batch_size} must be >= 1")
        n = _n_items(train)
        if n == 0:
            raise ConfigError("Trainer.fit: the training set is empty")
        steps_per_epoch = math.ceil(n / batch_size)
        self.steps_per_epoch = steps_per_epoch
        self.schedule.setup(steps_per_epoch, epochs)
        self.epochs, self.batch_size, self.seed = int(epochs), int(batch_size), int(seed)
        self.max_steps: Optional[int] = None  # a deadline's partial single epoch
        self.budget_plan, self.cut_by_deadline = None, False
        path = Path(checkpoint_path) if checkpoint_path is not None else None

        # position and the running sums of the current epoch
        self.epoch, self.batch, self.step = 0, 0, 0
        self.sums = self._fresh_sums()
        self.history = []
        if resume and path is not None and path.exists():
            self.load_checkpoint(path)

        last_save = time.perf_counter()
        # overflow on the way to a NaN is reported as a DivergenceError naming the step and
        # layer; numpy's own RuntimeWarnings would only print raw lines before that one
        errstate = np.errstate(over="ignore", invalid="ignore", divide="ignore")
        errstate.__enter__()
        first_step_done, steps_at_start = None, self.step
        try:
            while self.epoch < self.epochs and not self.cut_by_deadline:
                t_epoch = time.perf_counter() - self.sums["seconds"]
                order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
                stage = f"{self.name} epoch {self.epoch + 1}/{self.epochs}"
                start = self.batch * batch_size
                for images, labels in _iter_batches(train, batch_size, order[start:]):
                    if deadline is not None and self.step - steps_at_start >= self.PROBE_STEPS:
                        if time.perf_counter() >= deadline or (self.max_steps is not None
                                                               and self.step >= self.max_steps):
                            self.cut_by_deadline = time.perf_counter() >= deadline
                            break
                    self._train_step(images, labels)
                    self.batch += 1
                    self.step += 1
                    self.sums["seconds"] = time.perf_counter() - t_epoch
                    every = self._trace_every()  # the epoch's last window takes the remainder
                    if self.batch % every == 0 and self.steps_per_epoch - self.batch >= every:
                        self._trace_point()
                    if deadline is not None:
                        if self.step - steps_at_start == 1:
                            first_step_done = time.perf_counter()  # the first step pays for warm-up
                        elif self.step - steps_at_start == self.PROBE_STEPS:
                            self._plan_to_deadline(deadline, first_step_done, steps_per_epoch)
                    if path is not None and time.perf_counter() - last_save > self.checkpoint_every_s \
                            and self._loss_in_normal_range():
                        self.save_checkpoint(path)
                        last_save = time.perf_counter()
                    if self.progress is not None:
                        s = self.sums
                        health = self.history[-1].get("health_note") if self.history else None
                        self.progress(ProgressEvent(
                            stage, self.batch, self.max_steps or steps_per_epoch,
                            f"loss {s['loss'] / max(s['count'], 1):.4f}, lr {self.optimizer.lr:.3g}, "
                            f"{s['count'] / max(s['seconds'], 1e-9):,.0f} img/s, run ETA {self._run_eta()}"
                            + (f"; {health}" if health else ""), s["seconds"]))
                if self.cut_by_deadline and self.batch == 0:
                    break  # the time ran out between epochs: nothing of this one to record
                self._end_epoch(val, t_epoch)
                stuck = self._check_health()
                if path is not None:
                    self._write_curve(path.parent / CURVE_FILE)
                # at the end, and at an epoch end once the interval has passed: not after every
                # epoch, which on a 1-batch epoch (a small crossover set) would cost more than it
                # trains
                normal = self._epoch_loss_in_normal_range()
                if path is not None and (self.epoch >= self.epochs or self.cut_by_deadline or stuck or (
                        normal and time.perf_counter() - last_save > self.checkpoint_every_s)):
                    self.save_checkpoint(path)
                    last_save = time.perf_counter()
                if stuck:
                    raise NotLearningError(self._stuck_message(), self.history)
        except KeyboardInterrupt:
            if path is not None:
                self.save_checkpoint(path)
            raise
        finally:
            errstate.__exit__(None, None, None)
        return self.history

    #: Steps timed before a deadline's plan is made (the first one, which pays for warm-up,
    #: is not counted in the pace).
    PROBE_STEPS = 4

    def _plan_to_deadline(self, deadline: float, first_step_done: float, steps_per_epoch: int) -> None:
        """Shorten the schedule to what fits before ``deadline``, from the pace of the probe steps."""
        now = time.perf_counter()
        if now >= deadline:
            raise BudgetError(f"{self.name}: the time was up after {self.PROBE_STEPS} training steps "
                              f"({now - first_step_done:.2f} s for the last {self.PROBE_STEPS - 1})")
        per_step = (now - first_step_done) / (self.PROBE_STEPS - 1)
        total = self.step + int(0.95 * (deadline - now) / max(per_step, 1e-9))
        planned = self.epochs * steps_per_epoch
        pace = f"{1000 * per_step:.0f} ms a step of {self.batch_size}"
        if total >= planned:
            self.budget_plan = f"all {self.epochs} epochs fit ({pace})"
            return
        if total >= steps_per_epoch:
            epochs = max(total // steps_per_epoch, self.epoch + 1)
            self.budget_plan = f"{epochs} of {self.epochs} epochs ({pace})"
            self.epochs = epochs
            self.schedule.setup(steps_per_epoch, epochs)
        else:
            self.budget_plan = f"{total} steps of one {steps_per_epoch}-step epoch, of {self.epochs} epochs ({pace})"
            self.epochs, self.max_steps = 1, total
            self.schedule.setup(total, 1)

    def _in_normal_range(self, loss, earlier) -> bool:
        """Whether a training loss is one worth checkpointing, against the ``earlier`` epochs.

        A diverging run's loss first grows, finite, for a while before it becomes NaN; a
        checkpoint written then holds weights that have already exploded. Normal: at most
        twice the larger of ln K (chance) and the best epoch loss of ``earlier``.
        """
        if loss is None:
            return True
        best = min((h["train_loss"] for h in earlier if h.get("train_loss") is not None), default=None)
        chance = math.log(self.n_classes) if self.n_classes >= 2 else 0.0
        return math.isfinite(loss) and loss <= 2 * max(chance, best if best is not None else chance, 1e-3)

    def _loss_in_normal_range(self) -> bool:
        """The running loss of the epoch in progress, against every finished epoch."""
        s = self.sums
        return self._in_normal_range(s["loss"] / s["count"] if s["count"] else None, self.history)

    def _epoch_loss_in_normal_range(self) -> bool:
        """The loss of the epoch just finished (its record), against the epochs before it."""
        if not self.history:
            return True
        return self._in_normal_range(self.history[-1].get("train_loss"), self.history[:-1])

    def _train_step(self, images, labels):
        rng = np.random.default_rng([self.seed, self.epoch, self.batch])
        self.model.set_rng(self.xp.random.default_rng(int(rng.integers(2 ** 62))))
        x, y = self.preprocess(images, labels, rng, True)
        self.optimizer.lr = self.schedule.lr(self.step)
        mom = self.schedule.momentum(self.step)
        if mom is not None:
            self.optimizer.momentum = mom
        out = self.model.forward(x, train=True)
        loss, dout = self.loss(out, y)
        if not math.isfinite(loss):
            raise DivergenceError(self._divergence_message(x, f"loss is {loss}"))
        self.model.backward(dout)
        self._check_gradients()
        self.optimizer.step()
        nb = len(labels)
        if out.ndim == 2:
            self.n_classes = int(out.shape[1])
        wrong = float((out.argmax(axis=1) != y).sum()) if out.ndim == 2 else 0.0
        s = self.sums
        s["loss"] += loss * nb
        s["errors"] += wrong
        s["count"] += nb
        s["w_errors"] += wrong
        s["w_count"] += nb

    #: points of the training-error trace per epoch (see :meth:`_trace_point`)
    TRACE_POINTS = 10

    @staticmethod
    def _fresh_sums() -> dict:
        return {"loss": 0.0, "errors": 0.0, "count": 0.0, "seconds": 0.0, "w_errors": 0.0, "w_count": 0.0,
                "trace": []}

    def _trace_every(self) -> int:
        return max(1, self.steps_per_epoch // self.TRACE_POINTS)

    def _trace_point(self) -> None:
        """Close a window of the training-error trace: ``[epoch, error, seconds]``, the epoch
        as a fraction (2.3: 30% into the third) and the error of the batches since the last
        point (``steps_per_epoch // TRACE_POINTS`` of them; the epoch's last window also takes
        the remainder, so no window is a noisy handful of images). It resolves "when did the training error first reach 25%" (the 2012 paper's
        Figure 1 measure, :func:`histnet.ablation.epochs_to`) finer than whole epochs; the
        epoch's ``train_error`` is its mean over all its batches."""
        s = self.sums
        if s["w_count"]:
            s["trace"].append([round(self.epoch + self.batch / self.steps_per_epoch, 4),
                               s["w_errors"] / s["w_count"], round(s["seconds"], 3)])
        s["w_errors"] = s["w_count"] = 0.0

    def _end_epoch(self, val, t_epoch):
        s = self.sums
        self._trace_point()  # the last, shorter window of the epoch (if any)
        val_error = self.error(val) if val is not None else None
        self.schedule.epoch_end(self.epoch + 1, val_error if val_error is not None
                                else s["errors"] / max(s["count"], 1))
        self.history.append({
            "epoch": self.epoch + 1,
            "train_loss": s["loss"] / max(s["count"], 1),
            "train_error": s["errors"] / max(s["count"], 1),
            "val_error": val_error,
            "lr": self.optimizer.lr,
            "seconds": time.perf_counter() - t_epoch,
            "trace": s["trace"],
        })
        self.epoch += 1
        self.batch = 0
        self.sums = self._fresh_sums()

    def _run_eta(self) -> str:
        """Time left for the whole run, from this run's own pace (finished epochs and this one)."""
        done = sum(float(h.get("seconds") or 0.0) for h in self.history) + self.sums["seconds"]
        steps = self.epoch * self.steps_per_epoch + self.batch
        if steps == 0:
            return "?"
        left = done / steps * (self.epochs * self.steps_per_epoch - steps)
        h, rem = divmod(int(left), 3600)
        return f"{h}:{rem // 60:02d}:{rem % 60:02d}"

    def _write_curve(self, path) -> None:
        """The learning curve so far as CSV (atomically), so a long run can be followed and plotted."""
        from ..io import atomic_write

        keys = ["epoch", "train_loss", "train_error", "val_error", "lr", "seconds", "health"]
        lines = [",".join(keys)] + [",".join("" if h.get(k) is None else str(h.get(k)) for k in keys)
                                    for h in self.history]
        with atomic_write(path, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- is it learning? ---------------------------------------------------------------------
    def _check_health(self) -> bool:
        """Judge the epoch just finished; True when the run should stop as stuck."""
        finding = diagnose(self.history, self.n_classes, self.epochs, self.steps_per_epoch)
        if finding is None:
            return False
        self.history[-1]["health"] = finding["kind"]
        self.history[-1]["health_note"] = finding["note"]
        if self.progress is not None:
            self.progress(ProgressEvent(f"{self.name} epoch {self.epoch}/{self.epochs}", self.steps_per_epoch,
                                        self.steps_per_epoch, finding["note"], self.history[-1]["seconds"]))
        return finding["stuck"] and self.stop_if_stuck

    def _stuck_message(self) -> str:
        kept = f"; checkpoint kept at {self._last_checkpoint}" if getattr(self, "_last_checkpoint", None) else ""
        return (f"{self.name} stopped after epoch {self.epoch} of {self.epochs}: "
                f"{self.history[-1]['health_note']}. Likely causes: {LIKELY_CAUSES}{kept}. "
                f"To train on regardless, set stop_if_stuck=false")

    # -- evaluation -------------------------------------------------------------------------
    def predict(self, data, batch_size: Optional[int] = None) -> np.ndarray:
        """Model outputs (host array) for every item of ``data``, in order, in test mode."""
        bs = batch_size or getattr(self, "batch_size", 256)
        outs = []
        for images, labels in _iter_batches(data, bs, np.arange(_n_items(data))):
            x, _ = self.preprocess(images, labels, None, False)
            outs.append(to_host(self.model.forward(x, train=False)))
        return np.concatenate(outs) if outs else np.zeros((0, 0), FLOAT)

    def error(self, data, batch_size: Optional[int] = None) -> float:
        """Top-1 error on ``data`` (via :func:`histnet.evaluate.top_k_error`)."""
        labels = data.labels if hasattr(data, "labels") else np.asarray(data[1])
        return top_k_error(self.predict(data, batch_size), labels, 1)

    # -- NaN / inf ------------------------------------------------------------------------------
    def _check_gradients(self):
        xp = self.xp
        total = None
        for _, _, g in self.model.parameters():
            s = (g * g).sum()
            total = s if total is None else total + s
        if total is None or math.isfinite(float(total)):
            return
        bad = [n for n, _, g in self.model.parameters() if not bool(xp.isfinite(g).all())]
        if bad:
            what = f"gradient of {bad[0]} is not finite"
        else:  # every entry finite, but their squares overflow: the largest names the layer
            name = max(self.model.parameters(), key=lambda t: float(xp.abs(t[2]).max()))[0]
            what = f"gradient norm overflows (largest entries in {name})"
        raise DivergenceError(f"training diverged at step {self.step + 1} (epoch {self.epoch + 1}, "
                              f"batch {self.batch + 1}): {what}{self._kept()}")

    def _divergence_message(self, x, what):
        xp = self.xp
        where = "the loss"
        layers = getattr(self.model, "layers", None)
        if layers is not None:
            if not bool(xp.isfinite(x).all()):
                where = "the input batch"
            else:
                h = x
                for layer in layers:
                    h = layer.forward(h, train=False)
                    if not bool(xp.isfinite(h).all()):
                        where = f"layer {layer.name}"
                        break
        return (f"training diverged at step {self.step + 1} (epoch {self.epoch + 1}, batch {self.batch + 1}): "
                f"{what}, first non-finite output at {where}{self._kept()}")

    def _kept(self):
        p = getattr(self, "_last_checkpoint", None)
        if not p:
            return ""
        e, b = getattr(self, "_last_checkpoint_at", (None, None))
        when = "" if e is None else (f"saved at the end of epoch {e}" if b == 0 else
                                     f"saved in epoch {e + 1} after batch {b}")
        return (f"; last good checkpoint kept at {p} ({when}{', ' if when else ''}"
                "before the loss left its normal range)")

    # -- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, path) -> None:
        """Write weights, velocities and the run position to ``path`` (atomically)."""
        arrays = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        arrays.update({f"opt/{k}": v for k, v in self.optimizer.state_dict().items()})
        meta = {
            "format": CHECKPOINT_FORMAT,
            "signature": {k: list(v) for k, v in self.model.signature().items()},
            "epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed,
            "epoch": self.epoch, "batch": self.batch, "step": self.step,
            "sums": self.sums, "history": self.history,
            "lr": self.optimizer.lr, "momentum": self.optimizer.momentum,
            "schedule": {"type": type(self.schedule).__name__, "state": self.schedule.state_dict()},
        }
        arrays["meta"] = np.array(json.dumps(meta))
        save_npz(path, arrays)
        self._last_checkpoint = str(path)
        self._last_checkpoint_at = (self.epoch, self.batch)

    def load_checkpoint(self, path) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` for this network and run."""
        try:
            data = load_npz(path, "training checkpoint")
            meta = json.loads(str(data.pop("meta")))
        except CheckpointError as e:
            raise CheckpointError(f"{e}; run the command again without --resume, or delete the file") from None
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{path}: not a histnet training checkpoint ({type(e).__name__}: {e}); "
                                  "run the command again without --resume, or delete the file") from None
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path}: not a histnet training checkpoint (format {meta.get('format')!r})")
        check_signature(self.model.signature(), {k: tuple(v) for k, v in meta["signature"].items()}, str(path))
        for key in ("batch_size", "seed"):
            if meta[key] != getattr(self, key):
                raise CheckpointError(f"{path}: was written with {key}={meta[key]}, this run has "
                                      f"{key}={getattr(self, key)}; resuming would not reproduce the run")
        if meta["schedule"]["type"] != type(self.schedule).__name__:
            raise CheckpointError(f"{path}: schedule {meta['schedule']['type']} there, "
                                  f"{type(self.schedule).__name__} here")
        self.model.load_state_dict({k[6:]: v for k, v in data.items() if k.startswith("model/")}, str(path))
        self.optimizer.load_state_dict({k[4:]: v for k, v in data.items() if k.startswith("opt/")})
        self.optimizer.lr, self.optimizer.momentum = meta["lr"], meta["momentum"]
        self.schedule.load_state_dict(meta["schedule"]["state"])
        self.epoch, self.batch, self.step = meta["epoch"], meta["batch"], meta["step"]
        self.sums, self.history = {**self._fresh_sums(), **meta["sums"]}, meta["history"]
        self._last_checkpoint = str(path)
