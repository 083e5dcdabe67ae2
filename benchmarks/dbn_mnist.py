"""Reproduction: Hinton's deep belief net on full MNIST, with and without pretraining.

Trains the ``dbn`` method's ``full`` profile, the papers' 784-500-500-2000 network (greedy
CD-1 pretraining, 30 epochs per RBM, then 100 epochs of backprop fine-tuning of the sigmoid
MLP with a softmax output), on the 60,000 MNIST training digits and scores it on the 10,000
test digits with :func:`histnet.evaluate.evaluate`. Then the same network, same fine-tuning,
from a random initialisation (``pretrain=false``): the ablation of Bengio et al. 2007 and
Erhan et al. 2010.

What the papers report on this test set: 1.25% (Hinton, Osindero & Teh 2006, up-down
fine-tuning of a generative DBN with label units) and 1.2% (Hinton & Salakhutdinov 2006,
backprop fine-tuning, the recipe here up to the optimiser: they used conjugate gradients).
The target of this reproduction is <= 1.4% test error with pretraining.

Data: the four MNIST IDX files (gzipped or not) in one folder; ``histnet datasets download
mnist`` fetches them. Usage::

    python benchmarks/dbn_mnist.py DATA_DIR --out results/dbn-mnist            # the full run
    python benchmarks/dbn_mnist.py DATA_DIR --out /tmp/x --estimate            # ~3 min: time estimate
    python benchmarks/dbn_mnist.py DATA_DIR --out /tmp/x --limit 2000 --rbm-epochs 1 --finetune-epochs 1

The same run from the CLI, one arm at a time::

    histnet run dbn --dataset DATA_DIR --profile full
    histnet run dbn --dataset DATA_DIR --profile full --set pretrain=false

Run time: about 30-45 minutes for both arms on a quiet 2-core machine by FLOP count (see
docs/dbn.md; ``--estimate`` measures it on yours).

Outputs in ``--out``: ``result.json`` (test errors, timings, learning curves, configs, machine),
``<arm>/model.npz`` and ``<arm>/result.json`` (each arm's model, :meth:`Method.load`, and
its ordinary run record, so ``histnet predict OUT/pretrained digit.png`` works),
``figures.npz`` (first-layer filter grid and a grid of 25 samples from the pretrained DBN) and
``dbn-mnist.png`` / ``.svg`` drawn from those: the filters, the samples, and both arms'
fine-tuning curves with their test errors. ``--redraw`` redraws the figure from ``result.json``
and ``figures.npz`` without training (``data`` is then not needed).
Each arm keeps checkpoints in ``--out/<arm>/``; run the same command again to resume after an
interruption (finished layers and fine-tuning epochs are not repeated).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _progress(event):
    print(event.line(), file=sys.stderr, flush=True)


def run_arm(cls, cfg, splits, out: Path, arm: str, device: str, seed: int, quiet: bool):
    """Fit one arm (pretrained or not), score it on the test split; returns its record."""
    from histnet.evaluate import Stopwatch, evaluate, machine_info
    from histnet.experiment import predict_in_batches, save_model

    workdir = out / arm
    workdir.mkdir(parents=True, exist_ok=True)
    progress = None if quiet else _progress
    m = cls(cfg, backend=device, seed=seed, progress=progress, workdir=workdir, resume=True)
    with Stopwatch() as t_fit:
        m.fit(splits.train)
    test = splits.test
    with Stopwatch() as t_pred:
        scores = predict_in_batches(m, test, 2000)
    res = evaluate(scores, test.labels, test.class_names)
    save_model(m, workdir, splits)
    pre = [[h.get("seconds", 0.0) for h in hist] for hist in getattr(m.model_, "pretrain_history_", [])]
    # a resumed arm's fit_s is only this process's: epochs_s sums the recorded epoch times
    epochs_s = sum(sum(p) for p in pre) + sum(float(h.get("seconds") or 0.0) for h in m.history_ or [])
    write_arm_record(workdir, res, splits, cfg, seed,
                     {"fit_s": t_fit.seconds, "predict_s": t_pred.seconds, "epochs_s": epochs_s},
                     " ".join(["python"] + sys.argv))
    return m, {
        "arm": arm, "test_error": res["top1_error"], "fit_s": t_fit.seconds, "epochs_s": epochs_s,
        "predict_s": t_pred.seconds, "machine": machine_info(),
        "pretrain_s_per_epoch_by_layer": [float(np.mean(p)) if p else None for p in pre],
        "finetune_s_per_epoch": (float(np.mean([h["seconds"] for h in m.history_]))
                                 if m.history_ and "seconds" in m.history_[0] else None),
        "learning_curve": m.history_, "pretrain_history": getattr(m.model_, "pretrain_history_", []),
        "describe": m.describe(), "per_class_accuracy": res["per_class_accuracy"],
    }


def write_arm_record(workdir: Path, res: dict, splits, cfg, seed: int, timing: dict, command: str,
                     machine: dict = None) -> None:
    """``workdir/result.json``: an arm as an ordinary run record beside its ``model.npz``
    (what ``histnet predict`` and ``benchmarks/commit_models.py`` read)."""
    from histnet.evaluate import machine_info
    from histnet.experiment import versions
    from histnet.io import write_json

    test = splits.test
    write_json(workdir / "result.json", {
        "schema": 1, "run_id": f"dbn-mnist-{workdir.name}", "method": "dbn", "seed": seed, "profile": "full",
        "overrides": {k: v for k, v in cfg.__dict__.items() if k in ("pretrain", "finetune", "rbm_epochs",
                                                                    "finetune_epochs", "lr")},
        "status": "ok", "top1_error": res["top1_error"], "top5_error": res["top5_error"], "metrics": res,
        "dataset": {"name": test.name, "n_train": len(splits.train), "n_test": len(test),
                    "n_classes": test.n_classes, "image_shape": list(splits.train.image_shape)},
        "timing": timing, "config": cfg.__dict__, "command": command, "versions": versions(),
        "machine": machine or machine_info(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": "model.npz"})


def records_from_models(out: Path, data) -> list:
    """For a finished run whose outputs predate the per-arm records (``dbn-<arm>.npz`` beside
    ``result.json``): score each arm's model on the test split, check the error is the
    summary's, and write ``<arm>/model.npz`` and ``<arm>/result.json`` with the summary's
    timings, config and machine. Nothing is trained."""
    from histnet.data import load_splits
    from histnet.evaluate import evaluate
    from histnet.experiment import predict_in_batches, save_model
    from histnet.methods import get_method, make_config
    from histnet.methods.saved import load_model

    summary = json.loads((out / "result.json").read_text())
    splits = load_splits(data)
    written = []
    for a in summary["arms"]:
        src = out / f"dbn-{a['arm']}.npz"
        m = load_model(src)
        scores = predict_in_batches(m, splits.test, 2000)
        res = evaluate(scores, splits.test.labels, splits.test.class_names)
        if res["top1_error"] != a["test_error"]:
            sys.exit(f"Error: {src} scores {res['top1_error']:.4f}, its record {a['test_error']:.4f}")
        workdir = out / a["arm"]
        workdir.mkdir(exist_ok=True)
        save_model(m, workdir, splits)  # the same weights, with what `histnet predict` needs
        epochs_s = sum(sum(h.get("seconds", 0.0) for h in hist) for hist in a.get("pretrain_history") or []) + \
            sum(float(h.get("seconds") or 0.0) for h in a.get("learning_curve") or [])
        cfg = make_config(get_method("dbn"), {k: v for k, v in a["config"].items()})
        write_arm_record(workdir, res, splits, cfg, int(summary.get("seed", 0)),
                         {"fit_s": a["fit_s"], "predict_s": a["predict_s"], "epochs_s": epochs_s},
                         summary.get("command") or f"python benchmarks/dbn_mnist.py {data} --out {out}",
                         machine=a.get("machine") or summary.get("machine"))
        written.append(workdir / "result.json")
    return written


def draw(out: Path) -> list[Path]:
    """``dbn-mnist.png``/``.svg`` from ``out/result.json`` and ``out/figures.npz``."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    summary = json.loads((out / "result.json").read_text())
    vis = dict(np.load(out / "figures.npz", allow_pickle=False)) if (out / "figures.npz").exists() else {}
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    ax_f, ax_s, ax_c = fig.subplots(1, 3, width_ratios=[1, 0.62, 1.5])
    for ax, key, title in ((ax_f, "filters", "first-layer RBM filters (100 of 500)"),
                           (ax_s, "samples", "25 samples, 500 Gibbs steps")):
        if key in vis:
            ax.imshow(vis[key], cmap="gray", interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(title, fontsize=10)
    for rec in summary["arms"]:
        curve = rec.get("learning_curve") or []
        if not curve:
            continue
        epochs = [h["epoch"] for h in curve]
        err = [100 * h["train_error"] for h in curve]
        line, = ax_c.plot(epochs, err, label=f"{rec['arm']}: training error")
        ax_c.axhline(100 * rec["test_error"], color=line.get_color(), ls="--",
                     label=f"{rec['arm']}: test error {100 * rec['test_error']:.2f}%")
    ax_c.axhline(100 * summary["target"], color="k", ls=":", lw=1, label=f"target {100 * summary['target']:.1f}%")
    ax_c.set_yscale("symlog", linthresh=0.01)  # log above 0.01 %, linear down to 0 (no errors)
    ax_c.set_ylim(0, 100)
    ax_c.set_xlabel("fine-tuning epoch")
    ax_c.set_ylabel("top-1 error (%, log scale above 0.01)")
    ax_c.set_title("backprop fine-tuning, 784-500-500-2000", fontsize=10)
    ax_c.legend(fontsize=8)
    machine = summary.get("machine", {})
    fig.suptitle("Deep belief net on MNIST, with and without greedy RBM pretraining")
    fig.text(0.01, 0.005, f"MNIST ({summary['n_train']:,} training, {summary['n_test']:,} test digits); "
             f"{machine.get('cores', '?')} cores, {machine.get('cpu', '')}; "
             f"{time.strftime('%Y-%m-%d', time.gmtime((out / 'result.json').stat().st_mtime))}",
             fontsize=8, color="0.3")
    paths = []
    for ext in ("png", "svg"):
        path = out / f"dbn-mnist.{ext}"
        fig.savefig(path, dpi=120)
        paths.append(path)
    return paths


def ablation_table(out: Path, folder: Path) -> list:
    """The DBN's ``no-pretraining`` arm as ``histnet ablate`` tabulates it, from the two arms'
    records of a finished run (no rerun): the pretrained net is the full recipe."""
    from histnet.ablation import FULL, Arm, ablation_table as table_of
    from histnet.methods import get_method
    from histnet.report import write_tables

    summary = json.loads((out / "result.json").read_text())
    by_arm = {a["arm"]: a for a in summary["arms"]}

    def record(a):
        return {"method": "dbn", "status": "ok", "top1_error": a["test_error"], "learning_curve": a["learning_curve"],
                "timing": {"fit_s": a["fit_s"], "epochs_s": a.get("epochs_s")}}

    arm = Arm.from_spec("no-pretraining", get_method("dbn").ablations["no-pretraining"])
    table = table_of([arm], {FULL: [record(by_arm["pretrained"])], arm.name: [record(by_arm["random-init"])]})
    caption = (f"Ablation of dbn on MNIST ({summary['n_train']:,} training, {summary['n_test']:,} test digits), "
               "the full-MNIST recipe of results/dbn-mnist, seed 0; both arms share the fine-tuning schedule.")
    return write_tables(table, folder, "ablation", caption=caption)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", help="folder with the MNIST IDX files (or a data set name histnet knows)")
    ap.add_argument("--out", required=True, type=Path, help="output folder (resumable)")
    ap.add_argument("--device", default="cpu", help="cpu, gpu or auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rbm-epochs", type=int, default=None, help="override the full profile's 30")
    ap.add_argument("--finetune-epochs", type=int, default=None, help="override the full profile's 100")
    ap.add_argument("--limit", type=int, default=None, help="use only N training digits, a random subset drawn with --seed (smoke test)")
    ap.add_argument("--random-init-lr", type=float, default=None,
                    help="fine-tuning rate of the random-init arm (default: the same as the pretrained arm's; "
                         "see docs/dbn.md for why a deep sigmoid net from random weights may need a smaller one)")
    ap.add_argument("--arms", default="pretrained,random-init",
                    help="which arms to run, comma-separated: pretrained, random-init, up-down (the 2006 "
                         "paper's generative fine-tuning with label units; 30 epochs where the paper ran 300)")
    ap.add_argument("--estimate", action="store_true",
                    help="time 1 RBM epoch per layer and 1 fine-tuning epoch on all the data, then print "
                         "the projected time of the full run and stop")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--redraw", action="store_true", help="only redraw the figure from --out's records")
    ap.add_argument("--arm-records", action="store_true",
                    help="write <arm>/result.json and <arm>/model.npz for a finished run made before the script "
                         "wrote them (scores dbn-<arm>.npz; trains nothing)")
    ap.add_argument("--ablation-table", type=Path, default=None, metavar="FOLDER",
                    help="only write the pretraining ablation (histnet ablate's table) from --out's records into FOLDER")
    args = ap.parse_args(argv)
    if args.redraw:
        for path in draw(args.out):
            print(path)
        return
    if args.ablation_table is not None:
        for path in ablation_table(args.out, args.ablation_table):
            print(path)
        return
    if args.data is None:
        ap.error("the data folder is required (except with --redraw)")
    if args.arm_records:
        for path in records_from_models(args.out, args.data):
            print(path)
        return

    from histnet.data import load_splits
    from histnet.evaluate import machine_info
    from histnet.io import save_npz, write_json
    from histnet.methods import get_method, make_config

    splits = load_splits(args.data)
    if args.limit:
        n = min(args.limit, len(splits.train))  # a seeded random subset: some sets are sorted by class
        rows = np.sort(np.random.default_rng(args.seed).choice(len(splits.train), n, replace=False))
        splits.train = splits.train.subset(rows, "train")
    cls = get_method("dbn")
    full = make_config(cls, profile="full")
    overrides = {}
    if args.rbm_epochs is not None:
        overrides["rbm_epochs"] = args.rbm_epochs
    if args.finetune_epochs is not None:
        overrides["finetune_epochs"] = args.finetune_epochs
    if args.estimate:  # its checkpoints go to a folder of their own, apart from a real run's
        overrides = {"rbm_epochs": 1, "finetune_epochs": 1}
        args.out = args.out / "estimate"
    args.out.mkdir(parents=True, exist_ok=True)

    records, models = [], {}
    t0 = time.perf_counter()
    for arm in [a.strip() for a in args.arms.split(",") if a.strip()]:
        if arm not in ("pretrained", "random-init", "up-down"):
            ap.error(f"--arms: unknown arm {arm!r} (pretrained, random-init, up-down)")
        arm_overrides = {**overrides, "pretrain": arm != "random-init"}
        if arm == "up-down":
            arm_overrides["finetune"] = "up-down"
        if arm == "random-init" and args.random_init_lr is not None:
            arm_overrides["lr"] = args.random_init_lr
        cfg = make_config(cls, arm_overrides, profile="full")
        models[arm], rec = run_arm(cls, cfg, splits, args.out, arm, args.device, args.seed, args.quiet)
        rec["config"] = cfg.__dict__
        records.append(rec)
        print(f"{arm}: test error {100 * rec['test_error']:.2f}% ({rec['fit_s']:.0f} s to fit)", flush=True)

    previous = args.out / "result.json"
    if not args.estimate and previous.exists():  # arms run another time (--arms) stay, with their machine
        before = json.loads(previous.read_text())
        ran = {r["arm"] for r in records}
        kept = [{"machine": before.get("machine"), **a} for a in before.get("arms", []) if a["arm"] not in ran]
        order = ["pretrained", "random-init", "up-down"]
        records = sorted(records + kept, key=lambda a: order.index(a["arm"]) if a["arm"] in order else len(order))
    summary = {"experiment": "dbn-mnist", "data": str(args.data), "seed": args.seed,
               "command": " ".join(["python"] + sys.argv), "n_train": len(splits.train),
               "n_test": len(splits.test), "device": args.device, "machine": machine_info(),
               "total_s": time.perf_counter() - t0, "arms": records,
               "papers": {"Hinton, Osindero & Teh 2006 (up-down)": 0.0125,
                          "Hinton & Salakhutdinov 2006 (backprop)": 0.012}, "target": 0.014}
    if args.estimate:
        proj = {}
        for rec in records:
            pre = sum(s for s in rec["pretrain_s_per_epoch_by_layer"] if s) * full.rbm_epochs
            ft = (rec["finetune_s_per_epoch"] or 0.0) * full.finetune_epochs
            proj[rec["arm"]] = {"pretrain_s": pre, "finetune_s": ft, "total_s": pre + ft}
        summary["projected_full_run"] = proj
        total = sum(p["total_s"] for p in proj.values())
        print(f"projected full run ({full.rbm_epochs} RBM epochs, {full.finetune_epochs} fine-tuning epochs): "
              + ", ".join(f"{k} {v['total_s'] / 60:.0f} min" for k, v in proj.items())
              + f"; total {total / 60:.0f} min", flush=True)
    write_json(args.out / "result.json", summary)
    if "pretrained" in models:
        vis = models["pretrained"].visualize()
        save_npz(args.out / "figures.npz", vis)
    if not args.estimate:
        for path in draw(args.out):
            print(path)


if __name__ == "__main__":
    main()
