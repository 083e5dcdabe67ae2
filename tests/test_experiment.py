"""The experiment runner: one atomic record per job, resume, failures that do not stop a grid."""

import json

import numpy as np
import pytest

import toy_methods  # noqa: F401  (registers test-nearest-mean and test-crashes)
from histnet import experiment
from histnet.data import ArrayDataset, Splits
from histnet.experiment import JobSpec, run_grid, run_job


def toy_splits():
    rng = np.random.default_rng(0)
    centers = rng.integers(0, 255, size=(3, 6, 6, 1))
    labels = np.repeat(np.arange(3), 30)
    images = np.clip(centers[labels] + rng.normal(0, 20, size=(90, 6, 6, 1)), 0, 255).astype(np.uint8)
    ds = ArrayDataset("toy", images, labels, ["a", "b", "c"], {"split": "train", "checksum": "x"})
    return Splits(train=ds.subset(np.arange(0, 90, 2), "train"), test=ds.subset(np.arange(1, 90, 2), "test"))


@pytest.fixture(autouse=True)
def fake_data(monkeypatch):
    monkeypatch.setattr(experiment, "load_job_splits", lambda spec, progress=None: toy_splits())


def test_run_job_writes_a_complete_record(tmp_path):
    spec = JobSpec(method="test-nearest-mean", dataset="toy", seed=3)
    rec = run_job(spec, tmp_path, command="histnet run test-nearest-mean")
    path = tmp_path / spec.run_id() / "result.json"
    on_disk = json.loads(path.read_text())
    assert on_disk["status"] == "ok" and rec["status"] == "ok"
    assert on_disk["top1_error"] == pytest.approx(0.0)  # well separated classes
    assert on_disk["top5_error"] is None  # 3 classes: top-5 undefined
    for key in ("metrics", "timing", "memory", "config", "versions", "machine", "command", "dataset", "seed"):
        assert key in on_disk, key
    assert on_disk["dataset"]["n_train"] == 45 and on_disk["dataset"]["n_test"] == 45
    assert on_disk["command"] == "histnet run test-nearest-mean"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_job_removes_the_temporaries_a_killed_write_left_in_its_folder(tmp_path):
    spec = JobSpec(method="test-nearest-mean", dataset="toy", seed=4)
    run_dir = tmp_path / spec.run_id()
    run_dir.mkdir()
    (run_dir / ".result.json.k1ll3d.tmp").write_text("{")  # a kill -9 inside atomic_write leaves this
    (run_dir / "keep.tmp").write_text("not ours")  # only atomic_write's hidden names are touched
    assert run_job(spec, tmp_path)["status"] == "ok"
    assert sorted(p.name for p in run_dir.glob("*.tmp")) == ["keep.tmp"]
    assert not list(run_dir.glob(".*.tmp"))


def test_run_id_depends_on_config_and_seed():
    a = JobSpec(method="m", dataset="d", seed=0, overrides={"C": "1"})
    assert a.run_id() != JobSpec(method="m", dataset="d", seed=0, overrides={"C": "2"}).run_id()
    assert a.run_id() != JobSpec(method="m", dataset="d", seed=1, overrides={"C": "1"}).run_id()
    assert a.run_id() == JobSpec(method="m", dataset="d", seed=0, overrides={"C": "1"}).run_id()


def test_resume_skips_finished_runs(tmp_path):
    spec = JobSpec(method="test-nearest-mean", dataset="toy")
    run_job(spec, tmp_path)
    f = tmp_path / spec.run_id() / "result.json"
    before = f.read_text()
    rec = run_job(spec, tmp_path, resume=True)
    assert rec.get("skipped") and f.read_text() == before


