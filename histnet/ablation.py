"""Ablations: a method's design claims, each an arm run beside the full recipe.

A paper's design claims ("ReLU trains six times faster than tanh", "LRN lowers the
error") become *arms*: named sets of config overrides declared with the method
(``Method.ablations``, data like its history), each run on the same data, with the same
seed(s) and the same schedule as the full recipe. :func:`run_ablation` runs them (locally
or on Dask, resumable arm by arm through :func:`histnet.experiment.run_grid`) and
:func:`ablation_table` puts one row per arm beside the full recipe: the change, the top-1
error and its difference from the full recipe, the training time, the paper's claim with
its citation, and a plain verdict.

Verdicts (:func:`judge`):

* **holds** / **does not hold here**: the difference goes the way the paper says (an arm
  that removes a design choice should raise the error: ``expect="worse"``; one that adds
  one should lower it: ``"better"``). With one seed the spread is unknown and the verdict
  says so.
* **within the noise**: with several seeds (``--seeds``), a difference no larger than the
  spread (the larger standard deviation over seeds of the two arms) is reported as such,
  never as an effect.
* **not comparable**: an arm or the full recipe failed, or the measure is missing (a
  net that never reached the training error the claim is about).
* ``expect="slower"`` (ReLU against tanh): the paper's own measure, the epochs (and
  seconds) until the training error first reaches 25%, from the learning curves; the
  ratio is the speed-up the paper puts at six.
* an arm with no claim (``--arm`` from the command line) is **reported**: the numbers,
  no verdict.

What it leaves out: statistical tests beyond the spread over seeds, and arms that change
the data (they would not be one comparison).
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError
from .experiment import JobSpec, run_grid
from .methods import get_method, make_config, parse_overrides
from .nn.trainer import trace_windows
from .progress import ProgressCallback

FULL = "full recipe"
#: The training error of the paper's Figure 1 measure (Krizhevsky et al. 2012).
TARGET_TRAIN_ERROR = 0.25


@dataclass
class Arm:
    """One design choice changed: ``overrides`` on top of the recipe, and what the paper says.

    Attributes
    ----------
    name : str
    change : str
        What the arm changes, in words.
    overrides : dict
        Config values, as ``--set`` takes them.
    claim : str
        The paper's claim about this choice (with its number, where it gives one).
    citation : str
    expect : {"worse", "better", "slower", ""}
        What the claim predicts for this arm against the full recipe ("" : no claim).
    """

    name: str
    change: str
    overrides: dict
    claim: str = ""
    citation: str = ""
    expect: str = ""

    @classmethod
    def from_spec(cls, name: str, spec: Mapping) -> "Arm":
        """An arm from a method's ``ablations`` entry (a dict with ``set`` and the texts)."""
        return cls(name, spec.get("change", name), dict(spec.get("set", {})), spec.get("claim", ""),
                   spec.get("citation", ""), spec.get("expect", ""))


def parse_arm(text: str) -> Arm:
    """``"NAME=K=V,K=V"`` (or ``;`` between pairs) -> an :class:`Arm` with no claim."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name or "=" not in rest:
        raise ConfigError(f"--arm {text!r}: expected NAME=PARAM=VALUE[,PARAM=VALUE...]")
    pairs = [p for p in (rest.split(";") if ";" in rest else rest.split(",")) if p.strip()]
    return Arm(name, ", ".join(p.strip() for p in pairs), parse_overrides(pairs))


def arms_of(method_cls, names: Optional[Sequence[str]] = None, extra: Iterable[Arm] = ()) -> list[Arm]:
    """The method's declared arms (those named, in the order given) and the extra ones."""
    declared = {k: Arm.from_spec(k, v) for k, v in (getattr(method_cls, "ablations", {}) or {}).items()}
    if names:
        unknown = [n for n in names if n not in declared]
        if unknown:
            raise ConfigError(f"{method_cls.name} declares no arm {unknown[0]!r} "
                              f"(it has: {', '.join(declared) or 'none'}; add one with --arm NAME=PARAM=VALUE)")
        chosen = [declared[n] for n in names]
    else:
        chosen = list(declared.values())
    arms = chosen + list(extra)
    if not arms:
        raise ConfigError(f"{method_cls.name} declares no ablation arms; give one with --arm NAME=PARAM=VALUE")
    seen = set()
    for a in arms:
        if a.name in seen or a.name == FULL:
            raise ConfigError(f"two arms are called {a.name!r}")
        seen.add(a.name)
    return arms


