"""The CUDA kernels of histnet.nn.kernels against the numpy code they replace.

They run under the cupy stand-in, which compiles each kernel's C body with the host C++
compiler (histnet.standin.elementwise), and under real cupy where a CUDA device is.
"""

import numpy as np
import pytest

from histnet.nn import LRN, MaxPool2D
from histnet.nn import kernels as K
from histnet.nn.conv import col2im, im2col
from histnet.standin import arrays as standin
from histnet.standin import elementwise


@pytest.fixture
def xp(device_xp):
    if device_xp is standin and not elementwise.available():
        pytest.skip("no C++ compiler to run the kernels on the CPU")
    return device_xp


def host(a):
    return a.get()


def test_im2col_and_col2im(xp):
    x = np.random.default_rng(0).standard_normal((2, 9, 8, 3)).astype(np.float32)
    cols = im2col(x, 3, 3, 2, 4, 3)
    np.testing.assert_array_equal(host(K.im2col_gpu(xp.asarray(x), 3, 3, 2, 4, 3)), cols)
    np.testing.assert_allclose(host(K.col2im_gpu(xp.asarray(cols), x.shape, 2)), col2im(cols, x.shape, 2),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k,s,p", [(3, 2, 0), (3, 2, 1), (2, 2, 0), (3, 1, 1)])
def test_max_pooling_forward_and_backward_with_ties(xp, k, s, p):
    rng = np.random.default_rng(k * 10 + s + p)
    x = rng.integers(0, 3, (2, 7, 9, 4)).astype(np.float64)  # many ties: the first maximum must win
    ref = MaxPool2D(k, s, p)
    y = ref.forward(x, train=True)
    dy = rng.standard_normal(y.shape)
    dx = ref.backward(dy)
    gpu = MaxPool2D(k, s, p)
    assert K.uses_kernels(xp)
    yg = gpu.forward(xp.asarray(x), train=True)
    assert gpu.cache[0] == "kernel"  # the layer took the kernel path
    np.testing.assert_array_equal(host(yg), y)
    np.testing.assert_allclose(host(gpu.backward(xp.asarray(dy))), dx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("size,alpha_over_n", [(5, True), (3, False)])
def test_lrn_forward_and_backward(xp, dtype, tol, size, alpha_over_n):
    rng = np.random.default_rng(size)
    x = (rng.standard_normal((2, 3, 4, 7)) * 30).astype(dtype)  # large enough that LRN is not ~identity
    ref = LRN(size, 1e-2, 0.75, 2.0, alpha_over_n=alpha_over_n)
    y = ref.forward(x, train=True)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = ref.backward(dy)
    gpu = LRN(size, 1e-2, 0.75, 2.0, alpha_over_n=alpha_over_n)
    yg = gpu.forward(xp.asarray(x), train=True)
    assert gpu.cache[0] == "kernel" and yg.dtype == dtype
    np.testing.assert_allclose(host(yg), y, rtol=tol, atol=tol)
    np.testing.assert_allclose(host(gpu.backward(xp.asarray(dy))), dx, rtol=tol, atol=tol * np.abs(dx).max())


def test_pool_padding_is_at_most_half_the_window():
    from histnet.errors import ConfigError

    with pytest.raises(ConfigError, match="padding <= kernel_size // 2"):
        MaxPool2D(3, 2, 2)


@pytest.mark.skipif(not elementwise.available(), reason="no C++ compiler")
def test_the_cpu_kernel_refuses_what_cupy_refuses():
    k = standin.ElementwiseKernel("raw T x, T a", "T y", "y = x[i] * a;", "scale")
    x = standin.asarray(np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(k(x, 2.0, standin.empty((4,), dtype=np.float32)).get(), [0, 2, 4, 6])
    with pytest.raises(TypeError, match="host numpy array"):
        k(np.arange(4, dtype=np.float32), 2.0, standin.empty((4,), dtype=np.float32))
    with pytest.raises(TypeError, match="bound to float32 and float64"):
        k(x, 2.0, standin.empty((4,), dtype=np.float64))
    with pytest.raises(RuntimeError, match="does not compile"):
        standin.ElementwiseKernel("raw T x", "T y", "y = x[i] +;", "broken")(x, standin.empty((4,), np.float32))


def test_uses_kernels_asks_the_array_module_what_it_can_do(monkeypatch):
    assert not K.uses_kernels(np)  # no ElementwiseKernel
    monkeypatch.setattr(standin, "kernels_available", lambda: False)  # no C++ compiler here
    assert not K.uses_kernels(standin)
    monkeypatch.setattr(standin, "kernels_available", lambda: True)
    assert K.uses_kernels(standin)
