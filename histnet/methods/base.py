"""What a comparable method is, and the registry that makes it appear in the CLI.

A method is a class with a ``name``, the ``year`` and ``paper`` it reproduces, a
``family`` (``"baseline"``, ``"hand-crafted"``, ``"dbn"``, ``"cnn"``), a ``Config``
dataclass of hyper-parameters, and

* ``fit(train, val=None)`` taking :class:`histnet.data.Dataset` objects and
  streaming them in batches;
* ``predict_scores(images) -> (N, n_classes)`` host numpy array for a uint8 batch
  (N, H, W, C), any monotone per-class score;
* ``get_state()`` / ``set_state(state)``: the learned arrays, so the inherited
  ``save``/``load`` write one ``.npz`` (``allow_pickle=False``) holding the config
  as JSON beside them.

Registering::

    from histnet.methods import Method, register

    @register
    class MyMethod(Method):
        name = "my-method"; year = 2024; paper = "Me et al. 2024"; family = "cnn"
        Config = MyConfig
        ...

or, from another distribution, an entry point in the ``histnet.methods`` group
pointing at the class. Entry points load lazily the first time the registry is
listed; one that fails to import is recorded as a one-line error and the built-in
methods still run.

Profiles: ``profiles = {"quick": {...}, "full": {...}}`` are named sets of config
overrides; ``quick`` keeps the mnist5k progression within its time budget.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Optional

import numpy as np

from ..backend import Backend, get_backend
from ..errors import CheckpointError, ConfigError
from ..io import load_npz, save_npz
from ..progress import ProgressCallback


@dataclasses.dataclass
class EmptyConfig:
    """A method with no hyper-parameters."""


class Method:
    """Base class of every comparable method. See the module docstring for the contract."""

    name: ClassVar[str] = ""
    year: ClassVar[int] = 0
    paper: ClassVar[str] = ""
    family: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Config: ClassVar[type] = EmptyConfig
    profiles: ClassVar[dict] = {"quick": {}, "full": {}}

    def __init__(self, config=None, *, backend: Backend | str = "cpu", seed: int = 0,
                 progress: Optional[ProgressCallback] = None, workdir: Optional[Path] = None,
                 resume: bool = False):
        self.config = config if config is not None else self.Config()
        self.backend = get_backend(backend)
        self.seed = seed
        self.progress = progress
        # workdir: the run folder; long-training methods keep checkpoints there.
        # resume: continue from a checkpoint in workdir if one exists.
        self.workdir = Path(workdir) if workdir is not None else None
        self.resume = resume

    @property
    def xp(self):
        return self.backend.xp

    # -- the contract ------------------------------------------------------------------
    def fit(self, train, val=None) -> "Method":
        raise NotImplementedError

    def predict_scores(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_state(self) -> dict:
        """Learned arrays as a flat dict of host numpy arrays."""
        raise NotImplementedError

    def set_state(self, state: dict) -> None:
        raise NotImplementedError

    def describe(self) -> dict:
        """Size figures for the tables: ``feature_dim``, ``n_params``, ``flops_per_image``."""
        return {}

    def learning_curve(self) -> list:
        """Per-epoch records (dicts with ``epoch``, ``train_loss``, ``val_error``, ...) if the
        method trains by epochs; stored in the result. Default: none."""
        return list(getattr(self, "history_", []) or [])

    def visualize(self) -> dict:
        """Named 2-D (or H x W x 3) host arrays worth drawing after fit: first-layer filters,
        a HOG picture, ... The report draws them; default: none."""
        return {}

    # -- save / load ---------------------------------------------------------------------
    def save(self, path) -> None:
        state = {f"state/{k}": np.asarray(v) for k, v in self.get_state().items()}
        meta = {"method": self.name, "config": dataclasses.asdict(self.config)}
        state["meta"] = np.array(json.dumps(meta))
        save_npz(path, state)

    @classmethod
    def load(cls, path, backend="cpu") -> "Method":
        try:
            data = load_npz(path)
            meta = json.loads(str(data.pop("meta")))
        except (OSError, ValueError, KeyError) as e:
            raise CheckpointError(f"{path}: not a histnet model file ({e})") from None
        if meta.get("method") != cls.name:
            raise CheckpointError(f"{path}: holds a {meta.get('method')!r} model, not {cls.name!r}")
        obj = cls(make_config(cls, meta["config"]), backend=backend)
        obj.set_state({k[len("state/"):]: v for k, v in data.items()})
        return obj


# -- configs ------------------------------------------------------------------------------

def _coerce(field: dataclasses.Field, value: Any, method: str):
    """Turn a string from ``--set`` or a TOML value into the field's type."""
    default = field.default if field.default is not dataclasses.MISSING else (
        field.default_factory() if field.default_factory is not dataclasses.MISSING else None)
    kind = type(default) if default is not None else str
    if not isinstance(value, str) or kind is str:
        if kind is float and isinstance(value, int):
            return float(value)
        if kind in (tuple, list) and isinstance(value, (list, tuple)):
            return kind(value)
        return value
    try:
        if kind is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind in (tuple, list):
            parsed = json.loads(value) if value.strip().startswith("[") else [
                json.loads(v) if v.strip().lstrip("-").replace(".", "", 1).isdigit() else v.strip()
                for v in value.split(",") if v.strip()]
            return kind(parsed)
        return kind(value)
    except ValueError:
        raise ConfigError(f"{method}: {field.name}={value!r} is not a valid {kind.__name__}") from None


