"""Comparable methods: the contract (:mod:`.contract`), configs (:mod:`.config`), the
registry and its extension point (:mod:`.registry`), and the built-in methods."""

from .config import load_toml_config, make_config, parse_overrides
from .contract import Method
from .registry import available_methods, get_method, plugin_errors, register

__all__ = ["Method", "register", "get_method", "available_methods", "make_config",
           "parse_overrides", "load_toml_config", "plugin_errors"]
