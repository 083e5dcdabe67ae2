"""Shared test set-up: every test run keeps its caches in a temporary folder, never in ~/.cache."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    old = os.environ.get("HISTNET_CACHE")
    os.environ["HISTNET_CACHE"] = str(tmp_path_factory.mktemp("histnet-cache"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield
    if old is None:
        os.environ.pop("HISTNET_CACHE", None)
    else:
        os.environ["HISTNET_CACHE"] = old