def make_config(method_cls, overrides: Optional[dict] = None, profile: Optional[str] = None):
    """Build ``method_cls.Config`` from a profile and overrides, checking every name.

    Unknown names raise :class:`ConfigError` with the closest valid names.
    """
    values: dict = {}
    if profile is not None:
        if profile not in method_cls.profiles:
            raise ConfigError(f"{method_cls.name}: no profile {profile!r} (has {', '.join(method_cls.profiles)})")
        values.update(method_cls.profiles[profile])
    values.update(overrides or {})
    fields = {f.name: f for f in dataclasses.fields(method_cls.Config)}
    kwargs = {}
    for k, v in values.items():
        if k not in fields:
            close = difflib.get_close_matches(k, fields, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; valid: {', '.join(fields) or 'none'}"
            raise ConfigError(f"{method_cls.name} has no parameter {k!r}{hint}")
        kwargs[k] = _coerce(fields[k], v, method_cls.name)
    try:
        return method_cls.Config(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{method_cls.name}: {e}") from None


def parse_overrides(pairs) -> dict:
    """``["C=0.1", "epochs=3"]`` -> ``{"C": "0.1", "epochs": "3"}`` (coerced later)."""
    out = {}
    for p in pairs or ():
        if "=" not in p:
            raise ConfigError(f"--set {p!r}: expected NAME=VALUE")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def load_toml_config(path) -> dict:
    """Read overrides from a TOML file (a flat table of NAME = value)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML ({e})") from None


# -- registry -------------------------------------------------------------------------------

_REGISTRY: dict[str, type] = {}
_PLUGIN_ERRORS: dict[str, str] = {}
_PLUGINS_LOADED = False
ENTRY_POINT_GROUP = "histnet.methods"


def register(cls):
    """Class decorator: make a :class:`Method` subclass available by its ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise TypeError("register expects a Method subclass")
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtins():
    from . import builtin  # noqa: F401  (imports the built-in method modules)


def _load_plugins():
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            if isinstance(cls, type) and issubclass(cls, Method):
                register(cls)
            else:
                _PLUGIN_ERRORS[ep.name] = f"entry point {ep.value} is not a histnet Method class"
        except Exception as e:  # a broken plug-in costs one line, not the CLI
            _PLUGIN_ERRORS[ep.name] = f"{type(e).__name__}: {e}"


def reload_plugins():
    """Forget loaded entry points and read them again (tests install plug-ins at run time)."""
    global _PLUGINS_LOADED
    _PLUGINS_LOADED = False
    _PLUGIN_ERRORS.clear()
    _load_plugins()


def available_methods() -> dict[str, type]:
    """All registered methods, built-in and plug-in, by name, in historical order."""
    _load_builtins()
    _load_plugins()
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].year, kv[0])))


def plugin_errors() -> dict[str, str]:
    available_methods()
    return dict(_PLUGIN_ERRORS)


def get_method(name: str) -> type:
    """The method class called ``name``; unknown names suggest the closest ones."""
    methods = available_methods()
    if name in methods:
        return methods[name]
    if name in _PLUGIN_ERRORS:
        raise ConfigError(f"method {name!r} failed to load: {_PLUGIN_ERRORS[name]}")
    close = difflib.get_close_matches(name, methods, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown method {name!r}{hint} (see `histnet methods list`)")
