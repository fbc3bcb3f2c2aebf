"""`run_eval.py --compare-runs A.json B.json`: two runs of one task scored on the same samples, per-sample metric by
metric: each run's mean, and the paired difference B - A with its 95% bootstrap interval over groups (images)
(evals/bootstrap.py). Any task whose results hold `metrics.per_sample` ({"id": [...], "group": [...], <metric>:
[...]}) can be compared; samples present in only one run are left out and counted.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .bootstrap import LEVEL, RESAMPLES, SEED, paired_difference
from .errors import DataError


def _per_sample(path: Path) -> tuple[dict, dict]:
    try:
        result = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no such results file (results/<task>/<run>.json)") from None
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a readable results JSON ({err})") from None
    per_sample = result.get("metrics", {}).get("per_sample") if isinstance(result, dict) else None
    if not isinstance(per_sample, dict) or "id" not in per_sample:
        raise DataError(f"{path}: its results hold no per-sample values (metrics.per_sample); "
                        f"task {result.get('task')!r} does not store them")  # fmt: skip
    return result, per_sample


def compare_runs(a: Path, b: Path) -> str:
    """The comparison as a Markdown table with a heading and the samples it rests on."""
    result_a, samples_a = _per_sample(a)
    result_b, samples_b = _per_sample(b)
    if result_a.get("task") != result_b.get("task"):
        raise DataError(f"{a} is a {result_a.get('task')} run and {b} a {result_b.get('task')} run: compare runs of one task")
    index_b = {sample_id: i for i, sample_id in enumerate(samples_b["id"])}
    pairs = [(i, index_b[sample_id]) for i, sample_id in enumerate(samples_a["id"]) if sample_id in index_b]
    if not pairs:
        raise DataError(f"{a} and {b} share no sample: were they run on the same data?")
    rows_a, rows_b = (np.array(p) for p in zip(*pairs))
    groups = np.asarray(samples_a["group"])[rows_a]
    metrics = [k for k in samples_a if k not in ("id", "group") and k in samples_b]
    lines = [f"## {result_a['task']}: {result_b.get('run')} - {result_a.get('run')}, paired on {len(pairs)} samples "
             f"({len(np.unique(groups))} images)", ""]  # fmt: skip
    left_out = len(samples_a["id"]) + len(samples_b["id"]) - 2 * len(pairs)
    if left_out:
        lines += [f"{left_out} samples present in only one run are left out.", ""]
    lines += [f"| metric | {result_a.get('run')} | {result_b.get('run')} | difference | {LEVEL:.0%} interval |",
              "|---|---|---|---|---|"]  # fmt: skip
    for metric in metrics:
        va = np.array([np.nan if v is None else v for v in np.asarray(samples_a[metric], dtype=object)[rows_a]], float)
        vb = np.array([np.nan if v is None else v for v in np.asarray(samples_b[metric], dtype=object)[rows_b]], float)
        d = paired_difference(va, vb, groups)
        mean_a, mean_b = np.nanmean(va), np.nanmean(vb)
        digits = 2 if max(abs(mean_a), abs(mean_b)) >= 1 else 4  # percentages; 0-1 scores such as MAE or F
        lines.append(f"| {metric} | {mean_a:.{digits}f} | {mean_b:.{digits}f} | {d['difference']:+.{digits}f} | "
                     f"[{d['low']:+.{digits}f}, {d['high']:+.{digits}f}] |")  # fmt: skip
    lines += ["", f"Percentile bootstrap over images, {RESAMPLES} resamples, seed {SEED} (evals/bootstrap.py): an "
                  "interval that excludes 0 is a difference these samples support."]  # fmt: skip
    return "\n".join(lines)
