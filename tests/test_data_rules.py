"""Settings that follow the data in the quick profiles of the dense-SIFT methods and the DBN:
the SIFT bin and step follow the image side, the codebook size follows the descriptor
sample, the DBN's input is block-averaged on large images; each value used is shown by
``settings_for``, recorded after fit and part of the cache keys. Small synthetic data: seconds."""

import json

import numpy as np
import pytest

from histnet.data.synthetic import oriented_gratings
from histnet.errors import ConfigError
from histnet.features.sift import sift_frames
from histnet.methods import get_method, make_config
from histnet.methods._sift_pipeline import codebook_size_for as codebook_size
from histnet.methods._sift_pipeline import sift_grid_for
from histnet.methods.pixels_svm import pixel_features

SIFT = ["sift-bovw-svm", "sift-llc-svm", "sift-fisher-svm"]
#: the quick profiles' codebook sizes on mnist5k (4,000 training images: 500 x 20 = 10,000 descriptors)
QUICK_SIZES = {"sift-bovw-svm": ("n_words", 128), "sift-llc-svm": ("n_words", 256),
               "sift-fisher-svm": ("n_components", 16)}


def method(name, profile="quick", **overrides):
    cls = get_method(name)
    return cls(make_config(cls, overrides, profile=profile), seed=0)


# -- the rules' values -------------------------------------------------------------------------


def test_sift_bin_and_step_follow_the_image_side():
    assert [sift_grid_for(s) for s in (8, 28, 32, 64, 128, 256, 300)] == [
        (4, 2), (4, 2), (4, 2), (4, 2), (4, 4), (8, 8), (9, 9)]
    # digits and 64-px photos keep today's quick grid (4-px bins every 2 px); 256 px: 8 / 8
    assert [len(sift_frames(s, s, bin_size=b, step=st)) for s, (b, st) in
            ((28, (4, 2)), (32, (4, 2)), (256, (8, 8)))] == [64, 100, 841]
    for name in SIFT:
        quick = method(name)
        assert [quick.sift_grid((s, s, 1)) for s in (28, 32, 64, 128)] == [(4, 2), (4, 2), (4, 2), (4, 4)]
        assert quick.sift_grid((128, 300, 3)) == (4, 4)  # the shorter side
        assert method(name, "full").sift_grid((64, 64, 3)) == (4, 2)  # the papers' constants
        # a configured bin with step=0: the step follows the image
        assert method(name, "full", bin_size=6, step=0).sift_grid((256, 256, 1)) == (6, 8)


def test_codebook_size_rule_on_small_and_large_samples():
    # large samples: the configured size (mnist5k quick: 10,000 descriptors)
    assert codebook_size(128, 10_000, 64) == 128
    assert codebook_size(256, 10_000, 32) == 256
    assert codebook_size(16, 10_000, 500) == 16
    assert codebook_size(8, 10 ** 6, 1) == 8
    # small samples: the largest power of two <= n / per_word, at least 2
    assert codebook_size(128, 2_000, 64) == 16  # 31.25
    assert codebook_size(256, 2_000, 32) == 32  # 62.5
    assert codebook_size(16, 2_000, 500) == 4
    assert codebook_size(128, 64 * 64, 64) == 64  # an exact power of two
    assert codebook_size(128, 64 * 64 - 1, 64) == 32
    assert codebook_size(128, 50, 64) == 2 and codebook_size(16, 0, 500) == 2
    assert codebook_size(128, 10, 0) == 128  # the rule off


@pytest.mark.parametrize("name", SIFT)
def test_quick_codebook_sizes_on_mnist5k_are_unchanged_and_shrink_on_small_sets(name):
    field, size = QUICK_SIZES[name]
    m = method(name)
    got = m.settings_for((28, 28, 1), n_train=4000)
    assert got == {"bin_size": 4, "step": 2, field: size, "codebook_descriptors": 10_000}
    small = m.settings_for((64, 64, 3), n_train=100)  # 100 x 20 = 2,000 descriptors
    assert small == {"bin_size": 4, "step": 2, field: codebook_size(size, 2_000, m.config.descriptors_per_word),
                     "codebook_descriptors": 2_000}
    assert small[field] < size
    # without the training-set size the rule is shown as text
    assert "n_train" in m.settings_for((28, 28, 1))[field]
    # the full profile: configured sizes, multi-scale bins as configured
    full = method(name, "full")
    assert full.settings_for((32, 32, 3)) == {"sizes": [3, 4], "step": 2, field: getattr(full.config, field)}


