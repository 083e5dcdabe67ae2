"""im2col a few images at a time on every core (Conv2D's "chunks" path): the same outputs and
gradients as whole-batch im2col + GEMM in float64, backward against finite differences, the same
bits on one thread and on two, BLAS back to its threads afterwards, the "auto" rule, and the
cupy stand-in (and real cupy where a CUDA device is) against numpy."""

import numpy as np
import pytest

from histnet.backend import get_backend
from histnet.errors import ConfigError
from histnet.nn import conv, parallel
from histnet.nn.conv import Conv2D
from histnet.nn.gradcheck import check_layer, rel_error

SC = get_backend("cupy-standin").xp


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 1 to 6 images at these sizes, so a batch is several chunks, some with a short
    last one."""
    monkeypatch.setattr(conv, "CHUNK_FLOATS", 300)


def _pair(c, f, k, stride, pad, dtype=np.float64, bias=0.0, seed=0, xp=np):
    """Two layers with the same weights: whole-batch im2col and chunks."""
    rng = np.random.default_rng(seed)
    a = Conv2D(c, f, k, stride, pad, algo="im2col", bias=bias, rng=rng, dtype=dtype)
    b = Conv2D(c, f, k, stride, pad, algo="chunks", bias=bias, rng=rng, dtype=dtype, xp=xp)
    if "b" in a.params:  # a non-zero bias, so its addition and gradient are checked too
        a.params["b"][...] = rng.standard_normal(f)
    for name in a.params:
        b.params[name] = xp.asarray(a.params[name])
    return a, b


# stride 1 with the gather backward, stride 2 and a padding over k - 1 with col2im's
@pytest.mark.parametrize("c,f,k,stride,pad,hw", [(3, 5, 3, 1, 1, (7, 9)), (4, 6, 5, 1, 2, (8, 6)),
                                                 (2, 4, 3, 2, 1, (9, 8)), (3, 4, 3, 1, 3, (5, 6)),
                                                 (3, 4, 1, 2, 0, (7, 7)), (2, 3, 3, 1, 0, (6, 7)),
                                                 (1, 2, 3, 1, 1, (3, 4))])
@pytest.mark.parametrize("bias", [0.0, None])
def test_matches_whole_batch_float64(small_chunks, two_threads, c, f, k, stride, pad, hw, bias):
    a, b = _pair(c, f, k, stride, pad, bias=bias)
    x = np.random.default_rng(1).standard_normal((7, *hw, c))
    ya, yb = a.forward(x, train=True), b.forward(x, train=True)
    assert b.cache[0] == "chunks" and b._chunk(ya.shape[1], ya.shape[2], c) < len(x)
    np.testing.assert_allclose(yb, ya, rtol=0, atol=1e-12)
    dy = np.random.default_rng(2).standard_normal(ya.shape)
    np.testing.assert_allclose(b.backward(dy.copy()), a.backward(dy.copy()), rtol=0, atol=1e-12)
    assert set(b.grads) == set(a.grads)
    for name in a.grads:
        np.testing.assert_allclose(b.grads[name], a.grads[name], rtol=0, atol=1e-11)


@pytest.mark.parametrize("k,stride,pad", [(3, 1, 1), (3, 2, 1), (5, 1, 2)])
def test_gradients_finite_differences(small_chunks, k, stride, pad):
    _, layer = _pair(2, 3, k, stride, pad)
    layer.params["b"][...] = np.random.default_rng(4).standard_normal(3)
    x = np.random.default_rng(3).standard_normal((5, 6, 5, 2))
    for name, (analytic, numeric) in check_layer(layer, x).items():
        assert rel_error(analytic, numeric) < 1e-6, name


def test_first_layer_skips_input_gradient(small_chunks):
    _, b = _pair(3, 4, 3, 1, 1)
    b.need_input_grad = False
    b.forward(np.random.default_rng(0).standard_normal((5, 8, 8, 3)), train=True)
    assert b.backward(np.ones((5, 8, 8, 4))) is None
    assert b.grads["W"].shape == b.params["W"].shape


def test_same_bits_on_one_thread_and_two(small_chunks):
    """dW adds the chunks' products in chunk order whatever thread computed them, so the
    float32 results do not depend on the thread count."""
    _, b = _pair(16, 16, 3, 1, 1, dtype=np.float32)
    x = np.random.default_rng(5).standard_normal((9, 8, 8, 16)).astype(np.float32)
    dy = np.random.default_rng(6).standard_normal((9, 8, 8, 16)).astype(np.float32)
    before, results = parallel.threads(), []
    try:
        for n in (1, 2):
            parallel.set_threads(n)
            y = b.forward(x, train=True)
            results.append((y, b.backward(dy), b.grads["W"].copy(), b.grads["b"].copy()))
    finally:
        parallel.set_threads(before)
    for one, two in zip(*results):
        assert np.array_equal(one, two)


def test_blas_threads_are_restored(two_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    _, b = _pair(3, 4, 3, 1, 1, dtype=np.float32)
    b.backward(np.ones_like(b.forward(np.ones((6, 8, 8, 3), np.float32), train=True)))
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"] == blas


def test_auto_rule():
    rng = np.random.default_rng(0)
    layers = {"8ch 3x3": Conv2D(8, 8, 3, padding=1, rng=rng),
              "16ch 3x3": Conv2D(16, 16, 3, padding=1, rng=rng),
              "16 to 32, stride 2": Conv2D(16, 32, 3, stride=2, padding=1, rng=rng),
              "3ch 5x5 first layer": Conv2D(3, 64, 5, padding=2, rng=rng),
              "64ch 3x3": Conv2D(64, 64, 3, padding=1, rng=rng),
              "64ch stride 2": Conv2D(64, 64, 3, stride=2, padding=1, rng=rng),
              "16ch 1x1": Conv2D(16, 16, 1, rng=rng),
              "2 groups of 8": Conv2D(16, 16, 3, padding=1, groups=2, rng=rng)}
    assert {label: layer._path(np) for label, layer in layers.items()} == {
        "8ch 3x3": "chunks", "16ch 3x3": "winograd", "16 to 32, stride 2": "chunks", "3ch 5x5 first layer": "chunks",
        "64ch 3x3": "winograd", "64ch stride 2": "im2col", "16ch 1x1": "im2col", "2 groups of 8": "im2col"}
    layer = layers["8ch 3x3"]
    layer.forward(np.zeros((2, 8, 8, 8), np.float32), train=True)
    assert layer.cache[0] == "chunks"
    assert layers["8ch 3x3"]._path(SC) == "im2col"  # a GPU keeps its im2col kernels


def test_chunks_has_no_groups():
    with pytest.raises(ConfigError, match="layer conv2: algo='chunks' has no groups"):
        Conv2D(16, 16, 3, groups=2, algo="chunks", name="conv2")


def test_device_arrays_match_numpy(small_chunks, device_xp):
    """Forced on the cupy stand-in (its arrays are not numpy's), and on real cupy where a CUDA
    device is, the path gives numpy's numbers."""
    xp = device_xp
    a, b = _pair(3, 4, 3, 2, 1, xp=xp)
    x = np.random.default_rng(7).standard_normal((5, 7, 7, 3))
    ya = a.forward(x, train=True)
    ys = b.forward(xp.asarray(x), train=True)
    assert b.cache[0] == "chunks"
    np.testing.assert_allclose(xp.asnumpy(ys), ya, atol=1e-12)
    dy = np.random.default_rng(8).standard_normal(ya.shape)
    np.testing.assert_allclose(xp.asnumpy(b.backward(xp.asarray(dy))), a.backward(dy), atol=1e-12)
    np.testing.assert_allclose(xp.asnumpy(b.grads["W"]), a.grads["W"], atol=1e-11)
