"""The backend: device choice, explicit host moves, seeded generators, and the cupy stand-in."""

import numpy as np
import pytest

from histnet import backend
from histnet.backend import get_array_module, get_backend, to_device, to_host
from histnet.errors import DeviceError
from histnet.standin import arrays as standin


def test_cpu_backend_is_numpy():
    b = get_backend("cpu")
    assert b.xp is np and not b.is_gpu and b.describe() == "cpu"


def test_gpu_without_cuda_is_one_line_error(monkeypatch):
    monkeypatch.setattr(backend, "cupy_if_usable", lambda: None)
    monkeypatch.delenv("HISTNET_CUPY_STANDIN", raising=False)
    with pytest.raises(DeviceError) as e:
        get_backend("gpu")
    assert "\n" not in str(e.value) and "--device cpu" in str(e.value)


def test_auto_falls_back_and_says_so(monkeypatch):
    monkeypatch.setattr(backend, "cupy_if_usable", lambda: None)
    said = []
    b = get_backend("auto", notify=said.append)
    assert b.xp is np and said and "CPU" in said[0]


def test_unknown_device():
    with pytest.raises(DeviceError, match="unknown device"):
        get_backend("tpu")


def test_standin_through_environment(monkeypatch):
    monkeypatch.setenv("HISTNET_CUPY_STANDIN", "1")
    b = get_backend("gpu")
    assert b.xp is standin and b.is_gpu


def test_explicit_moves_round_trip():
    xp = get_backend("cupy-standin").xp
    host = np.arange(12, dtype=np.float32).reshape(3, 4)
    dev = to_device(host, xp)
    assert get_array_module(dev) is xp and backend.is_device_array(dev)
    back = to_host(dev)
    assert isinstance(back, np.ndarray) and np.array_equal(back, host)
    assert to_host(host) is host or np.array_equal(to_host(host), host)


def test_same_seed_same_numbers_on_each_device():
    for dev in ("cpu", "cupy-standin"):
        b = get_backend(dev)
        a1 = to_host(b.rng(7).standard_normal((5,)))
        a2 = to_host(b.rng(7).standard_normal((5,)))
        assert np.array_equal(a1, a2)
        assert not np.array_equal(a1, to_host(b.rng(8).standard_normal((5,))))


class TestStandInFailsWhereCupyFails:
    xp = standin

    def dev(self):
        return self.xp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))

    def test_implicit_conversion_refused(self):
        a = self.dev()
        for f in (np.asarray, np.array, lambda x: np.savez("/dev/null", x=x)):
            with pytest.raises(TypeError, match="Implicit conversion|device array"):
                f(a)

    def test_mixing_host_and_device_refused(self):
        a, h = self.dev(), np.ones((2, 3), np.float32)
        for f in (lambda: a + h, lambda: h * a, lambda: self.xp.dot(a, h.T),
                  lambda: self.xp.concatenate([a, h])):
            with pytest.raises(TypeError):
                f()

    def test_numpy_functions_on_device_refused(self):
        a = self.dev()
        for f in (np.exp, np.mean, lambda x: np.dot(x, x.T), np.argmax):
            with pytest.raises(TypeError, match="device array"):
                f(a)

    def test_numpy_only_names_missing(self):
        for name in ("errstate", "seterr", "nditer", "vectorize"):
            assert not hasattr(self.xp, name)

    def test_computes_like_numpy(self):
        h = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
        a = self.xp.asarray(h)
        got = to_host(self.xp.exp(a) @ a.T + a.sum(axis=1, keepdims=True) - self.xp.maximum(a, 0).mean())
        want = np.exp(h) @ h.T + h.sum(axis=1, keepdims=True) - np.maximum(h, 0).mean()
        assert np.allclose(got, want, rtol=1e-6)
        assert got.dtype == np.float32

    def test_scalar_indexing_gives_device_array(self):
        a = self.dev()
        x = a[0, 1]
        assert isinstance(x, standin.ndarray) and float(x) == 1.0

    def test_in_place_updates_views(self):
        a = self.dev()
        v = a[0]
        v += 10
        a[1, :] = self.xp.zeros(3, dtype=np.float32)
        assert to_host(a).tolist() == [[10, 11, 12], [0, 0, 0]]
        self.xp.add.at(a, (self.xp.asarray(np.array([0, 0])), 0), 1)
        assert float(a[0, 0]) == 12
