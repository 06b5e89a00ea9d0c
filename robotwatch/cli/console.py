"""One rich console for all commands, and the user-facing error boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

console = Console(stderr=True)
out = Console()


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn errors about the user's input into one red line and exit status 2, no traceback."""
    from replay.errors import VorausFormatError
    from robotwatch.artifact import ModelFileError
    from robotwatch.datafile import DataError

    try:
        yield
    except (VorausFormatError, ModelFileError, DataError, FileNotFoundError) as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
