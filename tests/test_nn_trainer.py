"""Trainer: learning, resume after an interruption gives the uninterrupted run's numbers,
NaN detection names the layer and step, checkpoints of other networks are refused."""

import numpy as np
import pytest

from histnet.backend import FLOAT, get_backend, to_device
from histnet.data import ArrayDataset
from histnet.errors import CheckpointError, DivergenceError
from histnet.io import load_npz
from histnet.nn import (SGD, ConstantLR, Dropout, Linear, OneCycleLR, PlateauLR, ReLU, Sequential, Sigmoid,
                        Trainer)


def _data(n=120, seed=0):
    """Two Gaussian blobs per class in 8-d, 3 classes (an easy, non-linear problem)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.standard_normal((3, 8)) * 2
    X = (centres[y] + rng.standard_normal((n, 8))).astype(np.float32)
    return X, y


def _model(xp=np):
    return Sequential([Linear(8, 16, rng=0, xp=xp), ReLU(), Dropout(0.2),
                       Linear(16, 16, rng=1, xp=xp), Sigmoid(), Linear(16, 3, rng=2, xp=xp)])


def _trainer(model, progress=None, schedule="onecycle"):
    opt = SGD(model, lr=0.1, momentum=0.9, weight_decay=5e-4)
    sched = OneCycleLR(0.2) if schedule == "onecycle" else PlateauLR(0.1, patience=0)
    return Trainer(model, opt, sched, progress=progress)


def test_trainer_learns_and_reports_progress():
    X, y = _data()
    events = []
    m = _model()
    hist = _trainer(m, events.append).fit((X, y), (X[:40], y[:40]), epochs=6, batch_size=16, seed=0)
    assert [h["epoch"] for h in hist] == list(range(1, 7))
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert hist[-1]["val_error"] < 0.2
    assert len(events) == 6 * 8 and events[-1].total == 8 and "loss" in events[-1].message


def test_training_error_trace_resolves_each_epoch():
    """Each epoch carries TRACE_POINTS windows of training error at fractional epochs; the
    windows' errors, weighted by their batches, are the epoch's train_error."""
    X, y = _data(n=400)  # 25 batches of 16: windows of 2 batches (25 // 10), the last one of 3
    hist = _trainer(_model()).fit((X, y), None, epochs=3, batch_size=16, seed=0)
    for e in hist:
        tr = e["trace"]
        epochs = [p[0] for p in tr]
        assert len(tr) == 12 and epochs == sorted(epochs)
        assert e["epoch"] - 1 < epochs[0] < epochs[-1] == pytest.approx(e["epoch"])
        assert epochs[-2] == pytest.approx(e["epoch"] - 1 + 22 / 25)  # no one-batch window at the end
        sizes = [32] * 11 + [400 - 11 * 32]
        assert np.dot([p[1] for p in tr], sizes) / 400 == pytest.approx(e["train_error"])
        assert [p[2] for p in tr] == sorted(p[2] for p in tr) and tr[-1][2] <= e["seconds"] + 1e-3  # rounded to ms


def test_resume_after_interrupt_gives_identical_run(tmp_path):
    X, y = _data()
    ds = (X, y)  # the Trainer takes a Dataset or (X, y); the next test uses a Dataset
    full = _model()
    ref = _trainer(full, schedule="plateau").fit(ds, ds, epochs=4, batch_size=16, seed=7)

    ck = tmp_path / "run.npz"
    calls = {"n": 0}

    def stop_after_11(event):
        calls["n"] += 1
        if calls["n"] == 11:  # part-way through epoch 2
            raise KeyboardInterrupt

    part = _model()
    with pytest.raises(KeyboardInterrupt):
        _trainer(part, stop_after_11, schedule="plateau").fit(ds, ds, epochs=4, batch_size=16, seed=7,
                                                              checkpoint_path=ck)
    meta = load_npz(ck)
    assert "model/0_linear.W" in meta and "opt/0_linear.W" in meta
    resumed_model = _model()
    hist = _trainer(resumed_model, schedule="plateau").fit(ds, ds, epochs=4, batch_size=16, seed=7,
                                                           checkpoint_path=ck, resume=True)
    def strip(h):  # timings differ between runs; the trace's [epoch, error] must not
        return [{**{k: v for k, v in e.items() if k not in ("seconds", "trace")},
                 "trace": [p[:2] for p in e["trace"]]} for e in h]
    assert strip(hist) == strip(ref)
    assert all(e["trace"] for e in ref)
    for k, v in full.state_dict().items():
        np.testing.assert_array_equal(resumed_model.state_dict()[k], v)


def test_resume_with_dataset_and_interrupt_at_epoch_boundary(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (48, 2, 2, 2), dtype=np.uint8)
    labels = (imgs.reshape(48, -1).mean(1) > 127).astype(int)
    ds = ArrayDataset("tiny", imgs, labels, ["lo", "hi"])

    def prep(images, lab, r, train):
        return images.reshape(len(images), -1).astype(np.float32) / 255, lab

    def make():
        m = Sequential([Linear(8, 4, rng=0), ReLU(), Linear(4, 2, rng=1)])
        return m, Trainer(m, SGD(m, lr=0.5), OneCycleLR(0.5), preprocess=prep)

    m_ref, t_ref = make()
    ref = t_ref.fit(ds, None, epochs=3, batch_size=8, seed=1)
    ck = tmp_path / "c.npz"
    m1, t1 = make()
    n = {"i": 0}

    def stop(e):
        n["i"] += 1
        if n["i"] == 6:  # the last batch of epoch 1, before its validation
            raise KeyboardInterrupt

    t1.progress = stop
    with pytest.raises(KeyboardInterrupt):
        t1.fit(ds, None, epochs=3, batch_size=8, seed=1, checkpoint_path=ck)
    m2, t2 = make()
    hist = t2.fit(ds, None, epochs=3, batch_size=8, seed=1, checkpoint_path=ck, resume=True)
    assert [h["train_loss"] for h in hist] == [h["train_loss"] for h in ref]
    for k, v in m_ref.state_dict().items():
        np.testing.assert_array_equal(m2.state_dict()[k], v)


def test_divergence_names_layer_and_step_and_keeps_checkpoint(tmp_path):
    X, y = _data()
    m = _model()
    ck = tmp_path / "c.npz"
    t = _trainer(m)
    t.fit((X, y), None, epochs=1, batch_size=16, seed=0, checkpoint_path=ck)
    before = load_npz(ck)["model/3_linear.W"]
    m.layers[3].params["W"][0, 0] = np.inf  # a weight blows up
    with pytest.raises(DivergenceError, match=r"step 1 .*layer 3_linear.*last good checkpoint kept"):
        t.fit((X, y), None, epochs=2, batch_size=16, seed=0, checkpoint_path=ck)
    np.testing.assert_array_equal(load_npz(ck)["model/3_linear.W"], before)


def test_checkpoint_of_another_network_is_refused(tmp_path):
    X, y = _data()
    ck = tmp_path / "c.npz"
    _trainer(_model()).fit((X, y), None, epochs=1, batch_size=16, checkpoint_path=ck)
    other = Sequential([Linear(8, 32, rng=0), ReLU(), Linear(32, 3, rng=1)])
    with pytest.raises(CheckpointError, match=r"0_linear.W is \(8, 16\) there, \(8, 32\) here"):
        _trainer(other).fit((X, y), None, epochs=1, batch_size=16, checkpoint_path=ck, resume=True)
    with pytest.raises(CheckpointError, match="seed=0.*seed=3"):
        _trainer(_model()).fit((X, y), None, epochs=1, batch_size=16, seed=3, checkpoint_path=ck, resume=True)


def test_training_step_under_standin_matches_numpy():
    X, y = _data(48)
    sc = get_backend("cupy-standin").xp
    out = []
    for xp in (np, sc):
        m = _model(xp)
        prep = lambda im, lab, r, train, xp=xp: (to_device(im, xp, FLOAT), to_device(lab, xp))  # noqa: E731
        t = Trainer(m, SGD(m, lr=0.1), preprocess=prep)
        h = t.fit((X, y), None, epochs=1, batch_size=16, seed=0)
        out.append((h[0]["train_loss"], m.state_dict()))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-5)
    for k, v in out[0][1].items():
        np.testing.assert_allclose(out[1][1][k], v, rtol=1e-5, atol=1e-6)


def test_periodic_checkpoints_and_eta(tmp_path):
    X, y = _data(64)
    ck = tmp_path / "c.npz"
    events = []
    t = _trainer(_model(), events.append)
    t.checkpoint_every_s = 0.0  # save after every batch
    saved = []
    real_save = t.save_checkpoint
    t.save_checkpoint = lambda path: (saved.append((t.epoch, t.batch)), real_save(path))
    t.fit((X, y), None, epochs=2, batch_size=16, checkpoint_path=ck)
    assert (0, 1) in saved and (0, 3) in saved and (2, 0) in saved  # mid-epoch and after each epoch
    assert events[0].eta is not None and events[0].eta > 0 and events[3].eta == 0


def test_a_diverging_run_keeps_the_checkpoint_from_before_the_loss_blew_up(tmp_path):
    X, y = _data()
    m = Sequential([Linear(8, 16, rng=0), ReLU(), Linear(16, 16, rng=1), ReLU(), Linear(16, 3, rng=2)])
    ck = tmp_path / "c.npz"
    # a sane first epoch, then a learning rate far too high: the loss grows (finite) for
    # epochs before anything is NaN; checkpoints are due after every batch
    t = Trainer(m, SGD(m, lr=0.05, momentum=0.9), ConstantLR(0.05), checkpoint_every_s=0.0)
    t.fit((X, y), None, epochs=1, batch_size=16, seed=0, checkpoint_path=ck)
    good = {k: v.copy() for k, v in load_npz(ck).items() if k.startswith("model/")}
    hot = Trainer(m, SGD(m, lr=10.0, momentum=0.9), ConstantLR(10.0), checkpoint_every_s=0.0)
    with pytest.raises(DivergenceError, match="last good checkpoint kept at .*before the loss left") as e:
        hot.fit((X, y), None, epochs=50, batch_size=16, seed=0, checkpoint_path=ck, resume=True)
    assert "Traceback" not in str(e.value)
    kept = load_npz(ck)
    biggest = max(float(np.abs(v).max()) for k, v in kept.items() if k.startswith("model/"))
    assert biggest < 1e3, biggest  # not the exploded weights
    assert max(float(np.abs(v).max()) for v in good.values()) < 1e3


def test_progress_shows_speed_and_run_eta_and_the_curve_is_written_live(tmp_path):
    X, y = _data()
    events = []
    m = _model()
    hist = _trainer(m, events.append).fit((X, y), None, epochs=3, batch_size=16, seed=0,
                                          checkpoint_path=tmp_path / "ck.npz")
    assert "img/s" in events[-1].message and "run ETA 0:00:00" in events[-1].message
    assert "run ETA" in events[0].message
    lines = (tmp_path / "curve.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,train_loss,train_error")
    assert [float(ln.split(",")[1]) for ln in lines[1:]] == [h["train_loss"] for h in hist]