# -- measures and verdicts ----------------------------------------------------------------------

def epochs_to(curve: Sequence[dict], target: float = TARGET_TRAIN_ERROR) -> Optional[tuple]:
    """``(epoch, seconds)`` when the training error first reached ``target``; None if never.

    With the trainer's trace (``trace`` in each epoch: the error of each tenth of the
    epoch) the epoch is a fraction, 2.3 meaning 30% into the third; without it, whole epochs
    and their mean training error.
    """
    seconds = 0.0
    for e in curve or ():
        for ep, err, sec in trace_windows(e):
            if err <= target:
                return float(ep), seconds + float(sec)
        if not e.get("trace") and e.get("train_error") is not None and e["train_error"] <= target:
            return int(e["epoch"]), seconds + float(e.get("seconds") or 0.0)
        seconds += float(e.get("seconds") or 0.0)
    return None


def lowest_error(curve: Sequence[dict]) -> Optional[float]:
    """The lowest training error a run's curve reached (over its trace windows, or epochs)."""
    errs = [float(p[1]) for e in curve or () for p in trace_windows(e)]
    errs += [float(e["train_error"]) for e in curve or () if not e.get("trace") and e.get("train_error") is not None]
    return min(errs) if errs else None


def _spread(a: Sequence[float], b: Sequence[float]) -> Optional[float]:
    if len(a) < 2 or len(b) < 2:
        return None
    return float(max(np.std(a), np.std(b)))


def judge(arm: Arm, full: Sequence[dict], runs: Sequence[dict]) -> tuple:
    """``(verdict, reason)`` for one arm's records against the full recipe's (one per seed)."""
    failed = [r for r in list(full) + list(runs) if r.get("status") != "ok"]
    if failed or not full or not runs:
        r = failed[0] if failed else {}
        return "not comparable", f"{r.get('method', '?')} failed: {r.get('error', 'no run')}"
    if arm.expect == "slower":
        return _judge_speed(full, runs)
    f = [float(r["top1_error"]) for r in full]
    a = [float(r["top1_error"]) for r in runs]
    diff = 100 * (np.mean(a) - np.mean(f))
    spread = _spread(f, a)
    moves = ("the error is unchanged" if round(diff, 2) == 0 else
             f"the error {'rises' if diff > 0 else 'falls'} by {abs(diff):.2f} points")
    if spread is not None and abs(diff) <= 100 * spread:
        return "within the noise", (f"{moves}, within the spread of ±{100 * spread:.2f} over {len(f)} seeds: "
                                    "not an effect")
    seeds = "" if spread is not None else "; one seed: the spread is unknown (--seeds 0,1,2)"
    if not arm.expect:
        return "reported", moves + seeds
    holds = diff > 0 if arm.expect == "worse" else diff < 0
    return ("holds" if holds else "does not hold here"), moves + seeds


def _epochs(n: float) -> str:
    return f"{n:g} epoch" if n == 1 else (f"{n:g} epochs" if float(n).is_integer() else f"{n:.1f} epochs")


