"""Dense layers, softmax cross-entropy, SGD and schedules: gradients against central
finite differences in float64, the stand-in against numpy, PyTorch where installed."""

import math

import numpy as np
import pytest

from histnet.backend import get_backend
from histnet.errors import CheckpointError, ConfigError
from histnet.nn import (SGD, CosineLR, Dropout, Flatten, Linear, OneCycleLR, PlateauLR, ReLU,
                        Sequential, Sigmoid, StepLR, Tanh, softmax_cross_entropy)
from histnet.nn.gradcheck import check_layer, numerical_gradient, rel_error

SC = get_backend("cupy-standin").xp
TOL = 1e-6


def _to64(layer):
    for k in layer.params:
        layer.params[k] = layer.params[k].astype(np.float64)
    return layer


@pytest.mark.parametrize("make", [
    lambda: Linear(5, 4, init="glorot", rng=0, bias=0.3),
    lambda: Sigmoid(), lambda: Tanh(), lambda: ReLU(), lambda: Flatten(),
])
def test_dense_layer_gradients(make):
    layer = _to64(make())
    x = np.random.default_rng(1).standard_normal((3, 5))
    x[np.abs(x) < 1e-3] = 0.1  # keep ReLU away from its kink
    for name, (a, n) in check_layer(layer, x).items():
        assert rel_error(a, n) < TOL, (name, rel_error(a, n))


def test_inplace_relu_equals_relu():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    dy = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    a, b = ReLU(), ReLU(inplace=True)
    ya, yb = a.forward(x.copy(), True), b.forward(x.copy(), True)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(a.backward(dy.copy()), b.backward(dy.copy()))


def test_dropout_gradient_and_scaling():
    layer = Dropout(0.5)
    x = np.random.default_rng(0).standard_normal((64, 50))
    layer.rng = np.random.default_rng(3)
    y = layer.forward(x, train=True)
    kept = y != 0
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_allclose(y[kept], 2 * x[kept])
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), 2.0 * kept)
    np.testing.assert_array_equal(layer.forward(x, train=False), x)
    with pytest.raises(ConfigError, match="generator"):
        Dropout(0.5).forward(x, train=True)


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 5)) * 3
    y = rng.integers(0, 5, 6)
    loss, d = softmax_cross_entropy(z, y)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(6), y])))
    num = numerical_gradient(lambda: softmax_cross_entropy(z, y)[0], z)
    assert rel_error(d, num) < TOL
    # no overflow for huge logits
    loss, d = softmax_cross_entropy(np.array([[1e4, 0.0]], np.float32), np.array([1]))
    assert loss == pytest.approx(1e4) and np.all(np.isfinite(d))


def test_softmax_ce_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    z = rng.standard_normal((7, 4)).astype(np.float32)
    y = rng.integers(0, 4, 7)
    zt = torch.tensor(z, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.tensor(y))
    lt.backward()
    loss, d = softmax_cross_entropy(z, y)
    assert loss == pytest.approx(lt.item(), rel=1e-5)
    np.testing.assert_allclose(d, zt.grad.numpy(), atol=1e-6)


def _mlp(xp, seed=0):
    return Sequential([Linear(6, 8, rng=seed, xp=xp), Sigmoid(), Linear(8, 5, rng=seed + 1, xp=xp),
                       Tanh(), ReLU(), Linear(5, 3, rng=seed + 2, xp=xp)])


def test_sequential_under_standin_matches_numpy():
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    y = np.array([0, 2, 1, 2])
    results = []
    for xp in (np, SC):
        m = _mlp(xp)
        out = m.forward(xp.asarray(x), train=True)
        loss, d = softmax_cross_entropy(out, xp.asarray(y))
        m.backward(d)
        opt = SGD(m, lr=0.1)
        opt.step()
        results.append((loss, m.state_dict()))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-6)
    for k, v in results[0][1].items():
        np.testing.assert_allclose(results[1][1][k], v, rtol=1e-6, atol=1e-7)


def test_sgd_is_the_papers_update():
    m = Sequential([Linear(3, 2, rng=0)])
    w0 = m.layers[0].params["W"].copy()
    g = np.full_like(w0, 0.5)
    m.layers[0].grads = {"W": g, "b": np.zeros(2, np.float32)}
    opt = SGD(m, lr=0.1, momentum=0.9, weight_decay=5e-4)
    opt.step()
    v1 = -5e-4 * 0.1 * w0 - 0.1 * g
    np.testing.assert_allclose(m.layers[0].params["W"], w0 + v1, rtol=1e-6)
    w1 = w0 + v1
    opt.step()
    v2 = 0.9 * v1 - 5e-4 * 0.1 * w1 - 0.1 * g
    np.testing.assert_allclose(m.layers[0].params["W"], w1 + v2, rtol=1e-5)


def test_state_dict_roundtrip_and_mismatch():
    a, b = _mlp(np, 0), _mlp(np, 5)
    b.load_state_dict(a.state_dict())
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    other = Sequential([Linear(6, 9), Sigmoid(), Linear(9, 5), Tanh(), ReLU(), Linear(5, 3)])
    with pytest.raises(CheckpointError, match=r"0_linear.W is \(6, 8\) there, \(6, 9\) here"):
        other.load_state_dict(a.state_dict(), "ckpt.npz")


def test_linear_shape_error_names_layer():
    with pytest.raises(ConfigError, match="fc6"):
        Linear(4, 2, name="fc6").forward(np.zeros((2, 5), np.float32))


def test_onecycle_matches_torch():
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.02, momentum=0.9)
    ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.02, total_steps=50, pct_start=0.2)
    ours = OneCycleLR(0.02, pct_start=0.2)
    ours.setup(10, 5)
    for step in range(50):
        assert ours.lr(step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
        assert ours.momentum(step) == pytest.approx(opt.param_groups[0]["momentum"], rel=1e-9)
        opt.step()
        ref.step()


def test_plateau_divides_by_ten_three_times():
    s = PlateauLR(0.01, patience=0, max_reductions=3)
    s.setup(10, 10)
    for e, err in enumerate([0.5, 0.4, 0.4, 0.4, 0.3, 0.3, 0.3, 0.3]):
        s.epoch_end(e + 1, err)
    assert s.reductions == 3 and s.lr(0) == pytest.approx(1e-5)
    t = PlateauLR(0.01)
    t.load_state_dict(s.state_dict())
    assert t.lr(0) == s.lr(0)


def test_step_and_cosine():
    s = StepLR(0.1, step_epochs=2)
    s.setup(5, 6)
    assert [round(s.lr(i * 5), 6) for i in range(6)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    c = CosineLR(0.1, warmup_epochs=1)
    c.setup(4, 3)
    assert c.lr(0) == pytest.approx(0.025) and c.lr(3) == pytest.approx(0.1)
    assert c.lr(4) == pytest.approx(0.1) and c.lr(11) < 0.01
    assert math.isclose(c.lr(8), 0.05, rel_tol=1e-9)
