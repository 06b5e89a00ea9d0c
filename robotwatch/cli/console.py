"""One rich console for all commands, and the user-facing error boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from rwcore.errors import UserError, validation_problems

console = Console(stderr=True)
out = Console()


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn errors about the user's input into one red line and exit status 2, no traceback."""
    try:
        yield
    except ValidationError as exc:
        console.print(
            f"[bold red]error:[/] invalid settings: {escape(validation_problems(exc))}", soft_wrap=True
        )
        raise typer.Exit(2) from None
    except (UserError, FileNotFoundError) as exc:
        for line in str(exc).splitlines() or [""]:
            console.print(f"[bold red]error:[/] {escape(line)}", soft_wrap=True)
        raise typer.Exit(2) from None
