"""VGG for CIFAR: Simonyan & Zisserman (2014), "Very deep convolutional networks for
large-scale image recognition", ICLR 2015, arXiv:1409.1556.

VGG's point: stacks of 3x3 convolutions (two 3x3 layers see what one 5x5 sees, with fewer
weights and one more non-linearity) let a net go deep. Configuration A (VGG-11: 8
convolutions in five stacks of 64, 128, 256-256, 512-512, 512-512 filters, each stack ended
by a 2x2 max pool, then three fully connected layers) took second place in ILSVRC 2014 with
7.3% top-5 error in the team's ensemble.

At 32 px the five pools leave a 1x1x512 map, so the fully connected layers are 512-512-n
(ours, not the paper's 4096-4096-1000). Departures, as most CIFAR re-implementations make
them: batch normalisation after every convolution (Ioffe & Szegedy 2015; the paper trained
the deeper configurations by initialising them from A instead) and He initialisation.
The ``full`` profile trains 20 epochs of a one-cycle schedule (peak lr 0.05), the epoch
count of alexnet-cifar and zfnet-cifar, instead of the paper's 74 epochs of step decay on
ImageNet: on a 2-core guest its 20 epochs took 1 h 37 min (143-205 img/s; 30 would take
about 2 h 40 min), and the same number of epochs as the 2012-2013 rows keeps the
comparison about the net. The paper has no CIFAR-10 figure, so the history
column shows the ILSVRC one.
"""

from __future__ import annotations

from ..nn import Flatten, MaxPool2D
from .image_cnn import ImageCnnMethod, config_with_defaults, onecycle_profiles
from .registration import register

#: Configuration A: filters per convolution, "M" a 2x2 max pool.
VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


@register
class VggCifar(ImageCnnMethod):
    name = "vgg-cifar"
    history = ("ilsvrc2014-vgg",)
    year = 2014
    paper = "Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image recognition (ICLR 2015)"
    summary = "VGG-11 (configuration A) at 32 px: stacks of 3x3 convolutions with BN, FC 512-512"
    input_size = 32
    channel_multiple = 1
    progression = "vgg"
    profiles = onecycle_profiles(0.05, epochs=20, quick_width=0.25)
    Config = config_with_defaults("VggConfig", profiles["full"])

    def layers(self, c_in, n_classes, rng):
        body, c, pools = [], c_in, 0
        for i, v in enumerate(VGG11, 1):
            if v == "M":
                pools += 1
                body.append(MaxPool2D(2, 2, name=f"pool{pools}"))
            else:
                body += self.conv(f"conv{i - pools}", c, self.width(v), 3, rng, padding=1, bn=True)
                c = self.width(v)
        body.append(Flatten(name="flatten"))
        fc, w = self.fc, self.width
        return body + [
            # weight layers 9-11 of the 11 (layers are numbered as the paper counts them)
            *fc("fc9", self.flat_features(body, c_in), w(512), rng), *self.dropout("drop9"),
            *fc("fc10", w(512), w(512), rng), *self.dropout("drop10"),
            *fc("fc11", w(512), n_classes, rng, output=True),
        ]
