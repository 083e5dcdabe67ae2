"""Result records -> pandas tables (Markdown, CSV, LaTeX) and matplotlib figures.

Everything here reads the ``result.json`` records that :mod:`histnet.experiment`
writes; nothing re-computes a metric. Figures use matplotlib's object-oriented API
(``matplotlib.figure.Figure``, no pyplot state) and are saved as PNG and SVG, each
with a title, labelled axes with units, a legend where there is more than one
series, and a caption line naming the data set and the date, so a figure can be read
on its own. The ``figure_*`` functions return a figure unsaved (for a notebook, or to
check its labels); the ``plot_*`` functions save it. :func:`write_report` also writes
``report.html``, one self-contained page of the table and figures (:mod:`histnet.html_report`).

Two helpers draw on axes the caller owns instead of reading records:
:func:`draw_filters` and :func:`draw_samples`, the grids of a model's filters and samples
(laid out by :func:`histnet.tiles.tile_images`), so that model code never draws.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import textwrap
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from .backend import to_host
from .errors import HistnetError
from .history import HISTORICAL_JUMP, history_for, published
from .io import ensure_writable_folder
from .tiles import tile_images

# -- reading records ------------------------------------------------------------------------


def find_results(paths: Iterable) -> list[Path]:
    """``result.json`` files in the given run folders or folders of run folders."""
    found = []
    for p in paths:
        p = Path(p)
        if p.is_file() and p.name == "result.json":
            found.append(p)
        elif (p / "result.json").is_file():
            found.append(p / "result.json")
        elif p.is_dir():
            found.extend(sorted(p.rglob("result.json")))
        else:
            raise HistnetError(f"{p}: no such run folder")
    return found


#: The fields a table reads, and the JSON types each may have (None: may be null or missing).
_RECORD_FIELDS = {"method": (str,), "status": (str,), "seed": (int,), "year": (int,), "family": (str,),
                  "paper": (str,), "run_id": (str,), "profile": (str,), "top1_error": (int, float),
                  "top5_error": (int, float), "dataset": (dict,), "timing": (dict,), "describe": (dict,),
                  "memory": (dict,), "metrics": (dict,), "data_options": (dict,), "overrides": (dict,),
                  "learning_curve": (list,), "warnings": (list,), "error": (str,)}


def check_record(rec, path) -> dict:
    """``rec`` if it is a result record a table can read, else one :class:`HistnetError` line
    naming the file and the field."""
    if not isinstance(rec, dict):
        raise HistnetError(f"{path}: not a result record (a JSON {type(rec).__name__}, expected an object)")
    if not isinstance(rec.get("method"), str):
        raise HistnetError(f"{path}: not a result record (no method name)")
    for key, types in _RECORD_FIELDS.items():
        v = rec.get(key)
        if v is not None and (not isinstance(v, types) or isinstance(v, bool)):
            want = " or ".join(t.__name__ for t in types)
            raise HistnetError(f"{path}: field {key!r} is a {type(v).__name__}, expected {want}")
    return rec


def load_records(paths: Iterable) -> list[dict]:
    """Read every record under ``paths`` (unreadable or malformed files are one error line
    naming the file, never skipped silently)."""
    records = []
    for f in find_results(paths):
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            raise HistnetError(f"{f}: not a valid result record ({e})") from None
        rec = check_record(rec, f)
        rec["_path"] = str(f.parent)
        records.append(rec)
    return records


def experiment_key(record: dict) -> str:
    """What defines a record's experiment: everything but the seed.

    Runs with the same key differ in their seed alone, and only those are averaged as
    seeds. The run id already holds it (method, data set, and a hash of the profile,
    overrides, data options and device); records without one are keyed by those fields.
    """
    rid = record.get("run_id")
    if rid:
        return re.sub(r"__seed-?\d+(?=__|$)", "", str(rid))
    ds = (record.get("dataset") or {}).get("name")
    return json.dumps([record.get("method"), ds, record.get("profile"), record.get("overrides"),
                       record.get("data_options"), record.get("device")], sort_keys=True, default=str)


def setting_of(record: dict) -> str:
    """The experiment's settings in a few words: profile, overrides, data options that are set."""
    parts = [f"profile {record['profile']}"] if record.get("profile") else []
    if record.get("budget"):
        parts.append(f"budget {record['budget'].get('label') or record['budget'].get('seconds')}")
    parts += [f"{k}={v}" for k, v in sorted((record.get("overrides") or {}).items())]
    parts += [f"{k}={v}" for k, v in sorted((record.get("data_options") or {}).items())
              if v is not None and v is not False and v != 0]
    return ", ".join(parts)


def budget_text(budget: Optional[dict]) -> Optional[str]:
    """A record's ``budget`` in a few words: the allowance, what it used, how it was spent."""
    if not budget:
        return None
    used = budget.get("used_s")
    head = budget.get("label") or f"{budget.get('seconds')} s"
    if used is not None:
        head += f" ({used:,.0f} s used)" if used >= 10 else f" ({used:.1f} s used)"
    return head + (": " + "; ".join(budget["how"]) if budget.get("how") else "")


