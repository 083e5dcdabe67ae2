"""History as data: the published numbers a reproduction is put beside.

``published_results.csv`` (shipped in the package) holds each figure with its year,
benchmark, entry, top-1/top-5 error (ILSVRC) or plain error (MNIST, CIFAR-10), and the
citation it comes from. Nothing here is measured by histnet.

:data:`METHOD_HISTORY` says which published entry each histnet method stands for, so
the progression figure can put "this run" beside "history" method by method.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

# histnet method -> key of the published entry it reproduces (None: no ILSVRC figure)
METHOD_HISTORY = {
    "pixels-svm": None,
    "hog-svm": None,
    "sift-bovw-svm": None,
    "sift-llc-svm": "ilsvrc2010-nec-uiuc",
    "sift-fisher-svm": "ilsvrc2011-xrce",
    "dbn": "dbn-mnist-science",
    "alexnet": "ilsvrc2012-supervision-7cnn",
    "alexnet-cifar": "ilsvrc2012-supervision-7cnn",
    "alexnet-64": "ilsvrc2012-supervision-7cnn",
}

#: The "2012 jump" as history recorded it: the winning CNN's top-5 error over the best
#: hand-crafted entry's in ILSVRC 2012 (SuperVision 15.3% vs ISI 26.2%).
HISTORICAL_JUMP = 0.153 / 0.262


def published() -> pd.DataFrame:
    """All published figures, one row each, with citations."""
    with resources.files("histnet").joinpath("published_results.csv").open("r") as f:
        return pd.read_csv(f)


def history_for(method: str) -> str:
    """The published figure a method stands for, as short text ("" if none).

    >>> history_for("sift-fisher-svm")
    'ILSVRC-2011 test, XRCE: 25.8% top-5'
    """
    key = METHOD_HISTORY.get(method)
    if key is None:
        return ""
    row = published().set_index("key").loc[key]
    team = row["entry"].split(" (")[0]
    if pd.notna(row["top5_error"]):
        return f"{row['benchmark']}, {team}: {100 * row['top5_error']:.1f}% top-5"
    return f"{row['benchmark']}, {team}: {100 * row['error']:.2f}% error"


def ilsvrc_winners() -> pd.DataFrame:
    """ILSVRC 2010-2012 entries on the official test sets (year, entry, top-5 error)."""
    df = published()
    return df[df["benchmark"].str.startswith("ILSVRC-201") & df["benchmark"].str.endswith("test")
              & df["key"].str.startswith("ilsvrc")].reset_index(drop=True)
