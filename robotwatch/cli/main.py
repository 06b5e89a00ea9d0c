"""Entry point of the `robotwatch` command: one sub-command per module of this package.

Each command module imports its heavy dependencies (torch, aiokafka) inside the command,
so `robotwatch --help` and `robotwatch simulate` start fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    name="robotwatch",
    help="Watch industrial robot cells for anomalies with normalizing flows.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"robotwatch {version('robotwatch')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Watch industrial robot cells for anomalies with normalizing flows."""
    from robotwatch.allocator import keep_freed_memory

    keep_freed_memory()


from robotwatch.cli.alerts import alerts  # noqa: E402
from robotwatch.cli.bench import bench  # noqa: E402
from robotwatch.cli.config import app as config_app  # noqa: E402
from robotwatch.cli.demo import demo  # noqa: E402
from robotwatch.cli.evaluate import evaluate  # noqa: E402
from robotwatch.cli.export import export  # noqa: E402
from robotwatch.cli.gateway import app as gateway_app  # noqa: E402
from robotwatch.cli.record import record  # noqa: E402
from robotwatch.cli.replay import replay  # noqa: E402
from robotwatch.cli.serve import serve  # noqa: E402
from robotwatch.cli.simulate import simulate  # noqa: E402
from robotwatch.cli.train import train  # noqa: E402
from robotwatch.cli.vision import app as vision_app  # noqa: E402

for command in (simulate, record, train, evaluate, export, bench, serve, alerts, replay, demo):
    app.command()(command)
app.add_typer(vision_app, name="vision")
app.add_typer(config_app, name="config")
app.add_typer(gateway_app, name="gateway")
