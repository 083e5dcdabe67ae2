"""histnet from Python: two methods on real digits, scored, drawn, saved and loaded back.

Run it with a folder for what it writes::

    python examples/walkthrough.py OUT_DIR [--n-per-class 100] [--test-n-per-class 50]

Each step is what ``histnet run`` does for one method, written out:

1. load a data set's train and test splits (``histnet.data.load_splits``): here 100
   training and 50 test images per class of ``mnist5k``, the 5,000 real MNIST digits that
   ship with histnet (no download);
2. build two methods from the registry (``histnet.methods.get_method``) with their
   ``quick`` profile (``make_config``): ``pixels-svm`` (standardised pixels and a linear
   SVM, the floor of the table) and ``hog-svm`` (Dalal & Triggs 2005);
3. fit each on the training split and score the test split (``predict_scores``), streamed
   in batches as the library does;
4. evaluate the scores with ``histnet.evaluate.evaluate``, the one function every number
   in a histnet table comes from;
5. draw the comparison (top-1 error and accuracy per class) with matplotlib into
   ``OUT_DIR/comparison.png``;
6. save the better model (``method.save``) as ``OUT_DIR/<method>.npz``, load it back
   (``Method.load``) and check that it scores the test images as before.

It takes well under a minute on two cores. Left out: result records, resuming, the
feature cache's options, the published history and the side-by-side table; for those,
``histnet run`` and ``histnet report`` (or ``histnet.experiment.run_job`` and
``histnet.report.write_report`` from Python). ``docs/walkthrough.md`` says more.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from histnet.data import load_splits
from histnet.evaluate import evaluate
from histnet.methods import get_method, make_config

METHODS = ("pixels-svm", "hog-svm")


def scores_of(method, dataset, batch_size=500):
    """The method's scores for every image of ``dataset``, batch by batch."""
    return np.concatenate([method.predict_scores(images) for images, _ in dataset.batches(batch_size)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for comparison.png and the saved model")
    parser.add_argument("--n-per-class", type=int, default=100, help="training images per class")
    parser.add_argument("--test-n-per-class", type=int, default=50, help="test images per class")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    # 1. the data: stratified subsets, drawn with a seed
    splits = load_splits("mnist5k", n_per_class=args.n_per_class, test_n_per_class=args.test_n_per_class, seed=0)
    train, test = splits.train, splits.test
    print(f"train: {train}\ntest:  {test}")

    # 2-4. fit, score, evaluate each method
    fitted, results = {}, {}
    for name in METHODS:
        cls = get_method(name)
        method = cls(make_config(cls, profile="quick"), seed=0)
        t0 = time.perf_counter()
        method.fit(train)
        fit_s = time.perf_counter() - t0
        results[name] = evaluate(scores_of(method, test), test.labels, test.class_names)
        fitted[name] = method
        print(f"{name:<11} ({cls.year}): top-1 error {100 * results[name]['top1_error']:.2f}%, "
              f"top-5 error {100 * results[name]['top5_error']:.2f}%, fit {fit_s:.1f} s")

    # 5. the comparison, drawn with matplotlib's object-oriented API (no pyplot state)
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax_err, ax_cls = fig.subplots(1, 2, width_ratios=[1, 2.2])
    errors = [100 * results[m]["top1_error"] for m in METHODS]
    ax_err.bar(range(len(METHODS)), errors, color=["0.6", "C0"])
    for i, e in enumerate(errors):
        ax_err.annotate(f"{e:.1f}", (i, e), ha="center", va="bottom", fontsize=8)
    ax_err.set_xticks(range(len(METHODS)), METHODS)
    ax_err.set_ylabel("top-1 test error (%)")
    ax_err.set_ylim(0, 1.2 * max(errors))
    ax_err.set_title("Test error")
    x = np.arange(test.n_classes)
    for k, (m, color) in enumerate(zip(METHODS, ["0.6", "C0"])):
        ax_cls.bar(x + (k - 0.5) * 0.4, 100 * np.asarray(results[m]["per_class_accuracy"]), 0.4, color=color, label=m)
    ax_cls.set_xticks(x, test.class_names)
    ax_cls.set_xlabel("class (digit)")
    ax_cls.set_ylabel("accuracy (%)")
    ax_cls.set_ylim(0, 122)  # headroom above 100% for the legend
    ax_cls.set_yticks(range(0, 101, 20))
    ax_cls.set_title("Accuracy per class")
    ax_cls.legend(loc="upper center", ncol=2, fontsize=8)
    fig.suptitle(f"pixels vs HOG on mnist5k ({len(train):,} training, {len(test):,} test images)")
    figure = args.out / "comparison.png"
    fig.savefig(figure, dpi=110)
    print(f"figure: {figure}")

    # 6. save the better model with what a later user needs, load it back, score again
    best = min(METHODS, key=lambda m: results[m]["top1_error"])
    path = args.out / f"{best}.npz"
    fitted[best].save(path, info={"class_names": test.class_names, "image_shape": list(train.image_shape),
                                  "dataset": train.name})
    loaded = get_method(best).load(path)
    same = np.allclose(scores_of(loaded, test), scores_of(fitted[best], test))
    print(f"model: {path} ({path.stat().st_size / 1024:.0f} KiB); loaded back, same scores: {same}")
    if not same:
        raise SystemExit("the loaded model scores differently")


if __name__ == "__main__":
    main()
