"""Benchmark: the quick progression on 10 classes of 64-px colour photos, settings that fit the data.

The quick profile was tuned on 28-px digits; on 64-px colour photos its constants (HOG's
4-px cells, pixels-svm at full resolution, dense SIFT's 4-px bins every 2 px) made
``histnet progression`` take 25 minutes. Rules now make those settings follow the image
(hog-svm ``pixels_per_cell=()`` -> max(4, round(side / 8)); pixels-svm ``downscale=0`` ->
ceil(side / 32); dense SIFT and the DBN's input likewise). This script measures whether
the rules do their job:

1. it writes an ImageFolder of 64 x 64 colour JPEGs, 10 classes (default 8,000 train and
   2,000 test), each class a shape or texture (stripes at four orientations, a
   checkerboard, rings, dots, a square, a cross, spokes) at a random position, scale,
   phase and colour over a cluttered background with pixel noise: learnable by
   hand-crafted features and by CNNs, not by the mean colour (colours do not depend on
   the class), and neither trivial nor chance;
2. it runs ``histnet progression -d ROOT --profile quick --out OUT`` in a fresh process
   with ``HISTNET_CACHE=OUT/cache`` (a cold, self-contained run), times the whole
   command, and tabulates each method's top-1 error, fit and predict seconds and the
   settings the rules chose (``result.json`` ``settings``);
3. with ``--compare-today`` it also runs the hand-crafted methods (and pixels-svm) with
   the quick profile's constants from before the rules (``OLD_SETTINGS``, passed as
   ``--set METHOD.NAME=VALUE``) into ``OUT/today``, same cache folder, and tabulates the
   errors side by side.

The bar (the issue's): the whole progression within 15 minutes on two cores, and every
method's error with the rules no worse than with the old constants on the same folder.
The comparison is histnet against itself: the same methods, data, split and seed, old
constant settings versus the rules. Times are of this machine, one run.

Usage::

    python benchmarks/photos64.py --compare-today                       # the full benchmark
    python benchmarks/photos64.py --generate-only --root /tmp/photos64  # only the images
    python benchmarks/photos64.py --root /tmp/p --out /tmp/o --n-train 200 --n-test 100 \\
        --methods pixels-svm,hog-svm --compare-today                    # a two-minute smoke run

Outputs in ``--out``: the progression's run folders, table and figures; ``today/`` (with
``--compare-today``); ``cache/``; ``summary.md`` (the printed tables) and ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: The quick profile's settings from before the rules, per method, as ``--set`` values.
OLD_SETTINGS = {
    "pixels-svm": {"downscale": "1"},
    "hog-svm": {"pixels_per_cell": "4,4"},
    # descriptors_per_word=0: the configured codebook size as is (128 / 256 words, 16 Gaussians)
    "sift-bovw-svm": {"bin_size": "4", "step": "2", "descriptors_per_word": "0"},
    "sift-llc-svm": {"bin_size": "4", "step": "2", "descriptors_per_word": "0"},
    "sift-fisher-svm": {"bin_size": "4", "step": "2", "descriptors_per_word": "0"},
}

BAR_S = 15 * 60  # the whole progression, on two cores
MARKER = "photos64.json"  # written into the image folder: what made it, with which arguments
OUT_MARKER = "photos64-out.json"  # written into --out: this script's output folder
VERSION = 1  # raise when the generator's images change

CLASSES = ["0-stripes-vertical", "1-stripes-diagonal-a", "2-stripes-horizontal", "3-stripes-diagonal-b",
           "4-checkerboard", "5-rings", "6-dots", "7-square", "8-cross", "9-spokes"]
SPLITS = {"train": 0, "test": 1}


class FolderNotOurs(RuntimeError):
    """The folder holds something this script did not write; it is left as it is."""


# -- the images ------------------------------------------------------------------------------------


def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) linear interpolation weights: a smooth field from a coarse one."""
    pos = np.linspace(0, n_in - 1, n_out)
    lo = np.minimum(np.floor(pos).astype(int), n_in - 2)
    frac = pos - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] = 1 - frac
    m[np.arange(n_out), lo + 1] = frac
    return m


def _soft(d, width=1.0):
    """0..1, 1 inside (d < 0), a soft edge ``width`` pixels wide."""
    return 1.0 / (1.0 + np.exp(np.clip(d / width, -30, 30)))


