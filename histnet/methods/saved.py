"""Fitted models kept on disk: where a run keeps one, and loading it back by its method's name.

``histnet run`` saves every fitted model as ``model.npz`` in its run folder
(:meth:`Method.save`: the state arrays, the config, and ``info`` with the class names and
training image shape, no pickles). :func:`load_model` reads one back from a run folder or
the file, whatever method wrote it; ``histnet predict`` and methods built on a trained net
(``cnn-features-svm``) use it.

:func:`compact_model` writes a smaller copy for shipping (the committed CIFAR-10 models):
the large float32 arrays (weights) stored as float16, compressed; loading casts them back
to float32 (:meth:`Method.from_arrays`). Whether that is lossless enough is measured, not
assumed: ``benchmarks/commit_models.py`` scores both on the whole test split and keeps the
float16 copy only when every test prediction is the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


#: Arrays smaller than this stay float32 in a compact model (biases, means: nothing to gain).
COMPACT_MIN_SIZE = 1024


def compact_model(src, dst, dtype: str = "float16", drop: tuple = ()) -> dict:
    """Write ``src`` (a model file or run folder) to ``dst`` with its large float32 state
    arrays as ``dtype``, compressed (``dtype="float32"``: compressed only, lossless), leaving
    out the state arrays whose names start with one of ``drop`` (parts prediction does not
    use: the DBN's RBM stack, ``"rbm/"``). Returns ``{"arrays": names converted, "bytes":
    (before, after)}``; the model's meta records it (``meta["compact"]``)."""
    import json

    from ..io import atomic_write

    src_path = model_path(src)
    data = load_npz(src_path, "model file")
    meta = json.loads(str(data["meta"]))
    out, converted, dropped = {}, [], []
    left_out = tuple("state/" + d for d in drop)
    for k, v in data.items():
        if k.startswith(left_out):  # () matches nothing
            dropped.append(k[len("state/"):])
            continue
        v = np.asarray(v)
        if k.startswith("state/") and v.dtype == np.float32 and v.size >= COMPACT_MIN_SIZE:
            out[k] = v.astype(dtype)
            converted.append(k[len("state/"):])
        else:
            out[k] = v
    reduced = np.dtype(dtype) != np.float32
    meta["compact"] = {"dtype": str(np.dtype(dtype)), "arrays": converted if reduced else [],
                       "note": "stored in reduced precision; loading casts back to float32" if reduced
                       else "float32, compressed (lossless)", "dropped": dropped}
    out["meta"] = np.array(json.dumps(meta, default=str))
    with atomic_write(Path(dst)) as fh:
        np.savez_compressed(fh, **out)
    return {"arrays": converted, "bytes": (src_path.stat().st_size, Path(dst).stat().st_size)}


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
