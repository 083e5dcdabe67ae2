"""The AlexNet methods: the networks' sizes against the paper and the PyTorch anchor,
input-size errors, learning on a small real task, save/load, ten-crop scoring, and one
training step under the cupy stand-in equal to numpy's."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from histnet.data import ArrayDataset
from histnet.errors import DataError
from histnet.evaluate import evaluate
from histnet.methods import get_method, make_config
from histnet.nn import Conv2D


def _digits(n_train=40, size=8):
    """sklearn digits (8x8, 0..16) upscaled to ``size`` px, as uint8 grey images."""
    d = load_digits()
    imgs = (d.images * (255 / 16)).astype(np.uint8)
    rep = size // 8
    imgs = imgs.repeat(rep, 1).repeat(rep, 2)[..., None]
    names = [str(i) for i in range(10)]
    return (ArrayDataset("digits", imgs[:n_train], d.target[:n_train], names),
            ArrayDataset("digits", imgs[n_train:n_train + 300], d.target[n_train:n_train + 300], names))


def test_alexnet_cifar_is_the_anchor_net():
    cls = get_method("alexnet-cifar")
    m = cls(make_config(cls, profile="full"))
    d = m.describe()
    # the PyTorch reference net: 1.34 M params, 111.17 MFLOP forward (2 x MAC, conv + fc)
    assert d["n_params"] == 1_339_018
    assert d["flops_per_image"] == 111_169_280


def test_alexnet_has_the_papers_size_and_init():
    cls = get_method("alexnet")
    m = cls()
    net = m.build(3, 1000)
    # 5 conv + 3 FC with conv2/4/5 in two groups: the paper's "60 million parameters"
    assert net.n_params() == 60_965_224
    convs = [l for l in net.layers if isinstance(l, Conv2D)]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert net.output_shape((227, 227, 3)) == (1000,)
    bias = {l.name: float(l.params["b"].mean()) for l in net.layers if "b" in l.params}
    assert bias == {"conv1": 0, "conv2": 1, "conv3": 0, "conv4": 1, "conv5": 1, "fc6": 1, "fc7": 1, "fc8": 0}
    assert abs(float(net.layers[0].params["W"].std()) - 0.01) < 1e-3


def test_alexnet64_shapes():
    cls = get_method("alexnet-64")
    net = cls().build(3, 200)
    assert net.output_shape((64, 64, 3)) == (200,)


def test_image_size_errors_name_both_sizes():
    train, _ = _digits(40, size=8)
    cls = get_method("alexnet")
    with pytest.raises(DataError, match=r"alexnet takes 227x227 images.*got 8x8"):
        cls(make_config(cls, {"epochs": 1})).fit(train)


def _quadrants(n, seed):
    """16-px grey images with a bright 5x5 square in one of four quadrants (the class)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    imgs = rng.integers(0, 60, (n, 16, 16, 1)).astype(np.uint8)
    for q in range(4):
        sel = y == q
        top, left = 8 * (q // 2) + 1, 8 * (q % 2) + 1
        imgs[sel, top:top + 5, left:left + 5] = 220
    return ArrayDataset("quadrants", imgs, y, ["tl", "tr", "bl", "br"])


def test_learns_and_saves(tmp_path):
    train, test = _quadrants(256, 0), _quadrants(100, 1)  # 16 px, zero-padded to 32
    cls = get_method("alexnet-cifar")
    cfg = make_config(cls, {"width": 0.125, "epochs": 3, "batch_size": 16, "dropout": 0.0}, profile="quick")
    m = cls(cfg, seed=0).fit(train)
    scores = m.predict_scores(test.get_images(np.arange(len(test))))
    assert scores.shape == (100, 4) and np.allclose(scores.sum(1), 1, atol=1e-5)
    assert evaluate(scores, test.labels)["top1_error"] < 0.1  # chance: 0.75
    curve = m.learning_curve()
    assert len(curve) == 3 and curve[-1]["train_loss"] < curve[0]["train_loss"]
    m.save(tmp_path / "m.npz")
    m2 = cls.load(tmp_path / "m.npz")
    np.testing.assert_allclose(m2.predict_scores(test.get_images(np.arange(20))), scores[:20], rtol=1e-5, atol=1e-7)


def test_min_steps_raises_the_epochs_of_a_small_training_set():
    train = _quadrants(20, 0)  # 20 images in batches of 8: 3 steps an epoch
    cls = get_method("alexnet-cifar")
    base = {"width": 0.125, "epochs": 2, "batch_size": 8, "dropout": 0.0}
    assert len(cls(make_config(cls, {**base, "min_steps": 10})).fit(train).learning_curve()) == 4  # ceil(10/3)
    assert len(cls(make_config(cls, {**base, "min_steps": 5})).fit(train).learning_curve()) == 2  # 6 steps >= 5
    assert make_config(cls, {}, profile="full").min_steps == 1500


def test_ten_crops_on_larger_images_and_pca_noise():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (24, 36, 36, 3), dtype=np.uint8)
    ds = ArrayDataset("rand", imgs, rng.integers(0, 3, 24), ["a", "b", "c"])
    cls = get_method("alexnet-cifar")
    m = cls(make_config(cls, {"width": 0.125, "epochs": 1, "batch_size": 8, "test_crops": "ten",
                              "pca_noise": 0.1, "init": "paper"})).fit(ds)
    s = m.predict_scores(imgs[:5])
    assert s.shape == (5, 3) and np.allclose(s.sum(1), 1, atol=1e-5)
    assert m.pca_ is not None and m.visualize()["conv1_filters"].ndim == 3


