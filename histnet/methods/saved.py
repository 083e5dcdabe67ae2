"""Fitted models kept on disk: where a run keeps one, and loading it back by its method's name.

``histnet run`` saves every fitted model as ``model.npz`` in its run folder
(:meth:`Method.save`: the state arrays, the config, and ``info`` with the class names and
training image shape, no pickles). :func:`load_model` reads one back from a run folder or
the file, whatever method wrote it; ``histnet predict`` and methods built on a trained net
(``cnn-features-svm``) use it.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import HistnetError
from ..io import load_npz
from .registry import get_method

#: The file name of a kept model in a run folder.
MODEL_FILE = "model.npz"


def model_path(run_or_model) -> Path:
    """``run_or_model`` itself if it is a model file, else the ``model.npz`` in that run folder."""
    p = Path(run_or_model)
    if p.is_dir():
        if (p / MODEL_FILE).is_file():
            return p / MODEL_FILE
        raise HistnetError(f"{p}: no {MODEL_FILE} in this folder (was it run with --no-save, or is it "
                           "a folder of runs? give one run folder)")
    if p.is_file():
        return p
    raise HistnetError(f"{p}: no such run folder or model file")


def load_model(run_or_model, backend: str = "cpu"):
    """The fitted method in a run folder or model file (its ``info_`` holds the class names)."""
    import json

    path = model_path(run_or_model)
    data = load_npz(path, "model file")
    try:
        meta = json.loads(str(data["meta"]))
        name = meta["method"]
    except (KeyError, ValueError):
        raise HistnetError(f"{path}: not a histnet model file (no method named in it)") from None
    return get_method(name).from_arrays(data, path, backend=backend)  # the file is read once
