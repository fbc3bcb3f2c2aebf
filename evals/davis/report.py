"""The tables the official DAVIS evaluation prints and the CSVs it writes (davis2017-evaluation, evaluation_method.py).

Global table: J&F-Mean, J-Mean, J-Recall, J-Decay, F-Mean, F-Recall, F-Decay. Per-sequence table: one row per
object, named <sequence>_<object id>, with J-Mean and F-Mean. CSVs: global_results-<set>.csv and
per-sequence_results-<set>.csv, numbers with 3 decimals (float_format="%.3f").
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from evals.davis.evaluate import GLOBAL_MEASURES, DavisResult

PER_SEQUENCE_MEASURES = ("Sequence", "J-Mean", "F-Mean")  # evaluation_method.py, seq_measures


def _three_decimals(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.3f}"  # pandas writes NaN as an empty field


def global_rows(result: DavisResult) -> list[list[str]]:
    scores = result.global_scores()
    return [list(GLOBAL_MEASURES), [_three_decimals(scores[m]) for m in GLOBAL_MEASURES]]


def per_sequence_rows(result: DavisResult) -> list[list[str]]:
    rows = [list(PER_SEQUENCE_MEASURES)]
    rows += [[o.name, _three_decimals(o.J.mean), _three_decimals(o.F.mean)] for o in result.objects]
    return rows


def _aligned(rows: list[list[str]]) -> str:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join(" ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows)


def format_tables(result: DavisResult, subset: str = "val") -> str:
    """Both tables, laid out as evaluation_method.py prints them."""
    return (
        f"--------------------------- Global results for {subset} ---------------------------\n"
        f"{_aligned(global_rows(result))}\n\n"
        f"---------- Per sequence results for {subset} ----------\n"
        f"{_aligned(per_sequence_rows(result))}"
    )


def write_official_csvs(result: DavisResult, out_dir: Path | str, subset: str = "val") -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / f"global_results-{subset}.csv", out_dir / f"per-sequence_results-{subset}.csv")
    for path, rows in zip(paths, (global_rows(result), per_sequence_rows(result))):
        with path.open("w", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)
    return paths
