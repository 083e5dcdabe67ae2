"""ResNet for CIFAR: He, Zhang, Ren & Sun (2015), "Deep residual learning for image
recognition", CVPR 2016, arXiv:1512.03385, section 4.2.

The paper's CIFAR-10 nets, as its section 4.2 gives them: a 3x3 convolution with 16
filters, then three stages of ``n`` basic blocks on 32x32, 16x16 and 8x8 maps with 16, 32
and 64 filters (each block: conv 3x3 - BN - ReLU - conv 3x3 - BN, added to the shortcut,
ReLU), the first block of stages 2 and 3 with stride 2, then global average pooling and a
10-way fully connected layer: 6n + 2 weight layers. ``resnet-20`` is n = 3 (0.27 M
parameters), ``resnet-56`` is n = 9 (0.85 M). Shortcuts are the paper's option A for
CIFAR: the identity, and where a stage starts, every second pixel with the new channels
padded with zeros (no parameters). Batch normalisation after every convolution, He
initialisation, no dropout, as the paper.

The paper's Table 6 reports 8.75% test error for ResNet-20 and 6.97% for ResNet-56 on
CIFAR-10 (crops after 4-px padding and flips; per-pixel mean subtraction; SGD momentum
0.9, weight decay 1e-4, batch 128, lr 0.1 divided by 10 at 32k and 48k iterations, 64k in
all: about 164 epochs). The ``full`` profile departs from that to fit two CPU cores: a
one-cycle schedule over 80 epochs (peak lr 0.1, weight decay 5e-4) instead of 164 epochs
of steps, and per-channel mean/std normalisation instead of per-pixel means. The
``plain`` switch removes the shortcuts (the paper's "plain" nets of Figure 6: deeper plain
nets train worse, residual ones better).

The profile's 80 epochs are what reached the 10% its issue asked for on the CIFAR-10 JPEG
copy of ``results/progression-cifar10`` (9.93%, about 4 h 37 min on two cores); 40
epochs gave 10.97% and 50 gave 11.02% there.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nn import GlobalAvgPool2D, ReLU, Residual, ShortcutA
from .image_cnn import CnnConfig, ImageCnnMethod, config_with_defaults, onecycle_profiles
from .registration import register


@dataclass
class ResNetConfig(CnnConfig):
    """The CNN recipe's hyper-parameters and ResNet's own.

    Attributes
    ----------
    plain : bool, default=False
        No shortcuts: the paper's plain net of the same depth (Figure 6).
    """

    plain: bool = False




class ResNetCifar(ImageCnnMethod):
    """The paper's CIFAR ResNet with ``blocks`` basic blocks per stage (6 blocks + 2 layers)."""

    year = 2015
    paper = "He, Zhang, Ren & Sun 2015, Deep residual learning for image recognition (CVPR 2016)"
    input_size = 32
    channel_multiple = 1
    blocks = 3
    ablations = {
        "plain": {"set": {"plain": True}, "change": "no shortcuts: the plain net of the same depth",
                  "expect": "worse",
                  "claim": "residual nets train better than plain ones of the same depth, the more so the deeper: "
                           "plain-56 is worse than plain-20, ResNet-56 better than ResNet-20 (CIFAR-10)",
                  "citation": "He et al. 2015, Figure 6"},
    }
    profiles = onecycle_profiles(0.1, epochs=80, quick_width=0.5, dropout=0.0)  # no dropout in ResNet
    Config = config_with_defaults("ResNetConfig", profiles["full"], base=ResNetConfig)

    def layers(self, c_in, n_classes, rng):
        conv, w = self.conv, self.width
        out = conv("conv1", c_in, w(16), 3, rng, padding=1, bn=True)
        c = w(16)
        for stage, width in enumerate((16, 32, 64), 1):
            for b in range(1, self.blocks + 1):
                stride = 2 if stage > 1 and b == 1 else 1
                c_out, name = w(width), f"s{stage}b{b}"
                body = [*conv(f"{name}_conv1", c, c_out, 3, rng, stride=stride, padding=1, bn=True),
                        *conv(f"{name}_conv2", c_out, c_out, 3, rng, padding=1, bn=True, relu=False)]
                shortcut = [ShortcutA(c, c_out, stride, name="shortcut")] if (stride > 1 or c != c_out) else []
                if self.config.plain:  # the plain net still needs the stage's shapes: no addition at all
                    out += body + [ReLU(True, name=f"{name}_relu")]
                else:
                    out.append(Residual(body, shortcut, name=name))
                c = c_out
        out += [GlobalAvgPool2D(name="pool")]
        return out + self.fc("fc", c, n_classes, rng, output=True)


@register
class ResNet20(ResNetCifar):
    name = "resnet-20"
    history = ("ilsvrc2015-msra", "resnet20-cifar10")
    progression = "resnet"
    summary = "ResNet-20 for CIFAR: 3 stages x 3 basic blocks (16/32/64), BN, option-A shortcuts, 0.27 M params"
    blocks = 3


@register
class ResNet56(ResNetCifar):
    name = "resnet-56"
    history = ("ilsvrc2015-msra", "resnet56-cifar10")
    summary = "ResNet-56 for CIFAR: 3 stages x 9 basic blocks (16/32/64), BN, option-A shortcuts, 0.85 M params"
    blocks = 9
