"""Tests of histnet.evaluate against scikit-learn's metrics.

Tie-breaking: histnet ranks tied scores toward the lower class index (as ``argmax``);
scikit-learn's ``top_k_accuracy_score`` ranks them toward the higher index. Reversing
the class order turns one rule into the other, so with ties the reference is
scikit-learn on the column-reversed scores.
"""

import json

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import recall_score, top_k_accuracy_score

from histnet.errors import ConfigError
from histnet.evaluate import (Stopwatch, confusion_matrix, evaluate, machine_info, peak_memory_mb,
                              top_k_error)
from histnet.io import to_json


def _sk_top_k_error_lower_index_ties(scores, labels, k):
    """scikit-learn's top-k error with ties broken toward the lower index."""
    c = scores.shape[1]
    acc = top_k_accuracy_score(c - 1 - labels, scores[:, ::-1], k=k, labels=np.arange(c))
    return 1.0 - acc


def _random(n, c, seed, ties):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    if ties:  # few distinct values: many ties, some on the true class
        scores = rng.integers(0, 3, (n, c)).astype(np.float64)
    else:
        scores = rng.standard_normal((n, c))
    return scores, labels


@pytest.mark.parametrize("k", [1, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_top_k_matches_sklearn_without_ties(k, seed):
    scores, labels = _random(300, 10, seed, ties=False)
    expected = 1.0 - top_k_accuracy_score(labels, scores, k=k, labels=np.arange(10))
    assert top_k_error(scores, labels, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_k_with_ties_matches_sklearn_on_reversed_classes(k, seed):
    scores, labels = _random(400, 8, seed, ties=True)
    assert top_k_error(scores, labels, k) == pytest.approx(
        _sk_top_k_error_lower_index_ties(scores, labels, k), abs=1e-12)
    # and the stable descending sort, the rule stated in evaluate's docstring
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    assert top_k_error(scores, labels, k) == pytest.approx(np.mean(~(order == labels[:, None]).any(axis=1)))


def test_tie_rule_by_hand():
    scores = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 2.0, 2.0]])
    labels = np.array([0, 1, 2])
    # row 0: class 0 wins its tie (correct); row 1: class 1 loses to class 0; row 2: class 2 loses to 1
    assert top_k_error(scores, labels, 1) == pytest.approx(2 / 3)
    assert top_k_error(scores, labels, 2) == 0.0
    # scikit-learn breaks the same ties the other way: only row 0 is wrong there
    assert 1 - top_k_accuracy_score(labels, scores, k=1, labels=np.arange(3)) == pytest.approx(1 / 3)
    r = evaluate(scores, labels)
    assert r["top1_error"] == pytest.approx(2 / 3)
    assert r["confusion"] == [[1, 0, 0], [1, 0, 0], [0, 1, 0]]  # argmax: the same tie-break


@pytest.mark.parametrize("ties", [False, True])
def test_evaluate_confusion_and_per_class_match_sklearn(ties):
    scores, labels = _random(500, 12, 3, ties=ties)
    r = evaluate(scores, labels)
    predicted = np.argmax(scores, axis=1)
    np.testing.assert_array_equal(np.array(r["confusion"]), sk_confusion(labels, predicted, labels=np.arange(12)))
    np.testing.assert_allclose(r["per_class_accuracy"], recall_score(labels, predicted, average=None,
                                                                     labels=np.arange(12)))
    assert r["top1_error"] == pytest.approx(_sk_top_k_error_lower_index_ties(scores, labels, 1))
    assert r["top5_error"] == pytest.approx(_sk_top_k_error_lower_index_ties(scores, labels, 5))
    assert r["accuracy"] == pytest.approx(1 - r["top1_error"])
    assert r["accuracy"] == pytest.approx(np.mean(predicted == labels))
    assert (r["n_images"], r["n_classes"]) == (500, 12)


def test_confusion_matrix_function():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 0, 2])
    np.testing.assert_array_equal(confusion_matrix(labels, predicted, 4),
                                  sk_confusion(labels, predicted, labels=np.arange(4)))


@pytest.mark.parametrize("c, has_top5", [(2, False), (5, False), (6, True), (10, True)])
def test_top5_only_with_more_than_five_classes(c, has_top5):
    scores, labels = _random(50, c, 4, ties=False)
    r = evaluate(scores, labels)
    if has_top5:
        assert r["top5_error"] == pytest.approx(1 - top_k_accuracy_score(labels, scores, k=5, labels=np.arange(c)))
    else:
        assert r["top5_error"] is None


def test_per_class_accuracy_by_hand_and_absent_class_is_nan():
    scores = np.eye(4)[[0, 0, 1, 1, 1, 3]]  # predictions 0 0 1 1 1 3
    labels = np.array([0, 1, 1, 1, 3, 3])
    r = evaluate(scores, labels, class_names=["a", "b", "c", "d"])
    per = r["per_class_accuracy"]
    assert per[0] == 1.0 and per[1] == pytest.approx(2 / 3) and per[3] == 0.5
    assert np.isnan(per[2])  # class "c" has no test image
    assert r["class_names"] == ["a", "b", "c", "d"]
    # the record is valid JSON, NaN written as null
    assert json.loads(to_json(r))["per_class_accuracy"][2] is None


def test_perfect_and_worst_scores():
    labels = np.arange(7)
    assert evaluate(np.eye(7), labels)["top1_error"] == 0.0
    worst = -np.eye(7)  # the true class is the lowest score: outside any top-5 of 7
    r = evaluate(worst, labels)
    assert r["top1_error"] == 1.0 and r["top5_error"] == 1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_scores_are_rejected(bad):
    scores, labels = _random(20, 6, 5, ties=False)
    scores[3, 2] = bad
    with pytest.raises(ConfigError, match="NaN or inf"):
        evaluate(scores, labels)


def test_bad_shapes_and_labels():
    scores, labels = _random(20, 6, 6, ties=False)
    with pytest.raises(ConfigError, match=r"must be \(n_samples, n_classes\)"):
        evaluate(scores[:, 0], labels)
    with pytest.raises(ConfigError, match="20 score rows but 19 labels"):
        evaluate(scores, labels[:-1])
    with pytest.raises(ConfigError, match="labels must lie in 0..5"):
        evaluate(scores, np.where(labels == 0, 6, labels))
    with pytest.raises(ConfigError, match="labels must lie in 0..5"):
        evaluate(scores, np.where(labels == 0, -1, labels))
    with pytest.raises(ConfigError, match="zero images"):
        evaluate(np.zeros((0, 6)), np.zeros(0, np.int64))
    with pytest.raises(ConfigError, match="1 <= k <= n_classes"):
        top_k_error(scores, labels, 7)
    with pytest.raises(ConfigError, match="labels in 0..5"):
        top_k_error(scores, np.full(20, -1), 1)  # a -1 label must not index the last class


def test_integer_and_float32_scores_give_the_same_result():
    scores, labels = _random(100, 10, 7, ties=True)
    a = evaluate(scores, labels)
    b = evaluate(scores.astype(np.float32), labels)
    c = evaluate(scores.astype(np.int32), labels.astype(np.int32))
    assert a == b == c


def test_timing_and_machine_helpers():
    with Stopwatch() as t:
        sum(range(1000))
    assert t.seconds >= 0.0
    assert peak_memory_mb() > 1.0
    info = machine_info()
    assert {"cpu", "cores", "os", "python"} <= set(info)
