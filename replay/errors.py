"""The one error type of the table format: it always names the file and the problem."""

from __future__ import annotations

from os import PathLike

from rwcore.errors import UserError


class VorausFormatError(UserError):
    """A file is not a valid voraus-AD table (or cannot be read at all)."""

    def __init__(self, path: str | PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