def _rotated(yy, xx, cy, cx, theta):
    """Coordinates relative to (cy, cx) rotated by theta: (u along theta, v across)."""
    dy, dx = yy - cy, xx - cx
    c, s = math.cos(theta), math.sin(theta)
    return dx * c + dy * s, -dx * s + dy * c


def _pattern(k: int, rng, size: int, yy, xx) -> np.ndarray:
    """Class ``k``'s foreground, float in [0, 1]: a shape or a texture inside a soft ellipse."""
    S = float(size)
    cy, cx = S / 2 + rng.uniform(-0.2, 0.2, 2) * S
    r = S * rng.uniform(0.22, 0.40)
    aspect = rng.uniform(0.8, 1.25)
    tilt = rng.uniform(0, math.pi)
    u, v = _rotated(yy, xx, cy, cx, tilt)
    ellipse = _soft(np.sqrt((u / (r * aspect)) ** 2 + (v * aspect / r) ** 2) - 1.0, 0.06)
    phase = rng.uniform(0, 2 * math.pi)
    if k < 4:  # stripes at 0, 45, 90, 135 degrees (+- 12), 3.5 to 7 cycles across the image
        theta = math.radians(45 * k + rng.uniform(-12, 12))
        u, _ = _rotated(yy, xx, cy, cx, theta)
        return ellipse * (0.5 + 0.5 * np.sin(2 * math.pi * rng.uniform(3.5, 7) * u / S + phase))
    if k == 4:  # checkerboard, 8 to 16 px period, turned up to 20 degrees
        period = rng.uniform(8, 16)
        u, v = _rotated(yy, xx, cy, cx, math.radians(rng.uniform(-20, 20)))
        w = 2 * math.pi / period
        return ellipse * (0.5 + 0.5 * np.tanh(3 * np.sin(w * u + phase) * np.sin(w * v + rng.uniform(0, 6.3))))
    if k == 5:  # concentric rings around the centre, 6 to 11 px apart
        d = np.hypot(yy - cy, xx - cx)
        return ellipse * (0.5 + 0.5 * np.sin(2 * math.pi * d / rng.uniform(6, 11) + phase))
    if k == 6:  # 4 to 8 round dots scattered over the ellipse
        out = np.zeros_like(yy)
        for _ in range(rng.integers(4, 9)):
            a, rad = rng.uniform(0, 2 * math.pi), r * math.sqrt(rng.uniform(0, 1))
            py, px = cy + rad * math.sin(a), cx + rad * math.cos(a)
            out = np.maximum(out, _soft(np.hypot(yy - py, xx - px) - rng.uniform(2.5, 4.5), 0.8))
        return out
    if k == 7:  # a filled square at any rotation
        half = r * rng.uniform(0.6, 0.9)
        u, v = _rotated(yy, xx, cy, cx, rng.uniform(0, math.pi / 2))
        return _soft(np.maximum(np.abs(u), np.abs(v)) - half, 0.8)
    if k == 8:  # a plus: two bars, turned up to 20 degrees
        half, bar = r * rng.uniform(0.8, 1.1), rng.uniform(2.5, 4.5)
        u, v = _rotated(yy, xx, cy, cx, math.radians(rng.uniform(-20, 20)))
        h = _soft(np.maximum(np.abs(u) - half, np.abs(v) - bar), 0.8)
        w = _soft(np.maximum(np.abs(v) - half, np.abs(u) - bar), 0.8)
        return np.maximum(h, w)
    # k == 9: 5 to 8 spokes from the centre
    a = np.arctan2(yy - cy, xx - cx)
    return ellipse * (0.5 + 0.5 * np.sign(np.sin(rng.integers(5, 9) * a + phase)))


def _colour_pair(rng):
    """A background and a foreground colour, independent of the class, with a visible contrast."""
    while True:
        bg, fg = rng.uniform(30, 225, 3), rng.uniform(0, 255, 3)
        if abs(fg.mean() - bg.mean()) > 45 or np.abs(fg - bg).max() > 110:
            return bg, fg


