"""Is the net learning? The chance and rising-loss checks on synthetic learning curves, and
the Trainer reporting them and stopping a stuck run with its checkpoint kept."""

import math

import numpy as np
import pytest

from histnet.errors import NotLearningError
from histnet.io import load_npz
from histnet.nn import SGD, ConstantLR, Linear, ReLU, Sequential, Trainer
from histnet.nn.health import at_chance, diagnose, health_warnings, patience_epochs, warmup_epochs


def _curve(losses, errors):
    return [{"epoch": i + 1, "train_loss": l, "train_error": e} for i, (l, e) in enumerate(zip(losses, errors))]


LN10 = math.log(10)


def test_chance_is_judged_on_loss_and_error():
    assert at_chance({"train_loss": LN10, "train_error": 0.9}, 10)
    assert not at_chance({"train_loss": LN10, "train_error": 0.5}, 10)  # loss flat, but it predicts
    assert not at_chance({"train_loss": 1.5, "train_error": 0.9}, 10)
    assert not at_chance({"train_loss": 0.69, "train_error": 0.5}, 1)


def test_the_issue_curve_is_stuck_after_warmup_and_patience():
    # alexnet-64 on an ImageNet subset with the colour noise 100x too strong (the issue's numbers)
    losses = [2.41, 2.309, 2.307, 2.305, 2.304, 2.303, 2.303, 2.302, 2.300]
    errors = [0.9, 0.89, 0.89, 0.89, 0.89, 0.89, 0.89, 0.89, 0.89]
    epochs, spe = 20, 75
    warm, pat = warmup_epochs(epochs, spe), patience_epochs(spe)
    assert (warm, pat) == (2, 4)  # 10% of 20 epochs; 300 steps are 4 epochs of 75 (at least 3)
    findings = [diagnose(_curve(losses[:k], errors[:k]), 10, epochs, spe) for k in range(1, 10)]
    assert findings[0] is None and findings[1] is None  # warm-up: never judged
    assert [f["kind"] for f in findings[2:]] == ["chance"] * 7
    stuck = [f["stuck"] for f in findings[2:]]
    assert stuck == [False] * 3 + [True] * 4  # the 4th epoch at chance after the warm-up
    assert "ln 10 = 2.303" in findings[-1]["note"] and "epochs 3-9" in findings[-1]["note"]


def test_a_learning_curve_and_a_one_step_epoch_run_are_not_flagged_early():
    learning = _curve([2.07, 1.5, 1.1, 0.9, 0.8, 0.7], [0.75, 0.55, 0.4, 0.3, 0.28, 0.25])
    assert all(diagnose(learning[:k], 10, 20, 390) is None for k in range(1, 7))
    # a crossover set: 1 step per epoch, 1,500 epochs: 150 epochs of warm-up, 300 of patience
    flat = _curve([LN10] * 440, [0.9] * 440)
    f = diagnose(flat, 10, 1500, 1)
    assert f["kind"] == "chance" and not f["stuck"]
    assert diagnose(_curve([LN10] * 450, [0.9] * 450), 10, 1500, 1)["stuck"]
    assert diagnose(flat[:150], 10, 1500, 1) is None


def test_a_rising_loss_is_reported_and_warnings_are_summarised():
    c = _curve([2.0, 1.2, 1.0, 1.1, 1.3], [0.7, 0.4, 0.3, 0.35, 0.45])
    f = diagnose(c, 10, 10, 100)
    assert f["kind"] == "rising" and not f["stuck"] and "best 1.000" in f["note"]
    assert diagnose(c[:4], 10, 10, 100) is None  # one step up is noise
    c[-1].update(health="rising", health_note=f["note"])
    c[-2].update(health="chance", health_note="x")
    assert health_warnings(c) == ["x", f["note"]]


def _constant_model():
    """Outputs that ignore the input (zero weights, learning rate 0): loss ln 3 for ever."""
    m = Sequential([Linear(4, 8, rng=0), ReLU(), Linear(8, 3, init="normal", std=0.0, rng=1)])
    for layer in m.layers:
        for v in layer.params.values():
            v[...] = 0
    return m


def _balanced(n=90):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 4)).astype(np.float32), np.arange(n) % 3


def test_trainer_stops_a_stuck_net_and_keeps_the_checkpoint(tmp_path):
    m = _constant_model()
    events = []
    tr = Trainer(m, SGD(m, lr=0.0), ConstantLR(0.0), progress=events.append, stop_if_stuck=True)
    ck = tmp_path / "ck.npz"
    with pytest.raises(NotLearningError) as e:
        tr.fit(_balanced(), epochs=100, batch_size=10, seed=0, checkpoint_path=ck)
    # 9 steps an epoch: warm-up max(1, 10, 12) = 12 epochs, patience max(3, 34) = 34
    assert len(e.value.history) == 12 + 34
    msg = str(e.value)
    assert "stopped after epoch 46 of 100" in msg and "ln 3 = 1.099" in msg
    assert "learning rate" in msg and "pca_noise" in msg and str(ck) in msg
    meta = load_npz(ck)["meta"]
    assert '"epoch": 46' in str(meta)
    assert any("not learning" in ev.message for ev in events)


def test_trainer_only_reports_when_not_asked_to_stop():
    m = _constant_model()
    hist = Trainer(m, SGD(m, lr=0.0), ConstantLR(0.0)).fit(_balanced(), epochs=60, batch_size=10, seed=0)
    assert len(hist) == 60
    assert [h.get("health") for h in hist][:12] == [None] * 12
    assert all(h["health"] == "chance" for h in hist[12:])


def test_a_run_stopped_while_its_loss_still_fell_is_marked():
    from histnet.nn.health import convergence_note

    # the quick alexnet-cifar on mnist5k: 2.08, 0.94, 0.34 -- still learning fast
    note = convergence_note(_curve([2.08, 0.94, 0.34], [0.75, 0.3, 0.1]))
    assert note.startswith("not converged") and "64%" in note and "3 epochs" in note
    assert convergence_note(_curve([2.0, 0.50, 0.48], [0.7, 0.2, 0.19])) is None  # 4%: settled
    assert convergence_note(_curve([2.0], [0.3])) is None  # one epoch cannot tell from its loss
    # a run that has not fitted half its training images is not converged, whatever its loss did
    unfit = convergence_note(_curve([2.307, 2.176], [0.891, 0.825]))
    assert unfit.startswith("not converged") and "misclassified 82% of its training images" in unfit
    assert convergence_note(_curve([2.0], [0.7])).startswith("not converged")
    assert health_warnings(_curve([2.08, 0.94, 0.34], [0.75, 0.3, 0.1])) == [note]
