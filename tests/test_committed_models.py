"""The trained models shipped in results/: each file is the one its checksum names, and
``histnet predict`` (the real command) classifies the first 100 test images of its data set,
kept in results/samples/, exactly as the check made when the model was committed, with the
same error (benchmarks/commit_models.py). The float16 copies were kept only because they
changed no prediction on the whole test split; the check file says so and the test holds it."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
CHECKS = sorted(RESULTS.glob("*/*/model-check.json"))
SAMPLES = {"cifar10-jpg": RESULTS / "samples" / "cifar10-jpg-test-first100"}


def test_the_cifar10_alexnet_is_shipped():
    assert any("alexnet-cifar__cifar10-jpg" in str(c) for c in CHECKS)


def test_every_shipped_model_matches_its_checksum():
    lines = (RESULTS / "models.sha256").read_text().split("\n")
    listed = [ln.split("  ", 1) for ln in lines if ln.strip()]
    assert {RESULTS / rel for _, rel in listed} == {c.parent / "model.npz" for c in CHECKS}
    for digest, rel in listed:
        assert hashlib.sha256((RESULTS / rel).read_bytes()).hexdigest() == digest, rel


@pytest.mark.parametrize("check_file", CHECKS, ids=lambda p: p.parent.name.split("__")[0])
def test_predict_on_the_first_100_test_images_matches_the_record(check_file):
    check = json.loads(check_file.read_text())
    record = json.loads((check_file.parent / "result.json").read_text())
    samples = RESULTS / "samples" / check["samples"] if check.get("samples") else SAMPLES[record["dataset"]["name"]]
    # the kept copy scored the whole test split with the record's error, every prediction unchanged
    assert check["top1_error"] == pytest.approx(record["top1_error"], abs=1e-9)
    if check["dtype"] == "float16":
        assert check["float16_changed_predictions"] == 0
    proc = subprocess.run([sys.executable, "-m", "histnet_cli", "predict", "--json", "--top", "1",
                           str(check_file.parent), str(samples)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    got = {Path(r["image"]).relative_to(samples).as_posix(): r["top"][0]["index"] for r in json.loads(proc.stdout)}
    first = check["first100"]
    assert sorted(got) == sorted(first["files"])
    predicted = [got[f] for f in first["files"]]
    assert predicted == first["predicted"]
    errors = sum(p != y for p, y in zip(predicted, first["labels"]))
    assert errors / len(first["labels"]) == pytest.approx(first["top1_error"])
