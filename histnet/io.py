"""Small file helpers shared by results, checkpoints and caches.

Everything histnet writes that someone may read later goes through
:func:`atomic_write`: the bytes land in a temporary file in the same folder, are
flushed to disk, and only then renamed over the target, so a reader (or a resumed
run) sees either the old file or the whole new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


#: a trained net's checkpoint in its run folder: ``<method>-checkpoint.npz``
CHECKPOINT_SUFFIX = "-checkpoint.npz"


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; rename it over ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result is for others to read too
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_stale_temporaries(folder) -> list:
    """Delete the temporary files :func:`atomic_write` leaves when its process is killed
    (``.NAME.XXXX.tmp`` beside ``NAME``) in ``folder``; return their paths.

    A process killed with SIGKILL during a write cannot clean up: the target is intact (the
    previous file or none), the temporary stays. Call it where only one writer can be at
    work, such as a run folder when its job starts.
    """
    gone = []
    for p in Path(folder).glob(".*.*.tmp"):
        if p.is_file() and not p.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                gone.append(p)
    return gone


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ensure_writable_folder(path, what: str = "--out") -> Path:
    """Create ``path`` (and its parents) if needed and check that files can be written in it.

    Called before any computing, so that a run does not train for an hour and then find it
    cannot write its record.

    Raises
    ------
    HistnetError
        One line naming ``what`` and ``path``: it is (under) a file, or not writable.
    """
    from .errors import HistnetError

    path = Path(path)
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            raise HistnetError(f"{what} {path}: {parent} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".histnet-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise HistnetError(f"{what} {path}: cannot write there ({e.strerror or e})") from None
    return path


def json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


def to_json(obj, indent=2) -> str:
    """JSON text for ``obj``; numpy scalars and arrays become plain numbers and lists.

    NaN and inf are written as ``null`` so the file stays valid JSON.
    """
    return json.dumps(_clean_floats(obj), indent=indent, default=json_default, allow_nan=False)


def _clean_floats(obj):
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.floating) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_floats(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean_floats(obj.tolist())
    return obj


def write_json(path, obj) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    with atomic_write(path, "w") as f:
        f.write(to_json(obj))
        f.write("\n")


def save_npz(path, arrays: dict) -> None:
    """Write a dict of host arrays as ``.npz`` atomically (no pickles inside)."""
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def load_npz(path, what: str = ".npz file") -> dict:
    """Read an ``.npz`` written by :func:`save_npz`, with ``allow_pickle=False``.

    Raises
    ------
    CheckpointError
        One line naming ``path`` and what is wrong with it (missing, empty, truncated,
        not an ``.npz``, or holding pickled objects, which histnet never loads), never
        numpy's own advice to load it with pickles allowed.
    """
    import zipfile

    from .errors import CheckpointError

    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise CheckpointError(f"{path}: this {what} is empty (0 bytes)")
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise CheckpointError(f"{path}: not a histnet {what} (a bare array, not an .npz archive)")
            return {k: z[k] for k in z.files}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"{path}: this {what} is truncated or not an .npz archive ({e})") from None
    except ValueError as e:
        why = ("it holds pickled objects, which histnet never loads" if "pickle" in str(e)
               else f"not an .npz archive: {e}")
        raise CheckpointError(f"{path}: not a histnet {what} ({why})") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read this {what} ({e.strerror or e})") from None


def cache_root() -> Path:
    """Where histnet keeps caches (decoded images, extracted features, downloads).

    ``$HISTNET_CACHE`` if set, else ``$XDG_CACHE_HOME/histnet``, else ``~/.cache/histnet``.
    """
    env = os.environ.get("HISTNET_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "histnet"
