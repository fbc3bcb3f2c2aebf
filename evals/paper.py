"""The paper's numbers, read from one table: evals/paper_results.csv (data, not code).

One row per printed number: `task, column, model, platform, value, source`.
- `column` is the metric key of the task's `Column` (`evals.base.Column.key`), `model` a `--model` name of the
  paper's rows (`models.registry.PAPER_ROWS`: the paper printed nothing for any other model);
- `platform` is empty for accuracy numbers; the latency rows name the device the paper timed on (Core ML on an
  iPhone 12, a MacBook M1 Pro), never compared with a measurement of ours, shown as rows of their own;
- `value` is the number as the paper printed it, on the column's scale (AP in %, MAE on 0-1, ms), or a word the
  paper printed instead (OOM: out of memory);
- `source` says where in the paper (its README's table) the number is printed.

Tasks take their `Column.paper` from `paper_values(task, column)`; the tables print `paper_source` under each
section. Only the standard library is imported here (task modules import it at their top).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from models.registry import PAPER_ROWS

PAPER_RESULTS = Path(__file__).with_name("paper_results.csv")
FIELDS = ("task", "column", "model", "platform", "value", "source")
WORDS = ("OOM",)  # what the paper printed in place of a number


@dataclass(frozen=True)
class PaperNumber:
    task: str
    column: str
    model: str
    platform: str  # "" for accuracy numbers
    value: float | str  # a float, or one of WORDS
    source: str


def parse(path: Path) -> tuple[PaperNumber, ...]:
    """Every row of a paper-results CSV, checked: the header, known models, numbers or known words, a source, and
    no number given twice."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise ValueError(f"{path}: header {reader.fieldnames}, expected {','.join(FIELDS)}")
        numbers, seen = [], set()
        for line, row in enumerate(reader, start=2):
            where = f"{path}:{line}"
            if row["model"] not in PAPER_ROWS:
                raise ValueError(f"{where}: model {row['model']!r} is not one of the paper's rows {PAPER_ROWS}")
            if not row["source"].strip():
                raise ValueError(f"{where}: no source (the paper's table / section)")
            text = row["value"].strip()
            try:
                value: float | str = float(text)
            except ValueError:
                if text not in WORDS:
                    raise ValueError(f"{where}: value {text!r} is neither a number nor one of {WORDS}") from None
                value = text
            key = (row["task"], row["column"], row["model"], row["platform"])
            if key in seen:
                raise ValueError(f"{where}: {key} is given twice")
            seen.add(key)
            numbers.append(PaperNumber(row["task"], row["column"], row["model"], row["platform"], value, row["source"]))
    return tuple(numbers)


@lru_cache(maxsize=None)
def paper_results() -> tuple[PaperNumber, ...]:
    return parse(PAPER_RESULTS)


def paper_values(task: str, column: str) -> dict[str, float]:
    """{model: value} of the paper's accuracy numbers (no platform) for one column of a task."""
    return {n.model: float(n.value) for n in paper_results()
            if n.task == task and n.column == column and not n.platform and isinstance(n.value, float)}  # fmt: skip


def paper_platforms(task: str) -> dict[str, dict[str, dict[str, float | str]]]:
    """{platform: {model: {column: value}}} of the numbers the paper measured on its own devices (latency), in the
    table's order."""
    platforms: dict[str, dict[str, dict[str, float | str]]] = {}
    for n in paper_results():
        if n.task == task and n.platform:
            platforms.setdefault(n.platform, {}).setdefault(n.model, {})[n.column] = n.value
    return platforms


def paper_sources(task: str, columns: tuple[str, ...] | None = None) -> list[str]:
    """The distinct sources of a task's numbers (of `columns` only, if given), in the table's order."""
    return list(dict.fromkeys(n.source for n in paper_results()
                              if n.task == task and (columns is None or n.column in columns)))  # fmt: skip
