"""The table of registered methods and the ``@register`` decorator.

Kept apart from :mod:`.registry` (which finds the built-in modules and the plug-ins and
answers questions about them) so that a method module importing ``register`` does not
import the module that imports it: no import cycle.
"""

from __future__ import annotations

from .contract import Method

#: name -> Method subclass, filled by :func:`register`
_REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: make a :class:`Method` subclass available by its ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise TypeError("register expects a Method subclass")
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls
