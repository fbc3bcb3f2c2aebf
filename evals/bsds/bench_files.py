"""The bench's text files, written and read as BSR ``collect_eval_bdry.m`` / ``evaluation_bdry_image.m`` do.

- ``<image>_ev1.txt`` (``evaluation_bdry_image.m``): ``'%10g %10g %10g %10g %10g\\n'`` of
  ``[thresh cntR sumR cntP sumP]``, one line per threshold.
- ``eval_bdry_img.txt``: ``'%10d %10g %10g %10g %10g\\n'`` of ``[i bestT bestR bestP bestF]``, i = 1..N in the
  order of the images' file names.
- ``eval_bdry_thr.txt``: ``'%10g %10g %10g %10g\\n'`` of ``[thresh R P F]``.
- ``eval_bdry.txt``: one line ``'%10g' x 8`` of ``bestT bestR bestP bestF R_max P_max F_max Area_PR``
  (ODS threshold, recall, precision, F; OIS recall, precision, F; AP).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SUMMARY_FIELDS = ("ods_threshold", "ods_recall", "ods_precision", "ODS", "ois_recall", "ois_precision", "OIS", "AP")


def _lines(rows, formats) -> str:
    return "".join(" ".join(f % v for f, v in zip(formats, row)) + "\n" for row in rows)


def write_image_counts(path: str | Path, thresholds, counts) -> None:
    """``<image>_ev1.txt``."""
    rows = np.column_stack([np.asarray(thresholds, np.float64), np.asarray(counts, np.float64)])
    Path(path).write_text(_lines(rows, ["%10g"] * 5))


def read_image_counts(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(thresholds (K,), counts (K, 4))`` from an ``_ev1.txt`` file."""
    table = _read_table(path, 5)
    return table[:, 0], table[:, 1:]


def write_bench_results(directory: str | Path, summary: dict) -> None:
    """``eval_bdry.txt``, ``eval_bdry_img.txt`` and ``eval_bdry_thr.txt`` of a ``summarize`` result."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    per_image = np.asarray(summary["per_image"])
    index = np.arange(1, per_image.shape[0] + 1)
    (directory / "eval_bdry_img.txt").write_text(
        _lines([(i, *row) for i, row in zip(index, per_image)], ["%10d"] + ["%10g"] * 4)
    )
    per_threshold = np.column_stack([summary[k] for k in ("thresholds", "recall", "precision", "f")])
    (directory / "eval_bdry_thr.txt").write_text(_lines(per_threshold, ["%10g"] * 4))
    (directory / "eval_bdry.txt").write_text(_lines([[summary[k] for k in SUMMARY_FIELDS]], ["%10g"] * 8))


def read_bench_results(directory: str | Path) -> dict:
    """The three result files of a bench output directory.

    Returns ``summary`` (dict over ``SUMMARY_FIELDS``), ``per_threshold`` (K, 4) ``[T R P F]`` and
    ``per_image`` (N, 4) ``[T R P F]`` (the image index column dropped; rows are in image order).
    """
    directory = Path(directory)
    summary = _read_table(directory / "eval_bdry.txt", 8)
    if summary.shape[0] != 1:
        raise ValueError(f"{directory / 'eval_bdry.txt'}: expected one line, got {summary.shape[0]}")
    per_image = _read_table(directory / "eval_bdry_img.txt", 5)
    return {
        "summary": dict(zip(SUMMARY_FIELDS, (float(v) for v in summary[0]))),
        "per_threshold": _read_table(directory / "eval_bdry_thr.txt", 4),
        "per_image": per_image[:, 1:],
    }


def _read_table(path: str | Path, columns: int) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    if table.shape[1] != columns:
        raise ValueError(f"{path}: expected {columns} columns, got {table.shape[1]}")
    return table
