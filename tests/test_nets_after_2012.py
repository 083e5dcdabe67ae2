"""The nets after AlexNet (ZFNet, NIN, VGG, ResNet): their sizes against the papers, the
plain/residual switch, where they sit in the progression, and the history beside them.
(That each one's full profile learns is in test_cnn_full_profiles.py.)"""

import numpy as np
import pytest

from histnet.history import history_for
from histnet.methods import get_method, make_config
from histnet.methods.registry import progression_methods
from histnet.nn import Conv2D, Linear, Residual, ShortcutA
from histnet.nn.core import _all_layers


def _net(name, **over):
    cls = get_method(name)
    return cls(make_config(cls, over, profile="full")).build(3, 10)


def _weight_layers(net):
    return [l for l in _all_layers(net) if isinstance(l, (Conv2D, Linear))]


@pytest.mark.parametrize("name,depth,params", [("resnet-20", 20, 269_722), ("resnet-56", 56, 853_018)])
def test_resnets_have_the_papers_depth_and_size(name, depth, params):
    net = _net(name)
    # He et al. 2015, section 4.2: 6n + 2 weight layers; 0.27 M and 0.85 M parameters
    assert len(_weight_layers(net)) == depth
    assert net.n_params() == params
    assert round(params / 1e6, 2) == {20: 0.27, 56: 0.85}[depth]
    residual = [l for l in net.layers if isinstance(l, Residual)]
    assert len(residual) == (depth - 2) // 2
    shortcuts = [l for l in _all_layers(net) if isinstance(l, ShortcutA)]
    assert [(s.c_in, s.c_out, s.stride) for s in shortcuts] == [(16, 32, 2), (32, 64, 2)]
    assert net.output_shape((32, 32, 3)) == (10,)


def test_plain_switch_removes_the_shortcuts_only():
    plain, res = _net("resnet-20", plain=True), _net("resnet-20")
    assert not any(isinstance(l, (Residual, ShortcutA)) for l in _all_layers(plain))
    assert plain.n_params() == res.n_params() and len(_weight_layers(plain)) == 20
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 3)).astype(np.float32)
    assert plain.forward(x).shape == res.forward(x).shape == (2, 10)


def test_vgg_nin_zfnet_shapes():
    vgg = _net("vgg-cifar")
    convs = [l for l in _weight_layers(vgg) if isinstance(l, Conv2D)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 256, 512, 512, 512, 512]  # configuration A
    assert all(c.k == 3 for c in convs) and len(_weight_layers(vgg)) == 11
    nin = _net("nin-cifar")
    assert [c.k for c in _weight_layers(nin)] == [5, 1, 1, 5, 1, 1, 3, 1, 1]
    assert not any(isinstance(l, Linear) for l in nin.layers)  # global average pooling, no FC
    zf, alex = _net("zfnet-cifar"), _net("alexnet-cifar")
    assert zf.layers[0].k == 3 and alex.layers[0].k == 5  # the smaller first layer
    for net in (vgg, nin, zf):
        assert net.output_shape((32, 32, 3)) == (10,)


def test_the_default_progression_stays_2012_and_until_2015_adds_the_later_nets():
    assert progression_methods(32)[-1] == "alexnet-cifar"
    later = progression_methods(32, until=2015)
    assert later[-4:] == ["zfnet-cifar", "nin-cifar", "vgg-cifar", "resnet-20"]
    assert [get_method(m).year for m in later[-4:]] == [2013, 2014, 2014, 2015]


def test_history_cites_the_same_benchmark_where_there_is_one():
    assert history_for("resnet-20", "cifar10-jpg") == "CIFAR-10 test, ResNet-20: 8.75% error"
    assert history_for("resnet-56", "cifar10") == "CIFAR-10 test, ResNet-56: 6.97% error"
    assert history_for("nin-cifar", "cifar10") == "CIFAR-10 test, NIN + dropout + data augmentation: 8.81% error"
    assert "cuda-convnet layers-18pct: 18.00%" in history_for("alexnet-cifar", "cifar10-jpg")
    # no same-benchmark figure: the ILSVRC one, which names its benchmark
    assert history_for("vgg-cifar", "cifar10") == "ILSVRC-2014 test, VGG: 7.3% top-5"
    assert history_for("resnet-20", "my-photos") == "ILSVRC-2015 test, MSRA: 3.57% top-5"
    assert history_for("zfnet-cifar") == "ILSVRC-2013 test, Clarifai: 11.7% top-5"
