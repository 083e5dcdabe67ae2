"""Tests of the pixels-svm method and of the streaming StandardScaler it uses."""

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.svm import LinearSVC

from histnet.backend import get_backend, to_host
from histnet.classifiers import InvalidInputError, StandardScaler
from histnet.data.base import ArrayDataset
from histnet.errors import CheckpointError, ConfigError, DataError
from histnet.evaluate import evaluate
from histnet.methods import get_method, make_config
from histnet.methods.pixels_svm import PixelsSvm, pixel_features

STANDIN = get_backend("cupy-standin").xp


@pytest.fixture(scope="module")
def digits_sets():
    d = load_digits()
    images = np.round(d.images * (255 / 16)).astype(np.uint8)  # 8x8 grey, 0..255
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    tr, te = order[:1200], order[1200:]
    names = [str(i) for i in range(10)]
    train = ArrayDataset("digits", images[tr], d.target[tr], names, {"split": "train"})
    test = ArrayDataset("digits", images[te], d.target[te], names, {"split": "test"})
    return train, test


@pytest.fixture(scope="module")
def fitted(digits_sets):
    train, _ = digits_sets
    return PixelsSvm(PixelsSvm.Config(batch_size=256)).fit(train)


# -- the features ---------------------------------------------------------------------------

def test_grey_matches_pillow_luma():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (2, 6, 5, 3), dtype=np.uint8)
    ours = pixel_features(img, grey=True, dtype="float64").reshape(2, 6, 5)
    ref = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in img]) / 255.0
    np.testing.assert_allclose(ours, ref, atol=1.0 / 255)  # Pillow rounds to integers


def test_downscale_is_block_mean():
    skt = pytest.importorskip("skimage.transform")
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (3, 8, 12, 3), dtype=np.uint8)
    ours = pixel_features(img, downscale=4, dtype="float64")
    ref = np.stack([skt.downscale_local_mean(im / 255.0, (4, 4, 1)) for im in img]).reshape(3, -1)
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    # a remainder that does not fill a block is cropped: 9x13 gives the same 2x3 blocks
    padded = np.zeros((3, 9, 13, 3), np.uint8)
    padded[:, :8, :12] = img
    np.testing.assert_allclose(pixel_features(padded, downscale=4, dtype="float64"), ours)


def test_features_under_standin_equal_numpy():
    img = np.random.default_rng(3).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    for grey, f in [(False, 1), (True, 2), (False, 4)]:
        host = pixel_features(img, grey=grey, downscale=f)
        dev = pixel_features(STANDIN.asarray(img), grey=grey, downscale=f)
        assert type(dev) is STANDIN.ndarray and dev.dtype == np.float32
        np.testing.assert_allclose(to_host(dev), host, rtol=1e-6)


# -- the streaming scaler -------------------------------------------------------------------

@pytest.mark.parametrize("xp_name", ["numpy", "standin"])
def test_scaler_batches_equal_one_pass(xp_name):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((103, 7)) * rng.uniform(0.01, 5, 7) + rng.uniform(-3, 3, 7)
    X[:, 2] = 1.5  # constant feature: divided by 1
    move = (lambda a: STANDIN.asarray(a)) if xp_name == "standin" else (lambda a: a)
    sc = StandardScaler(dtype="float64")
    for s in range(0, 103, 10):
        sc.partial_fit(move(X[s:s + 10]))
    np.testing.assert_allclose(to_host(sc.mean_), X.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_host(sc.var_), X.var(axis=0), rtol=1e-10, atol=1e-12)
    assert to_host(sc.scale_)[2] == 1.0
    from sklearn.preprocessing import StandardScaler as SkScaler

    np.testing.assert_allclose(to_host(sc.transform(move(X))), SkScaler().fit_transform(X), atol=1e-10)
    np.testing.assert_allclose(to_host(sc.inverse_transform(sc.transform(move(X)))), X, atol=1e-10)
    assert sc.n_samples_seen_ == 103


def test_scaler_floor_and_errors():
    X = np.array([[0.0, 0.0], [0.0, 2.0], [0.01, 4.0]])
    sc = StandardScaler(min_std=0.1).fit(X)
    np.testing.assert_allclose(sc.scale_, [0.1, np.std([0, 2, 4])], rtol=1e-6)
    with pytest.raises(InvalidInputError, match="X has 3 features, but StandardScaler is expecting 2 features"):
        sc.partial_fit(np.zeros((2, 3)))
    with pytest.raises(InvalidInputError, match="NaN or inf"):
        StandardScaler().fit(np.array([[np.nan, 1.0]]))


# -- the method -----------------------------------------------------------------------------

def test_registered_with_profiles():
    assert get_method("pixels-svm") is PixelsSvm
    assert PixelsSvm.family == "baseline" and PixelsSvm.year == 1995
    cfg = make_config(PixelsSvm, {"C": "0.5"}, profile="quick")
    assert cfg.C == 0.5 and cfg.max_iter == PixelsSvm.profiles["quick"]["max_iter"]
    assert set(PixelsSvm.profiles) >= {"quick", "full"}


def test_fit_predict_matches_liblinear_on_the_same_features(digits_sets, fitted):
    train, test = digits_sets
    scores = fitted.predict_scores(test.images)
    assert scores.shape == (len(test), 10) and scores.dtype == np.float32
    ours = evaluate(scores, test.labels)
    assert ours["accuracy"] > 0.93
    # the same recipe written with numpy and LIBLINEAR
    Xtr = train.images.reshape(len(train), -1) / 255.0
    Xte = test.images.reshape(len(test), -1) / 255.0
    mean, std = Xtr.mean(axis=0), np.maximum(Xtr.std(axis=0), 0.1)
    ref = LinearSVC(C=0.01, dual=False).fit((Xtr - mean) / std, train.labels)
    ref_acc = ref.score((Xte - mean) / std, test.labels)
    assert abs(ours["accuracy"] - ref_acc) <= 0.005
    np.testing.assert_allclose(to_host(fitted.scaler_.mean_), mean, atol=1e-6)


