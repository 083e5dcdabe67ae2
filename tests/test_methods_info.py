"""`histnet methods info` reads each parameter's meaning and allowed values from the config docstring."""

import re

from click.testing import CliRunner

from histnet.methods import get_method
from histnet_cli.main import cli
from histnet_cli.methods import config_attributes, parse_attributes


def _info(name):
    res = CliRunner().invoke(cli, ["methods", "info", name], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    out = res.output.split("parameters (set with", 1)[1]
    return re.sub(r"\s+", " ", out)  # wrapped lines read as one


def test_hog_svm_shows_types_allowed_values_and_meanings():
    out = _info("hog-svm")
    assert "orientations = 9 (int) Unsigned orientation bins (paper: 9)." in out
    assert "block_norm = 'L2-Hys' ({\"L1\", \"L1-sqrt\", \"L2\", \"L2-Hys\"}) Block normalisation (paper: L2-Hys)." in out
    # one entry describing two names: both get it
    assert "transform_sqrt = False (bool) The paper's sqrt gamma" in out
    assert "block_window = False (bool) The paper's sqrt gamma" in out
    assert "svm_tol = 0.0001 Newton iterations and tolerance of the SVM solver." in out
    assert "cache_features = True (bool) Store/reuse the training features on disk (FeatureCache)." in out
    assert "profile quick: " in out


def test_a_net_with_its_own_defaults_shows_them_beside_its_base_docstring():
    # resnet-20's Config is made by config_with_defaults on ResNetConfig(CnnConfig)
    out = _info("resnet-20")
    cfg = get_method("resnet-20").Config()
    assert f"lr = {cfg.lr!r} (float) Initial (or, for one-cycle, peak) learning rate." in out
    assert "schedule = 'onecycle' ({\"plateau\", \"step\", \"cosine\", \"onecycle\", \"constant\"})" in out
    assert "plain = False (bool) No shortcuts: the paper's plain net" in out
    assert "default=" not in out  # the field's default is printed, not the docstring's


def test_sift_configs_inherit_their_base_attributes():
    doc = config_attributes(get_method("sift-fisher-svm").Config)
    assert doc["pca_dim"] == ("int", "Descriptor dimension after PCA (XRCE: 64).")
    assert doc["svm_max_iter"][0] == "int" and doc["svm_tol"][0] == "float"  # "a, b : int, float"
    assert doc["normalization"] == ('{"improved", "l2", "none"}', "")
    assert doc["window"][1] == "As histnet.features.sift.dense_sift (root_sift is its root)."


def test_parameters_the_docstring_does_not_describe_print_as_before():
    out = CliRunner().invoke(cli, ["methods", "info", "dbn"]).output  # DBNConfig has no Attributes section
    assert "\n  hidden_layers = (500, 500, 2000)\n" in out and "\n  rbm_epochs = 30\n" in out


def test_parse_attributes_stops_at_the_next_section():
    doc = """Summary.

    Attributes
    ----------
    a : {"x", "y"}, default="x"
        First line
        and second.
    b
    Notes
    -----
    c : int
        Not an attribute.
    """
    assert parse_attributes(doc) == {"a": ('{"x", "y"}', "First line and second."), "b": ("", "")}
    assert parse_attributes("No sections.") == {}


def test_methods_info_shows_the_settings_derived_from_a_data_set():
    from click.testing import CliRunner

    from histnet_cli.main import cli

    res = CliRunner().invoke(cli, ["methods", "info", "hog-svm", "-d", "mnist5k"])
    assert res.exit_code == 0, res.output
    tail = res.output.split("settings derived from")[1]
    assert "4,000 training images of 28x28x1" in tail and "profile quick: pixels_per_cell=[4, 4]" in tail
    assert "profile full: pixels_per_cell=[8, 8]" in tail


def test_methods_info_shows_the_codebook_size_the_training_set_gives():
    from click.testing import CliRunner

    from histnet_cli.main import cli

    res = CliRunner().invoke(cli, ["methods", "info", "sift-bovw-svm", "-d", "mnist5k"])
    assert res.exit_code == 0, res.output
    tail = res.output.split("settings derived from")[1]
    # 500 sampled images x 20 descriptors = 10,000; one word per 64 of them -> 128 (a power of two)
    assert "profile quick: bin_size=4, step=2, n_words=128, codebook_descriptors=10000" in tail



def test_methods_info_shows_the_cnn_schedule_the_training_set_gives():
    from click.testing import CliRunner

    from histnet_cli.main import cli

    res = CliRunner().invoke(cli, ["methods", "info", "alexnet-cifar", "-d", "mnist5k"])
    tail = res.output.split("settings derived from")[1]
    # quick: 3 epochs of 63 batches of 64; full: 20 epochs raised to reach min_steps=1500 with batch 128
    assert "profile quick: epochs=3, steps=189" in tail and "profile full: epochs=47, steps=1504" in tail
