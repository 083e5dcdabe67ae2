"""The three dense-SIFT methods end to end on a tiny synthetic data set: fit, predict, cache, save/load."""

import numpy as np
import pytest

from histnet.data.base import ArrayDataset
from histnet.errors import CheckpointError
from histnet.evaluate import evaluate
from histnet.methods import get_method, make_config
from histnet.methods._sift_pipeline import SiftPipelineMethod, pack_arrays, unpack_arrays

pytest.importorskip("histnet.classifiers.linear_svm")

TINY = {"step": 4, "levels": (1, 2), "codebook_images": 24, "descriptors_per_image": 12, "batch_size": 16}
PER_METHOD = {
    "sift-bovw-svm": {"n_words": 8, "kmeans_iter": 10},
    "sift-llc-svm": {"n_words": 12, "n_neighbors": 3, "kmeans_iter": 10},
    "sift-fisher-svm": {"pca_dim": 8, "n_components": 3, "gmm_iter": 10},
}


def stripes(n, seed):
    """24x24 grey images of horizontal, vertical or diagonal stripes (class 0, 1, 2), random phase and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:24, :24]
    labels = np.arange(n) % 3
    imgs = []
    for c in labels:
        phase = rng.uniform(0, 2 * np.pi)
        coord = (y, x, (x + y) / np.sqrt(2))[c]
        img = 128 + 90 * np.sin(2 * np.pi * coord / 6 + phase) + rng.normal(scale=10, size=(24, 24))
        imgs.append(np.clip(img, 0, 255).astype(np.uint8))
    return ArrayDataset("stripes", np.stack(imgs)[..., None], labels, ["h", "v", "d"],
                        provenance={"source": "test", "split": f"seed{seed}", "checksum": f"stripes-{n}-{seed}"})


@pytest.fixture(scope="module")
def data():
    return stripes(36, 0), stripes(15, 1)


def build(name, backend="cpu", **extra):
    cls = get_method(name)
    return cls(make_config(cls, {**TINY, **PER_METHOD[name], **extra}), backend=backend, seed=0)


@pytest.mark.parametrize("name", ["sift-bovw-svm", "sift-llc-svm", "sift-fisher-svm"])
def test_fit_predict_save_load(name, data, tmp_path):
    train, test = data
    m = build(name).fit(train)
    images = test.get_images(np.arange(len(test)))
    scores = m.predict_scores(images)
    assert scores.shape == (15, 3) and scores.dtype == np.float32 and np.isfinite(scores).all()
    assert evaluate(scores, test.labels)["top1_error"] <= 0.1  # stripe orientation is what SIFT sees
    assert m.describe()["feature_dim"] == m.svm_.n_features_in_
    assert m.describe()["n_params"] > m.describe()["feature_dim"]
    assert m.describe()["flops_per_image"] > 2 * 3 * m.describe()["feature_dim"]
    m.save(tmp_path / "model.npz")
    back = type(m).load(tmp_path / "model.npz")
    np.testing.assert_allclose(back.predict_scores(images), scores, rtol=1e-5, atol=1e-5)
    assert back.describe() == m.describe()


@pytest.mark.parametrize("name", ["sift-bovw-svm", "sift-fisher-svm"])
def test_another_C_reuses_the_cached_features(name, data, monkeypatch):
    train, _ = data
    build(name).fit(train)

    def no_extraction(*a, **k):
        raise AssertionError("features were extracted again")

    monkeypatch.setattr(SiftPipelineMethod, "_describe_images", no_extraction)
    m = build(name, C=10.0).fit(train)  # only the SVM is trained
    assert m.svm_.C == 10.0
    with pytest.raises(AssertionError):
        build(name, n_words=9).fit(train) if name == "sift-bovw-svm" else build(name, pca_dim=7).fit(train)


def test_standin_gives_the_numpy_scores(data):
    train, test = data
    images = test.get_images(np.arange(6))
    a = build("sift-llc-svm", cache_features=False).fit(train).predict_scores(images)
    b = build("sift-llc-svm", backend="cupy-standin", cache_features=False).fit(train).predict_scores(images)
    np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-3)


def test_registry_and_state_errors(tmp_path):
    years = {n: get_method(n).year for n in PER_METHOD}
    assert years == {"sift-bovw-svm": 2006, "sift-llc-svm": 2010, "sift-fisher-svm": 2011}
    for n in PER_METHOD:
        cls = get_method(n)
        make_config(cls, profile="quick"), make_config(cls, profile="full")
    with pytest.raises(CheckpointError, match="nothing to save"):
        build("sift-llc-svm").save(tmp_path / "x.npz")
    arrays = {"a": np.arange(6.0).reshape(2, 3), "b": np.asarray(2.5)}
    back = unpack_arrays(pack_arrays(arrays, ("a", "b")), ("a", "b"))
    np.testing.assert_array_equal(back["a"], arrays["a"])
    assert float(back["b"]) == 2.5


def test_a_class_absent_from_training_scores_finite_and_lowest(data):
    train, test = data
    two = train.subset(np.nonzero(train.labels != 2)[0])  # classes 0 and 1 only, 3 class names
    m = build("sift-bovw-svm").fit(two)
    scores = m.predict_scores(test.get_images(np.arange(6)))
    assert scores.shape == (6, 3) and np.isfinite(scores).all()
    assert (scores[:, 2] < scores[:, :2].min(1)).all()
    np.testing.assert_allclose(scores[:, 0], -scores[:, 1])  # one decision value split as (-d, +d)
    evaluate(scores, test.labels[:6])