def test_training_step_under_standin_matches_numpy():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    ds = ArrayDataset("rand", imgs, rng.integers(0, 10, 8), [str(i) for i in range(10)])
    cls = get_method("alexnet-cifar")
    cfg = make_config(cls, {"epochs": 1, "batch_size": 8, "crop_pad": 4, "pca_noise": 0.1, "min_steps": 0},
                      profile="full")
    out = []
    for backend in ("cpu", "cupy-standin"):
        m = cls(cfg, backend=backend, seed=0).fit(ds)
        out.append((m.learning_curve()[0]["train_loss"], m.predict_scores(imgs[:4]), m.get_state()))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-5)
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-4, atol=1e-6)
    for k, v in out[0][2].items():
        np.testing.assert_allclose(out[1][2][k], v, rtol=1e-4, atol=1e-6)


def test_alexnet_cifar_matches_torch_forward_and_gradients():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    lrn = lambda: nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)  # noqa: E731
    ref = nn.Sequential(  # the PyTorch reference net, without dropout
        nn.Conv2d(3, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1), lrn(),
        nn.Conv2d(64, 64, 5, padding=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2, padding=1),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(),
        nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1), nn.Flatten(),
        nn.Linear(2048, 384), nn.ReLU(), nn.Linear(384, 192), nn.ReLU(), nn.Linear(192, 10))
    cls = get_method("alexnet-cifar")
    net = cls(make_config(cls, {"dropout": 0.0, "init": "he"})).build(3, 10)
    ours = [l for l in net.layers if "W" in l.params]
    theirs = [l for l in ref if isinstance(l, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for o, t in zip(ours, theirs):
            W = o.params["W"]
            if W.ndim == 4:
                t.weight.copy_(torch.tensor(W.transpose(0, 3, 1, 2)))
            elif o.name == "fc6":  # torch flattens (C, H, W), we flatten (H, W, C)
                t.weight.copy_(torch.tensor(W.reshape(4, 4, 128, 384).transpose(3, 2, 0, 1).reshape(384, 2048)))
            else:
                t.weight.copy_(torch.tensor(W.T))
            t.bias.copy_(torch.tensor(o.params["b"]))
    x = np.random.default_rng(0).standard_normal((4, 32, 32, 3)).astype(np.float32)
    y = np.array([1, 5, 7, 2])
    out_t = ref(torch.tensor(x.transpose(0, 3, 1, 2)))
    torch.nn.functional.cross_entropy(out_t, torch.tensor(y)).backward()
    from histnet.nn import softmax_cross_entropy
    out = net.forward(x, train=True)
    net.backward(softmax_cross_entropy(out, y)[1])
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    for o, t in zip(ours, theirs):
        g = o.grads["W"]
        tg = t.weight.grad.numpy()
        g = (g.transpose(0, 3, 1, 2) if g.ndim == 4 else
             g.reshape(4, 4, 128, 384).transpose(3, 2, 0, 1).reshape(384, 2048) if o.name == "fc6" else g.T)
        np.testing.assert_allclose(g, tg, rtol=1e-3, atol=1e-5 * float(np.abs(tg).max()), err_msg=o.name)


def test_non_square_images_are_cropped_square():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (8, 24, 40, 1), dtype=np.uint8)  # 24x40 -> 24x24 crop -> 32 padded
    ds = ArrayDataset("wide", imgs, rng.integers(0, 2, 8), ["a", "b"])
    cls = get_method("alexnet-cifar")
    m = cls(make_config(cls, {"width": 0.125, "epochs": 1, "batch_size": 8, "test_crops": "ten"})).fit(ds)
    assert m.predict_scores(imgs[:3]).shape == (3, 2)
