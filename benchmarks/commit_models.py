"""Ship a trained model with the committed results, checked against its record.

For a finished run folder (its ``result.json`` and ``model.npz``) this script

1. refuses a run whose record's confusion matrix is not the committed record's (a rerun on
   another machine can move a few predictions: its model would not be the record's);
   loads the model and scores the whole test split of the data set the record names
   (``--data`` gives where that folder is on this machine), and checks that the top-1 error
   is the record's, to the last image: the model is the one the record measured;
2. with ``--compact``, writes the large float32 arrays as float16
   (:func:`histnet.methods.saved.compact_model`), scores that copy the same way, and keeps
   it only if **every** test prediction is unchanged; otherwise (and without ``--compact``)
   it ships the float32 arrays compressed, checked equal to the run's, and says how many
   predictions float16 moved;
3. copies the kept file to ``INTO/model.npz`` (``INTO`` is the committed run folder, the one
   whose ``result.json`` the model belongs to) and writes ``INTO/model-check.json``: the
   file's SHA-256, its dtype, the full-test-split error of float32 and kept copy, and the
   first 100 test images (file names, labels, the kept model's predictions and their
   error), which ``tests/test_committed_models.py`` checks through ``histnet predict`` on
   the copies of those images in ``results/samples/`` (``--samples`` writes them);
4. records the SHA-256 in ``results/models.sha256`` (``sha256sum -c`` format).

Usage (from the repository root; DATA is where the CIFAR-10 JPEG folder lives)::

    python benchmarks/commit_models.py RUN --data DATA/cifar10-jpg \\
        --into results/progression-cifar10/alexnet-cifar__cifar10-jpg__seed0__e06b5017 \\
        --compact --samples results/samples/cifar10-jpg-test-first100

Nothing here is timed; the check is exact agreement.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
N_FIRST = 100


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def score(model_file: Path, test) -> np.ndarray:
    """Predicted class of every test image (the method's own test protocol)."""
    from histnet.experiment import predict_in_batches
    from histnet.methods.saved import load_model

    method = load_model(model_file)
    return np.asarray(predict_in_batches(method, test)).argmax(axis=1)


def update_checksums(listing: Path, file: Path, digest: str) -> None:
    """Set ``file``'s line in ``listing`` (paths relative to the listing's folder)."""
    rel = file.resolve().relative_to(listing.parent.resolve()).as_posix()
    lines = listing.read_text().splitlines() if listing.exists() else []
    lines = [ln for ln in lines if ln.split("  ", 1)[-1] != rel] + [f"{digest}  {rel}"]
    listing.write_text("\n".join(sorted(lines, key=lambda ln: ln.split("  ", 1)[-1])) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="the finished run folder holding result.json and model.npz")
    ap.add_argument("--data", required=True, help="the data set folder (or name) the record was measured on")
    ap.add_argument("--into", type=Path, required=True, help="the committed run folder the model joins")
    ap.add_argument("--compact", action="store_true", help="try float16 weights; kept only if no prediction moves")
    ap.add_argument("--drop", action="append", default=[], metavar="PREFIX",
                    help="leave out state arrays prediction does not use (the DBN's RBMs: rbm/); repeatable")
    ap.add_argument("--samples", type=Path, default=None,
                    help="copy the first 100 test images here (class/file layout) for the test suite")
    ap.add_argument("--checksums", type=Path, default=ROOT / "results" / "models.sha256")
    args = ap.parse_args(argv)

    from histnet.data import load_splits
    from histnet.data.folder import read_imagefolder
    from histnet.io import load_npz
    from histnet.methods.saved import compact_model, model_path

    record = json.loads((args.run / "result.json").read_text())
    committed = json.loads((args.into / "result.json").read_text())
    if record.get("status") != "ok":
        sys.exit(f"Error: {args.run}: the run did not finish (status {record.get('status')})")
    mine, theirs = (record.get("metrics") or {}).get("confusion"), (committed.get("metrics") or {}).get("confusion")
    if args.run.resolve() != args.into.resolve() and mine != theirs:
        sys.exit(f"Error: {args.run}'s record has another confusion matrix than {args.into}'s (top-1 "
                 f"{100 * record['top1_error']:.2f}% against {100 * committed['top1_error']:.2f}%): its model is not "
                 "the committed record's; commit the new record with it instead")
    src = model_path(args.run)
    info = json.loads(str(load_npz(src, "model file")["meta"])).get("info") or {}
    if not (info.get("class_names") and info.get("image_shape")):
        sys.exit(f"Error: {src} does not say what images it was trained on (no class names or image shape): "
                 "`histnet predict` could not use it; save it with histnet.experiment.save_model")
    test = load_splits(args.data, **{k: v for k, v in (record.get("data_options") or {}).items()
                                     if v is not None}).test
    pred32 = score(src, test)
    labels = np.asarray(test.labels)
    err32 = float((pred32 != labels).mean())
    print(f"float32 model: top-1 error {100 * err32:.2f}% on {len(labels):,} test images; "
          f"this run's record {100 * record['top1_error']:.2f}%, the committed record "
          f"{100 * committed['top1_error']:.2f}%")
    if abs(err32 - record["top1_error"]) > 0.5 / len(labels):
        sys.exit("Error: the model does not reproduce its own record's error")

    target = args.into / "model.npz"
    dtype, pred = "float32", pred32
    check = {"float32_top1_error": err32}
    if args.compact:
        with tempfile.TemporaryDirectory() as tmp:
            small = Path(tmp) / "model.npz"
            info = compact_model(src, small, drop=tuple(args.drop))
            pred16 = score(small, test)
            moved = int((pred16 != pred32).sum())
            check.update(float16_top1_error=float((pred16 != labels).mean()), float16_changed_predictions=moved,
                         bytes_float32=info["bytes"][0], bytes_float16=info["bytes"][1])
            print(f"float16 copy: {info['bytes'][1]:,} bytes (float32 {info['bytes'][0]:,}); "
                  f"{moved} of {len(labels):,} test predictions changed")
            if moved == 0:
                dtype, pred = "float16", pred16
                shutil.copyfile(small, target)
    if dtype == "float32":  # lossless: the same float32 arrays, only compressed
        compact_model(src, target, dtype="float32", drop=tuple(args.drop))
        original, written = load_npz(src), load_npz(target)
        if any(not np.array_equal(original[k], written[k]) for k in written if k != "meta"):
            sys.exit(f"Error: {target}: the compressed copy's arrays differ from {src}'s")
        dtype = "float32 (compressed)"
    check["bytes_shipped"] = target.stat().st_size
    digest = sha256(target)

    names = list(test.class_names)
    if Path(args.data).is_dir() and (Path(args.data) / "test").is_dir():  # an ImageFolder: its own files
        split = read_imagefolder(Path(args.data))["test"]
        first = [Path(f) for f in split.files[:N_FIRST]]
        if not np.array_equal(np.asarray(split.labels[:N_FIRST]), labels[:N_FIRST]):
            sys.exit("Error: the folder's file order is not the loader's test order")
        files = [f"{names[int(y)]}/{f.name}" for f, y in zip(first, labels[:N_FIRST])]
    else:  # arrays (MNIST's IDX files): the first test images written as lossless PNGs
        first = None
        files = [f"{names[int(y)]}/{i:05d}.png" for i, y in enumerate(labels[:N_FIRST])]
    check.update(
        model="model.npz", sha256=digest, dtype=dtype, top1_error=float((pred != labels).mean()),
        record_top1_error=committed["top1_error"],
        samples=args.samples.name if args.samples is not None else None,
        first100={"files": files,
                  "labels": [int(v) for v in labels[:N_FIRST]],
                  "predicted": [int(v) for v in pred[:N_FIRST]],
                  "top1_error": float((pred[:N_FIRST] != labels[:N_FIRST]).mean())},
        trained_on=f"{record['dataset']['name']}: {record['dataset']['n_train']:,} training images "
                   f"{'x'.join(map(str, record['dataset']['image_shape']))}",
        trained_by=record.get("command"), machine=record.get("machine"))
    (args.into / "model-check.json").write_text(json.dumps(check, indent=1) + "\n")
    update_checksums(args.checksums, target, digest)
    if args.samples is not None:
        for i, rel in enumerate(files):
            dest = args.samples / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if first is not None:
                shutil.copyfile(first[i], dest)
            else:
                from PIL import Image

                Image.fromarray(np.asarray(test.get_images([i]))[0].squeeze()).save(dest)
    print(f"kept {dtype}: {target} ({target.stat().st_size:,} bytes, sha256 {digest[:12]}...); "
          f"first {N_FIRST} test images: {100 * check['first100']['top1_error']:.0f}% error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
