"""Regression report: every metric of a results folder against a baseline results folder.

    python run_eval.py --compare BASELINE_DIR [--out results] [--tolerance 1e-6]

Writes <out>/REGRESSION.md (metric, baseline, now, delta, verdict) and fails (exit 1) when a metric moves beyond
the tolerance in the wrong direction (the tables' direction: lower is better for MAE and latency), when a metric
without a known direction moves at all beyond it, or when a baseline result is missing. Timing tasks (latency)
are listed but never fail a comparison.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .registry import TASKS, task_class
from .store import atomic_write_bytes
from .tables import load_results

DEFAULT_TOLERANCE = 1e-6


@dataclass
class Row:
    task: str
    run: str
    metric: str
    baseline: float | None
    now: float | None
    verdict: str  # ok, improved, regressed, changed, missing, new, timing

    @property
    def fails(self) -> bool:
        return self.verdict in ("regressed", "changed", "missing")

    def cells(self) -> list[str]:
        delta = "" if self.baseline is None or self.now is None else f"{self.now - self.baseline:+.6g}"
        fmt = lambda v: "" if v is None else f"{v:.6g}"  # noqa: E731
        return [self.task, self.run, self.metric, fmt(self.baseline), fmt(self.now), delta, self.verdict]


def numeric_metrics(result: dict) -> dict[str, float]:
    return {k: float(v) for k, v in result["metrics"].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def directions(task: str) -> dict[str, bool]:
    """metric key -> higher is better, for the metrics in the task's table columns."""
    if TASKS.get(task) is None:
        return {}
    return {column.key: column.higher_is_better for column in task_class(task).columns}


def verdict(baseline: float, now: float, higher_is_better: bool | None, tolerance: float) -> str:
    delta = now - baseline
    if abs(delta) <= tolerance:
        return "ok"
    if higher_is_better is None:
        return "changed"
    return "improved" if (delta > 0) == higher_is_better else "regressed"


def compare(baseline_dir: Path, out: Path, tolerance: float = DEFAULT_TOLERANCE) -> list[Row]:
    baseline, current = load_results(baseline_dir), load_results(out)
    rows = []
    for task in sorted(set(baseline) | set(current)):
        timing = TASKS.get(task) is not None and not task_class(task).deterministic
        known = directions(task)
        for run in sorted(set(baseline.get(task, {})) | set(current.get(task, {}))):
            before = numeric_metrics(baseline[task][run]) if run in baseline.get(task, {}) else {}
            after = numeric_metrics(current[task][run]) if run in current.get(task, {}) else {}
            for metric in sorted(set(before) | set(after)):
                old, new = before.get(metric), after.get(metric)
                if timing:
                    state = "timing"
                elif new is None:
                    state = "missing"
                elif old is None:
                    state = "new"
                else:
                    state = verdict(old, new, known.get(metric), tolerance)
                rows.append(Row(task, run, metric, old, new, state))
    return rows


def render(rows: list[Row], baseline_dir: Path, tolerance: float) -> str:
    failing = [row for row in rows if row.fails]
    header = ["task", "run", "metric", "baseline", "now", "delta", "verdict"]
    lines = [
        f"# Regression report against {baseline_dir}",
        "",
        f"Tolerance {tolerance:g} (absolute). {len(failing)} failing of {len(rows)} compared.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def update_baseline(out: Path, baseline_dir: Path) -> int:
    """Copy the results JSON files of `out` (not their predictions) into `baseline_dir`, replacing what was there."""
    import shutil

    results = load_results(out)
    if not results:
        raise FileNotFoundError(f"no results under {out} to make a baseline of")
    if Path(baseline_dir).exists():
        shutil.rmtree(baseline_dir)
    for task, runs in results.items():
        for run in runs:
            target = Path(baseline_dir) / task / f"{run}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(out) / task / f"{run}.json", target)
    print(f"baseline written to {baseline_dir}: {sum(len(r) for r in results.values())} results")
    return 0


def run_compare(baseline_dir: Path, out: Path, tolerance: float = DEFAULT_TOLERANCE) -> int:
    """Print and write the report; the exit code: 1 when anything fails, else 0."""
    if not Path(baseline_dir).is_dir():
        raise FileNotFoundError(f"no baseline results folder {baseline_dir}")
    rows = compare(Path(baseline_dir), Path(out), tolerance)
    report = render(rows, baseline_dir, tolerance)
    atomic_write_bytes(Path(out) / "REGRESSION.md", report.encode())
    print(report)
    return 1 if any(row.fails for row in rows) else 0
