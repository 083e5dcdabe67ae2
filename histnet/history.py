"""History as data: the published numbers a reproduction is put beside.

``published_results.csv`` (shipped in the package) holds each figure with its year,
benchmark, entry, top-1/top-5 error (ILSVRC) or plain error (MNIST, CIFAR-10), and the
citation it comes from. Nothing here is measured by histnet.

Each method says which published entries it stands for (its ``history`` attribute, keys
of the CSV), so a table can put "this run" beside "history" method by method, on the
same benchmark where one exists (:func:`history_for`).
"""

from __future__ import annotations

from importlib import resources
from typing import Optional

import pandas as pd

#: The "2012 jump" as history recorded it: the winning CNN's top-5 error over the best
#: hand-crafted entry's in ILSVRC 2012 (SuperVision 15.3% vs ISI 26.2%).
HISTORICAL_JUMP = 0.153 / 0.262


def published() -> pd.DataFrame:
    """All published figures, one row each, with citations."""
    with resources.files("histnet").joinpath("published_results.csv").open("r") as f:
        return pd.read_csv(f)


def benchmark_of(dataset: Optional[str]) -> Optional[str]:
    """The published benchmark a data set name belongs to (``"CIFAR-10"``, ``"MNIST"``) or None.

    >>> benchmark_of("cifar10-jpg"), benchmark_of("mnist5k"), benchmark_of("my-photos")
    ('CIFAR-10', 'MNIST', None)
    """
    name = (dataset or "").lower().replace("_", "-")
    if "cifar10" in name.replace("-", "") and "cifar100" not in name.replace("-", ""):
        return "CIFAR-10"
    if "mnist" in name and "fashion" not in name:
        return "MNIST"
    return None


def _keys_of(method: str) -> tuple:
    from .methods.registry import available_methods

    cls = available_methods().get(method)
    return tuple(getattr(cls, "history", ()) or ()) if cls is not None else ()


def _describe(row) -> str:
    team = row["entry"].split(" (")[0]
    if pd.notna(row["top5_error"]):
        return f"{row['benchmark']}, {team}: {100 * row['top5_error']:.3g}% top-5"
    return f"{row['benchmark']}, {team}: {100 * row['error']:.2f}% error"


def history_for(method: str, dataset: Optional[str] = None) -> str:
    """The published figure(s) a method stands for, as short text ("" if none).

    A method declares the published entries it reproduces (``history``, keys of
    ``published_results.csv``). Those on the benchmark of ``dataset`` are shown when there
    are any (a CIFAR-10 table gets CIFAR-10 figures); otherwise the first, whose text
    names its own benchmark (an ILSVRC figure beside a CIFAR-10 row says "ILSVRC-...").

    >>> history_for("sift-fisher-svm")
    'ILSVRC-2011 test, XRCE: 25.8% top-5'
    """
    keys = _keys_of(method)
    if not keys:
        return ""
    rows = published().set_index("key")
    bench = benchmark_of(dataset)
    same = [k for k in keys if bench and str(rows.loc[k, "benchmark"]).startswith(bench)]
    return "; ".join(_describe(rows.loc[k]) for k in (same or keys[:1]))


def history_table(benchmark: Optional[str] = None) -> pd.DataFrame:
    """The published results as a readable table (year, benchmark, entry, error, citation),
    those whose benchmark starts with ``benchmark`` (case-insensitive) when given.

    Raises
    ------
    ValueError
        No published result on that benchmark (the message lists the benchmarks there are).
    """
    df = published()
    if benchmark:
        keep = df["benchmark"].str.lower().str.startswith(benchmark.lower())
        if not keep.any():
            raise ValueError(f"no published result on {benchmark!r}; benchmarks: "
                             + ", ".join(sorted(df["benchmark"].unique())))
        df = df[keep]

    def error(row):
        parts = []
        if pd.notna(row["top1_error"]):
            parts.append(f"top-1 {100 * row['top1_error']:.3g}%")
        if pd.notna(row["top5_error"]):
            parts.append(f"top-5 {100 * row['top5_error']:.3g}%")
        if pd.notna(row["error"]):
            parts.append(f"{100 * row['error']:.3g}%")
        return ", ".join(parts)

    out = pd.DataFrame({"year": df["year"].astype(int), "benchmark": df["benchmark"], "entry": df["entry"],
                        "error": df.apply(error, axis=1), "note": df["note"].fillna(""),
                        "citation": df["citation"]})
    return out.sort_values(["year", "benchmark"], kind="stable").reset_index(drop=True)


def ilsvrc_winners() -> pd.DataFrame:
    """ILSVRC 2010-2012 entries on the official test sets (year, entry, top-5 error)."""
    df = published()
    return df[df["benchmark"].str.startswith("ILSVRC-201") & df["benchmark"].str.endswith("test")
              & df["key"].str.startswith("ilsvrc")].reset_index(drop=True)
