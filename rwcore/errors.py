"""The one base class of errors about what a user gave: a file, a setting, a message.

Its text names the thing and the problem (`cell.parquet: no column 'time'`), so the command
line can print it as one line and exit 2 without a traceback. Bugs are never UserErrors.
"""

from __future__ import annotations

from pydantic import ValidationError


class UserError(ValueError):
    """Input that cannot be used as given; str(error) is the whole message for the user."""


def validation_problems(exc: ValidationError) -> str:
    """A pydantic error as one line: `key: what is wrong; other.key: ...`."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    )
