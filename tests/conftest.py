"""Shared test set-up: every test run keeps its caches in a temporary folder, never in ~/.cache;
``device_xp`` gives the device array modules a GPU test runs on, ``two_threads`` runs the layer
threads on two threads (then as before)."""

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


def _real_cupy():
    try:
        import cupy

        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:
        return None


@pytest.fixture(params=["standin", "cupy"])
def device_xp(request):
    """The cupy stand-in (its arrays are not numpy's), then real cupy where a CUDA device is
    (skipped elsewhere; ``benchmarks/gpu_check.py`` runs these tests on a GPU)."""
    if request.param == "standin":
        from histnet.standin import arrays

        return arrays
    cp = _real_cupy()
    if cp is None:
        pytest.skip("no CUDA device")
    return cp


@pytest.fixture
def two_threads():
    from histnet.nn import parallel

    before = parallel.threads()
    parallel.set_threads(2)
    yield
    parallel.set_threads(before)
