"""examples/walkthrough.py runs as a user would run it, so the walkthrough never goes stale."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from histnet.methods import get_method

WALKTHROUGH = Path(__file__).resolve().parent.parent / "examples" / "walkthrough.py"


def test_the_walkthrough_runs_and_writes_its_figure_and_model(tmp_path):
    env = dict(os.environ, HISTNET_CACHE=str(tmp_path / "cache"), MPLBACKEND="Agg")
    res = subprocess.run([sys.executable, str(WALKTHROUGH), "out"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    errors = dict(re.findall(r"^(\S+)\s+\(\d{4}\): top-1 error ([\d.]+)%", res.stdout, re.M))
    assert set(errors) == {"pixels-svm", "hog-svm"}
    assert all(0 <= float(e) < 50 for e in errors.values())  # ten classes: chance is 90%
    figure = tmp_path / "out" / "comparison.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000
    best = min(errors, key=lambda m: float(errors[m]))
    assert "same scores: True" in res.stdout
    model = get_method(best).load(tmp_path / "out" / f"{best}.npz")
    assert model.info_["class_names"] == [str(d) for d in range(10)]
    scores = model.predict_scores(np.zeros((2, 28, 28, 1), np.uint8))
    assert scores.shape == (2, 10)


def test_the_walkthrough_doc_points_at_the_script():
    doc = (WALKTHROUGH.parent.parent / "docs" / "walkthrough.md").read_text()
    assert "examples/walkthrough.py" in doc