def make_image(k: int, rng, size: int = 64) -> np.ndarray:
    """One ``size`` x ``size`` x 3 uint8 image of class ``k`` (0..9), drawn with ``rng``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    bg, fg = _colour_pair(rng)
    m = _interp_matrix(size, 5)  # clutter: a smooth random colour field over the background
    field = np.einsum("ia,abc,jb->ijc", m, rng.normal(0, 1, (5, 5, 3)), m)
    img = bg + rng.uniform(10, 35) * field
    for _ in range(rng.integers(0, 3)):  # distractors: short lines and small blobs of any colour
        col = rng.uniform(0, 255, 3)
        py, px = rng.uniform(0, size, 2)
        if rng.uniform() < 0.5:
            u, v = _rotated(yy, xx, py, px, rng.uniform(0, math.pi))
            alpha = _soft(np.maximum(np.abs(u) - rng.uniform(5, 12), np.abs(v) - 1.0), 0.7)
        else:
            alpha = _soft(np.hypot(yy - py, xx - px) - rng.uniform(2, 5), 0.8)
        a = rng.uniform(0.3, 0.7) * alpha[..., None]
        img = img * (1 - a) + col * a
    p = rng.uniform(0.55, 1.0) * _pattern(k, rng, size, yy, xx)[..., None]
    img = img * (1 - p) + fg * p
    img = img + rng.normal(0, rng.uniform(5, 20), img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _counts(root: Path) -> dict:
    """{split: {class: number of .jpg files}} of what is in ``root``."""
    out = {}
    for split in SPLITS:
        d = root / split
        if d.is_dir():
            out[split] = {c.name: sum(1 for f in c.iterdir() if f.suffix == ".jpg")
                          for c in sorted(d.iterdir()) if c.is_dir()}
    return out


def _expected(n: int) -> dict:
    return {c: len(range(k, n, len(CLASSES))) for k, c in enumerate(CLASSES)}


def generate(root, n_train: int = 8000, n_test: int = 2000, size: int = 64, seed: int = 0,
             quality: int = 90, log=None) -> dict:
    """Write ``root/{train,test}/<class>/NNNN.jpg``: ``n_train`` and ``n_test`` images, 10 classes.

    Image ``i`` of a split is of class ``i % 10`` and drawn from its own generator seeded
    with ``(seed, split, i)``, so a set is the same for a seed whatever the other split's
    size. ``root`` must be missing, empty or an earlier output of this function (it holds
    ``photos64.json``), else :class:`FolderNotOurs`; an earlier output with the same
    arguments and the full counts is kept as it is. Returns the marker's contents (with
    ``generated``: whether images were written now, and ``seconds``).
    """
    from PIL import Image

    root = Path(root)
    params = {"generator": "benchmarks/photos64.py", "version": VERSION, "n_train": int(n_train),
              "n_test": int(n_test), "size": int(size), "seed": int(seed), "quality": int(quality),
              "classes": CLASSES}
    marker = root / MARKER
    if root.exists() and not root.is_dir():
        raise FolderNotOurs(f"{root}: not a folder")
    if root.is_dir() and any(root.iterdir()):
        if not marker.is_file():
            raise FolderNotOurs(f"{root}: folder is not empty and was not written by photos64.py (no {MARKER}); "
                                "give a new or empty folder with --root")
        old = json.loads(marker.read_text())
        want = {"train": _expected(n_train), "test": _expected(n_test)}
        if old.get("complete") and {k: old.get(k) for k in params} == params and _counts(root) == want:
            return {**old, "generated": False, "seconds": 0.0}
        for split in SPLITS:  # an earlier output of this script with other arguments: redo it
            shutil.rmtree(root / split, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({**params, "complete": False}, indent=1) + "\n")
    t0 = time.perf_counter()
    for split, n in (("train", n_train), ("test", n_test)):
        for c in CLASSES:
            (root / split / c).mkdir(parents=True, exist_ok=True)
        width = max(4, len(str(max(n - 1, 0))))
        for i in range(n):
            k = i % len(CLASSES)
            rng = np.random.default_rng([seed, SPLITS[split], i])
            Image.fromarray(make_image(k, rng, size)).save(root / split / CLASSES[k] / f"{i:0{width}d}.jpg",
                                                           quality=quality)
            if log and (i + 1) % 2000 == 0:
                log(f"photos64: {split} {i + 1}/{n}")
    done = {**params, "complete": True}
    marker.write_text(json.dumps(done, indent=1) + "\n")
    return {**done, "generated": True, "seconds": time.perf_counter() - t0}


# -- the runs and their records --------------------------------------------------------------------


def read_records(folder) -> list[dict]:
    """The ``result.json`` of each run folder directly under ``folder``, in historical order."""
    recs = []
    for path in sorted(Path(folder).glob("*/result.json")):
        try:
            recs.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(recs, key=lambda r: (r.get("year") or 0, r.get("method") or ""))


def row_of(rec: dict) -> dict:
    """One table row from a record: method, error, times, settings (resolved, else overrides)."""
    timing = rec.get("timing") or {}
    settings = rec.get("settings") or {}
    return {"method": rec.get("method"), "status": rec.get("status"), "error": rec.get("error"),
            "top1_error": rec.get("top1_error"), "fit_s": timing.get("fit_s"), "predict_s": timing.get("predict_s"),
            "settings": settings, "family": rec.get("family"), "run_id": rec.get("run_id")}


def _fmt_settings(d: dict) -> str:
    if not d:
        return "-"
    return "; ".join(f"{k}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}" for k, v in d.items())


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def _err(row) -> str:
    if row.get("status") != "ok":
        return f"{row.get('status') or 'missing'}"
    return _pct(row["top1_error"])


def run_table(rows: list[dict]) -> str:
    lines = ["| method | top-1 error | fit s | predict s | settings |", "|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {_err(r)} | {_fmt(r['fit_s'], '.1f')} | {_fmt(r['predict_s'], '.2f')} "
                     f"| {_fmt_settings(r['settings'])} |")
    return "\n".join(lines)


def compare_rows(rules: list[dict], today: list[dict], tolerance: float = 0.0) -> list[dict]:
    """Per method of ``today``: error with the rules vs with the old constants, and the verdict."""
    by_method = {r["method"]: r for r in rules}
    out = []
    for t in today:
        r = by_method.get(t["method"])
        ok = r is not None and r["status"] == "ok" and t["status"] == "ok"
        out.append({"method": t["method"], "rules_error": r["top1_error"] if ok else None,
                    "old_error": t["top1_error"] if ok else None,
                    "rules_fit_s": r["fit_s"] if r else None, "old_fit_s": t["fit_s"],
                    "rules_settings": r["settings"] if r else {}, "old_settings": OLD_SETTINGS.get(t["method"], {}),
                    "no_worse": (r["top1_error"] <= t["top1_error"] + tolerance) if ok else None})
    return out


def compare_table(rows: list[dict]) -> str:
    lines = ["| method | error, rules | error, old settings | fit s, rules | fit s, old | rules chose "
             "| old settings | no worse |", "|---|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        verdict = {True: "yes", False: "no", None: "n/a (a run failed)"}[r["no_worse"]]
        lines.append(f"| {r['method']} | {_pct(r['rules_error'])} | {_pct(r['old_error'])} "
                     f"| {_fmt(r['rules_fit_s'], '.1f')} | {_fmt(r['old_fit_s'], '.1f')} "
                     f"| {_fmt_settings(r['rules_settings'])} | {_fmt_settings(r['old_settings'])} | {verdict} |")
    return "\n".join(lines)


def run_progression(root: Path, out: Path, cache: Path, methods=None, sets=(), figures: bool = True) -> dict:
    """``histnet progression -d ROOT --profile quick --out OUT`` in a fresh process; timed."""
    cmd = [sys.executable, "-m", "histnet", "progression", "-d", str(root), "--profile", "quick", "--out", str(out)]
    if methods:
        cmd += ["--methods", methods]
    for s in sets:
        cmd += ["--set", s]
    if not figures:
        cmd.append("--no-figures")
    env = {**os.environ, "HISTNET_CACHE": str(cache)}
    print("$ HISTNET_CACHE=" + str(cache) + " " + " ".join(["histnet", *cmd[3:]]), file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=sys.stderr, stderr=sys.stderr)  # its progress: on our stderr
    return {"command": "histnet " + " ".join(cmd[3:]), "returncode": proc.returncode,
            "wall_s": time.perf_counter() - t0}


def _prepare_out(out: Path, keep: Path) -> None:
    """``out`` is new, empty, or an earlier output of this script: then it is emptied (runs,
    tables, figures and the cache go, so the new run is cold), except ``keep`` (the images)."""
    keep = keep.resolve()
    entries = [p for p in out.iterdir() if not (p.resolve() == keep or p.resolve() in keep.parents)] \
        if out.is_dir() else []
    if entries:
        if not (out / OUT_MARKER).is_file():
            raise FolderNotOurs(f"{out}: folder is not empty and was not written by photos64.py (no {OUT_MARKER}); "
                                "give a new or empty folder with --out")
        print(f"photos64: {out}: an earlier output of this script, emptied", file=sys.stderr, flush=True)
        for p in entries:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / OUT_MARKER).write_text(json.dumps({"writer": "benchmarks/photos64.py"}) + "\n")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=Path("runs/photos64-data"), help="the image folder (written here)")
    ap.add_argument("--out", type=Path, default=Path("runs/photos64"), help="the run folder")
    ap.add_argument("--n-train", type=int, default=8000, help="training images (all classes)")
    ap.add_argument("--n-test", type=int, default=2000, help="test images (all classes)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the images")
    ap.add_argument("--methods", default=None, help="passed to histnet progression --methods (default: all)")
    ap.add_argument("--compare-today", action="store_true",
                    help="also run the methods of OLD_SETTINGS with the quick profile's old constants")
    ap.add_argument("--tolerance", type=float, default=0.0,
                    help="'no worse' allows the rules this much more error (a fraction; default 0)")
    ap.add_argument("--generate-only", action="store_true", help="write the images and stop")
    ap.add_argument("--no-figures", action="store_true", help="pass --no-figures to the progression")
    args = ap.parse_args(argv)
    if args.n_train < 10 or args.n_test < 10:
        ap.error("--n-train and --n-test must be at least 10 (one image per class)")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        gen = generate(args.root, args.n_train, args.n_test, seed=args.seed, log=log)
        log(f"photos64: {args.root}: {args.n_train} train + {args.n_test} test images "
            + (f"written in {gen['seconds']:.1f} s" if gen["generated"] else "already there"))
        if args.generate_only:
            return 0
        _prepare_out(args.out, args.root)
    except FolderNotOurs as e:
        ap.error(str(e))

    cache = args.out / "cache"
    main_run = run_progression(args.root, args.out, cache, args.methods, figures=not args.no_figures)
    rows = [row_of(r) for r in read_records(args.out)]
    within = main_run["wall_s"] <= BAR_S
    text = [f"## photos64: histnet progression --profile quick on {args.n_train:,} train / {args.n_test:,} test "
            f"64-px colour images ({_cores()} cores)", "", run_table(rows), "",
            f"Total wall time of the command: {main_run['wall_s']:.1f} s ({main_run['wall_s'] / 60:.1f} min); "
            f"bar {BAR_S // 60} min on two cores: {'within' if within else 'NOT within'}"
            + (f" (on {_cores()} cores here)" if _cores() != 2 else "") + "."]
    if main_run["returncode"] != 0:
        text.append(f"The progression exited with code {main_run['returncode']}.")
    summary = {"benchmark": "photos64", "root": str(args.root), "out": str(args.out), "n_train": args.n_train,
               "n_test": args.n_test, "seed": args.seed, "cores": _cores(), "bar_s": BAR_S,
               "generate": {k: gen[k] for k in ("generated", "seconds")}, "progression": main_run,
               "within_bar": within, "rows": rows}

    if args.compare_today:
        methods = [r["method"] for r in rows if r["method"] in OLD_SETTINGS]
        sets = [f"{m}.{k}={v}" for m in methods for k, v in OLD_SETTINGS[m].items()]
        if methods:
            today = run_progression(args.root, args.out / "today", cache, ",".join(methods), sets, figures=False)
            today_rows = [row_of(r) for r in read_records(args.out / "today")]
            cmp = compare_rows(rows, today_rows, args.tolerance)
            all_ok = bool(cmp) and all(r["no_worse"] for r in cmp)
            text += ["", "## Rules vs the old constant settings (same folder, split, seed)", "", compare_table(cmp), "",
                     f"Old settings run: {today['wall_s']:.1f} s. Every method no worse with the rules"
                     + (f" (tolerance {100 * args.tolerance:.2f} points)" if args.tolerance else "")
                     + f": {'yes' if all_ok else 'no'}."]
            if today["returncode"] != 0:
                text.append(f"The old-settings progression exited with code {today['returncode']}.")
            summary["today"] = {"progression": today, "rows": today_rows, "compare": cmp, "all_no_worse": all_ok}
        else:
            text += ["", "(--compare-today: none of the methods run has old settings to compare with.)"]
    md = "\n".join(text) + "\n"
    print(md)
    (args.out / "summary.md").write_text(md)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return 0 if main_run["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
