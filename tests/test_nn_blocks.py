"""Batch normalisation, residual blocks, the option-A shortcut and global average pooling:
gradients against central finite differences in float64 (both BN modes), BN against a
float64 reference and PyTorch where installed, running statistics through checkpoints and
--resume, and the stand-in equal to numpy."""

import numpy as np
import pytest

from histnet.backend import get_backend
from histnet.errors import ConfigError
from histnet.nn import (SGD, BatchNorm, Conv2D, ConstantLR, Flatten, GlobalAvgPool2D, Linear, ReLU, Residual,
                        Sequential, ShortcutA, Trainer)
from histnet.nn.gradcheck import check_layer, rel_error

SC = get_backend("cupy-standin").xp
TOL = 1e-6


def _to64(layer):
    for lay in [layer] + _flat(layer):
        for k in lay.params:
            lay.params[k] = lay.params[k].astype(np.float64)
        for k in lay.buffers:
            lay.buffers[k] = lay.buffers[k].astype(np.float64)
    return layer


def _flat(layer):
    out = []
    for c in layer.sublayers():
        out += [c] + _flat(c)
    return out


def _bn(c, seed=0):
    bn = _to64(BatchNorm(c))
    rng = np.random.default_rng(seed)
    bn.params["gamma"] = rng.uniform(0.5, 1.5, c)
    bn.params["beta"] = rng.standard_normal(c)
    return bn


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5, 4)])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_gradients_in_both_modes(shape, train):
    bn = _bn(shape[-1])
    bn.buffers["running_mean"] = np.random.default_rng(2).standard_normal(shape[-1])
    bn.buffers["running_var"] = np.random.default_rng(3).uniform(0.5, 2.0, shape[-1])
    x = np.random.default_rng(1).standard_normal(shape) * 2 + 1
    for name, (a, n) in check_layer(bn, x, train=train).items():
        assert rel_error(a, n) < TOL, (name, train, rel_error(a, n))


def test_batchnorm_matches_a_float64_reference_and_keeps_running_statistics():
    x = np.random.default_rng(0).standard_normal((8, 3, 3, 5)) * 3 + 2
    bn = _bn(5)
    y = bn.forward(x, train=True)
    flat = x.reshape(-1, 5)
    ref = (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5) * bn.params["gamma"] + bn.params["beta"]
    np.testing.assert_allclose(y.reshape(-1, 5), ref, rtol=1e-12, atol=1e-12)
    m = flat.shape[0]
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.1 * flat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(bn.buffers["running_var"], 0.9 + 0.1 * flat.var(0) * m / (m - 1), rtol=1e-12)
    # evaluation uses the running statistics, not the batch's
    ev = bn.forward(x[:2], train=False)
    ref_ev = (x[:2] - bn.buffers["running_mean"]) / np.sqrt(bn.buffers["running_var"] + 1e-5)
    np.testing.assert_allclose(ev, ref_ev * bn.params["gamma"] + bn.params["beta"], rtol=1e-12)


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_wide_rows_match_the_per_channel_path(train):
    # a contiguous map is normalised as (N*H, W*C) rows with tiled channel vectors; a
    # non-contiguous one channel by channel: both must give the same output and gradients
    rng = np.random.default_rng(4)
    base = rng.standard_normal((3, 5, 4, 6)) * 2 + 1
    strided = base.transpose(0, 2, 1, 3)  # (3, 4, 5, 6), not C-contiguous
    dy = rng.standard_normal(strided.shape)
    outs = []
    for x in (strided, np.ascontiguousarray(strided)):
        bn = _bn(6)
        bn.buffers["running_mean"] = np.linspace(-1, 1, 6)
        bn.buffers["running_var"] = np.linspace(0.5, 2, 6)
        assert bn._repeat(x) == (1 if x is strided else 5)
        y = bn.forward(x, train=train)
        outs.append((y, bn.backward(dy), bn.grads["gamma"], bn.grads["beta"], bn.buffers["running_var"].copy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_batchnorm_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((4, 3, 3, 6)).astype(np.float32)
    dy = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    bn = BatchNorm(6)
    y = bn.forward(x, train=True)
    dx = bn.backward(dy)
    t = torch.nn.BatchNorm2d(6)
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    yt = t(xt)
    yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), atol=1e-4)
    np.testing.assert_allclose(bn.buffers["running_var"], t.running_var.numpy(), rtol=1e-5)


def _block(c_in, c_out, stride, seed):
    kw = dict(init="he", rng=seed, bias=None)
    body = [Conv2D(c_in, c_out, 3, stride=stride, padding=1, name="conv1", **kw), BatchNorm(c_out, name="bn1"),
            ReLU(name="relu1"), Conv2D(c_out, c_out, 3, padding=1, name="conv2", **kw), BatchNorm(c_out, name="bn2")]
    return Residual(body, [ShortcutA(c_in, c_out, stride)] if stride > 1 or c_in != c_out else None, name="block")


@pytest.mark.parametrize("c_in,c_out,stride", [(3, 3, 1), (2, 4, 2)])
def test_residual_block_gradients_add_both_paths(c_in, c_out, stride):
    block = _to64(_block(c_in, c_out, stride, 0))
    x = np.random.default_rng(1).standard_normal((3, 5, 5, c_in))
    got = check_layer(block, x)
    assert {"body.conv1.W", "body.bn2.gamma", "x"} <= set(got)
    for name, (a, n) in got.items():
        assert rel_error(a, n) < 1e-5, (name, rel_error(a, n))


