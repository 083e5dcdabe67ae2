"""The one evaluation every method is scored by.

:func:`evaluate` turns a score matrix and the true labels into top-1 and top-5 error,
per-class accuracy and a confusion matrix. Methods only produce scores
(``predict_scores``); none computes its own accuracy, so every number in a table
was computed by the same lines.

Top-k error is the ILSVRC measure: an image counts as correct when its true class is
among the k highest scores. Ties are broken toward the lower class index, as
``numpy.argsort(-scores, kind="stable")`` does and as ``argmax`` picks the top-1
prediction. (``sklearn.metrics.top_k_accuracy_score`` breaks ties the other way, toward
the higher index: it reverses an ascending stable sort; the two agree when no scores
tie.) Top-5 error is reported only when there
are more than 5 classes (with 5 or fewer it is always 0 and says nothing) and is
``None`` otherwise.

:class:`Stopwatch` and :func:`peak_memory_mb` record time and memory beside the metrics.
"""

from __future__ import annotations

import platform
import resource
import sys
import time
from typing import Optional, Sequence

import numpy as np

from .errors import ConfigError


def top_k_error(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose true label is not among the ``k`` largest scores.

    Parameters
    ----------
    scores : ndarray of shape (n_samples, n_classes)
    labels : ndarray of shape (n_samples,), int in [0, n_classes)
    k : int, 1 <= k <= n_classes
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    n, c = scores.shape
    if not 1 <= k <= c:
        raise ConfigError(f"top-{k} error needs 1 <= k <= n_classes ({c})")
    if n == 0:
        raise ConfigError("cannot evaluate on zero images")
    if labels.shape != (n,) or labels.min() < 0 or labels.max() >= c:  # -1 would index silently
        raise ConfigError(f"top-{k} error needs {n} labels in 0..{c - 1}, got shape {labels.shape}, "
                          f"range {labels.min()}..{labels.max()}")
    true = scores[np.arange(n), labels][:, None]
    # Rank of the true class: classes with a strictly higher score, plus equal scores
    # at a lower index (the stable tie-break).
    higher = (scores > true).sum(axis=1)
    ties_before = ((scores == true) & (np.arange(c)[None, :] < labels[:, None])).sum(axis=1)
    rank = higher + ties_before
    return float(np.mean(rank >= k))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    idx = np.asarray(labels, np.int64) * n_classes + np.asarray(predicted, np.int64)
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def evaluate(scores, labels, class_names: Optional[Sequence[str]] = None) -> dict:
    """Score a method's outputs.

    Parameters
    ----------
    scores : array of shape (n_samples, n_classes)
        Any monotone score per class (decision values, log-probabilities, ...). Must
        be a host (numpy) array: methods call ``to_host`` before returning.
    labels : array of shape (n_samples,)
    class_names : sequence of str, optional

    Returns
    -------
    dict with ``top1_error``, ``top5_error`` (None with 5 or fewer classes),
    ``accuracy``, ``per_class_accuracy`` (list, NaN for a class absent from
    ``labels``), ``confusion`` (list of lists), ``n_images``, ``n_classes``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if scores.ndim != 2:
        raise ConfigError(f"scores must be (n_samples, n_classes), got shape {scores.shape}")
    n, c = scores.shape
    if len(labels) != n:
        raise ConfigError(f"{n} score rows but {len(labels)} labels")
    if n and (labels.min() < 0 or labels.max() >= c):
        raise ConfigError(f"labels must lie in 0..{c - 1}, got {labels.min()}..{labels.max()}")
    if not np.all(np.isfinite(scores)):
        raise ConfigError("scores contain NaN or inf; the model diverged or a method has a bug")
    predicted = np.argmax(scores, axis=1)  # first maximum: the same tie-break as top_k_error
    cm = confusion_matrix(labels, predicted, c)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)
    top1 = top_k_error(scores, labels, 1)
    return {
        "top1_error": top1,
        "top5_error": top_k_error(scores, labels, 5) if c > 5 else None,
        "accuracy": 1.0 - top1,
        "per_class_accuracy": per_class.tolist(),
        "confusion": cm.tolist(),
        "class_names": list(class_names) if class_names is not None else None,
        "n_images": int(n),
        "n_classes": int(c),
    }


class Stopwatch:
    """Wall-clock timer: ``with Stopwatch() as t: ...`` then ``t.seconds``."""

    def __init__(self):
        self.seconds = 0.0

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0
        return False


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``getrusage`` maxrss)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def machine_info() -> dict:
    """The machine a result was measured on: CPU, cores, OS, Python."""
    import os

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }
