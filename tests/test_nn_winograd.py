"""Winograd convolution (histnet.nn.winograd): the transforms against the definition of
correlation, the layer against im2col + GEMM (the same weights, float64 to rounding and float32
within a stated bound), backward against central finite differences, the "auto" rule, and the
cupy stand-in against numpy."""

import numpy as np
import pytest

from histnet.backend import get_backend
from histnet.errors import ConfigError
from histnet.nn import winograd
from histnet.nn.conv import Conv2D
from histnet.nn.gradcheck import check_layer, rel_error

SC = get_backend("cupy-standin").xp


def _pair(c, f, k, pad, groups=1, dtype=np.float64, seed=0, bias=0.0):
    """Two layers with the same weights: im2col + GEMM and Winograd."""
    rng = np.random.default_rng(seed)
    a = Conv2D(c, f, k, padding=pad, groups=groups, algo="im2col", bias=bias, rng=rng, dtype=dtype)
    b = Conv2D(c, f, k, padding=pad, groups=groups, algo="winograd", bias=bias, rng=rng, dtype=dtype)
    for name in a.params:
        b.params[name][...] = a.params[name]
    if "b" in a.params:  # a non-zero bias, so its gradient and addition are checked too
        a.params["b"][...] = b.params["b"][...] = rng.standard_normal(f)
    return a, b


@pytest.mark.parametrize("m,r", [(2, 3), (4, 3), (2, 5), (4, 5)])
def test_transforms_compute_correlation_1d(m, r):
    at, g, bt = winograd.winograd_matrices(m, r)
    a = m + r - 1
    assert at.shape == (m, a) and g.shape == (a, r) and bt.shape == (a, a)
    rng = np.random.default_rng(m * 10 + r)
    for _ in range(5):
        d, w = rng.standard_normal(a), rng.standard_normal(r)
        direct = np.array([d[i:i + r] @ w for i in range(m)])
        np.testing.assert_allclose(at @ ((g @ w) * (bt @ d)), direct, rtol=0, atol=1e-12)


def test_f23_is_lavin_and_gray():
    """F(2, 3) from the construction is the paper's (Lavin & Gray 2015, Sec. 4.1) up to how
    each transform position's scale is shared among A^T, G and B^T (any split gives the
    same product), so each position's triple product A^T[:, j] x G[j] x B^T[j] must match."""
    at, g, bt = winograd.winograd_matrices(2, 3)
    paper_bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float)
    paper_g = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])
    paper_at = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float)
    for j in range(4):
        ours = np.einsum("i,k,l->ikl", at[:, j], g[j], bt[j])
        paper = np.einsum("i,k,l->ikl", paper_at[:, j], paper_g[j], paper_bt[j])
        np.testing.assert_allclose(ours, paper, atol=1e-12)


@pytest.fixture(params=["whole batch", "chunks of a few images"])
def chunks(request, monkeypatch):
    """The batch in one chunk, then in several (the last one short)."""
    if request.param != "whole batch":
        monkeypatch.setattr(winograd, "CHUNK_FLOATS", {3: 400, 5: 400})
        monkeypatch.setattr(winograd, "MIN_CHUNK_TILES", 1)
    return request.param


@pytest.mark.parametrize("k,pad,hw,groups", [(3, 1, (7, 9), 1), (3, 0, (8, 8), 1), (5, 2, (9, 6), 1),
                                             (5, 0, (11, 12), 1), (3, 1, (5, 6), 2), (5, 1, (6, 7), 2)])
def test_matches_im2col_float64(chunks, k, pad, hw, groups):
    """Same outputs and gradients as the direct sums, on sizes that are and are not multiples
    of the 4-pixel tile (the overhanging tiles' outputs are cut and get no gradient), with the
    batch in one chunk and in several."""
    a, b = _pair(4, 6, k, pad, groups)
    x = np.random.default_rng(1).standard_normal((3, *hw, 4))
    ya, yb = a.forward(x, train=True), b.forward(x, train=True)
    assert yb.shape == ya.shape
    assert (len(b.cache[1][0][0]) == 1) == (chunks == "whole batch")  # V, one per chunk
    np.testing.assert_allclose(yb, ya, rtol=0, atol=1e-11)
    dy = np.random.default_rng(2).standard_normal(ya.shape)
    dxa, dxb = a.backward(dy.copy()), b.backward(dy.copy())
    np.testing.assert_allclose(dxb, dxa, rtol=0, atol=1e-11)
    for name in a.grads:
        np.testing.assert_allclose(b.grads[name], a.grads[name], rtol=0, atol=1e-10)


@pytest.mark.parametrize("k,pad,groups", [(3, 1, 1), (5, 2, 1), (3, 0, 2)])
def test_gradients_finite_differences(chunks, k, pad, groups):
    _, layer = _pair(2, 4, k, pad, groups)
    x = np.random.default_rng(3).standard_normal((2, 6, 5, 2))
    for name, (analytic, numeric) in check_layer(layer, x).items():
        assert rel_error(analytic, numeric) < 1e-6, name