def training_seconds(record: dict):
    """The fit time a table shows: the record's ``fit_s``, or the sum of its epochs' own times
    (``epochs_s``) when that is larger.

    ``fit_s`` is the fit of the process that finished the run. A run resumed from a
    checkpoint trained its first epochs in earlier processes, so its ``fit_s`` misses them,
    while every epoch of its learning curve keeps its own seconds. An uninterrupted run's
    ``fit_s`` is the larger (it also counts the data preparation). A run whose weights came
    from another run (``weights_from``, an ablation arm that changes only the test) trained
    nothing itself and keeps its own ``fit_s``.
    """
    t = record.get("timing") or {}
    fit, epochs = t.get("fit_s"), t.get("epochs_s")
    if record.get("weights_from") is None and fit is not None and epochs is not None and epochs > fit:
        return epochs
    return fit


def records_to_frame(records: Sequence[dict]) -> pd.DataFrame:
    """One row per run with the columns the tables and figures use (``experiment`` groups
    the runs that differ in their seed alone; ``setting`` says what else defines them)."""
    rows = []
    for r in records:
        d = r.get("describe") or {}
        t = r.get("timing") or {}
        ds = r.get("dataset") or {}
        rows.append({
            "year": r.get("year"),
            "method": r.get("method"),
            "family": r.get("family"),
            "paper": r.get("paper"),
            "dataset": ds.get("name") or (r.get("data_options") or {}).get("dataset"),
            "n_train": ds.get("n_train"),
            "n_classes": ds.get("n_classes"),
            "n_per_class": (r.get("data_options") or {}).get("n_per_class"),
            "budget_s": (r.get("budget") or {}).get("seconds"),
            "budget": budget_text(r.get("budget")),
            "seed": r.get("seed"),
            "device": r.get("device"),
            "profile": r.get("profile"),
            "top1_error": r.get("top1_error"),
            "top5_error": r.get("top5_error"),
            "fit_s": training_seconds(r),
            "predict_img_s": t.get("predict_images_per_s"),
            "feature_dim": d.get("feature_dim"),
            "n_params": d.get("n_params"),
            "flops_per_image": d.get("flops_per_image"),
            "peak_rss_mb": (r.get("memory") or {}).get("peak_rss_mb"),
            "status": r.get("status"),
            "error": r.get("error"),
            "warnings": "; ".join(r.get("warnings") or []),
            "run_id": r.get("run_id"),
            "finished": r.get("finished") or r.get("started"),
            "experiment": experiment_key(r),
            "setting": setting_of(r),
            "path": r.get("_path"),
        })
    df = pd.DataFrame(rows)
    if len(df):
        df = df.sort_values(["year", "method", "n_per_class", "setting", "seed"], na_position="last",
                            kind="stable").reset_index(drop=True)
    return df


# -- the side-by-side table -----------------------------------------------------------------------

TABLE_COLUMNS = ["year", "method", "paper", "top-1 error", "top-5 error", "fit time (s)",
                 "predict (img/s)", "features / params", "MFLOPs / image", "history (published)", "note"]


def _pct(v, sd=None):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    s = f"{100 * v:.2f}%"
    if sd is not None and not np.isnan(sd) and sd > 0:
        s += f" ± {100 * sd:.2f}"
    return s


def _num(v, fmt="{:,.0f}"):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    return fmt.format(v)


def _experiments(df: pd.DataFrame):
    """``(experiment, runs)`` in the frame's order, each run counted once per seed (a job
    copied into another folder by ``--reuse-from`` is the same run)."""
    df = df.drop_duplicates(subset=["experiment", "seed", "status"], keep="first")
    return list(df.groupby("experiment", sort=False))


def _varies(df: pd.DataFrame) -> tuple:
    """(several data sets?, some method in several experiments?)"""
    if not len(df):
        return False, False
    several_sets = df["dataset"].dropna().astype(str).nunique() > 1
    several_settings = bool((df.groupby("method")["experiment"].nunique() > 1).any())
    return several_sets, several_settings