def test_resume_finds_a_finished_run_made_with_the_same_configuration_under_another_id(tmp_path):
    # a record made with --set shrink=0 (the default) has another run id than the plain run,
    # but the same resolved configuration: --resume must not train it again
    made = run_job(JobSpec(method="test-nearest-mean", dataset="toy", overrides={"shrink": "0"}), tmp_path)
    plain = JobSpec(method="test-nearest-mean", dataset="toy")
    assert plain.run_id() != made["run_id"]
    notes = []
    rec = run_job(plain, tmp_path, resume=True, notify=notes.append)
    assert rec.get("skipped") and rec["run_id"] == made["run_id"]
    assert not (tmp_path / plain.run_id()).exists()
    assert notes and made["run_id"] in notes[0] and "same configuration" in notes[0]
    again = run_grid([plain], tmp_path, resume=True)
    assert again[0].get("skipped") and again[0]["run_id"] == made["run_id"]
    # a different configuration, seed or data option is a different job; no resume, no search
    for other in (JobSpec(method="test-nearest-mean", dataset="toy", overrides={"shrink": "0.5"}),
                  JobSpec(method="test-nearest-mean", dataset="toy", seed=1),
                  JobSpec(method="test-nearest-mean", dataset="toy", data={"val_fraction": 0.1})):
        assert not run_job(other, tmp_path, resume=True).get("skipped")
        assert (tmp_path / other.run_id() / "result.json").exists()
    assert not run_job(plain, tmp_path).get("skipped")
    # a record whose configuration lacks a field of today's (an older histnet) is not matched
    later = JobSpec(method="test-nearest-mean", dataset="toy", seed=2)
    old = run_job(JobSpec(method="test-nearest-mean", dataset="toy", seed=2, overrides={"shrink": "0"}), tmp_path)
    path = tmp_path / old["run_id"] / "result.json"
    on_disk = json.loads(path.read_text())
    del on_disk["config"]["fail_in_fit"]
    path.write_text(json.dumps(on_disk))
    assert not run_job(later, tmp_path, resume=True).get("skipped")


def test_failures_are_recorded_and_the_grid_goes_on(tmp_path):
    specs = [JobSpec(method="test-nearest-mean", dataset="toy", overrides={"fail_in_fit": "true"}),
             JobSpec(method="test-crashes", dataset="toy"),
             JobSpec(method="test-nearest-mean", dataset="toy"),
             JobSpec(method="no-such-method", dataset="toy")]
    seen = []
    recs = run_grid(specs, tmp_path, on_result=seen.append)
    assert [r["status"] for r in recs] == ["failed", "failed", "ok", "failed"]
    assert recs[0]["error"] == "test-nearest-mean: asked to fail"
    assert recs[1]["error"].startswith("ZeroDivisionError") and "Traceback" in recs[1]["traceback"]
    assert "unknown method" in recs[3]["error"]
    assert len(seen) == 4
    # failed runs are run again on resume, finished ones are not
    again = run_grid(specs, tmp_path, resume=True)
    assert [bool(r.get("skipped")) for r in again] == [False, False, True, False]


def test_unknown_config_name_suggests_the_closest(tmp_path):
    rec = run_job(JobSpec(method="test-nearest-mean", dataset="toy", overrides={"shrnk": "1"}), tmp_path)
    assert rec["status"] == "failed" and "did you mean shrink" in rec["error"]


def test_the_standin_device_runs_the_same_numbers(tmp_path):
    a = run_job(JobSpec(method="test-nearest-mean", dataset="toy"), tmp_path)
    b = run_job(JobSpec(method="test-nearest-mean", dataset="toy", device="cupy-standin"), tmp_path)
    assert b["device"] == "cupy-standin"
    assert a["metrics"]["confusion"] == b["metrics"]["confusion"]


def test_epoch_trained_methods_record_the_time_of_their_epochs(tmp_path):
    # fit_s is the process's own; epochs_s sums the learning curve, which a resumed run
    # restores from its checkpoint, so it also counts the sessions before --resume
    dbn = run_job(JobSpec(method="dbn", dataset="toy", profile="quick"), tmp_path)
    assert dbn["status"] == "ok", dbn.get("error")
    assert len(dbn["learning_curve"]) > 1
    assert dbn["timing"]["epochs_s"] == pytest.approx(sum(e["seconds"] for e in dbn["learning_curve"]))
    assert 0 < dbn["timing"]["epochs_s"] <= dbn["timing"]["fit_s"]
    assert run_job(JobSpec(method="test-nearest-mean", dataset="toy"), tmp_path)["timing"]["epochs_s"] is None


def test_a_method_that_does_not_keep_to_a_budget_says_so(tmp_path):
    spec = JobSpec("test-nearest-mean", "digits", budget=30)
    rec = run_job(spec, tmp_path)
    assert rec["status"] == "ok"
    assert rec["budget"]["honoured"] is False and "does not keep to a budget" in rec["budget"]["how"][0]
    assert any("ran without its 30s budget" in w for w in rec["warnings"])
    from histnet.report import records_to_frame, side_by_side

    table = side_by_side(records_to_frame([rec]))
    assert "ran without its 30s budget" in table["note"].iloc[0] and "30s (" in table["budget"].iloc[0]
