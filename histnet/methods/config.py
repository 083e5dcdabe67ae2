"""Method configs: building a method's ``Config`` from a profile, ``--set`` strings and TOML.

Every name is checked against the dataclass (unknown names get the closest valid ones)
and every value is coerced to the type of the field's default.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
from typing import Any, Optional

import numpy as np

from ..errors import ConfigError


def _coerce(field: dataclasses.Field, value: Any, method: str):
    """Turn a string from ``--set`` or a value from TOML, a profile or a saved model into the
    field's type, with the same rules for both: an integer field takes integers only (not
    1.5, not ``true``), a float field integers or floats, a flag booleans only (or the words
    true/false, yes/no, on/off, 1/0 from the command line). What runs is what is recorded.
    """
    default = field.default if field.default is not dataclasses.MISSING else (
        field.default_factory() if field.default_factory is not dataclasses.MISSING else None)
    if default is None:
        return value  # no type to hold it to
    kind = type(default)
    bad = ConfigError(f"{method}: {field.name}={value!r} is not a valid {kind.__name__}")
    if not isinstance(value, str):
        if kind is bool:
            if isinstance(value, bool):
                return value
            raise bad
        if kind is int:
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                return int(value)
            raise bad
        if kind is float:
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                return float(value)
            raise bad
        if kind in (tuple, list) and isinstance(value, (list, tuple)):
            return kind(value)
        raise bad
    if kind is str:
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
        raise bad from None


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
