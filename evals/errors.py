"""The expected failures of an evaluation run (models/errors.py has their base class and the model's own)."""
from __future__ import annotations

from models.errors import SamzeroError


class UsageError(SamzeroError):
    """Command-line options that cannot work (alone or together)."""


class DataError(SamzeroError):
    """A data file that is missing, unreadable, truncated or not what its reader expects. The message names the file
    and what was expected."""


class MissingResources(SamzeroError):
    """Everything a run needs that is not there, in one message (before anything is loaded)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("this run cannot start; missing:\n" + "\n".join(f"  - {p}" for p in problems))