def _judge_speed(full, runs) -> tuple:
    """The paper's Figure 1 measure: epochs until the training error first reaches 25%, ReLU
    (the full recipe) against tanh (the arm). When the shared schedule is too short for the
    ReLU net to reach 25%, the same measure at the lowest training error both reached, and
    the reason says so."""
    curves = [r.get("learning_curve") for r in list(full) + list(runs)]
    n_epochs = len(runs[0].get("learning_curve") or [])
    target, note = TARGET_TRAIN_ERROR, ""
    if any(epochs_to(r.get("learning_curve")) is None for r in full):
        lows = [lowest_error(c) for c in curves]
        if any(x is None for x in lows):
            return "not comparable", "a run has no learning curve"
        target = max(lows)
        n_full = len(full[0].get("learning_curve") or [])
        note = (f"ReLU did not reach {TARGET_TRAIN_ERROR:.0%} training error in {_epochs(n_full)}; measured at "
                f"{target:.1%}, the lowest both reached: ")
    fast = [epochs_to(r.get("learning_curve"), target) for r in full]
    slow = [epochs_to(r.get("learning_curve"), target) for r in runs]
    f_ep = float(np.mean([x[0] for x in fast]))
    if any(x is None for x in slow):
        return "holds", (f"{note}ReLU reached {target:.0%} training error in {_epochs(f_ep)}, tanh not in "
                         f"{n_epochs}: at least {n_epochs / f_ep:.1f} times faster (paper: six)")
    s_ep = float(np.mean([x[0] for x in slow]))
    ratio = s_ep / f_ep
    word = "holds" if ratio > 1 else "does not hold here"
    return word, (f"{note}{target:.1%} training error after {f_ep:.1f} epochs with ReLU, {s_ep:.1f} with tanh: "
                  f"{ratio:.1f} times faster (paper: six, at 25%)")


# -- the table ----------------------------------------------------------------------------------

TABLE_COLUMNS = ["arm", "change", "top-1 error", "vs full (points)", "train time (s)",
                 f"epochs to {TARGET_TRAIN_ERROR:.0%} train error", "paper's claim", "verdict", "why"]


def _error_text(runs) -> str:
    ok = [float(r["top1_error"]) for r in runs if r.get("status") == "ok"]
    if not ok:
        return "n/a"
    return f"{100 * np.mean(ok):.2f}%" + (f" ± {100 * np.std(ok):.2f}" if len(ok) > 1 else "")


def _time(runs) -> str:
    t = [((r.get("timing") or {}).get("epochs_s") or (r.get("timing") or {}).get("fit_s")) for r in runs
         if r.get("status") == "ok"]
    t = [x for x in t if x is not None]
    return f"{np.mean(t):,.0f}" if t else "n/a"


def _epochs_text(runs) -> str:
    hits = [epochs_to(r.get("learning_curve")) for r in runs if r.get("status") == "ok"]
    if not hits or not any(r.get("learning_curve") for r in runs):
        return ""
    if any(h is None for h in hits):
        return "not reached"
    return f"{np.mean([h[0] for h in hits]):.1f} ({np.mean([h[1] for h in hits]):,.0f} s)"


def _fingerprint(rec) -> tuple:
    curve = tuple(round(float(e.get("train_loss") or 0.0), 9) for e in rec.get("learning_curve") or ())
    return rec.get("status"), rec.get("top1_error"), rec.get("top5_error"), curve


def _same_runs(full, runs) -> bool:
    """Whether the arm's runs are the full recipe's, result for result and loss for loss."""
    return bool(full) and len(full) == len(runs) and all(
        _fingerprint(a) == _fingerprint(b) and a.get("status") == "ok" for a, b in zip(full, runs))


def ablation_table(arms: Sequence[Arm], records: Mapping[str, list], unchanged: Iterable[str] = ()) -> pd.DataFrame:
    """One row for the full recipe and one per arm (``records``: arm name -> its records).

    ``unchanged`` names arms whose config equals the full recipe's (their change is already
    the recipe's own under this profile): those are not comparable, whatever they measured.
    """
    unchanged = set(unchanged)
    full = records.get(FULL, [])
    f_ok = [float(r["top1_error"]) for r in full if r.get("status") == "ok"]
    rows = [[FULL, "the method's recipe as configured", _error_text(full), "", _time(full), _epochs_text(full),
             "", "", ""]]
    for arm in arms:
        runs = records.get(arm.name, [])
        a_ok = [float(r["top1_error"]) for r in runs if r.get("status") == "ok"]
        diff = f"{100 * (np.mean(a_ok) - np.mean(f_ok)):+.2f}" if a_ok and f_ok else "n/a"
        verdict, why = judge(arm, full, runs)
        if arm.name in unchanged:
            verdict, why = "not comparable", ("this arm changes nothing here: its settings are the recipe's own, "
                                              "or have no effect on this data (colour noise on grey images); not run")
        elif _same_runs(full, runs) and not any(r.get("weights_from") for r in runs):
            verdict, why = "not comparable", ("this arm's runs are identical to the full recipe's: its change has "
                                              "no effect on this data (colour noise on grey images, for one)")
        if any(r.get("weights_from") for r in runs) and verdict != "not comparable":
            why += "; scored with the full recipe's trained weights (the change is only how the test set is scored)"
        claim = arm.claim + (f" ({arm.citation})" if arm.citation else "")
        rows.append([arm.name, arm.change, _error_text(runs), diff, _time(runs), _epochs_text(runs), claim,
                     verdict, why])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


