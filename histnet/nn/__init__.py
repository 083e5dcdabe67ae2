"""histnet's neural-network engine: layers with explicit forward/backward, losses,
SGD, schedules and one Trainer, on numpy or cupy (see :mod:`histnet.backend`).

API (stable; the DBN fine-tuning and the AlexNet methods are built on it)::

    from histnet.nn import Sequential, Linear, Sigmoid, ReLU, Dropout, SGD, Trainer
    from histnet.nn import softmax_cross_entropy, make_schedule

    # layers: params/grads are dicts of xp arrays with the same keys;
    # forward caches what backward reads; backward OVERWRITES layer.grads.
    layer = Linear(784, 500, init="he"|"glorot"|"normal", std=0.01, bias=0.0, rng=seed, xp=np)
    y = layer.forward(x, train=True)          # x (N, 784) -> y (N, 500)
    dx = layer.backward(dy)                   # fills layer.grads["W"] (784, 500), ["b"] (500,)
    # W is (in, out), y = x @ W + b, so an RBM's W (n_visible, n_hidden) drops in:
    #   layer.params["W"][...] = rbm_W; layer.params["b"][...] = rbm_hidden_bias

    model = Sequential([Linear(784, 500), Sigmoid(), Linear(500, 10)])
    model.forward(x, train) / model.backward(dlogits) / model.layers
    model.parameters()        -> [(qualified_name, param, grad)]   e.g. "0_linear.W"
    model.state_dict()        -> {qualified_name: host numpy array}
    model.load_state_dict(d)  # CheckpointError naming what differs
    model.set_rng(xp.random.default_rng(seed))   # dropout masks (the Trainer does this)

    loss, dlogits = softmax_cross_entropy(logits, labels)   # mean over the batch; loss a float
    opt = SGD(model, lr=0.01, momentum=0.9, weight_decay=5e-4)  # v <- m v - wd lr w - lr g; w += v
    sched = make_schedule("constant"|"plateau"|"step"|"cosine"|"onecycle", lr, **kw)
    history = Trainer(model, opt, sched, preprocess=fn, progress=cb).fit(
        train, val, epochs=E, batch_size=B, seed=0, checkpoint_path=None, resume=False)
    # train/val: a histnet Dataset or a tuple (X, y) of host arrays;
    # preprocess(images, labels, rng, train) -> (x, y) device arrays (default: float32 to device)
    # history: [{"epoch", "train_loss", "train_error", "val_error", "lr", "seconds"}, ...]
    # Trainer.predict(data) -> host outputs; Trainer.error(data) -> top-1 error

Convolutional layers (images NHWC): :class:`Conv2D`, :class:`MaxPool2D`, :class:`LRN`,
:class:`Flatten`; output sizes from :func:`conv_output_size`. After 2012: :class:`BatchNorm`
(:mod:`.norm`), :class:`Residual`, :class:`ShortcutA` and :class:`GlobalAvgPool2D`
(:mod:`.blocks`).
"""

from .blocks import GlobalAvgPool2D, Residual, ShortcutA
from .conv import Conv2D, col2im, conv_output_size, im2col
from .core import Dropout, Flatten, Layer, Linear, ReLU, Sequential, Sigmoid, Tanh, check_signature
from .init import init_bias, init_weight
from .lrn import LRN
from .losses import log_softmax, softmax, softmax_cross_entropy
from .norm import BatchNorm
from .optim import SGD
from .pool import MaxPool2D
from .schedules import (ConstantLR, CosineLR, OneCycleLR, PlateauLR, Schedule, StepLR,
                        make_schedule)
from .trainer import Trainer

__all__ = [
    "Conv2D", "MaxPool2D", "LRN", "conv_output_size", "im2col", "col2im",
    "BatchNorm", "Residual", "ShortcutA", "GlobalAvgPool2D",
    "Layer", "Linear", "ReLU", "Sigmoid", "Tanh", "Dropout", "Flatten", "Sequential",
    "check_signature", "init_weight", "init_bias", "softmax", "log_softmax",
    "softmax_cross_entropy", "SGD", "Schedule", "ConstantLR", "PlateauLR", "StepLR", "CosineLR",
    "OneCycleLR", "make_schedule", "Trainer",
]
