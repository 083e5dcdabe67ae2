"""Training and inference speed of histnet's AlexNet against PyTorch on the CPU, in one run.

The peer is PyTorch (CPU build) running the same network (the ``alexnet-cifar`` net, the
PyTorch reference run's; and the paper's 227-px ``alexnet`` with the same
two-group convolutions) on the same random batch, with the same number of threads as
numpy's BLAS. Repeats of the two alternate, so a noisy machine slows both alike; the best
repeat of each is reported (machine noise only ever slows a run down).

A training step is forward + softmax cross-entropy + backward + one SGD step (lr 0.01,
momentum 0.9, no weight decay, as the anchor). Dropout is active in both.

Prints one JSON line::

    {"ours_img_s": ..., "peer_img_s": ..., "ratio": ...,          # alexnet-cifar training
     "ours_infer_img_s": ..., "peer_infer_img_s": ..., "infer_ratio": ...,
     "alexnet227": {"ours_train_img_s", "peer_train_img_s", "ours_infer_img_s", "peer_infer_img_s"},
     "resnet20": {"ours_train_img_s", "peer_train_img_s", "train_ratio", ...},   # same batch
     "threads": ..., "batch": ..., "machine": ...}

Usage::

    python benchmarks/speed_cnn.py [--batch 128] [--steps 5] [--reps 3] [--skip-227] [--profile] [--layouts]

``--profile`` adds a per-layer time breakdown of one histnet training step (stderr);
``--layouts`` times conv1+conv2 forward in NHWC (histnet's layout) against NCHW.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time

import histnet  # noqa: F401  first, as in the CLI: it sets OpenBLAS's idle timeout before numpy loads it
import numpy as np

from histnet.evaluate import machine_info
from histnet.methods import get_method, make_config
from histnet.nn import SGD, softmax_cross_entropy


def blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info

        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    except Exception:
        import os

        return os.cpu_count() or 1


def histnet_net(name, n_classes=10):
    cls = get_method(name)
    m = cls(make_config(cls, {"init": "he"}))
    return m.build(3, n_classes)


def torch_resnet(blocks=3, n_classes=10):
    """He et al.'s CIFAR ResNet in PyTorch, as histnet builds it: option-A shortcuts (every
    second pixel, new channels zero), conv without bias + BN, global average pooling."""
    import torch
    import torch.nn as nn

    class ShortcutA(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.pad, self.stride = c_out - c_in, stride

        def forward(self, x):
            x = x[:, :, ::self.stride, ::self.stride]
            return nn.functional.pad(x, (0, 0, 0, 0, 0, self.pad)) if self.pad else x

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                                      nn.ReLU(inplace=True), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(c_out))
            self.short = ShortcutA(c_in, c_out, stride) if stride > 1 or c_in != c_out else nn.Identity()

        def forward(self, x):
            return torch.relu(self.body(x) + self.short(x))

    layers, c = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True)], 16
    for stage, width in enumerate((16, 32, 64)):
        for b in range(blocks):
            layers.append(Block(c, width, 2 if stage and not b else 1))
            c = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, n_classes))


def torch_net(name, n_classes=10):
    import torch.nn as nn

    if name == "resnet-20":
        return torch_resnet(3, n_classes)

    def lrn(alpha):
        return nn.LocalResponseNorm(5, alpha=alpha, beta=0.75, k=2.0)

    if name == "alexnet-cifar":
        return nn.Sequential(
            nn.Conv2d(3, 64, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, padding=1), lrn(1e-4),
            nn.Conv2d(64, 64, 5, padding=2), nn.ReLU(inplace=True), lrn(1e-4), nn.MaxPool2d(3, 2, padding=1),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, padding=1),
            nn.Flatten(), nn.Linear(2048, 384), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(384, 192), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(192, n_classes))
    # the paper's net with its two-GPU groups; paper alpha 1e-4 = PyTorch alpha 5e-4
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), lrn(5e-4), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(5e-4), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Linear(9216, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(4096, n_classes))


class Ours:
    def __init__(self, name, x, y):
        self.net = histnet_net(name)
        self.net.set_rng(np.random.default_rng(0))
        self.opt = SGD(self.net, lr=0.01, momentum=0.9, weight_decay=0.0)
        self.x, self.y = x, y

    def train_step(self):
        out = self.net.forward(self.x, train=True)
        _, d = softmax_cross_entropy(out, self.y)
        self.net.backward(d)
        self.opt.step()

    def infer(self):
        self.net.forward(self.x, train=False)


class Peer:
    def __init__(self, name, x, y):
        import torch

        self.torch = torch
        torch.manual_seed(0)
        self.net = torch_net(name)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01, momentum=0.9)
        self.x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        self.y = torch.from_numpy(y)

    def train_step(self):
        self.net.train()
        self.opt.zero_grad(set_to_none=True)
        self.torch.nn.functional.cross_entropy(self.net(self.x), self.y).backward()
        self.opt.step()

    def infer(self):
        self.net.eval()
        with self.torch.inference_mode():
            self.net(self.x)


def race(ours, peer, what, batch, steps, reps):
    """Best images/s of each over ``reps`` alternating repeats of ``steps`` calls."""
    best = {"ours": 0.0, "peer": 0.0}
    for side in (ours, peer):
        getattr(side, what)()  # warm-up
    for _ in range(reps):
        for key, side in (("ours", ours), ("peer", peer)):
            t = time.perf_counter()
            for _ in range(steps):
                getattr(side, what)()
            best[key] = max(best[key], batch * steps / (time.perf_counter() - t))
    return best


def compare(name, x, y, steps, reps, profile=False, digits=1) -> dict:
    """Training and inference images/s of ``name`` in histnet and PyTorch on one batch, and the ratios."""
    ours, peer = Ours(name, x, y), Peer(name, x, y)
    if profile:
        ours.train_step()
        profile_step(ours)
    t = race(ours, peer, "train_step", len(x), steps, reps)
    i = race(ours, peer, "infer", len(x), 2 * steps if digits == 2 else 3 * steps, reps)
    return {"batch": len(x), "ours_train_img_s": round(t["ours"], digits), "peer_train_img_s": round(t["peer"], digits),
            "train_ratio": round(t["ours"] / t["peer"], 3), "ours_infer_img_s": round(i["ours"], digits),
            "peer_infer_img_s": round(i["peer"], digits), "infer_ratio": round(i["ours"] / i["peer"], 3)}


def profile_step(ours, file=sys.stderr):
    """Per-layer forward/backward time of one histnet training step."""
    prof = collections.Counter()
    net, h = ours.net, ours.x
    for layer in net.layers:
        t = time.perf_counter()
        h = layer.forward(h, train=True)
        prof[f"{layer.name} fwd"] += time.perf_counter() - t
    _, d = softmax_cross_entropy(h, ours.y)
    for layer in reversed(net.layers):
        t = time.perf_counter()
        d = layer.backward(d)
        prof[f"{layer.name} bwd"] += time.perf_counter() - t
    t = time.perf_counter()
    ours.opt.step()
    prof["sgd step"] += time.perf_counter() - t
    total = sum(prof.values())
    print(f"histnet training step: {total * 1e3:.0f} ms", file=file)
    for k, v in prof.most_common():
        if v / total >= 0.005:
            print(f"  {k:14s} {v * 1e3:8.1f} ms  {100 * v / total:5.1f}%", file=file)


def layout_comparison(batch=128, reps=3):
    """Forward im2col + GEMM of alexnet-cifar's conv1 and conv2 in NHWC and in NCHW (ms, best).

    NHWC is what histnet uses (:func:`histnet.nn.conv.im2col`). The NCHW variant builds
    patches as (N, Ho, Wo, C, kh, kw) from an NCHW array, the natural order there, and
    transposes the GEMM output back to NCHW, as an NCHW layer must.
    """
    from histnet.nn.conv import im2col, pad_hw

    def nchw(x, w, k, pad):  # x (N, C, H, W), w (F, C, k, k)
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        n, c, h, wd = x.shape
        sn, sc, sh, sw = xp.strides
        v = np.lib.stride_tricks.as_strided(xp, (n, h, wd, c, k, k), (sn, sh, sw, sc, sh, sw))
        y = np.ascontiguousarray(v).reshape(n * h * wd, -1) @ w.reshape(w.shape[0], -1).T
        return np.ascontiguousarray(y.reshape(n, h, wd, -1).transpose(0, 3, 1, 2))

    def nhwc(x, w, k, pad):  # x (N, H, W, C), w (F, k, k, C)
        n, h, wd, _ = x.shape
        cols = im2col(pad_hw(x, pad), k, k, 1, h, wd)
        return cols.reshape(n * h * wd, -1) @ w.reshape(w.shape[0], -1).T

    rng = np.random.default_rng(0)
    out = {}
    for name, (c, f, size) in {"conv1": (3, 64, 32), "conv2": (64, 64, 16)}.items():
        x = rng.standard_normal((batch, size, size, c)).astype(np.float32)
        w = rng.standard_normal((f, 5, 5, c)).astype(np.float32)
        xc, wc = np.ascontiguousarray(x.transpose(0, 3, 1, 2)), np.ascontiguousarray(w.transpose(0, 3, 1, 2))
        best = {"nhwc": 1e9, "nchw": 1e9}
        for _ in range(reps):
            for key, fn, args in (("nhwc", nhwc, (x, w)), ("nchw", nchw, (xc, wc))):
                t = time.perf_counter()
                fn(*args, 5, 2)
                best[key] = min(best[key], time.perf_counter() - t)
        out[name] = {k: round(v * 1e3, 1) for k, v in best.items()}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5, help="training steps per timed repeat")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--skip-227", action="store_true", help="skip the 227-px alexnet comparison")
    ap.add_argument("--skip-resnet", action="store_true", help="skip the resnet-20 comparison")
    ap.add_argument("--batch-227", type=int, default=32)
    ap.add_argument("--profile", action="store_true", help="per-layer breakdown on stderr")
    ap.add_argument("--layouts", action="store_true",
                    help="also time conv1+conv2 forward (im2col + GEMM) in NHWC and NCHW")
    args = ap.parse_args(argv)

    import torch

    from histnet.nn import parallel

    threads = blas_threads()
    torch.set_num_threads(threads)
    parallel.set_threads(threads)  # histnet's elementwise layer threads, like PyTorch's
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 10, args.batch)
    ours, peer = Ours("alexnet-cifar", x, y), Peer("alexnet-cifar", x, y)
    if args.profile:
        ours.train_step()
        profile_step(ours)
    train = race(ours, peer, "train_step", args.batch, args.steps, args.reps)
    infer = race(ours, peer, "infer", args.batch, args.steps * 3, args.reps)
    res = {
        "ours_img_s": round(train["ours"], 1), "peer_img_s": round(train["peer"], 1),
        "ratio": round(train["ours"] / train["peer"], 3),
        "ours_infer_img_s": round(infer["ours"], 1), "peer_infer_img_s": round(infer["peer"], 1),
        "infer_ratio": round(infer["ours"] / infer["peer"], 3),
    }
    if not args.skip_227:
        b = args.batch_227
        x2 = rng.standard_normal((b, 227, 227, 3)).astype(np.float32)
        res["alexnet227"] = compare("alexnet", x2, rng.integers(0, 10, b), 1, 2, args.profile, digits=2)
    if not args.skip_resnet:  # batch norm and residual adds held to the same standard
        res["resnet20"] = compare("resnet-20", x, y, args.steps, args.reps, args.profile)
    if args.layouts:
        res["layout_ms"] = layout_comparison(args.batch)
    res.update({"threads": threads, "batch": args.batch, "torch": torch.__version__,
                "numpy": np.__version__, "cpu": machine_info()["cpu"]})
    print(json.dumps(res))


if __name__ == "__main__":
    main()
