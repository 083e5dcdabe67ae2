"""Conv2D, MaxPool2D and LRN: backward against central finite differences (float64, small
shapes, with stride, padding and groups), forward/backward against PyTorch CPU, col2im
as the adjoint of im2col, and the cupy stand-in against numpy."""

import numpy as np
import pytest

from histnet.backend import get_backend
from histnet.errors import ConfigError
from histnet.nn.conv import Conv2D, col2im, conv_output_size, im2col, pad_hw
from histnet.nn.gradcheck import check_layer, rel_error
from histnet.nn.lrn import LRN
from histnet.nn.pool import MaxPool2D

SC = get_backend("cupy-standin").xp
TOL = 1e-6


def _to64(layer):
    for k in layer.params:
        layer.params[k] = layer.params[k].astype(np.float64)
    return layer


def test_conv_output_size():
    assert conv_output_size(227, 11, 4, 0) == 55
    assert conv_output_size(55, 3, 2) == 27
    assert conv_output_size(32, 3, 2, 1) == 16
    assert conv_output_size(5, 5) == 1
    with pytest.raises(ConfigError, match=r"layer conv1, input shape \(2, 3, 3, 1\).*size 3"):
        Conv2D(1, 2, 5, name="conv1").forward(np.zeros((2, 3, 3, 1), np.float32))


def test_im2col_index_formula_and_col2im_adjoint():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, 3))
    s, k = 2, 3
    oh, ow = conv_output_size(7, k, s), conv_output_size(6, k, s)
    cols = im2col(x, k, k, s, oh, ow)
    assert cols.shape == (2, oh, ow, k, k, 3)
    for (n, i, j, a, b, c) in [(0, 0, 0, 0, 0, 0), (1, 2, 1, 2, 1, 2), (1, 1, 0, 1, 2, 1)]:
        assert cols[n, i, j, a, b, c] == x[n, i * s + a, j * s + b, c]
    g = rng.standard_normal(cols.shape)
    lhs = float((cols * g).sum())
    rhs = float((x * col2im(g, x.shape, s)).sum())
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("cin,cout,k,stride,pad,groups", [
    (3, 4, 3, 1, 0, 1), (2, 3, 3, 2, 1, 1), (4, 6, 3, 1, 1, 2), (4, 4, 2, 3, 2, 2), (3, 2, 1, 1, 0, 1),
    (3, 2, 1, 1, 1, 1), (3, 2, 1, 2, 0, 1), (4, 2, 1, 1, 0, 2),
])
def test_conv_gradients(cin, cout, k, stride, pad, groups):
    layer = _to64(Conv2D(cin, cout, k, stride, pad, groups, init="glorot", bias=0.1, rng=0))
    x = np.random.default_rng(1).standard_normal((2, 5, 6, cin))
    for name, (a, n) in check_layer(layer, x).items():
        assert rel_error(a, n) < TOL, (name, rel_error(a, n))


def test_1x1_convolution_skips_the_patch_copy_with_the_same_numbers():
    # a 1x1, stride-1, unpadded convolution uses its input (and, backward, dy) as the GEMM
    # operand directly; the products are the ones the im2col copy fed, bit for bit
    rng = np.random.default_rng(0)
    conv = Conv2D(6, 5, 1, rng=0, bias=0.3)
    x = rng.standard_normal((3, 4, 5, 6), dtype=np.float32)
    dy = rng.standard_normal((3, 4, 5, 5), dtype=np.float32)
    y = conv.forward(x, train=True)
    dx = conv.backward(dy)
    W = conv.params["W"].reshape(5, 6)
    cols = im2col(x, 1, 1, 1, 4, 5).reshape(60, 6)
    np.testing.assert_array_equal(y, (cols @ W.T + conv.params["b"]).reshape(3, 4, 5, 5))
    d2 = im2col(dy, 1, 1, 1, 4, 5).reshape(60, 5)
    np.testing.assert_array_equal(conv.grads["W"].reshape(5, 6), np.ascontiguousarray((cols.T @ d2).T))
    np.testing.assert_array_equal(dx, (d2 @ W).reshape(3, 4, 5, 6))
    assert not np.shares_memory(y, x) and not np.shares_memory(dx, dy)
    assert np.shares_memory(im2col(x, 1, 1, 1, 4, 5), x)  # the patches are a view: nothing copied
    assert conv.__dict__.get("_scratch", {}) == {}  # and no patch buffer was allocated for them
    assert not np.shares_memory(im2col(x[..., :3], 1, 1, 1, 4, 5), x)  # a channel slice is gathered


