"""`make demo`: every task that has landed, on the bundled sample data (datasets/sample), then the tables and the
report (<out>/TABLES.md, <out>/report.html).

Uses weights/<official file> when present; otherwise untrained weights, said loudly in the output and the tables.
    python -m evals.demo [--model repvit] [--out results/demo] [--untrained] [--skip latency ...] [run_eval options]
Any other option goes to every run_eval.py call, e.g. `--device cuda --precision bf16`.
The CI regression run is this demo with untrained weights, compared against tests/data/regression_baseline.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import cli
from .registry import available_tasks, task_class

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "datasets" / "sample"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="repvit")
    parser.add_argument("--out", type=Path, default=Path("results/demo"))
    parser.add_argument("--untrained", action="store_true", help="untrained weights even if the checkpoint exists")
    parser.add_argument("--skip", nargs="*", default=[], help="tasks to leave out")
    args, run_eval_options = parser.parse_known_args(argv)
    weights = "--untrained" if args.untrained else "--untrained-if-missing"
    names = [name for name in available_tasks() if name not in args.skip]
    task_options = [option for name in names for option in task_class(name).demo_args]
    # One run_eval.py call for every task, then the tables and the report: the model loads once (and untrained weights
    # are announced once).
    return cli.main([
        "--task", ",".join(names), "--model", args.model, weights, "--overwrite", "--data-root", str(SAMPLE_DATA),
        "--out", str(args.out), "--tables", "--report", *task_options, *run_eval_options,
    ])  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