@pytest.mark.parametrize("name", SIFT)
def test_the_cache_key_holds_the_values_used(name):
    """A rule that gives the configured values keys as that configuration: cached codebooks
    and features of today's quick runs stay valid (FEATURE_VERSION unchanged)."""
    field, size = QUICK_SIZES[name]
    data = oriented_gratings(500, 28, 2, channels=1)  # as mnist5k: 500 x 20 sample descriptors
    rule = method(name)
    fixed = method(name, bin_size=4, step=2, descriptors_per_word=0)
    for part in ("codebook", "train"):
        a = rule.cache_key(data, part)
        assert a["params"]["bin_size"] == 4 and a["params"]["step"] == 2 and a["params"][field] == size
        assert "descriptors_per_word" not in a["params"]
        assert a == fixed.cache_key(data, part)
    small = rule.cache_key(oriented_gratings(50, 64, 2, channels=1), "codebook")["params"]
    assert (small["bin_size"], small["step"]) == (4, 2)
    assert small[field] == codebook_size(size, 50 * 20, rule.config.descriptors_per_word) < size


def test_bad_values_are_config_errors_naming_the_option():
    data = oriented_gratings(8, 28, 2, channels=1)
    for field in ("bin_size", "step", "descriptors_per_word"):
        with pytest.raises(ConfigError, match=f"{field}=-1"):
            method("sift-bovw-svm", **{field: -1}).fit(data)
    with pytest.raises(ConfigError, match="sizes"):
        method("sift-fisher-svm", sizes=(4, 0)).fit(data)
    with pytest.raises(ConfigError, match="downscale=-1"):
        method("dbn", downscale=-1).fit(data)
    with pytest.raises(ConfigError, match="leaves no pixel"):
        method("dbn", downscale=64).fit(data)


# -- recorded with the run ------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIFT)
def test_fit_records_the_values_used_and_a_loaded_model_keeps_them(name, tmp_path):
    field, size = QUICK_SIZES[name]
    train = oriented_gratings(60, 32, 3, channels=1, seed=1)
    test = oriented_gratings(9, 32, 3, channels=1, seed=2)
    m = method(name).fit(train)  # 60 x 20 = 1,200 sample descriptors: a smaller codebook
    used = codebook_size(size, 1200, m.config.descriptors_per_word)
    assert used < size
    assert m.resolved_settings() == {"bin_size": 4, "step": 2, field: used, "codebook_descriptors": 1200}
    assert m.resolved_settings() == m.settings_for(train.image_shape, n_train=len(train))
    assert m.codebook_size() == used
    scores = m.predict_scores(test.images)
    m.save(tmp_path / "m.npz")
    back = type(m).load(tmp_path / "m.npz")
    assert back.codebook_size() == used and back.describe() == m.describe()
    assert back.resolved_settings() == {"bin_size": 4, "step": 2, field: used}
    np.testing.assert_allclose(back.predict_scores(test.images), scores, rtol=1e-5, atol=1e-5)


