"""One rule for every name that becomes part of a path (run names, variants, dataset and category names, sample
ids), so that nothing a user or a dataset supplies can name a file outside the results folder."""
from __future__ import annotations

import re

from .errors import DataError, UsageError

# One path component: starts with a letter, digit or underscore; then letters, digits and _ . , + = - (no separators,
# no "..", no spaces; commas join the dataset names of a subset run). Sample ids are such components joined by "/".
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.,+=-]*")
RULE = f"letters, digits and _ . , + = - only, not starting with . or - (regex {NAME.pattern}), and no '..'"
# Sample ids may start with '-' (UVO's videos are YouTube ids, ~1 in 64 of which do): they only ever name files
# inside a store folder, never a command-line argument.
SAMPLE_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.,+=-]*")
SAMPLE_RULE = f"regex {SAMPLE_PART.pattern} and no '..'"


def is_valid_name(name: str, pattern: re.Pattern = NAME) -> bool:
    return bool(pattern.fullmatch(name)) and ".." not in name


def check_name(kind: str, name: str, error: type[Exception] = UsageError) -> str:
    """`name` if it is a valid path component, else `error` naming `kind` and the rule."""
    if not isinstance(name, str) or not is_valid_name(name):
        raise error(f"{kind} {name!r} cannot name a file: use {RULE}")
    return name


def check_sample_id(sample_id: str, source: str) -> str:
    """A sample id: valid names joined by '/'. `source` names where the id came from (a dataset folder or file)."""
    if not isinstance(sample_id, str) or not all(is_valid_name(part, SAMPLE_PART) for part in sample_id.split("/")):
        raise DataError(f"{source}: sample id {sample_id!r} cannot name a file: each '/'-separated part must match "
                        f"{SAMPLE_RULE}")  # fmt: skip
    return sample_id
