"""Speed benchmark: histnet's batched HOG against OpenCV's HOGDescriptor and scikit-image.

Input (as the peer anchor measurement this project compares with): 1,000 windows of
64 x 128 pixels (width x height), uint8 crops at random offsets of
``skimage.data.camera()``. Descriptor: 9 unsigned orientations, 8 x 8-pixel cells,
2 x 2-cell blocks with a one-cell stride, L2-Hys: 3,780 values per window for all three.

* **ours**: ``histnet.features.hog`` on the whole batch at once (one call, uint8 in), with the
  options OpenCV's default descriptor computes, those of Dalal & Triggs (2005): square-root
  gamma, a Gaussian block window and trilinear vote interpolation (``transform_sqrt``,
  ``block_window``, ``interpolation="trilinear"``). This is the like-for-like setting;
* **peer**: ``cv2.HOGDescriptor().compute`` window by window (OpenCV < 5; 5.0 dropped the
  class), sequential, OpenCV's own threads as configured (it uses one core: its CPU time
  equals its wall time);
* **ours_default**: histnet with scikit-image's recipe (the ``hog-svm`` method's: no gamma,
  no window, bilinear orientation votes), which does less work per window than OpenCV;
* **skimage**: ``skimage.feature.hog`` window by window on float32 in [0, 1], the same
  recipe as ``ours_default``.

Prints one JSON line with the best per-window times (milliseconds) over ``--reps``, the
repeats of ours, ours_default and the peer alternating (a guest that slows down during the
run slows all three alike; scikit-image, much slower, is timed after them)::

    {"ours": ..., "peer": ..., "ratio": ..., "ours_default": ..., "ratio_default": ...,
     "skimage": ..., "ratio_skimage": ..., ...}

``ratio`` is peer / ours (the paper's options on both sides), ``ratio_default`` is peer /
ours_default (kept for the earlier table; not like for like) and ``ratio_skimage`` is
skimage / ours_default (the same recipe on both sides).

The ratio depends on the CPU more than most: the paper's options need every pixel's gradient
angle, and numpy's float32 ``arctan2`` is vectorised only with AVX-512. Elsewhere histnet
takes the angles from a polynomial (``histnet/features/_angles.py``), which halved the time on
an AVX2-only guest, where the ratio was still 0.65-0.78 against 1.03-1.38 on the earlier guests
(``results/speed.md``).

**ratio = peer / ours, so ratio > 1 means histnet is faster.** ``--device gpu`` times
histnet on the GPU (images moved there before the clock starts, clock stopped after a
device synchronisation).

Run:  python benchmarks/speed_hog.py [--n 1000] [--reps 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from _timing import best_time, best_times  # sibling module: benchmarks/_timing.py


def windows(n: int, h: int = 128, w: int = 64, seed: int = 0) -> np.ndarray:
    """(n, h, w) uint8 crops of skimage's camera image at random offsets."""
    from skimage.data import camera

    img = camera()
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, img.shape[0] - h + 1, n)
    xs = rng.integers(0, img.shape[1] - w + 1, n)
    return np.stack([img[y:y + h, x:x + w] for y, x in zip(ys, xs)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="number of 64x128 windows")
    ap.add_argument("--reps", type=int, default=3, help="timed repeats (best is reported)")
    ap.add_argument("--device", default="cpu", help="histnet device: cpu, gpu, auto")
    ap.add_argument("--skimage-n", type=int, default=200, help="windows timed for scikit-image (it is slow)")
    args = ap.parse_args(argv)

    import skimage
    from skimage.feature import hog as sk_hog

    from histnet.backend import get_backend, to_host
    from histnet.features.hog import hog

    imgs = windows(args.n)
    backend = get_backend(args.device)
    xp = backend.xp
    sync = (lambda: xp.cuda.Stream.null.synchronize()) if xp.__name__ == "cupy" else (lambda: None)
    dev = backend.asarray(imgs)
    params = dict(orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm="L2-Hys")
    res = {"n": args.n, "window": "64x128", "device": backend.describe(), "skimage_version": skimage.__version__}

    paper = dict(params, transform_sqrt=True, block_window=True, interpolation="trilinear")
    fns = {"ours": lambda: hog(dev, **paper), "ours_default": lambda: hog(dev, **params)}
    try:
        import cv2
    except ImportError:  # pragma: no cover - bench extra not installed
        cv2 = None
    has_peer = cv2 is not None and hasattr(cv2, "HOGDescriptor")
    if has_peer:
        hd = cv2.HOGDescriptor()  # 64x128 window, 16x16 blocks, stride 8, 8x8 cells, 9 bins, L2-Hys
        fns["peer"] = lambda: [hd.compute(im) for im in imgs]
    times = best_times(fns, args.reps, {"ours": sync, "ours_default": sync})
    ms = {k: t / args.n * 1e3 for k, t in times.items()}
    ours, ours_default = ms["ours"], ms["ours_default"]
    res.update(ours=round(ours, 5), ours_default=round(ours_default, 5),
               feature_dim=int(to_host(hog(dev[:1], **paper)).shape[1]))
    if has_peer:
        peer = ms["peer"]
        res.update(peer=round(peer, 5), ratio=round(peer / ours, 3), ratio_default=round(peer / ours_default, 3),
                   cv2_version=cv2.__version__, cv2_threads=cv2.getNumThreads())
    else:
        res.update(peer=None, ratio=None,
                   note="cv2.HOGDescriptor unavailable (OpenCV >= 5 or not installed): pip install 'opencv-python-headless<5'")

    sub = imgs[:args.skimage_n].astype(np.float32) / 255.0
    sk = best_time(lambda: [sk_hog(im, **params) for im in sub], max(1, args.reps - 1)) / len(sub) * 1e3
    res.update(skimage=round(sk, 5), ratio_skimage=round(sk / ours_default, 3))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