def test_run_records_the_settings_used(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from histnet_cli.main import cli

    monkeypatch.setenv("HISTNET_CACHE", str(tmp_path / "cache"))
    res = CliRunner().invoke(cli, ["run", "sift-bovw-svm", "--dataset", "digits", "--image-size", "64",
                                   "--n-per-class", "10", "--test-n-per-class", "3", "--no-save",
                                   "--out", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    (path,) = (tmp_path / "runs").glob("sift-bovw-svm__*/result.json")
    rec = json.loads(path.read_text())
    assert rec["status"] == "ok" and rec["profile"] == "quick"
    # 64-px images: 8-px bins every 4 px; 100 images x 20 descriptors -> 2,000 / 64 -> 16 words
    expected = {"bin_size": 4, "step": 2, "n_words": 16, "codebook_descriptors": 2000}
    assert rec["settings"] == expected
    assert method("sift-bovw-svm").settings_for((64, 64, 1), n_train=100) == expected
    assert rec["config"]["bin_size"] == 0 and rec["config"]["n_words"] == 128  # the config as given


# -- the DBN's input -------------------------------------------------------------------------------


def test_dbn_downscale_follows_the_image_side():
    quick, full = method("dbn"), method("dbn", "full")
    assert [quick.factor((s, s, 3)) for s in (8, 28, 32, 33, 64, 96)] == [1, 1, 1, 2, 2, 3]
    assert quick.settings_for((28, 28, 1)) == {"downscale": 1, "visible_units": 784}
    assert quick.settings_for((32, 32, 3)) == {"downscale": 1, "visible_units": 3072}
    assert quick.settings_for((64, 64, 3)) == {"downscale": 2, "visible_units": 3072}
    assert full.settings_for((64, 64, 3)) == {"downscale": 1, "visible_units": 12288}
    assert quick.config.hidden_layers == (500, 500, 2000)  # the first layer keeps its 500 units


SMALL_DBN = {"hidden_layers": (16, 8), "rbm_epochs": 1, "finetune_epochs": 2, "rbm_batch_size": 10,
             "batch_size": 10}


@pytest.mark.parametrize("channels", [1, 3])
def test_dbn_downscale_applies_in_fit_and_predict_and_survives_save_load(channels, tmp_path):
    train = oriented_gratings(40, 64, 2, channels=channels, seed=3)
    test = oriented_gratings(6, 64, 2, channels=channels, seed=4)
    m = method("dbn", **SMALL_DBN).fit(train)
    n_in = 32 * 32 * channels
    assert m.resolved_settings() == {"downscale": 2, "visible_units": n_in}
    assert m.model_.rbms_[0].components_.shape == (16, n_in) and m.mean_.shape == (n_in,)
    assert m.describe()["layers"][0] == n_in and m.visualize()["filters"].ndim == 2
    scores = m.predict_scores(test.images)
    # predict averages 2 x 2 blocks as fit did
    x = pixel_features(test.images, downscale=2, dtype=np.float32)
    if channels == 3:
        assert m.visible_ == "gaussian"
        x = (x - m.mean_) / m.std_
    np.testing.assert_allclose(m.model_.decision_function(x.astype(np.float32)), scores, rtol=1e-5, atol=1e-6)
    m.save(tmp_path / "dbn.npz")
    back = type(m).load(tmp_path / "dbn.npz")
    assert back.resolved_settings() == m.resolved_settings() and back.config == m.config
    np.testing.assert_array_equal(back.predict_scores(test.images), scores)
    # a model file from before the factor was saved: the config's rule gives it again
    state = m.get_state()
    del state["downscale"]
    old = type(m)(m.config)
    old.set_state(state)
    np.testing.assert_array_equal(old.predict_scores(test.images), scores)


def test_dbn_without_downscale_sees_the_pixels_as_before():
    m = method("dbn", "full", **SMALL_DBN).fit(oriented_gratings(20, 28, 2, channels=1))
    images = oriented_gratings(4, 28, 2, channels=1, seed=9).images
    assert m.resolved_settings() == {"downscale": 1, "visible_units": 784}
    # exactly pixel / 255 (pixel_features' multiplication by 1/255 differs in the last bit)
    np.testing.assert_array_equal(m._pixels(images), np.asarray(images, np.float32).reshape(4, -1) / 255.0)


@pytest.mark.parametrize("name", ["hog-svm", "sift-bovw-svm", "pixels-svm"])
def test_the_cache_key_says_when_angles_come_from_the_polynomial(monkeypatch, name):
    """Where numpy's arctan2 is a scalar loop, HOG and SIFT take their angles from
    features/_angles.py's polynomial (equal to rounding): their cached features say so, so a
    cache filled the other way is not read; elsewhere the keys stay as they were."""
    import histnet.methods.feature_svm as feature_svm

    data = oriented_gratings(50, 28, 2, channels=1)
    keys = {}
    for vector in (True, False):
        monkeypatch.setattr(feature_svm, "numpy_has_vector_atan2", lambda vector=vector: vector)
        keys[vector] = method(name).cache_key(data, "train")
    assert "angles" not in keys[True]
    if name == "pixels-svm":
        assert keys[False] == keys[True]
    else:
        assert keys[False] == {**keys[True], "angles": "polynomial"}
