"""Imports every built-in method module so that their ``@register`` runs.

Every module of this package whose name does not start with an underscore is imported
(the contract, config, registry and recipe modules register nothing and cost nothing
more), so a new built-in method is one new file here and no other edit. A module that
fails to import because an optional dependency is missing is skipped; any other import
error inside a method that exists is a bug and surfaces.
"""

import importlib
import os
import pkgutil

_INFRASTRUCTURE = {"builtin", "config", "contract", "registration", "registry", "saved"}

BUILTIN_MODULES = sorted(m.name for m in pkgutil.iter_modules([os.path.dirname(__file__)])
                         if not m.name.startswith("_") and m.name not in _INFRASTRUCTURE)

for _m in BUILTIN_MODULES:
    try:
        importlib.import_module(f"{__package__}.{_m}")
    except ModuleNotFoundError as e:
        # a missing optional dependency (not part of histnet) skips that method only
        if (e.name or "").split(".")[0] == "histnet":
            raise
