"""Comparable methods and their registry (the extension point). See :mod:`.base`."""

from .base import (Method, available_methods, get_method, make_config, parse_overrides,
                   plugin_errors, register)

__all__ = ["Method", "register", "get_method", "available_methods", "make_config",
           "parse_overrides", "plugin_errors"]