def test_first_layer_skips_input_gradient():
    _, b = _pair(3, 4, 3, 1)
    b.need_input_grad = False
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3))
    b.forward(x, train=True)
    assert b.backward(np.ones((2, 8, 8, 4))) is None
    assert b.grads["W"].shape == b.params["W"].shape


@pytest.mark.parametrize("k", [3, 5])
def test_float32_rounding_is_bounded(k):
    """At the sizes the nets use (64 channels, 16 px), float32 Winograd stays within 1e-4 of
    the float64 convolution, relative to the largest value (measured: 1e-6 to 1e-5), and
    rounds more than the direct sums do (so the bound is the one that matters)."""
    a, b = _pair(64, 64, k, k // 2, dtype=np.float64)
    x = np.random.default_rng(4).standard_normal((4, 16, 16, 64))
    exact = a.forward(x)
    a32, b32 = _pair(64, 64, k, k // 2, dtype=np.float32)
    for la, l32 in ((a, a32), (a, b32)):
        for name in la.params:
            l32.params[name][...] = la.params[name]
    x32 = x.astype(np.float32)
    scale = np.abs(exact).max()
    err_direct = np.abs(a32.forward(x32) - exact).max() / scale
    err_wino = np.abs(b32.forward(x32) - exact).max() / scale
    assert err_wino < 1e-4
    assert err_direct < err_wino
    dy = np.random.default_rng(5).standard_normal(exact.shape)
    a.forward(x, train=True)
    dx_exact = a.backward(dy.copy())
    dw_exact = a.grads["W"]
    b32.forward(x32, train=True)
    dx32 = b32.backward(dy.astype(np.float32))
    assert np.abs(dx32 - dx_exact).max() / np.abs(dx_exact).max() < 1e-4
    assert np.abs(b32.grads["W"] - dw_exact).max() / np.abs(dw_exact).max() < 1e-4


def test_auto_rule():
    rng = np.random.default_rng(0)
    x = np.zeros((1, 8, 8, 64), np.float32)
    chosen = {}
    for label, layer in {"64ch 3x3": Conv2D(64, 64, 3, padding=1, rng=rng),
                         "64ch 5x5": Conv2D(64, 64, 5, padding=2, rng=rng),
                         "16ch 3x3": Conv2D(16, 16, 3, padding=1, rng=rng),
                         "8ch 3x3": Conv2D(8, 8, 3, padding=1, rng=rng),
                         "stride 2": Conv2D(64, 64, 3, stride=2, padding=1, rng=rng),
                         "1x1": Conv2D(64, 64, 1, rng=rng),
                         "2 groups of 8": Conv2D(16, 32, 3, padding=1, groups=2, rng=rng)}.items():
        layer.forward(x[..., :layer.in_channels], train=True)
        chosen[label] = layer.cache[0] == "winograd"
    assert chosen == {"64ch 3x3": True, "64ch 5x5": True, "16ch 3x3": True, "8ch 3x3": False, "stride 2": False,
                      "1x1": False, "2 groups of 8": False}
    assert not winograd.use_winograd(SC, 3, 1, 64, 64)  # a GPU keeps its im2col kernels


def test_bad_algo_names_the_layer():
    with pytest.raises(ConfigError, match="layer conv3: algo='fast' must be one of auto, im2col, winograd"):
        Conv2D(8, 8, 3, algo="fast", name="conv3")
    with pytest.raises(ConfigError, match="layer conv1: algo='winograd' needs stride 1 and a 3x3 or 5x5"):
        Conv2D(3, 8, 11, stride=4, algo="winograd", name="conv1")


def test_device_arrays_match_numpy(device_xp):
    """The same code on the cupy stand-in (its arrays are not numpy's), and on real cupy where
    a CUDA device is, gives numpy's numbers."""
    xp = device_xp
    a, b = _pair(3, 5, 3, 1)
    x = np.random.default_rng(6).standard_normal((2, 6, 7, 3))
    y = b.forward(x, train=True)
    dx = b.backward(np.ones_like(y))
    dw = b.grads["W"].copy()
    c = Conv2D(3, 5, 3, padding=1, algo="winograd", rng=np.random.default_rng(0), dtype=np.float64, xp=xp)
    for name in b.params:
        c.params[name] = xp.asarray(b.params[name])
    ys = c.forward(xp.asarray(x), train=True)
    assert c.cache[0] == "winograd"
    dxs = c.backward(xp.ones(ys.shape, dtype=ys.dtype))
    np.testing.assert_allclose(xp.asnumpy(ys), y, atol=1e-12)
    np.testing.assert_allclose(xp.asnumpy(dxs), dx, atol=1e-12)
    np.testing.assert_allclose(xp.asnumpy(c.grads["W"]), dw, atol=1e-12)
