"""Comparable methods: the contract (:mod:`.contract`), configs (:mod:`.config`), the
registry and its extension point (:mod:`.registry`), the two recipes most methods are
declared on (:class:`FeatureSvmMethod` in :mod:`.feature_svm`, :class:`ImageCnnMethod` in
:mod:`.image_cnn`), and the built-in methods, one file each."""

from .config import load_toml_config, make_config, parse_overrides
from .contract import Method
from .registry import available_methods, get_method, plugin_errors, register

__all__ = ["Method", "register", "get_method", "available_methods", "make_config",
           "parse_overrides", "load_toml_config", "plugin_errors", "FeatureSvmMethod", "ImageCnnMethod"]

_RECIPES = {"FeatureSvmMethod": ".feature_svm", "ImageCnnMethod": ".image_cnn"}


def __getattr__(name):
    # the recipes import the classifiers and the nn engine: only when asked for, so that
    # `histnet --help` and the registry's listing stay fast
    if name in _RECIPES:
        import importlib

        return getattr(importlib.import_module(_RECIPES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