def side_by_side(df: pd.DataFrame) -> pd.DataFrame:
    """The side-by-side table: one row per experiment (mean ± std over runs that differ in
    their seed alone), historical order.

    Runs on other data sets, configs or training-set sizes are never averaged: each is its
    own row, and the table gains a ``data set`` and a ``setting`` column when the records
    hold more than one of either, so that a mixed folder reads as what it is.
    """
    rows = []
    if not len(df):
        return pd.DataFrame(columns=TABLE_COLUMNS)
    several_sets, several_settings = _varies(df)
    firsts = []
    for _, g in _experiments(df):
        ok = g[g["status"] == "ok"]
        first = g.iloc[0]
        firsts.append(first)
        method = first["method"]
        if len(ok):
            top1 = ok["top1_error"].astype(float)
            top5 = ok["top5_error"].astype(float)
            size = ok.iloc[0]
            feat = size["feature_dim"] if pd.notna(size["feature_dim"]) else None
            params = size["n_params"] if pd.notna(size["n_params"]) else None
            fp = " / ".join(x for x in [
                f"{int(feat):,} dims" if feat is not None else None,
                f"{int(params):,} params" if params is not None else None] if x) or "n/a"
            flops = size["flops_per_image"]
            warned = sorted({w for w in ok["warnings"] if isinstance(w, str) and w})
            note = "; ".join(([f"{len(ok)} seeds"] if len(ok) > 1 else []) + warned)
            rows.append([
                first["year"], method, first["paper"],
                _pct(top1.mean(), top1.std(ddof=0) if len(ok) > 1 else None),
                _pct(top5.mean() if top5.notna().any() else None, top5.std(ddof=0) if len(ok) > 1 else None),
                _num(ok["fit_s"].mean(), "{:,.1f}"),
                _num(ok["predict_img_s"].mean(), "{:,.0f}"),
                fp,
                _num(flops / 1e6 if flops is not None and pd.notna(flops) else None, "{:,.2f}"),
                history_for(method, first["dataset"]),
                note,
            ])
        else:
            rows.append([first["year"], method, first["paper"], "n/a", "n/a", "n/a", "n/a", "n/a", "n/a",
                         history_for(method, first["dataset"]), f"{first['status']}: {first['error']}"])
    out = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    out["year"] = out["year"].map(lambda y: "" if y is None or pd.isna(y) else str(int(y)))
    if "budget" in df and df["budget"].notna().any():  # how each row spent its time budget
        out.insert(out.columns.get_loc("fit time (s)") + 1, "budget",
                   [f["budget"] if isinstance(f["budget"], str) else "none" for f in firsts])
    if several_settings:
        out.insert(2, "setting", [f["setting"] or "defaults" for f in firsts])
    if several_sets:
        out.insert(2, "data set", [f["dataset"] for f in firsts])
    return out


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    cols = list(table.columns)
    cells = [[str(v) for v in row] for row in table.itertuples(index=False)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


#: The columns of the narrow table a terminal shows (:func:`narrow_table`), in this order.
NARROW_COLUMNS = ["year", "method", "data set", "setting", "top-1 error", "top-5 error", "fit time (s)", "note"]


def narrow_table(table: pd.DataFrame) -> pd.DataFrame:
    """The side-by-side table cut to :data:`NARROW_COLUMNS` (those it has), for a narrow
    terminal: the paper, speed, size, FLOPs and published-history columns are left out."""
    return table[[c for c in NARROW_COLUMNS if c in table.columns]]


def markdown_width(markdown: str) -> int:
    """The widest line of a Markdown table, in characters."""
    return max((len(line) for line in markdown.splitlines()), default=0)


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$"}
_LATEX_SPECIAL = re.compile("|".join(re.escape(k) for k in _LATEX_ESCAPES))


def to_latex(table: pd.DataFrame, caption: str = "") -> str:
    """A LaTeX ``tabular`` (booktabs rules) for the table."""
    def esc(s):
        # one pass, so the braces of an escape just written are not escaped again
        return _LATEX_SPECIAL.sub(lambda m: _LATEX_ESCAPES[m.group(0)], str(s))
    cols = list(table.columns)
    out = [r"\begin{table}[ht]", r"\centering", r"\begin{tabular}{" + "l" * len(cols) + "}", r"\toprule",
           " & ".join(esc(c) for c in cols) + r" \\", r"\midrule"]
    out += [" & ".join(esc(v) for v in row) + r" \\" for row in table.itertuples(index=False)]
    out += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        out.append(r"\caption{" + esc(caption) + "}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def write_tables(table: pd.DataFrame, out_dir, stem: str = "table", caption: str = "") -> list[Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` and ``<stem>.tex`` atomically; return their paths."""
    from .io import atomic_write

    out_dir = Path(out_dir)
    paths = []
    for ext, text in [("md", to_markdown(table)), ("csv", table.to_csv(index=False)),
                      ("tex", to_latex(table, caption))]:
        p = out_dir / f"{stem}.{ext}"
        with atomic_write(p, "w") as f:
            f.write(text)
        paths.append(p)
    return paths


#: The year of the jump: CNN rows of later years do not enter it.
JUMP_YEAR = 2012


def the_jump(df: pd.DataFrame) -> dict:
    """The "2012 jump": the CNN's top-1 error over the best hand-crafted top-1 error.

    The CNN is the best of those from :data:`JUMP_YEAR` or before (or without a year):
    the nets after it are history's next steps, not its jump. Withheld (``reason`` says
    why) when the runs that enter it, those CNNs and the hand-crafted methods, are on
    several data sets or one of their methods ran with several settings; other rows
    (a later net run twice, the DBN, the baseline) do not matter to it.

    History's figure is top-5 on ILSVRC 2012 (15.3 / 26.2 = 0.58). Returns
    ``{"history": 0.58, "this_run": ratio or None, "cnn": ..., "best_hand_crafted": ...}``.
    """
    ok = df[df["status"] == "ok"] if len(df) else df
    out = {"history": HISTORICAL_JUMP, "this_run": None, "cnn": None, "best_hand_crafted": None, "reason": None}
    if not len(ok):
        return out
    # the jump is 2012's: a later net (ZFNet, ResNet, with --until 2015) is not the CNN of it,
    # and only the runs that enter it must be one comparison (a later net run twice is its own rows)
    year = ok.groupby("method")["year"].first()
    later = {m for m, y in year.items() if pd.notna(y) and y > JUMP_YEAR}
    ok = ok[((ok["family"] == "cnn") & ~ok["method"].isin(later)) | (ok["family"] == "hand-crafted")]
    several_sets, several_settings = _varies(ok)
    if several_sets or several_settings:
        out["reason"] = ("the runs are on several data sets" if several_sets else
                         "some method ran with several settings (sizes or configs)") + ": not one comparison"
        return out
    means = ok.groupby(["method", "family"])["top1_error"].mean().reset_index()
    cnn = means[(means["family"] == "cnn") & ~means["method"].isin(later)]
    hand = means[means["family"] == "hand-crafted"]
    if len(cnn) and len(hand):
        c = cnn.sort_values("top1_error").iloc[0]
        h = hand.sort_values("top1_error").iloc[0]
        out.update(cnn=(c["method"], float(c["top1_error"])), best_hand_crafted=(h["method"], float(h["top1_error"])))
        notes = [w for w in ok.loc[ok["method"] == c["method"], "warnings"] if isinstance(w, str) and "not converged" in w]
        out["cnn_not_converged"] = bool(notes)
        if h["top1_error"] > 0:
            out["this_run"] = float(c["top1_error"] / h["top1_error"])
    return out


#: What the committed CIFAR-10 results show, for runs too small to show it themselves.
JUMP_CONTEXT = ("the CNN overtakes the hand-crafted pipelines only with data: on CIFAR-10 the committed crossover "
                "(results/crossover-cifar10) has alexnet-cifar overtake Fisher vectors between 1,000 and 5,000 "
                "training images per class (about 1,600), and at 5,000 per class its error is 0.65 of theirs "
                "(17.10% vs 26.19%, results/progression-cifar10)")


def jump_context(j: dict) -> str:
    """One line on why a run's CNN may not be ahead, when it is not (an empty string otherwise)."""
    if j.get("this_run") is None or j["this_run"] < 1:
        return ""
    return f"Here the CNN is behind ({j['this_run']:.2f}); {JUMP_CONTEXT}."


def jump_line(j: dict) -> str:
    hist = f"history (ILSVRC 2012 top-5): 15.3% / 26.2% = {j['history']:.2f}"
    if j["this_run"] is None:
        why = j.get("reason") or "needs a CNN and a hand-crafted method that both finished"
        return f"2012 jump: {hist}; this run: {why}"
    (cm, ce), (hm, he) = j["cnn"], j["best_hand_crafted"]
    context = jump_context(j)
    caveat = " (the CNN row is not converged: its training loss was still falling fast, or its budget cut it)" \
        if j.get("cnn_not_converged") else ""
    return (f"2012 jump (CNN error / best hand-crafted error): this run {ce:.2%} ({cm}) / {he:.2%} ({hm}) "
            f"= {j['this_run']:.2f}{caveat}; {hist}" + (f"\n{context}" if context else ""))


# -- figures ---------------------------------------------------------------------------------------


def _figure(w=7.0, h=4.2):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=110, layout="constrained")


def _caption(fig, text):
    """The caption under a figure, each line wrapped to the figure's width (about 15
    characters of 7-point text per inch), so that no line runs off the page."""
    width = max(40, int(15 * fig.get_figwidth()))
    fig.supxlabel("\n".join(textwrap.fill(line, width) for line in text.splitlines()), fontsize=7, color="0.35")


def _save(fig, out_base: Path) -> list[Path]:
    out_base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = out_base.with_suffix(f".{ext}")
        tmp = p.with_name(f".{p.name}.tmp")
        fig.savefig(tmp, format=ext)
        tmp.replace(p)
        paths.append(p)
    return paths


def run_date(runs) -> str:
    """The day the latest of ``runs`` (records, or a frame of them) finished, ``YYYY-MM-DD``;
    today for runs that carry no date."""
    if isinstance(runs, pd.DataFrame):
        stamps = list(runs["finished"].dropna()) if "finished" in runs else []
    else:
        stamps = [r.get("finished") or r.get("started") for r in runs if isinstance(r, dict)]
    stamps = [str(t)[:10] for t in stamps if t]
    return max(stamps) if stamps else _dt.date.today().isoformat()


def caption_text(dataset: str, extra: str = "", when: Optional[str] = None) -> str:
    """The caption line of a figure: the data set and the day the runs finished (not today)."""
    return f"histnet run on {dataset}, {when or _dt.date.today().isoformat()}" + (f"; {extra}" if extra else "")


def figure_progression(df: pd.DataFrame, dataset: str):
    """The progression figure as a ``matplotlib.figure.Figure`` (not saved): history's ILSVRC
    top-5 errors by year on the left, this run's errors method by method on the right.

    The right-hand legend sits in the upper corner above the lower bars, and the axis is
    raised until the legend covers no bar and no value label (checked on the drawn
    figure, :func:`_clear_legend`). :func:`plot_progression` saves it.
    """
    fig = _figure(10, 4.4)
    ax_h, ax_r = fig.subplots(1, 2, width_ratios=[1, 1.6])
    pub = published()
    ils = pub[pub["key"].str.startswith("ilsvrc")]
    win = ils.groupby("year")["top5_error"].min()
    ax_h.plot(win.index, 100 * win.values, "o-", color="C3", label="ILSVRC winner (top-5)")
    for _, r in ils.iterrows():
        if r["top5_error"] > win.loc[r["year"]]:
            ax_h.plot(r["year"], 100 * r["top5_error"], "s", color="0.5", ms=5)
    ax_h.plot([], [], "s", color="0.5", label="other entries (top-5)")
    for y, v in win.items():
        ax_h.annotate(f"{100 * v:.1f}", (y, 100 * v), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax_h.set_xticks(sorted(win.index))
    ax_h.set_xlabel("year")
    ax_h.set_ylabel("top-5 error (%)")
    ax_h.set_title("History: ILSVRC test set")
    ax_h.legend(fontsize=8)
    ax_h.set_ylim(0, 40)

    ok = df[df["status"] == "ok"] if len(df) else df
    _, several_settings = _varies(ok)
    ok = ok.assign(label=ok["method"] + (("\n" + ok["setting"]) if several_settings else ""))
    table = ok.groupby("experiment", sort=False).agg(year=("year", "first"), family=("family", "first"),
                                                     label=("label", "first"), top1=("top1_error", "mean"),
                                                     top5=("top5_error", "mean")).set_index("label")
    x = np.arange(len(table))
    colors = {"baseline": "0.6", "hand-crafted": "C0", "dbn": "C2", "cnn": "C3"}
    bars = list(ax_r.bar(x - 0.2, 100 * table["top1"], 0.4, color=[colors.get(f, "C7") for f in table["family"]]))
    from matplotlib.patches import Patch

    handles = [Patch(color=colors.get(f, "C7"), label=f"{f}: top-1 error") for f in dict.fromkeys(table["family"])]
    heights = 100 * table["top1"].astype(float).fillna(0).to_numpy()
    if table["top5"].notna().any():
        top5 = 100 * table["top5"].astype(float)
        bars += list(ax_r.bar(x + 0.2, top5, 0.4, color="none", edgecolor="k", hatch="//"))
        handles.append(Patch(facecolor="none", edgecolor="k", hatch="//", label="top-5 error"))
        heights = np.maximum(heights, top5.fillna(0).to_numpy())
    labels = [ax_r.annotate(f"{100 * v:.1f}", (xi - 0.2, 100 * v), ha="center", va="bottom", fontsize=7)
              for xi, v in zip(x, table["top1"])]
    crowded = len(x) > 7  # names of 13 characters overlap beyond seven bars: slant them
    ax_r.set_xticks(x, [f"{m}\n({int(y) if pd.notna(y) else ''})" for m, y in zip(table.index, table["year"])],
                    fontsize=7, rotation=30 if crowded else 0, ha="right" if crowded else "center",
                    rotation_mode="anchor")
    ax_r.set_ylabel("test error (%)")
    ax_r.set_title(f"This run: {dataset}")
    # the free corner: above the lower half of the bars (history's order puts the low ones right)
    half = len(heights) // 2
    left, right = (heights[:max(half, 1)].max(initial=0), heights[half:].max(initial=0))
    ax_r.set_ylim(0, 1.12 * max(heights.max(initial=0), 1.0))  # room for the value labels
    legend = ax_r.legend(handles=handles, fontsize=8, loc="upper right" if right <= left else "upper left")
    last = table["year"].max() if len(table) else None
    fig.suptitle("The road to AlexNet: history beside this reproduction" if last is None or pd.isna(last)
                 or last <= 2012 else "From hand-crafted features to residual nets: history beside this reproduction")
    _caption(fig, caption_text(dataset, when=run_date(df)) + "\n" + jump_line(the_jump(df)))
    _clear_legend(fig, ax_r, legend, bars + labels)  # last: the titles take room from the axes
    return fig


def _clear_legend(fig, ax, legend, artists, tries: int = 12) -> None:
    """Raise ``ax``'s upper y-limit until ``legend`` overlaps none of ``artists`` (bars,
    value labels) on the drawn figure; at most ``tries`` steps of 15%."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not artists:
        return
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    for _ in range(tries):
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        box = legend.get_window_extent(renderer)
        if not any(box.overlaps(a.get_window_extent(renderer)) for a in artists):
            return
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * 1.15)


def plot_progression(df: pd.DataFrame, out_base, dataset: str) -> list[Path]:
    """History's ILSVRC top-5 errors by year beside this run's errors, method by method
    (:func:`figure_progression`), saved as PNG and SVG."""
    return _save(figure_progression(df, dataset), Path(out_base))


def figure_learning_curves(records: Sequence[dict], dataset: str):
    """The learning-curve figure (not saved), or None when no record has a curve.

    Left: error per epoch, training solid and validation dashed (the title names only the
    styles that are drawn); right: training loss per epoch.
    """
    curves = [(r["method"], r["learning_curve"]) for r in records if r.get("learning_curve")]
    if not curves:
        return None

    def series(curve, key):
        return [c.get("epoch", i + 1) for i, c in enumerate(curve)], [
            np.nan if c.get(key) is None else float(c[key]) for c in curve]

    fig = _figure(10, 4.2)
    ax_err, ax_loss = fig.subplots(1, 2)
    drawn = set()
    for i, (method, curve) in enumerate(curves):
        color = f"C{i}"
        for key, style in (("train_error", "o-"), ("val_error", "s--")):
            ep, ys = series(curve, key)
            if not all(np.isnan(ys)):
                ax_err.plot(ep, 100 * np.asarray(ys), style, ms=3, color=color,
                            label=f"{method} ({key.split('_')[0]})")
                drawn.add(key)
        ep, ys = series(curve, "train_loss")
        if not all(np.isnan(ys)):
            ax_loss.plot(ep, ys, "o-", ms=3, color=color, label=method)
    styles = [s for k, s in (("train_error", "train solid"), ("val_error", "validation dashed")) if k in drawn]
    ax_err.set_xlabel("epoch")
    ax_err.set_ylabel("error (%)")
    ax_err.set_title("Error per epoch" + (f" ({', '.join(styles)})" if styles else ""))
    if ax_err.get_legend_handles_labels()[0]:
        ax_err.legend(fontsize=8)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss (cross-entropy, nats)")
    ax_loss.set_title("Training loss per epoch")
    if ax_loss.get_legend_handles_labels()[0]:
        ax_loss.legend(fontsize=8)
    fig.suptitle("Learning curves")
    _caption(fig, caption_text(dataset, when=run_date(records)))
    return fig


def plot_learning_curves(records: Sequence[dict], out_base, dataset: str) -> list[Path]:
    """Error (train solid, validation dashed, where recorded) and training loss per epoch,
    per method (:func:`figure_learning_curves`), saved as PNG and SVG; none without curves."""
    fig = figure_learning_curves(records, dataset)
    return [] if fig is None else _save(fig, Path(out_base))


#: Confusion matrices name their classes up to this many; more are labelled by index.
MAX_NAMED_CLASSES = 30


def short_name(name, width: int = 10) -> str:
    """``name`` cut to ``width`` characters, the last one an ellipsis when cut."""
    name = str(name)
    return name if len(name) <= width else name[:width - 1] + "\u2026"


def class_labels(record: dict, n: int) -> Optional[list]:
    """The ``n`` class names a record's evaluation stored (``metrics["class_names"]``),
    shortened by :func:`short_name`; None when it stored none, a different number, or more
    than :data:`MAX_NAMED_CLASSES` (too many to read on a tick)."""
    names = (record.get("metrics") or {}).get("class_names")
    if not isinstance(names, list) or len(names) != n or n > MAX_NAMED_CLASSES:
        return None
    return [short_name(c) for c in names]


def figure_confusions(records: Sequence[dict], dataset: str):
    """One confusion matrix (row-normalised, %) per finished method (not saved), or None.

    Classes are labelled by the names the evaluation stored (shortened to 10 characters),
    or by index for records that hold none or more than :data:`MAX_NAMED_CLASSES`.
    """
    recs = [r for r in records if r.get("status") == "ok" and r.get("metrics")]
    if not recs:
        return None
    n = len(recs)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig = _figure(3.0 * cols, 3.0 * rows + 0.4)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, r in zip(axes, recs):
        cm = np.asarray(r["metrics"]["confusion"], float)
        cmn = 100 * cm / np.maximum(cm.sum(1, keepdims=True), 1)
        im = ax.imshow(cmn, cmap="Blues", vmin=0, vmax=100)
        ax.set_title(f"{r['method']}: {100 * r['top1_error']:.1f}% error", fontsize=8)
        names = class_labels(r, len(cm))
        if names is not None:
            ax.set_xticks(range(len(cm)), names, rotation=90)
            ax.set_yticks(range(len(cm)), names)
        ax.set_xlabel("predicted class" if names is not None else "predicted class (index)", fontsize=7)
        ax.set_ylabel("true class" if names is not None else "true class (index)", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes[n:]:
        ax.axis("off")
    fig.colorbar(im, ax=axes[:n].tolist(), shrink=0.7, label="% of true class")
    fig.suptitle("Confusion matrices")
    _caption(fig, caption_text(dataset, when=run_date(records)))
    return fig


def plot_confusions(records: Sequence[dict], out_base, dataset: str) -> list[Path]:
    """One confusion matrix (row-normalised, %) per finished method (:func:`figure_confusions`),
    saved as PNG and SVG."""
    fig = figure_confusions(records, dataset)
    return [] if fig is None else _save(fig, Path(out_base))


def plot_filters(records: Sequence[dict], out_base, dataset: str) -> list[Path]:
    """What each method learned or computes: AlexNet conv1 filters, RBM filters, HOG/SIFT pictures."""
    panels = []
    for r in records:
        f = Path(r.get("_path", "")) / "figures.npz"
        if r.get("status") == "ok" and f.is_file():
            from .io import load_npz

            for name, arr in load_npz(f).items():
                panels.append((f"{r['method']}: {name}", arr))
    if not panels:
        return []
    n = len(panels)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig = _figure(3.6 * cols, 3.6 * rows + 0.4)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, (title, arr) in zip(axes, panels):
        a = np.asarray(arr, float)
        lo, hi = np.nanmin(a), np.nanmax(a)
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        ax.imshow(a, cmap=None if a.ndim == 3 else "gray", interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    for ax in axes[n:]:
        ax.axis("off")
    fig.suptitle("First layers and hand-crafted features")
    _caption(fig, caption_text(dataset, "pixel values scaled to the full grey range per panel",
                               when=run_date(records)))
    return _save(fig, Path(out_base))


def draw_filters(ax, W, image_shape, n=100, title="first-layer filters"):
    """Draw the first ``n`` filters (rows of ``W``, e.g. ``RBM.components_``) as a grid on ``ax``.

    Each filter is scaled to [0, 1] on its own (:func:`histnet.tiles.tile_images`); ``W``
    may be a device array (it is copied to the host). Returns the ``AxesImage``.
    """
    im = ax.imshow(tile_images(to_host(W)[:n], image_shape), cmap="gray", interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title)
    return im


def draw_samples(ax, samples, image_shape, title="samples"):
    """Draw model samples (n, h*w) in [0, 1] as a grid on ``ax``, unscaled (grey 0 to 1).

    Returns the ``AxesImage``.
    """
    grid = tile_images(np.asarray(samples), image_shape, normalise=None)
    im = ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title)
    return im


def with_images_per_class(df: pd.DataFrame) -> pd.DataFrame:
    """The finished rows, with ``ipc``: the requested n_per_class, or train size / classes."""
    ok = df[df["status"] == "ok"].copy()
    ok["ipc"] = [float(n) if n is not None and pd.notna(n) else t / c
                 for n, t, c in zip(ok["n_per_class"], ok["n_train"], ok["n_classes"])]
    return ok


def crossover_point(df: pd.DataFrame) -> Optional[dict]:
    """Where the CNN overtakes the best hand-crafted pipeline, from crossover records.

    Mean top-1 error per (method, images per class) over seeds; at each size, the best CNN
    against the best ``hand-crafted`` method. The crossover is the smallest measured size
    from which the CNN stays ahead at every larger size; ``at`` interpolates the error gap
    linearly in log(images per class) between that size and the one below it.

    Returns
    -------
    dict or None
        ``size`` (first measured size ahead), ``below`` (the size before it, or None when
        the CNN leads from the smallest), ``at`` (interpolated), ``cnn`` and ``hand``
        (the method names at ``size``), ``gap`` (hand-crafted minus CNN error there).
        When the CNN is not ahead at the largest size: ``size`` is None and ``largest``,
        ``cnn``, ``hand`` and ``gap`` describe that size. None when no size has both a CNN
        and a hand-crafted result.
    """
    ok = with_images_per_class(df)
    means = ok.groupby(["family", "method", "ipc"])["top1_error"].mean().reset_index()
    cnn, hand = means[means["family"] == "cnn"], means[means["family"] == "hand-crafted"]
    sizes = sorted(set(cnn["ipc"]) & set(hand["ipc"]))
    if not sizes:
        return None
    best = []
    for n in sizes:
        c = cnn[cnn["ipc"] == n].nsmallest(1, "top1_error").iloc[0]
        h = hand[hand["ipc"] == n].nsmallest(1, "top1_error").iloc[0]
        best.append((n, c["method"], h["method"], float(h["top1_error"] - c["top1_error"])))
    if best[-1][3] <= 0:
        n, c_name, h_name, gap = best[-1]
        return {"size": None, "largest": n, "cnn": c_name, "hand": h_name, "gap": gap}
    k = len(best) - 1
    while k > 0 and best[k - 1][3] > 0:
        k -= 1
    n, c_name, h_name, gap = best[k]
    if k == 0:
        return {"size": n, "below": None, "at": n, "cnn": c_name, "hand": h_name, "gap": gap}
    n0, g0 = best[k - 1][0], best[k - 1][3]  # g0 <= 0 < gap
    t = -g0 / (gap - g0)
    at = float(np.exp(np.log(n0) + t * (np.log(n) - np.log(n0))))
    return {"size": n, "below": n0, "at": at, "cnn": c_name, "hand": h_name, "gap": gap}


def crossover_line(point: Optional[dict]) -> str:
    """One line for under the crossover table."""
    if point is None:
        return "crossover: needs a CNN and a hand-crafted method measured at the same sizes"
    if point["size"] is None:
        return (f"crossover: not reached; at the largest size measured ({point['largest']:g} per class) "
                f"{point['cnn']} is {-100 * point['gap']:.1f} points of error behind {point['hand']}")
    if point["below"] is None:
        return (f"crossover: {point['cnn']} is ahead of every hand-crafted pipeline from the smallest size "
                f"measured ({point['size']:g} images per class)")
    return (f"crossover: {point['cnn']} overtakes the best hand-crafted pipeline ({point['hand']}) between "
            f"{point['below']:g} and {point['size']:g} training images per class (about {point['at']:.0f}, "
            f"interpolated in log size) and stays ahead; at {point['size']:g} it is "
            f"{100 * point['gap']:.1f} points of error ahead")


def plot_crossover(df: pd.DataFrame, out_base, dataset: str) -> list[Path]:
    """Test accuracy against training images per class, one line per method, with the
    point where the CNN overtakes the hand-crafted pipelines marked (:func:`crossover_point`)."""
    ok = with_images_per_class(df)
    if not len(ok):
        return []
    fig = _figure()
    ax = fig.subplots()
    for method, g in ok.groupby("method", sort=False):
        curve = g.groupby("ipc")["top1_error"].agg(["mean", "std"]).reset_index()
        fam = g["family"].iloc[0]
        style = {"cnn": "-", "dbn": "-.", "hand-crafted": "--"}.get(fam, ":")
        ax.errorbar(curve["ipc"], 100 * (1 - curve["mean"]), yerr=100 * curve["std"].fillna(0),
                    fmt="o" + style, ms=4, capsize=2, label=f"{method} ({fam})")
    point = crossover_point(df)
    if point is not None and point["size"] is not None and point["below"] is not None:
        ax.axvline(point["at"], color="0.4", lw=1, ls=":")
        ax.annotate(f"CNN overtakes\nhand-crafted\n(~{point['at']:.0f}/class)", (point["at"], 0.03),
                    xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points",
                    fontsize=8, color="0.3")
    ax.set_xscale("log")
    ax.set_xlabel("training images per class (log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Scale matters: accuracy against training-set size")
    ax.legend(fontsize=8)
    _caption(fig, caption_text(dataset, when=run_date(df)) + "\n" + textwrap.fill(crossover_line(point), 120))
    return _save(fig, Path(out_base))


def budget_line(df: pd.DataFrame) -> str:
    """Who leads at each budget of an equal-compute sweep (:func:`histnet.studies.run_budget_sweep`)."""
    from .budget import format_duration

    ok = df[(df["status"] == "ok") & df["budget_s"].notna()] if len(df) else df
    if not len(ok):
        return "equal compute: no run finished"
    parts = []
    for b, g in ok.groupby("budget_s"):
        best = g.groupby("method")["top1_error"].mean().sort_values()
        parts.append(f"{format_duration(b)}: {best.index[0]} ({100 * best.iloc[0]:.2f}%)")
    return "equal compute, the best method at each budget: " + "; ".join(parts)


def plot_budget(df: pd.DataFrame, out_base, dataset: str) -> list[Path]:
    """Top-1 error against the per-method time budget (both log scale), one line per method;
    a point its budget cut (``not converged``) is drawn hollow."""
    import matplotlib.ticker

    from .budget import format_duration

    ok = df[(df["status"] == "ok") & df["budget_s"].notna()] if len(df) else df
    if not len(ok):
        return []
    fig = _figure(w=9.0)  # wider: the legend sits beside the axes (the layout engine makes room)
    ax = fig.subplots()
    for method, g in ok.groupby("method", sort=False):
        curve = g.groupby("budget_s").agg(err=("top1_error", "mean"),
                                          cut=("warnings", lambda w: any("budget" in str(x) for x in w)))
        curve = curve.reset_index()
        fam = g["family"].iloc[0]
        style = {"cnn": "-", "dbn": "-.", "hand-crafted": "--"}.get(fam, ":")
        line, = ax.plot(curve["budget_s"], 100 * curve["err"], style, lw=1.2, label=f"{method} ({fam})")
        for _, pt in curve.iterrows():
            ax.plot(pt["budget_s"], 100 * pt["err"], "o", ms=5, color=line.get_color(),
                    mfc="white" if pt["cut"] else line.get_color())
    budgets = sorted(ok["budget_s"].unique())
    ax.set_xscale("log")
    ax.set_xticks(budgets)
    ax.set_xticklabels([format_duration(b) for b in budgets])
    ax.minorticks_off()
    ax.set_xlabel("wall-clock budget per method (log scale)")
    ax.set_yscale("log")  # errors from about 1% to chance: on a linear axis the best rows sit on top of each other
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylabel("top-1 test error (%, log scale)")
    ax.set_title("Equal compute: error against the time budget (hollow: cut by its budget)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside: lines cross everywhere
    _caption(fig, caption_text(dataset, when=run_date(df)) + "\n" + textwrap.fill(budget_line(df), 120))
    return _save(fig, Path(out_base))


def write_report(records: Sequence[dict], out_dir, dataset: Optional[str] = None, stem: str = "table",
                 figures: bool = True, html: Optional[bool] = None) -> dict:
    """Tables and figures for a set of records. Returns the table, jump and the written paths.

    Parameters
    ----------
    records : sequence of dict
        Result records (:func:`load_records`).
    out_dir : path
        Where ``<stem>.md``/``.csv``/``.tex``, the figures and ``report.html`` go.
    dataset : str, optional
        The data set named in captions (default: the records' data sets).
    stem : str, default="table"
        File name of the tables.
    figures : bool, default=True
        Draw the figures (PNG and SVG).
    html : bool, optional
        Write ``report.html`` (:mod:`histnet.html_report`: the table, the PNG figures
        embedded, the commands and machines, readable offline). Default: with the figures.

    Returns
    -------
    dict
        ``table`` (the side-by-side DataFrame), ``frame`` (:func:`records_to_frame`),
        ``jump`` (:func:`the_jump`) and ``paths`` (every file written, ``report.html`` last).
    """
    df = records_to_frame(records)
    if not len(df):
        raise HistnetError("no result records found")
    dataset = dataset or ", ".join(sorted(set(df["dataset"].dropna().astype(str)))) or "?"
    table = side_by_side(df)
    jump = the_jump(df)
    out_dir = ensure_writable_folder(out_dir, "--out")
    paths = write_tables(table, out_dir, stem, caption=f"histnet on {dataset}. {jump_line(jump)}")
    several_sets, _ = _varies(df)
    if figures:
        if not several_sets:  # one figure puts one data set's runs beside history
            paths += plot_progression(df, out_dir / "progression", dataset)
        paths += plot_learning_curves(records, out_dir / "learning_curves", dataset)
        paths += plot_confusions(records, out_dir / "confusion", dataset)
        paths += plot_filters(records, out_dir / "filters", dataset)
    if figures if html is None else html:
        from .html_report import write_html

        paths.append(write_html(out_dir / "report.html", table, records, paths, title=f"histnet on {dataset}",
                                caption=jump_line(jump), when=run_date(df)))
    return {"table": table, "frame": df, "jump": jump, "paths": paths}


def plot_training_error(records: Mapping[str, list], arms: Sequence[str], out_base, dataset: str,
                        when: Optional[str] = None, target: float = 0.25) -> list[Path]:
    """Training error against epochs of the first run of each of ``arms`` (names into
    ``records``), with a line at ``target``: the 2012 paper's Figure 1 for ReLU against tanh
    (``histnet ablate``)."""
    from .nn.trainer import trace_windows

    fig = _figure(6.4, 4.2)
    ax = fig.subplots()
    for i, name in enumerate(arms):
        for r in records.get(name, [])[:1]:
            curve = r.get("learning_curve") or []
            trace = [p for c in curve for p in trace_windows(c)]
            if trace:  # the trainer's tenths of an epoch, as the paper's figure draws it
                ax.plot([p[0] for p in trace], [100 * p[1] for p in trace], "-", lw=1.4, color=f"C{i}",
                        label=name)
            elif curve:
                ax.plot([c["epoch"] for c in curve], [100 * c["train_error"] for c in curve], "o-", ms=3,
                        color=f"C{i}", label=name)
    ax.axhline(100 * target, color="0.5", ls="--", lw=1, label=f"{target:.0%}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training error (%)")
    ax.set_title("Training error by epoch\n(the measure of Krizhevsky et al. 2012, Figure 1)", fontsize=10)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    _caption(fig, caption_text(dataset, when=when))
    return _save(fig, Path(out_base))
