"""The one base class of errors about what a user gave: a file, a setting, a message.

Its text names the thing and the problem (`cell.parquet: no column 'time'`), so the command
line can print it as one line and exit 2 without a traceback. Bugs are never UserErrors.
"""

from __future__ import annotations


class UserError(ValueError):
    """Input that cannot be used as given; str(error) is the whole message for the user."""
