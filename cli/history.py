"""``histnet history``: the published results the tables put beside each row, with citations."""

from __future__ import annotations

import click


@click.command("history", short_help="The published results, with their citations.")
@click.option("--benchmark", default=None, metavar="NAME",
              help="Only this benchmark (a prefix, any case: ILSVRC, ILSVRC-2012, CIFAR-10, MNIST).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a Markdown table.")
def history_command(benchmark, as_csv):
    """Print the published figures histnet compares with (histnet/published_results.csv): year,
    benchmark, entry, error and the paper each comes from. Nothing here is measured by histnet."""
    from histnet.history import history_table
    from histnet.report import to_markdown

    try:
        table = history_table(benchmark)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--benchmark") from None
    click.echo(table.to_csv(index=False) if as_csv else to_markdown(table))
