"""`robotwatch config show|check`: the settings serve would run with, and where each came from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from robotwatch.cli.console import console, out, user_errors

if TYPE_CHECKING:
    from robotwatch.config import Key
    from robotwatch.stream.settings import ServeSettings

app = typer.Typer(help="Show or check the settings of `robotwatch serve`.", no_args_is_help=True)


def _load(config: Path | None) -> tuple[ServeSettings, dict[Key, str]]:
    from robotwatch.config import load
    from robotwatch.stream.settings import ServeSettings

    return load(ServeSettings, config)


@app.command()
def show(
    config: Annotated[Path | None, typer.Option(help="TOML file, as given to serve --config")] = None,
) -> None:
    """Every setting in effect (secrets masked) and where it came from: default, the file, an
    environment variable or the command line."""
    from rich.table import Table

    from robotwatch.config import described

    with user_errors():
        settings, origins = _load(config)
    table = Table(title="settings of robotwatch serve")
    for column in ("setting", "value", "from"):
        table.add_column(column, overflow="fold")
    for key, value, origin in described(settings, origins):
        table.add_row(key, value, origin)
    out.print(table)


@app.command()
def check(
    config: Annotated[Path | None, typer.Option(help="TOML file, as given to serve --config")] = None,
) -> None:
    """Check the settings without starting anything: exit 0 if they are usable, else one line
    per problem and exit 2."""
    with user_errors():
        _load(config)
    console.print("[bold green]ok[/]: the settings are valid" + (f" ({config})" if config else ""))
