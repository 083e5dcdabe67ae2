"""The registry of methods: built-in modules and ``histnet.methods`` entry points.

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
"""

from __future__ import annotations

import difflib
from typing import Optional

from ..errors import ConfigError
from .contract import Method
from .registration import _REGISTRY, register

_PLUGIN_ERRORS: dict[str, str] = {}
_PLUGINS_LOADED = False
ENTRY_POINT_GROUP = "histnet.methods"


def _load_builtins():
    from .builtin import BUILTIN_MODULES  # noqa: F401  (importing it imports the built-in methods)


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


# -- where methods belong ---------------------------------------------------------------------


def _serves(cls, image_size: int) -> bool:
    lo, hi = cls.image_sizes
    return (lo is None or image_size >= lo) and (hi is None or image_size <= hi)


def progression_slots() -> dict[str, list[type]]:
    """Every progression slot and its methods (variants for different image sizes)."""
    slots: dict[str, list[type]] = {}
    for cls in available_methods().values():
        if cls.progression:
            slots.setdefault(cls.progression, []).append(cls)
    return slots


def method_for_size(slot_or_name: str, image_size: int) -> str:
    """The method filling ``slot_or_name`` for images of ``image_size`` px.

    A method name that is not a slot is returned as it is (after checking it exists). A
    slot whose variants all refuse the size (images too small for every AlexNet) gives
    the variant closest in size, so that its run fails with the method's own message.
    """
    slots = progression_slots()
    if slot_or_name not in slots:
        return get_method(slot_or_name).name
    variants = slots[slot_or_name]
    fit = [c for c in variants if _serves(c, image_size)]
    if fit:
        return fit[0].name

    def distance(c):
        lo, hi = c.image_sizes
        return (lo - image_size) if lo is not None and image_size < lo else (image_size - (hi or image_size))

    return min(variants, key=distance).name


#: The last year of the default progression: the road to AlexNet (2010-2012). Later nets
#: join with ``until=2015`` (``histnet progression --until 2015``).
DEFAULT_UNTIL = 2012


def progression_methods(image_size: int, only=None, *, until: Optional[int] = DEFAULT_UNTIL) -> list[str]:
    """Method names of ``histnet progression`` in historical order (year, then name).

    Every slot that a registered method declares (plug-ins included) contributes the
    variant that serves ``image_size``, if it was published by ``until`` (None: any
    year). ``only`` restricts to these slots or method names (a slot such as ``alexnet``
    stands for whichever variant fits), whatever their year.
    """
    avail = available_methods()
    if only:
        names = [method_for_size(m, image_size) for m in only]
    else:
        names = [method_for_size(slot, image_size) for slot in progression_slots()]
        if until is not None:
            names = [m for m in names if avail[m].year <= until]
    names = list(dict.fromkeys(names))
    return sorted(names, key=lambda m: (avail[m].year, m))


def crossover_methods(image_size: int) -> list[str]:
    """The methods ``histnet crossover`` compares by default (those declaring ``crossover``)."""
    slots = {cls.progression or cls.name for cls in available_methods().values() if cls.crossover}
    return progression_methods(image_size, sorted(slots))