# -- running ------------------------------------------------------------------------------------

def _only_scoring(cfg, full_cfg) -> bool:
    """Whether ``cfg`` differs from ``full_cfg`` only in how the test set is scored (the
    config class's ``test_time_fields``): that arm needs no training of its own."""
    fields = set(getattr(type(cfg), "test_time_fields", ()))
    if not fields:
        return False
    strip = lambda c: {k: v for k, v in dataclasses.asdict(c).items() if k not in fields}  # noqa: E731
    return strip(cfg) == strip(full_cfg)


@dataclass
class AblationResult:
    """What :func:`run_ablation` returns: the table, the records by arm, the paths written."""

    table: pd.DataFrame
    records: dict
    arms: list
    caption: str
    paths: list = field(default_factory=list)
    out: Optional[Path] = None


def run_ablation(method: str, dataset: str = "mnist5k", *, root=None, data: Optional[Mapping] = None,
                 profile: Optional[str] = "quick", arms: Optional[Sequence[str]] = None,
                 extra_arms: Iterable[Arm] = (), overrides: Optional[Mapping] = None,
                 seeds: Sequence[int] = (0,), device: str = "cpu", executor: str = "local",
                 scheduler: Optional[str] = None, out=None, resume: bool = False, figures: bool = True,
                 command: Optional[str] = None, progress: Optional[ProgressCallback] = None,
                 notify: Optional[Callable[[str], None]] = None,
                 on_result: Optional[Callable[[dict], None]] = None, budget: Optional[float] = None) -> AblationResult:
    """Run ``method``'s full recipe and each arm on one split, same seeds, same schedule.

    Parameters
    ----------
    method : str
    dataset, root, data
        As :func:`histnet.studies.run_progression`.
    profile : str or None, default="quick"
        The recipe every arm starts from; ``overrides`` (``--set``) apply to every arm too,
        so a shorter schedule (``{"epochs": 5}``) is shared by all.
    arms : sequence of str, optional
        Only these declared arms (default: all the method declares).
    extra_arms : iterable of Arm
        More arms (``--arm NAME=PARAM=VALUE``).
    seeds : sequence of int, default=(0,)
        Several seeds give the spread that tells an effect from noise.
    device, executor, scheduler, resume, command, progress, notify, on_result
        As :func:`histnet.experiment.run_grid`.
    out : path, optional
        Default ``runs/ablation-<method>-<data set>``.
    budget : float, optional
        Seconds of wall clock every arm's fit may take (:mod:`histnet.budget`): the arms
        compared at equal time instead of an equal schedule.

    Returns
    -------
    AblationResult
    """
    from .io import atomic_write, ensure_writable_folder
    from .report import plot_training_error, run_date, write_tables
    from .studies import data_options, training_set_of

    cls = get_method(method)
    chosen = arms_of(cls, arms, extra_arms)
    base = dict(overrides or {})
    everyone = [Arm(FULL, "", {})] + chosen
    configs = {}
    for arm in everyone:  # every arm's config is checked before anything runs
        try:
            configs[arm.name] = make_config(cls, {**base, **arm.overrides}, profile)
        except ConfigError as e:
            raise ConfigError(f"arm {arm.name!r}: {e}") from None
    data = data_options(data)
    shape, n_train, name = training_set_of(dataset, root=root, seed=seeds[0], data=data)
    out = ensure_writable_folder(Path(out or f"runs/ablation-{method}-{Path(name).name}"), "--out")
    command = command if command is not None else shlex.join(["histnet"] + sys.argv[1:])
    inert = cls(configs[FULL]).inert_settings(shape)  # settings this data ignores (colour noise on grey)
    full_cfg = configs[FULL]
    unchanged = [a.name for a in chosen  # nothing to run: the recipe's own settings, on this data
                 if dataclasses.replace(configs[a.name], **inert) == dataclasses.replace(full_cfg, **inert)]
    scoring = [a.name for a in chosen if a.name not in unchanged and _only_scoring(configs[a.name], full_cfg)]

    def spec(arm, sd, weights_from=None):
        return JobSpec(method=method, dataset=dataset, seed=int(sd), profile=profile,
                       overrides={**base, **arm.overrides}, root=root, device=device, data=data,
                       tag=f"ablation {arm.name}", budget=budget, weights_from=weights_from)

    trained = [(arm.name, spec(arm, sd)) for arm in everyone if arm.name not in unchanged + scoring for sd in seeds]
    planned = cls(full_cfg).settings_for(shape, n_train)  # what the schedule takes on this data
    raised = ""
    if hasattr(full_cfg, "epochs") and isinstance(planned.get("epochs"), int) and planned["epochs"] != full_cfg.epochs:
        raised = (f"; on these {n_train:,} training images {planned['epochs']:,} epochs, raised to reach "
                  f"min_steps={full_cfg.min_steps}")
    if notify:
        notify(f"ablation of {method} on {name}{raised}: the full recipe and {len(chosen)} arms "
               f"({', '.join(a.name for a in chosen)}) x {len(seeds)} seed(s); runs in {out}"
               + (f"; {', '.join(unchanged)}: the recipe's own settings, not run" if unchanged else "")
               + (f"; {', '.join(scoring)}: the full recipe's weights, scored again" if scoring else ""))
    by_arm: dict = {}

    def run(jobs):
        recs = run_grid([s for _, s in jobs], out, resume=resume, executor=executor, scheduler=scheduler,
                        progress=progress, on_result=on_result, command=command, notify=notify) if jobs else []
        for (arm_name, _), rec in zip(jobs, recs):
            by_arm.setdefault(arm_name, []).append(rec)

    run(trained)
    # the scoring arms need the full recipe's weights: from the folder its record is in, which
    # --resume may have found under another run id (the same configuration, find_finished)
    full_ids = {sd: rec.get("run_id") or spec(everyone[0], sd).run_id() for sd, rec in zip(seeds, by_arm[FULL])}
    run([(arm.name, spec(arm, sd, full_ids[sd])) for arm in chosen if arm.name in scoring for sd in seeds])
    table = ablation_table(chosen, by_arm, unchanged)
    schedule = ", ".join(f"{k}={getattr(full_cfg, k)}" for k in ("epochs", "batch_size", "lr", "schedule")
                         if hasattr(full_cfg, k)) + raised
    caption = (f"Ablation of {method} on {name}, {profile or 'default'} profile"
               + (f" ({schedule})" if schedule else "") + f", seeds {', '.join(map(str, seeds))}; every arm "
               "shares this schedule.")
    if profile == "quick":
        caption += " Quick runs are not evidence: short schedules on small data test the machinery, not the claims."
    paths = write_tables(table, out, "ablation", caption=caption)
    if figures and any(a.expect == "slower" for a in chosen):
        slow = [a.name for a in chosen if a.expect == "slower"]
        flat = [r for rs in by_arm.values() for r in rs]
        paths += plot_training_error(by_arm, [FULL, *slow], out / "training_error", name, when=run_date(flat),
                                     target=TARGET_TRAIN_ERROR)
    with atomic_write(out / "COMMAND.txt", "w") as f:
        f.write(command + "\n")
    return AblationResult(table, by_arm, chosen, caption, paths, out)


__all__ = ["Arm", "FULL", "AblationResult", "ablation_table", "arms_of", "epochs_to", "judge", "lowest_error",
           "parse_arm", "run_ablation"]
