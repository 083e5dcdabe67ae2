"""Run methods on datasets and keep one result record per run: resumable, local or on Dask.

A *job* is one (method, dataset, seed, config) and is described by a :class:`JobSpec`,
a plain, picklable record so it can travel to a Dask worker. :func:`run_job` runs one:
it loads the splits through the dataset module, builds the method from the registry,
fits it, scores the test split with :func:`histnet.evaluate.evaluate`, and writes

``<out>/<run_id>/result.json``
    metrics (top-1/top-5 error, per-class accuracy, confusion), timings (fit and
    predict in this process, images/s, and for epoch-trained methods ``epochs_s``, the
    training time summed over the learning curve, which counts the sessions before a
    ``--resume`` too), peak memory, device, the method's size figures and learning
    curve, config, seed, versions, machine and command line. Written atomically
    (temporary file + rename): a killed run leaves no half-written record.

``<out>/<run_id>/figures.npz``
    arrays the method offers for drawing (filters, HOG pictures), if any.

``<out>/<run_id>/model.npz``
    the fitted model (:meth:`Method.save`, with the class names and training image shape
    ``histnet predict`` needs), unless ``JobSpec.save_model`` is off.

:func:`run_grid` runs many jobs, in order, locally or on a Dask cluster, skipping
those whose ``result.json`` says ``"status": "ok"`` when ``resume`` is set. A job that
fails writes a record with ``"status": "failed"`` and the one-line reason, and the
grid goes on. Long-training methods keep checkpoints in their run folder and continue
from them on resume.

The run id is ``<method>__<dataset>__seed<seed>__<hash>`` where the hash covers the
config overrides, profile and data options, so a different ``--set C=...`` is a new run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import re
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from . import __version__
from .backend import get_backend, to_host
from .budget import Budget, format_duration
from .errors import HistnetError, NotLearningError
from .evaluate import Stopwatch, evaluate, machine_info, peak_memory_mb
from .io import CHECKPOINT_SUFFIX, atomic_write, ensure_writable_folder, remove_stale_temporaries, save_npz, write_json
from .methods import get_method, make_config
from .methods.saved import MODEL_FILE
from .nn.health import health_warnings
from .progress import ProgressCallback

RESULT_FILE = "result.json"
SCHEMA = 1

DATA_OPTION_NAMES = ("image_size", "grayscale", "n_per_class", "test_n_per_class", "val_fraction", "skip_bad")


@dataclass
class JobSpec:
    """One (method, dataset, seed, config) to run.

    Attributes
    ----------
    method : str
        Registered method name.
    dataset : str
        A known data set name (``mnist5k``) or a folder path.
    seed : int
        Seeds the data subset/split and the method.
    profile : str or None
        A method profile (``quick``/``full``) applied before ``overrides``.
    overrides : dict
        Config values (strings from ``--set`` or typed values).
    root : str or None
        Where named data sets live.
    device : str
        ``cpu``, ``gpu`` or ``auto``.
    data : dict
        Options for :func:`histnet.data.load_splits` (``image_size``, ``grayscale``,
        ``n_per_class``, ``test_n_per_class``, ``val_fraction``, ``skip_bad``).
    tag : str
        Free label stored in the record (e.g. ``"progression"``).
    save_model : bool
        Keep the fitted model as ``model.npz`` in the run folder (not part of the run id).
    budget : float or None
        Seconds of wall clock the method's fit may take (``--budget``; :mod:`histnet.budget`).
        Part of the run id when set (runs without one keep their ids).
    weights_from : str or None
        The run id of a finished job in the same output folder whose trained weights this
        job scores instead of training its own (its final training checkpoint is copied in
        and resumed, so only the test pass runs): an ablation arm that changes only how
        the test set is scored (``test_crops``). Part of the run id when set.
    """

    method: str
    dataset: str
    seed: int = 0
    profile: Optional[str] = None
    overrides: dict = field(default_factory=dict)
    root: Optional[str] = None
    device: str = "cpu"
    data: dict = field(default_factory=dict)
    tag: str = ""
    save_model: bool = True
    budget: Optional[float] = None
    weights_from: Optional[str] = None

    def dataset_slug(self) -> str:
        name = Path(self.dataset).name if ("/" in self.dataset or Path(self.dataset).exists()) else self.dataset
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", name) or "dataset"

    def run_id(self) -> str:
        key = {"profile": self.profile, "overrides": self.overrides, "data": self.data, "device": self.device}
        if self.budget is not None:
            key["budget"] = float(self.budget)
        if self.weights_from is not None:
            key["weights_from"] = self.weights_from
        key = json.dumps(key, sort_keys=True, default=str)
        h = hashlib.sha1(key.encode()).hexdigest()[:8]
        return f"{self.method}__{self.dataset_slug()}__seed{self.seed}__{h}"


# -- data, loaded once per process for all methods of a grid ------------------------------

_SPLITS_CACHE: dict = {}


def load_job_splits(spec: JobSpec, progress: Optional[ProgressCallback] = None):
    """The splits a job uses (memoised per process, so a progression loads its data once)."""
    from .data import load_splits

    opts = {k: v for k, v in spec.data.items() if v is not None}
    key = (spec.dataset, spec.root, spec.seed, json.dumps(opts, sort_keys=True, default=str))
    if key not in _SPLITS_CACHE:
        if len(_SPLITS_CACHE) >= 2:
            _SPLITS_CACHE.pop(next(iter(_SPLITS_CACHE)))
        _SPLITS_CACHE[key] = load_splits(spec.dataset, root=spec.root, seed=spec.seed, progress=progress, **opts)
    return _SPLITS_CACHE[key]


# -- one job ----------------------------------------------------------------------------------

def versions() -> dict:
    import sklearn

    out = {"histnet": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "scikit-learn": sklearn.__version__}
    cp = sys.modules.get("cupy")
    if cp is not None:
        out["cupy"] = getattr(cp, "__version__", "?")
    return out


def read_result(run_dir) -> Optional[dict]:
    """The record in ``run_dir``, or None if there is none (or it is unreadable)."""
    p = Path(run_dir) / RESULT_FILE
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def is_finished(run_dir) -> bool:
    rec = read_result(run_dir)
    return bool(rec) and rec.get("status") == "ok"


def find_finished(spec: JobSpec, out_dir) -> Optional[Path]:
    """The folder of a finished run in ``out_dir`` that is ``spec``'s job, or None.

    First the run folder named by ``spec.run_id()``. Failing that, a finished run of
    the same method, data set, seed, data options, device, budget and ``weights_from``
    whose recorded configuration is the one ``spec`` resolves to now: the run id hashes
    the options as given (profile and ``--set`` values), so a record made with
    ``--set resnet-20.epochs=80`` has another id than the same run asked for with a
    profile that later came to say 80 epochs; ``--resume`` finds it all the same
    instead of training it again. A record is matched only when its ``profile`` and
    ``overrides``, hashed with ``spec``'s other fields, give back its own run id (so the
    data options, device, budget and ``weights_from`` are the same too) and its
    ``config`` equals ``spec``'s resolved one; a record written before a configuration
    field existed does not match (it runs again).
    """
    out_dir = Path(out_dir)
    exact = out_dir / spec.run_id()
    if is_finished(exact):
        return exact
    prefix = spec.run_id().rsplit("__", 1)[0] + "__"
    if not out_dir.is_dir():
        return None
    candidates = sorted(p for p in out_dir.iterdir() if p.name.startswith(prefix) and p.is_dir())
    if not candidates:
        return None
    try:
        wanted = json.loads(json.dumps(dataclasses.asdict(make_config(get_method(spec.method), spec.overrides,
                                                                      spec.profile)), default=str))
    except HistnetError:
        return None
    for run_dir in candidates:
        rec = read_result(run_dir)
        if not rec or rec.get("status") != "ok" or rec.get("config") != wanted:
            continue
        if not isinstance(rec.get("overrides"), dict):
            continue
        theirs = dataclasses.replace(spec, profile=rec.get("profile"), overrides=rec["overrides"])
        if theirs.run_id() == rec.get("run_id") == run_dir.name:
            return run_dir
    return None


def reuse_finished(specs: Iterable[JobSpec], out_dir, sources: Iterable) -> dict:
    """Copy finished jobs from other run folders instead of running them again.

    A job counts as the same as for ``--resume`` (:func:`find_finished`): same method,
    data set, seed, data options and device, and the same run id or the same resolved
    configuration (the tag is not part of either, so the progression's full-data runs
    are the crossover's ``all`` point). Only the record and the figure arrays are
    copied, never a checkpoint, into a run folder of the source's name; the record gains
    ``"reused_from"`` naming the folder it came from. Jobs already finished in
    ``out_dir`` are left as they are.

    Returns
    -------
    dict
        For each job copied, its run id -> the name of the run folder it now has in
        ``out_dir`` (the same unless the source made it under another id).
    """
    out_dir = Path(out_dir)
    copied = {}
    for spec in specs:
        if find_finished(spec, out_dir) is not None:
            continue
        for src in sources:
            src_dir = find_finished(spec, src)
            if src_dir is None:
                continue
            rec = read_result(src_dir)
            dest = out_dir / src_dir.name
            dest.mkdir(parents=True, exist_ok=True)
            for f in src_dir.iterdir():
                if f.is_file() and f.name != RESULT_FILE and f.suffix in (".npz", ".json", ".png", ".svg") \
                        and "checkpoint" not in f.name:
                    with atomic_write(dest / f.name) as fh:
                        fh.write(f.read_bytes())
            rec["reused_from"] = str(src_dir)
            write_json(dest / RESULT_FILE, rec)  # last, so a half-copied job is not "finished"
            copied[spec.run_id()] = src_dir.name
            break
    return copied


def predict_in_batches(method, dataset, batch_size: int = 500) -> np.ndarray:
    """Scores for every image of ``dataset``, streamed in batches (host array)."""
    parts = [np.asarray(to_host(method.predict_scores(images)))
             for images, _ in dataset.batches(batch_size)]
    return np.concatenate(parts, axis=0)


def save_model(method, run_dir: Path, splits) -> Optional[str]:
    """Save the fitted model beside its record (``model.npz``), with what ``histnet predict``
    needs to read new images (class names, the training image shape, the data set); None for
    a method that cannot."""
    info = {"class_names": list(splits.train.class_names), "image_shape": list(splits.train.image_shape),
            "dataset": splits.train.name}
    try:
        method.save(run_dir / MODEL_FILE, info=info)
    except NotImplementedError:  # a plug-in without get_state: it runs, it just is not kept
        return None
    return MODEL_FILE


def _copy_trained_weights(source: Path, run_dir: Path) -> None:
    """Put ``source``'s final training checkpoint(s) in ``run_dir`` (``JobSpec.weights_from``),
    unless ``run_dir`` already has its own (an interrupted scoring run)."""
    if list(run_dir.glob(f"*{CHECKPOINT_SUFFIX}")):
        return
    found = sorted(source.glob(f"*{CHECKPOINT_SUFFIX}")) if is_finished(source) else []
    if not found:
        raise HistnetError(f"{source}: no finished run with a training checkpoint whose weights this run could "
                           "score (run its recipe first, in the same --out folder)")
    for f in found:
        shutil.copyfile(f, run_dir / f.name)


def run_job(spec: JobSpec, out_dir, *, resume: bool = False, progress: Optional[ProgressCallback] = None,
            command: Optional[str] = None, notify: Optional[Callable[[str], None]] = None,
            raise_errors: bool = False) -> dict:
    """Run one job and write its record; return the record.

    With ``resume``, a finished run is not run again: its record is returned with
    ``"skipped": True``. A run that fails writes a ``"failed"`` record with the
    one-line reason (a :class:`HistnetError` message, or the exception type and
    message for a bug, with the traceback in ``traceback``) and returns it; with
    ``raise_errors`` the exception propagates after the record is written.
    """
    run_dir = Path(out_dir) / spec.run_id()
    done = find_finished(spec, out_dir) if resume else None
    if done is not None:
        rec = read_result(done)
        rec["skipped"] = True
        if done != run_dir and notify:
            notify(f"{spec.run_id()}: already finished as {done.name} (the same configuration); not run again")
        return rec
    ensure_writable_folder(out_dir, "--out")  # before any computing
    ensure_writable_folder(run_dir, "run folder")
    remove_stale_temporaries(run_dir)  # left by a write that a kill -9 interrupted
    started = time.time()
    record: dict = {
        "schema": SCHEMA,
        "run_id": spec.run_id(),
        "method": spec.method,
        "seed": spec.seed,
        "profile": spec.profile,
        "overrides": spec.overrides,
        "data_options": spec.data,
        "tag": spec.tag,
        "command": command if command is not None else " ".join(sys.argv),
        "versions": versions(),
        "machine": machine_info(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "top1_error": None,
        "top5_error": None,
    }
    try:
        method_cls = get_method(spec.method)
        record.update(year=method_cls.year, paper=method_cls.paper, family=method_cls.family)
        config = make_config(method_cls, spec.overrides, spec.profile)
        record["config"] = dataclasses.asdict(config)
        backend = get_backend(spec.device, notify=notify)
        record["device"] = backend.describe()
        splits = load_job_splits(spec, progress)
        record["dataset"] = {
            "name": splits.train.name,
            "spec": spec.dataset,
            "n_train": len(splits.train),
            "n_val": len(splits.val) if splits.val is not None else 0,
            "n_test": len(splits.test),
            "n_classes": splits.train.n_classes,
            "image_shape": list(splits.train.image_shape),
            "provenance": {k: v for k, v in splits.test.provenance.items() if isinstance(v, (str, int, float))},
            "train_checksum": splits.train.provenance.get("checksum"),
        }
        budget = Budget(spec.budget) if spec.budget is not None else None
        if spec.weights_from is not None:
            record["weights_from"] = spec.weights_from
            _copy_trained_weights(Path(out_dir) / spec.weights_from, run_dir)
        method = method_cls(config, backend=backend, seed=spec.seed, progress=progress, workdir=run_dir,
                            resume=resume or spec.weights_from is not None, notify=notify, budget=budget)
        if budget is not None:
            record["budget"] = {"seconds": budget.seconds, "label": format_duration(budget.seconds)}
            budget.start()
        with Stopwatch() as fit_t:
            method.fit(splits.train, splits.val)
        with Stopwatch() as pred_t:
            scores = predict_in_batches(method, splits.test)
        metrics = evaluate(scores, splits.test.labels, splits.test.class_names)
        curve = method.learning_curve()
        record.update(
            status="ok",
            top1_error=metrics["top1_error"],
            top5_error=metrics["top5_error"],
            metrics=metrics,
            timing={
                "fit_s": fit_t.seconds,
                "predict_s": pred_t.seconds,
                "predict_images_per_s": len(splits.test) / max(pred_t.seconds, 1e-9),
                "total_s": time.time() - started,
                # fit_s is this process's; a run resumed from a checkpoint trained before it too
                "epochs_s": sum(float(e.get("seconds") or 0.0) for e in curve) if curve else None,
            },
            # peak RSS of this process so far: in a grid run in one process it includes the
            # jobs before; `histnet cost` runs each job in a fresh process for its own peak.
            memory={"peak_rss_mb": peak_memory_mb(), "scope": "process"},
            describe=method.describe(),
            settings=method.resolved_settings(),
            learning_curve=curve,
            warnings=health_warnings(curve),
        )
        if budget is not None:
            spent = record["budget"] = {**budget.summary(), "honoured": bool(method_cls.honours_budget)}
            if not method_cls.honours_budget:
                spent["how"] = [f"{spec.method} does not keep to a budget: it ran to the end"]
                record["warnings"].append(f"ran without its {spent['label']} budget (the method does not keep to one)")
            elif budget.limited:
                record["warnings"].append(f"not converged: cut by its {spent['label']} budget")
        figs = {k: np.asarray(v) for k, v in (method.visualize() or {}).items()}
        if figs:
            save_npz(run_dir / "figures.npz", figs)
        record["model"] = save_model(method, run_dir, splits) if spec.save_model else None
    except (HistnetError, KeyboardInterrupt) as e:
        interrupted = isinstance(e, KeyboardInterrupt)
        record.update(status="interrupted" if interrupted else "failed",
                      error="interrupted" if interrupted else str(e),
                      timing={"total_s": time.time() - started})
        if isinstance(e, NotLearningError):
            record.update(learning_curve=e.history, warnings=health_warnings(e.history))
        write_json(run_dir / RESULT_FILE, record)
        if raise_errors or interrupted:
            raise
        return record
    except Exception as e:  # a bug in a method must not stop a grid; keep the evidence
        record.update(status="failed", error=f"{type(e).__name__}: {e}",
                      traceback=traceback.format_exc(), timing={"total_s": time.time() - started})
        write_json(run_dir / RESULT_FILE, record)
        if raise_errors:
            raise
        return record
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        write_json(run_dir / RESULT_FILE, record)
    except OSError as e:  # the folder went away or read-only during the run: say what it found
        raise HistnetError(
            f"{run_dir / RESULT_FILE}: cannot write the record ({e.strerror or e}); the run finished with "
            f"top-1 error {100 * record['top1_error']:.2f}%, top-5 "
            f"{'n/a' if record['top5_error'] is None else format(100 * record['top5_error'], '.2f') + '%'}"
            f" (fit {record['timing']['fit_s']:.1f} s); make the folder writable and run again with --resume"
            " (a trained net continues from its checkpoint)") from None
    return record


# -- grids ---------------------------------------------------------------------------------------

def _run_job_on_worker(spec: JobSpec, out_dir: str, resume: bool, command: str) -> dict:
    """What a Dask worker runs: one job, writing into the shared run folder."""
    return run_job(spec, out_dir, resume=resume, command=command)


def run_grid(specs: Iterable[JobSpec], out_dir, *, resume: bool = False, executor: str = "local",
             scheduler: Optional[str] = None, progress: Optional[ProgressCallback] = None,
             on_result: Optional[Callable[[dict], None]] = None, command: Optional[str] = None,
             notify: Optional[Callable[[str], None]] = None) -> list[dict]:
    """Run jobs and return their records in the order given.

    Parameters
    ----------
    executor : {"local", "dask"}
        ``local`` runs the jobs one after another in this process. ``dask`` submits
        each job to the Dask distributed scheduler at ``scheduler``
        (``tcp://HOST:PORT``); every worker must see ``out_dir`` (a shared file
        system) and the data sets. Jobs already finished are skipped before
        submission when ``resume`` is set.
    on_result : callable, optional
        Called with each record as it completes (the CLI prints a line per job).
    """
    specs = list(specs)
    out_dir = ensure_writable_folder(out_dir, "--out")
    command = command if command is not None else " ".join(sys.argv)
    if executor == "local":
        records = []
        for spec in specs:
            rec = run_job(spec, out_dir, resume=resume, progress=progress, command=command, notify=notify)
            records.append(rec)
            if on_result:
                on_result(rec)
        return records
    if executor != "dask":
        raise HistnetError(f"unknown executor {executor!r}: choose local or dask")
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise HistnetError("--executor dask needs Dask distributed: pip install 'histnet[dask]'") from None
    if not scheduler:
        raise HistnetError("--executor dask needs --scheduler tcp://HOST:PORT (see README, 'Running on a cluster')")
    records: list = [None] * len(specs)
    todo = []
    for i, spec in enumerate(specs):
        done = find_finished(spec, out_dir) if resume else None
        if done is not None:
            rec = read_result(done)
            rec["skipped"] = True
            records[i] = rec
            if on_result:
                on_result(rec)
        else:
            todo.append(i)
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as e:
        raise HistnetError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
    try:
        futures = {client.submit(_run_job_on_worker, specs[i], str(out_dir.resolve()), resume, command,
                                 key=f"histnet-{specs[i].run_id()}", pure=False): i for i in todo}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                rec = fut.result()
            except Exception as e:  # the worker died: record it, keep going
                rec = {"method": specs[i].method, "status": "failed", "run_id": specs[i].run_id(),
                       "error": f"worker failed: {type(e).__name__}: {e}", "top1_error": None, "top5_error": None}
            records[i] = rec
            if on_result:
                on_result(rec)
    finally:
        client.close()
    return records
