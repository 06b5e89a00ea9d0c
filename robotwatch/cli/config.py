"""`robotwatch config show|check`: the settings serve (or, with `--for alerts`, alerts) would run
with, and where each came from."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from robotwatch.cli.console import console, out, user_errors

if TYPE_CHECKING:
    from pydantic import BaseModel

    from robotwatch.config import Key

app = typer.Typer(
    help="Show or check the settings of `robotwatch serve` (or of `robotwatch alerts`: --for alerts).",
    no_args_is_help=True,
)


class Command(StrEnum):
    serve = "serve"
    alerts = "alerts"


For = Annotated[
    Command,
    typer.Option("--for", help="whose settings: serve (ROBOTWATCH_*) or alerts (ROBOTWATCH_ALERTS_*)"),
]
Config = Annotated[Path | None, typer.Option(help="TOML file, as given to that command's --config")]


def _load(command: Command, config: Path | None) -> tuple[BaseModel, dict[Key, str]]:
    if command is Command.alerts:
        from robotwatch.alerts.channels import build_senders
        from robotwatch.alerts.loading import load_alerts

        settings, origins = load_alerts(config)
        # what alerts checks before it connects: a password_env that is not set, a CA file
        build_senders(settings)
        return settings, origins
    from robotwatch.config import load
    from robotwatch.stream.settings import ServeSettings

    return load(ServeSettings, config)


@app.command()
def show(config: Config = None, command: For = Command.serve) -> None:
    """Every setting in effect (secrets masked) and where it came from: default, the file, an
    environment variable or the command line."""
    from rich.table import Table

    from robotwatch.config import described

    with user_errors():
        settings, origins = _load(command, config)
    table = Table(title=f"settings of robotwatch {command.value}")
    for column in ("setting", "value", "from"):
        table.add_column(column, overflow="fold")
    for key, value, origin in described(settings, origins):
        table.add_row(key, value, origin)
    out.print(table)


@app.command()
def check(config: Config = None, command: For = Command.serve) -> None:
    """Check the settings without starting anything: exit 0 if they are usable, else one line
    per problem and exit 2. Alerts' quick-start flags (--webhook, ...) are not part of it: a
    file that has no channel of its own is reported as having none."""
    with user_errors():
        _load(command, config)
    whose = "" if command is Command.serve else f" for robotwatch {command.value}"
    console.print(f"[bold green]ok[/]: the settings are valid{whose}" + (f" ({config})" if config else ""))
