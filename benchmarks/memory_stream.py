"""Peak memory of decoding, caching and streaming an image folder, as the folder grows.

The dataset module promises that memory does not grow with the number of images: a
folder of JPEGs is decoded in batches into a memory-mapped ``.npy`` (the decoded-image
cache) and then streamed in batches from that map. This benchmark checks it:

1. it writes ImageFolders of N small JPEGs (default N = 5,000 and 40,000; 10 classes,
   36 x 36 RGB, a smooth pattern plus noise so they compress like photos);
2. for each N, a fresh Python process decodes and caches the folder with
   ``load_splits(folder, image_size=32)`` and reports its peak RSS (``ru_maxrss``);
3. another fresh process opens the finished cache and streams every training image in
   batches of 256 (summing the pixels so every byte is read), and reports its peak RSS.

It prints one JSON line: per N the decode/stream times and peak RSS, the decoded array
size (what holding the set in memory would cost), and the ratios of the largest to the
smallest N. Flat memory means ``stream_rss_ratio`` and ``decode_rss_ratio`` near 1 while
``n_ratio`` is 8. Times are of this machine, one run; only the RSS ratios are claims.

Usage::

    python benchmarks/memory_stream.py [--sizes 5000,40000] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def make_folder(root: Path, n: int, size: int = 36, n_classes: int = 10, seed: int = 0) -> Path:
    """ImageFolder with ``n`` training JPEGs and 10 per class in val/."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for split, count in (("train", n), ("val", 10 * n_classes)):
        for c in range(n_classes):
            (root / split / f"class{c:02d}").mkdir(parents=True, exist_ok=True)
        for i in range(count):
            c = i % n_classes
            phase = rng.uniform(0, 6.28, size=3)
            base = 127 + 100 * np.sin(xx[..., None] / (3 + c) + yy[..., None] / 7 + phase)
            img = np.clip(base + rng.normal(0, 12, size=base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / split / f"class{c:02d}" / f"{i:06d}.jpg", quality=85)
    return root


def child_decode(folder: str, cache_dir: str, image_size: int) -> dict:
    from histnet.data import load_splits

    t = time.perf_counter()
    s = load_splits(folder, image_size=image_size, cache_dir=cache_dir)
    return {"decode_s": time.perf_counter() - t, "n": len(s.train), "decode_peak_rss_mb": peak_rss_mb(),
            "decoded_bytes": int(np.prod(s.train.images.shape))}


def child_stream(folder: str, cache_dir: str, image_size: int, batch_size: int) -> dict:
    from histnet.data import load_splits

    s = load_splits(folder, image_size=image_size, cache_dir=cache_dir)
    t = time.perf_counter()
    total, seen = 0, 0
    for x, _ in s.train.batches(batch_size=batch_size):
        total += int(x.sum(dtype=np.int64))
        seen += len(x)
    return {"stream_s": time.perf_counter() - t, "streamed": seen, "pixel_sum": total,
            "stream_peak_rss_mb": peak_rss_mb()}


def child_baseline() -> dict:
    import histnet.data  # noqa: F401  the same imports as the other children
    from PIL import Image  # noqa: F401

    return {"baseline_rss_mb": peak_rss_mb()}


def run_child(*args) -> dict:
    out = subprocess.run([sys.executable, str(HERE), "--child", *map(str, args)], check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(HERE.parents[1])})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="5000,40000", help="comma-separated image counts")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workdir", default=None, help="where folders and caches go (default: a temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the generated folders and caches")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.child:
        kind, *rest = a.child
        if kind == "decode":
            res = child_decode(rest[0], rest[1], int(rest[2]))
        elif kind == "stream":
            res = child_stream(rest[0], rest[1], int(rest[2]), int(rest[3]))
        else:
            res = child_baseline()
        print(json.dumps(res))
        return

    sizes = sorted(int(s) for s in a.sizes.split(","))
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="histnet-memstream-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        base = run_child("baseline")
        for n in sizes:
            folder = work / f"folder_{n}"
            cache = work / f"cache_{n}"
            t = time.perf_counter()
            if not (folder / "train").is_dir():
                make_folder(folder, n)
            gen_s = time.perf_counter() - t
            shutil.rmtree(cache, ignore_errors=True)
            dec = run_child("decode", folder, cache, a.image_size)
            st = run_child("stream", folder, cache, a.image_size, a.batch_size)
            results.append({"n_images": n, "generate_s": round(gen_s, 2), **{k: round(v, 2) if isinstance(v, float)
                            else v for k, v in {**dec, **st}.items()}})
    finally:
        if not a.keep and not a.workdir:
            shutil.rmtree(work, ignore_errors=True)
    small, large = results[0], results[-1]
    print(json.dumps({
        "benchmark": "memory_stream", "machine": platform.node(), "cpus": os.cpu_count(),
        "python": platform.python_version(), "image_size": a.image_size, "batch_size": a.batch_size,
        "baseline_rss_mb": round(base["baseline_rss_mb"], 1), "results": results,
        "n_ratio": large["n_images"] / small["n_images"],
        "decoded_bytes_ratio": large["decoded_bytes"] / small["decoded_bytes"],
        "decode_rss_ratio": round(large["decode_peak_rss_mb"] / small["decode_peak_rss_mb"], 3),
        "stream_rss_ratio": round(large["stream_peak_rss_mb"] / small["stream_peak_rss_mb"], 3),
    }))


if __name__ == "__main__":
    main()