def test_save_load_round_trip_gives_identical_scores(digits_sets, fitted, tmp_path):
    _, test = digits_sets
    path = tmp_path / "pixels.npz"
    fitted.save(path)
    loaded = PixelsSvm.load(path)
    np.testing.assert_array_equal(loaded.predict_scores(test.images), fitted.predict_scores(test.images))
    assert loaded.describe() == fitted.describe()
    on_standin = PixelsSvm.load(path, backend="cupy-standin")
    np.testing.assert_allclose(on_standin.predict_scores(test.images), fitted.predict_scores(test.images),
                               rtol=1e-5, atol=1e-5)


def test_standin_fit_gives_the_numpy_scores(digits_sets, fitted):
    train, test = digits_sets
    dev = PixelsSvm(PixelsSvm.Config(batch_size=256), backend="cupy-standin").fit(train)
    assert type(dev.svm_.coef_) is STANDIN.ndarray
    np.testing.assert_allclose(dev.predict_scores(test.images), fitted.predict_scores(test.images),
                               rtol=1e-4, atol=1e-4)


def test_describe(fitted):
    info = fitted.describe()
    assert info == {"feature_dim": 64, "n_params": 10 * 64 + 10 + 2 * 64,
                    "flops_per_image": 2 * 64 + 2 * 64 * 10}


def test_grey_downscale_config_on_colour_images():
    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(3), 20)
    images = rng.integers(0, 60, (60, 8, 8, 3), dtype=np.uint8)
    images[labels == 1, :4] += 150  # class 1 bright on top, class 2 bright at the bottom
    images[labels == 2, 4:] += 150
    data = ArrayDataset("blocks", images, labels, ["a", "b", "c"])
    m = PixelsSvm(PixelsSvm.Config(grey=True, downscale=2)).fit(data)
    assert m.describe()["feature_dim"] == 16
    assert evaluate(m.predict_scores(images), labels)["accuracy"] == 1.0


def test_class_absent_from_training_never_wins(digits_sets):
    train, test = digits_sets
    keep = np.flatnonzero(train.labels != 7)
    m = PixelsSvm().fit(train.subset(keep))
    scores = m.predict_scores(test.images)
    assert np.all(np.isfinite(scores)) and not np.any(scores.argmax(axis=1) == 7)
    assert evaluate(scores, test.labels)["per_class_accuracy"][7] == 0.0


def test_two_classes(digits_sets):
    train, test = digits_sets
    sub = train.subset(np.flatnonzero(np.isin(train.labels, [0, 1])))
    m = PixelsSvm().fit(sub)
    keep = np.isin(test.labels, [0, 1])
    scores = m.predict_scores(test.images[keep])
    assert evaluate(scores, test.labels[keep])["accuracy"] > 0.97
    np.testing.assert_array_equal(scores[:, 0], -scores[:, 1])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter=3 on purpose
def test_progress_events(digits_sets):
    train, _ = digits_sets
    events = []
    PixelsSvm(PixelsSvm.Config(batch_size=500, max_iter=3), progress=events.append).fit(train)
    stages = [e.stage for e in events]
    assert stages[:3] == ["pixels-svm extract"] * 3 and "SVM Newton" in stages


def test_errors(digits_sets, fitted, tmp_path):
    train, test = digits_sets
    with pytest.raises(ConfigError, match="predict before fit"):
        PixelsSvm().predict_scores(test.images)
    with pytest.raises(DataError, match=r"images are 9x9x1, the model was fitted on 8x8x1"):
        fitted.predict_scores(np.zeros((2, 9, 9, 1), np.uint8))
    with pytest.raises(ConfigError, match="downscale=-1"):  # 0 is "follow the image size"
        PixelsSvm(PixelsSvm.Config(downscale=-1)).fit(train)
    with pytest.raises(ConfigError, match="leaves no pixel"):
        PixelsSvm(PixelsSvm.Config(downscale=16)).fit(train)
    with pytest.raises(DataError, match="training set is empty"):
        PixelsSvm().fit(train.subset(np.arange(0)))
    with pytest.raises(CheckpointError, match="nothing to save"):
        PixelsSvm().save(tmp_path / "x.npz")
    path = tmp_path / "m.npz"
    fitted.save(path)
    with pytest.raises(CheckpointError, match="64 features but the config gives 16"):
        m = PixelsSvm(PixelsSvm.Config(downscale=2))
        from histnet.io import load_npz

        m.set_state({k[len("state/"):]: v for k, v in load_npz(path).items() if k.startswith("state/")})


def test_quick_downscale_follows_the_image_size_and_is_recorded():
    from histnet.data.synthetic import oriented_gratings
    from histnet.methods import make_config

    quick = PixelsSvm(make_config(PixelsSvm, profile="quick"))
    assert [quick.factor((s, s, 3)) for s in (8, 28, 32, 33, 64, 96)] == [1, 1, 1, 2, 2, 3]
    assert PixelsSvm(make_config(PixelsSvm, profile="full")).factor((64, 64, 3)) == 1
    m = PixelsSvm(make_config(PixelsSvm, profile="quick")).fit(oriented_gratings(40, 64, 4))
    assert m.resolved_settings() == {"downscale": 2} and m.feature_dim() == 32 * 32 * 3
    assert m.predict_scores(oriented_gratings(8, 64, 4, seed=5).images).shape == (8, 4)