@pytest.mark.parametrize("last", ["inplace-relu", "relu", "bn"])
@pytest.mark.parametrize("relu", [False, True])
def test_residual_identity_gradient_survives_a_body_that_works_in_place(last, relu):
    # the block adds the body's gradient into the shortcut's; with the identity shortcut and
    # an in-place ReLU last in the body, the incoming gradient must be copied before the body
    # overwrites it; otherwise the caller's gradient array must not change
    kw = dict(init="he", rng=0, bias=None)
    tail = {"inplace-relu": ReLU(True, name="r"), "relu": ReLU(name="r"), "bn": BatchNorm(3, name="r")}[last]
    block = _to64(Residual([Conv2D(3, 3, 3, padding=1, name="c", **kw), tail], relu=relu, name="block"))
    x = np.random.default_rng(1).standard_normal((2, 4, 4, 3))
    for name, (a, n) in check_layer(block, x).items():
        assert rel_error(a, n) < 1e-5, (name, last, relu, rel_error(a, n))
    block.forward(x, train=True)
    dy = np.random.default_rng(2).standard_normal((2, 4, 4, 3))
    kept = dy.copy()
    block.backward(dy)
    if relu or last != "inplace-relu":  # an in-place ReLU last may overwrite it: its documented use
        np.testing.assert_array_equal(dy, kept)


def test_shortcut_a_and_global_pooling():
    x = np.random.default_rng(0).standard_normal((2, 5, 4, 3))
    s = ShortcutA(3, 6, 2)
    y = s.forward(x, train=True)
    assert y.shape == (2, 3, 2, 6) == (2,) + s.output_shape((5, 4, 3))
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2]) and np.testing.assert_array_equal(y[..., 3:], 0)
    for layer in (ShortcutA(3, 6, 2), GlobalAvgPool2D()):
        for name, (a, n) in check_layer(layer, x.copy()).items():
            assert rel_error(a, n) < TOL, (name, rel_error(a, n))
    np.testing.assert_allclose(GlobalAvgPool2D().forward(x), x.mean(axis=(1, 2)))


def test_a_layer_object_used_twice_is_refused():
    lin = Linear(4, 4, rng=0)
    with pytest.raises(ConfigError, match="appears twice"):
        Sequential([lin, ReLU(), Residual([lin])])


def _tiny_resnet(xp=np):
    kw = dict(init="he", rng=0, xp=xp)
    return Sequential([Conv2D(1, 4, 3, padding=1, name="conv1", **kw), BatchNorm(4, name="bn1", xp=xp), ReLU(name="r"),
                       Residual([Conv2D(4, 4, 3, padding=1, name="c", **kw), BatchNorm(4, name="bn", xp=xp)],
                                name="block1"),
                       GlobalAvgPool2D(name="gap"), Linear(4, 3, name="fc", **kw)])


def _blobs(n=48):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = rng.standard_normal((n, 6, 6, 1)).astype(np.float32) + y[:, None, None, None]
    return x, y


def test_running_statistics_are_checkpointed_and_resumed_bit_for_bit(tmp_path):
    ref_net = _tiny_resnet()
    ref = Trainer(ref_net, SGD(ref_net, lr=0.05), ConstantLR(0.05)).fit(_blobs(), epochs=3, batch_size=8, seed=1)
    net = _tiny_resnet()
    calls = {"n": 0}

    def stop(ev):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt

    ck = tmp_path / "ck.npz"
    with pytest.raises(KeyboardInterrupt):
        Trainer(net, SGD(net, lr=0.05), ConstantLR(0.05), progress=stop).fit(
            _blobs(), epochs=3, batch_size=8, seed=1, checkpoint_path=ck)
    assert "block1.body.bn.running_var" in net.state_dict()
    net2 = _tiny_resnet()
    hist = Trainer(net2, SGD(net2, lr=0.05), ConstantLR(0.05)).fit(
        _blobs(), epochs=3, batch_size=8, seed=1, checkpoint_path=ck, resume=True)
    assert [h["train_loss"] for h in hist] == [h["train_loss"] for h in ref]
    for k, v in ref_net.state_dict().items():
        np.testing.assert_array_equal(net2.state_dict()[k], v, err_msg=k)
    assert not np.allclose(ref_net.state_dict()["bn1.running_mean"], 0)


def test_standin_equals_numpy():
    x, _ = _blobs(8)
    dy = np.random.default_rng(3).standard_normal((8, 3)).astype(np.float32)
    a, b = _tiny_resnet(), _tiny_resnet(SC)
    ya, yb = a.forward(x, train=True), b.forward(SC.asarray(x), train=True)
    np.testing.assert_allclose(SC.asnumpy(yb), ya, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(SC.asnumpy(b.backward(SC.asarray(dy))), a.backward(dy), rtol=1e-4, atol=1e-6)
    for (n1, _, g1), (n2, _, g2) in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(SC.asnumpy(g2), g1, rtol=1e-4, atol=1e-5, err_msg=n1)