def test_maxpool_gradients():
    rng = np.random.default_rng(0)
    x = rng.permutation(2 * 7 * 7 * 3).reshape(2, 7, 7, 3).astype(np.float64) / 10  # no ties
    for k, s, p in [(3, 2, 0), (3, 2, 1), (2, 2, 0)]:
        for name, (a, n) in check_layer(MaxPool2D(k, s, p), x.copy()).items():
            assert rel_error(a, n) < TOL, (k, s, p, name)


@pytest.mark.parametrize("alpha_over_n", [False, True])
def test_lrn_gradients(alpha_over_n):
    # a large alpha so the normalisation actually bends the function
    layer = LRN(5, alpha=0.3, beta=0.75, k=2.0, alpha_over_n=alpha_over_n)
    x = np.random.default_rng(0).standard_normal((2, 3, 2, 7)) * 2
    for name, (a, n) in check_layer(layer, x).items():
        assert rel_error(a, n) < TOL, name
    other = LRN(3, alpha=0.3, beta=0.6, k=1.0)
    for name, (a, n) in check_layer(other, x).items():
        assert rel_error(a, n) < TOL, name


def _torch_pair(layer_ours, layer_torch, x, torch):
    """Forward and input/weight gradients of ours (NHWC) and torch's (NCHW) on the same x."""
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    yt = layer_torch(xt)
    r = np.random.default_rng(5).standard_normal(yt.shape).astype(np.float32)
    yt.backward(torch.tensor(r))
    y = layer_ours.forward(x, train=True)
    dx = layer_ours.backward(r.transpose(0, 2, 3, 1).copy())
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-5)


def test_conv_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for (cin, cout, k, s, p, g) in [(3, 8, 5, 1, 2, 1), (4, 6, 3, 2, 1, 2), (3, 4, 11, 4, 0, 1)]:
        ours = Conv2D(cin, cout, k, s, p, g, rng=1, bias=0.5)
        ref = torch.nn.Conv2d(cin, cout, k, s, p, groups=g)
        with torch.no_grad():
            ref.weight.copy_(torch.tensor(ours.params["W"].transpose(0, 3, 1, 2)))
            ref.bias.copy_(torch.tensor(ours.params["b"]))
        x = rng.standard_normal((2, 23, 23, cin)).astype(np.float32)
        _torch_pair(ours, ref, x, torch)
        np.testing.assert_allclose(ours.grads["W"], ref.weight.grad.numpy().transpose(0, 2, 3, 1),
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ours.grads["b"], ref.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_pool_and_lrn_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 9, 9, 6)).astype(np.float32) * 3
    _torch_pair(MaxPool2D(3, 2, 1), torch.nn.MaxPool2d(3, 2, padding=1), x, torch)
    _torch_pair(MaxPool2D(3, 2, 0), torch.nn.MaxPool2d(3, 2), x, torch)
    # PyTorch divides alpha by n: alpha_over_n=True is the same layer; the paper's alpha is 5x it
    _torch_pair(LRN(5, 1e-2, 0.75, 2.0, alpha_over_n=True),
                torch.nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0), x, torch)
    _torch_pair(LRN(5, 1e-2, 0.75, 2.0), torch.nn.LocalResponseNorm(5, alpha=5e-2, beta=0.75, k=2.0), x, torch)


@pytest.mark.parametrize("channels,make", [
    (4, lambda xp: Conv2D(4, 6, 3, 2, 1, 2, rng=0, xp=xp)), (3, lambda xp: Conv2D(3, 5, 5, 1, 2, rng=0, xp=xp)),
    (4, lambda xp: MaxPool2D(3, 2, 1)), (6, lambda xp: LRN()),
])
def test_standin_matches_numpy(channels, make):
    x = np.random.default_rng(0).standard_normal((2, 8, 8, channels)).astype(np.float32)
    outs = []
    for xp in (np, SC):
        layer = make(xp)
        y = layer.forward(xp.asarray(x), train=True)
        dy = xp.asarray(np.random.default_rng(1).standard_normal(y.shape).astype(np.float32))
        dx = layer.backward(dy)
        to = (lambda a: a) if xp is np else SC.asnumpy
        outs.append((to(y), to(dx), {k: to(v) for k, v in layer.grads.items()}))
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-6)
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-6)
    for k in outs[0][2]:
        np.testing.assert_allclose(outs[1][2][k], outs[0][2][k], rtol=1e-5)


def test_pad_and_first_layer_skips_input_grad():
    x = np.ones((1, 2, 2, 1), np.float32)
    assert pad_hw(x, 1).sum() == 4 and pad_hw(x, 1).shape == (1, 4, 4, 1)
    conv = Conv2D(1, 2, 2, rng=0)
    conv.need_input_grad = False
    conv.forward(x, train=True)
    assert conv.backward(np.ones((1, 1, 1, 2), np.float32)) is None and conv.grads["W"].shape == (2, 2, 2, 1)
