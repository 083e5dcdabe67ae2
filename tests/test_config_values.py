"""Config values from TOML, --set and profiles are held to the same types and ranges, so the
config that runs is the config recorded: one `Error:` line naming the value, nothing run,
nothing written."""

import pytest
from click.testing import CliRunner

from histnet.errors import ConfigError
from histnet.methods import available_methods, get_method, make_config
from histnet_cli.main import cli


def test_every_profile_of_every_method_is_valid():
    for name, cls in available_methods().items():
        for profile in cls.profiles:
            make_config(cls, profile=profile)


@pytest.mark.parametrize("method,toml,needle", [
    ("pixels-svm", "max_iter = 1.5", "max_iter=1.5 is not a valid int"),
    ("pixels-svm", "max_iter = true", "max_iter=True is not a valid int"),
    ("pixels-svm", "grey = 1", "grey=1 is not a valid bool"),
    ("pixels-svm", 'C = "x"', "C='x' is not a valid float"),
    ("alexnet-cifar", "checkpoint_minutes = -1", "checkpoint_minutes=-1.0 must be > 0"),
    ("alexnet-cifar", "epochs = -1", "epochs=-1 must be >= 1"),
    ("alexnet-cifar", "crop_pad = -3", "crop_pad=-3 must be >= 0"),
    ("alexnet-cifar", "val_fraction = 2", "val_fraction=2.0 must be in [0, 1)"),
    ("resnet-20", 'schedule = "cosin"', "schedule='cosin' must be one of"),
])
def test_a_bad_toml_value_is_one_error_line_and_nothing_runs(tmp_path, method, toml, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml + "\n")
    out = tmp_path / "runs"
    res = CliRunner().invoke(cli, ["run", method, "-d", "mnist5k", "--config", str(cfg), "--out", str(out)])
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert lines == [lines[0]] and lines[0].startswith("Error:") and needle in lines[0], res.output
    assert not out.exists()


def test_set_and_toml_agree():
    cls = get_method("pixels-svm")
    assert make_config(cls, {"max_iter": "7"}).max_iter == make_config(cls, {"max_iter": 7}).max_iter == 7
    assert make_config(cls, {"C": 1}).C == 1.0 and isinstance(make_config(cls, {"C": 1}).C, float)
    with pytest.raises(ConfigError, match="max_iter='1.5'"):
        make_config(cls, {"max_iter": "1.5"})
