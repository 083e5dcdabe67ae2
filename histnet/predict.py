"""Use a trained model: load it from a run folder or a ``model.npz``, classify image files.

``histnet run`` keeps every fitted model beside its record (``<run>/model.npz``: the state
arrays, the config, the class names and the training images' shape, no pickles).
:func:`load_model` reads one back; :func:`predict_files` decodes image files the way the
training data was read (the shorter side resized and the centre square cropped to the
training size, grey or colour as trained) and returns the top classes of each with their
scores: probabilities for the nets, SVM decision values for the hand-crafted pipelines,
whatever the method's ``predict_scores`` gives.

What it leaves out: test-time resizing other than shorter side + centre crop, batching
across thousands of files beyond ``batch_size`` at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from .data.image_cache import IMAGE_EXTENSIONS, decode_image
from .errors import DataError, HistnetError
from .methods.saved import MODEL_FILE, load_model, model_path  # noqa: F401  (part of this module's API)


def image_files(paths: Iterable) -> list[Path]:
    """Image files named or inside the folders named (sorted), in the order given."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise DataError(f"{p}: no image files in this folder")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"{p}: no such image file or folder")
    return out


def predict_files(method, paths: Iterable, top: int = 5, batch_size: int = 64) -> list[dict]:
    """Top ``top`` classes of every image file, as ``{"image", "top": [{"class", "score"}, ...]}``.

    Raises
    ------
    DataError
        A file that is not a readable image, named.
    """
    info = getattr(method, "info_", {}) or {}
    shape = info.get("image_shape")
    names = info.get("class_names")
    if not shape:
        raise HistnetError(f"{method.name}: the model file does not say what images it was trained on")
    h, w, c = (int(v) for v in shape)
    files = image_files(paths)
    results = []
    for start in range(0, len(files), batch_size):
        batch = []
        for f in files[start:start + batch_size]:
            try:
                img = decode_image(f, image_size=h if h == w else None, grayscale=(c == 1))
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                raise DataError(f"{f}: not a readable image ({e})") from None
            if img.shape[:2] != (h, w):
                raise DataError(f"{f}: decodes to {img.shape[0]}x{img.shape[1]}, the model takes {h}x{w}")
            batch.append(img if img.ndim == 3 else img[..., None])
        scores = np.asarray(method.predict_scores(np.stack(batch)))
        k = min(top, scores.shape[1])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        for f, row, idx in zip(files[start:start + batch_size], scores, order):
            results.append({"image": str(f), "top": [
                {"class": names[i] if names and i < len(names) else str(i), "index": int(i), "score": float(row[i])}
                for i in idx]})
    return results
