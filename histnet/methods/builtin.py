"""Imports every built-in method module so that their ``@register`` runs.

Each import is guarded: a method whose optional dependency is missing is skipped
rather than breaking the registry. Add a new built-in method module here.
"""

import importlib

BUILTIN_MODULES = [
    "pixels_svm",
    "hog_svm",
    "sift_bovw_svm",
    "sift_llc_svm",
    "sift_fisher_svm",
    "dbn",
    "alexnet",
]

for _m in BUILTIN_MODULES:
    try:
        importlib.import_module(f"{__package__}.{_m}")
    except ModuleNotFoundError as e:
        # Only a module not yet written is skipped; an import error inside a
        # method that exists is a bug and must surface.
        if e.name != f"{__package__}.{_m}":
            raise
