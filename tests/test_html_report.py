"""report.html: one self-contained page of the table, the figures, the commands and the machines."""

import json
import re
from html.parser import HTMLParser

import numpy as np
from click.testing import CliRunner

from histnet import html_report, report
from histnet_cli.main import cli
from test_report import RECORDS

MACHINE = {"cpu": "Test CPU <v2> & co", "cores": 2, "os": "Linux", "python": "3.11.7"}
VERSIONS = {"histnet": "0.1", "numpy": "2.0"}


def _records():
    recs = [dict(r, command="histnet progression --methods 'a<b' & echo", machine=MACHINE, versions=VERSIONS)
            for r in RECORDS]
    recs[0]["command"] = "histnet run pixels-svm -d toy"
    return recs


class Page(HTMLParser):
    """What a browser would see: the image sources, the table cells, every tag and its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.imgs, self.cells, self.headers, self.pres, self.tags = [], [], [], [], []
        self._cell = None
        self._pre = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs))
        elif tag in ("td", "th"):
            self._cell = (tag, [])
        elif tag == "pre":
            self._pre = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell:
            (self.cells if self._cell[0] == "td" else self.headers).append("".join(self._cell[1]))
            self._cell = None
        elif tag == "pre" and self._pre is not None:
            self.pres.append("".join(self._pre))
            self._pre = None

    def handle_data(self, data):
        if self._cell:
            self._cell[1].append(data)
        if self._pre is not None:
            self._pre.append(data)


def _parse(text):
    page = Page()
    page.feed(text)
    page.close()
    return page


def _md_cells(md):
    """Every cell of a Markdown table (the separator row left out), ``\\|`` read as ``|``."""
    rows = [ln for ln in md.splitlines() if ln.startswith("|") and not ln.startswith("|---")]
    return [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in rows]


def _write(tmp_path):
    for r in _records():
        d = tmp_path / "runs" / r["run_id"]
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps(r))
    np.savez(tmp_path / "runs" / "hog-svm__toy__seed0" / "figures.npz",
             hog=np.random.default_rng(0).random((16, 16)))
    return report.write_report(report.load_records([tmp_path / "runs"]), tmp_path / "out", dataset="toy")


def test_the_page_holds_every_figure_every_cell_and_no_web_reference(tmp_path):
    res = _write(tmp_path)
    out = tmp_path / "out"
    assert res["paths"][-1] == out / "report.html"
    text = (out / "report.html").read_text(encoding="utf-8")
    page = _parse(text)
    # every PNG the report wrote, inline
    pngs = sorted(p for p in res["paths"] if p.suffix == ".png")
    assert len(pngs) == 4 and sorted(out.glob("*.png")) == pngs
    data = [i["src"] for i in page.imgs if i["src"].startswith("data:image/png;base64,")]
    assert len(data) == len(page.imgs) == len(pngs)
    import base64

    assert sorted(base64.b64decode(s.split(",", 1)[1]) for s in data) == sorted(p.read_bytes() for p in pngs)
    # every cell of table.md, the published history among them
    md = _md_cells((out / "table.md").read_text(encoding="utf-8"))
    assert page.headers == md[0]
    assert page.cells == [c for row in md[1:] for c in row]
    assert "ILSVRC-2012 test, SuperVision: 15.3% top-5" in page.cells and "25.00% ± 5.00" in page.cells
    # offline: no web address, no script, no external style sheet or font
    assert not re.search(r"https?:", text, re.I) and "<script" not in text and "@import" not in text
    assert "link" not in page.tags and "<title>histnet on toy</title>" in text


def test_commands_and_machines_are_listed_once_each_and_escaped(tmp_path):
    _write(tmp_path)
    text = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    page = _parse(text)
    assert sorted(page.pres) == ["histnet progression --methods 'a<b' & echo", "histnet run pixels-svm -d toy"]
    assert "&lt;b&#x27; &amp; echo" in text and "'a<b'" not in text  # escaped in the source
    assert text.count("Test CPU &lt;v2&gt; &amp; co") == 1 and "numpy" in text
    assert "2012 jump" in text


def test_render_html_escapes_the_table_and_skips_non_png_figures(tmp_path):
    import pandas as pd

    svg = tmp_path / "x.svg"
    svg.write_text("<svg/>")
    text = html_report.render_html(pd.DataFrame({"method": ["<b>bold</b>"], "top-1 error": ["1.00%"]}), [],
                                   [svg], title="a & b")
    page = _parse(text)
    assert page.cells == ["<b>bold</b>", "1.00%"] and "<b>bold" not in text
    assert page.imgs == [] and "<title>a &amp; b</title>" in text


def test_histnet_report_writes_the_page_unless_told_no_figures(tmp_path):
    _write(tmp_path)
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "runs"), "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cli" / "report.html").is_file() and "report.html" in res.stderr
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "runs"), "--out", str(tmp_path / "bare"), "--no-figures"])
    assert res.exit_code == 0 and not (tmp_path / "bare" / "report.html").exists()
