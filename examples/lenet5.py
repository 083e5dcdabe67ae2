"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998) as a histnet method: a whole CNN in one file.

The net of "Gradient-based learning applied to document recognition" (Proc. IEEE 86(11),
doi:10.1109/5.726791) on 32-px input: conv 6@5x5, pool, conv 16@5x5, pool, fc 120, fc 84,
fc n_classes. Modernised as most re-implementations are: ReLU and max pooling instead of
the scaled tanh and trainable subsampling, and a plain softmax output instead of the RBF
layer. Everything else (augmentation, normalisation, training, checkpoints, test crops,
save/load) is the recipe of :class:`histnet.methods.ImageCnnMethod`.

Install it as a plug-in (an entry point in another package) and it appears in
`histnet methods list`, runs with `histnet run lenet-5` and joins `histnet progression`::

    [options.entry_points]
    histnet.methods =
        lenet-5 = lenet5:LeNet5
"""

from histnet.methods import ImageCnnMethod
from histnet.nn import Flatten, MaxPool2D


class LeNet5(ImageCnnMethod):
    name = "lenet-5"
    year = 1998
    paper = "LeCun, Bottou, Bengio & Haffner 1998, Gradient-based learning applied to document recognition"
    summary = "LeNet-5 (32 px): conv 6@5x5 - pool - conv 16@5x5 - pool - fc 120 - fc 84, ReLU"
    input_size = 32
    progression = "lenet-5"  # its own row in `histnet progression`
    profiles = {
        "quick": {"epochs": 3, "batch_size": 64, "lr": 0.05, "schedule": "onecycle", "init": "he",
                  "normalize": "meanstd", "pca_noise": 0.0, "flip": False, "test_crops": "center"},
        "full": {"epochs": 20, "batch_size": 128, "lr": 0.05, "schedule": "onecycle", "init": "he",
                 "normalize": "meanstd", "pca_noise": 0.0, "crop_pad": 2, "flip": False,
                 "test_crops": "center", "min_steps": 1500},
    }

    def layers(self, c_in, n_classes, rng):
        conv, fc, w = self.conv, self.fc, self.width
        body = [
            *conv("conv1", c_in, w(6), 5, rng), MaxPool2D(2, 2, name="pool1"),
            *conv("conv2", w(6), w(16), 5, rng), MaxPool2D(2, 2, name="pool2"),
            Flatten(name="flatten"),
        ]
        return body + [
            *fc("fc3", self.flat_features(body, c_in), w(120), rng),
            *fc("fc4", w(120), w(84), rng),
            *fc("fc5", w(84), n_classes, rng, output=True),
        ]
