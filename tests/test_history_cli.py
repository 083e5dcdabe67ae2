"""`histnet history` prints the published figures with their citations; `python -m histnet`
is the same command as `histnet`."""

import subprocess
import sys

from click.testing import CliRunner

from histnet_cli.main import cli


def test_history_lists_every_figure_with_its_citation_and_filters_by_benchmark():
    res = CliRunner().invoke(cli, ["history"])
    assert res.exit_code == 0, res.output
    rows = res.output.strip().splitlines()[2:]
    assert all(r.count("|") == 7 and r.rstrip(" |").split("|")[-1].strip() for r in rows)  # a citation each
    for year, text in [("2010", "NEC-UIUC"), ("2012", "SuperVision"), ("2015", "MSRA")]:
        assert any(r.startswith(f"| {year} ") and text in r for r in rows), (year, text)
    cifar = CliRunner().invoke(cli, ["history", "--benchmark", "cifar-10", "--csv"]).output.strip().splitlines()
    assert cifar[0].startswith("year,benchmark,entry,error") and len(cifar) > 3
    assert all("CIFAR-10 test" in line for line in cifar[1:])
    bad = CliRunner().invoke(cli, ["history", "--benchmark", "imagenet-22k"])
    assert bad.exit_code == 2 and "no published result on 'imagenet-22k'" in bad.output


def test_python_dash_m_histnet():
    proc = subprocess.run([sys.executable, "-m", "histnet", "history", "--benchmark", "MNIST"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "DBN 784-500-500-2000" in proc.stdout
