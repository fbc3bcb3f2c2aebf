"""The standalone DAVIS 2017 semi-supervised evaluation of a results folder (evaluate.py, report.py), as the
official davis2017-evaluation's evaluation_method.py runs it:

    python -m evals.davis --davis_root DAVIS --results_path RESULTS [--set val] [--sequences a b] [--json F] [--csv_dir D]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evals.davis.evaluate import evaluate_davis
from evals.davis.report import format_tables, write_official_csvs
from evals.errors import DataError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--davis_path", "--davis_root", dest="davis_root", required=True,
                        help="DAVIS folder holding Annotations/480p (and ImageSets/2017, JPEGImages/480p)")
    parser.add_argument("--results_path", required=True, help="folder of <sequence>/<frame>.png results")
    parser.add_argument("--set", default="val", help="ImageSets/2017/<set>.txt to read (default: val)")
    parser.add_argument("--sequences", nargs="+", help="evaluate these sequences instead of the set's list")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: number of CPUs)")
    parser.add_argument("--annotation_format", default="auto", choices=["auto", "davis2017", "davis2016"])
    parser.add_argument("--json", type=Path, help="write global and per-object numbers to this JSON file")
    parser.add_argument("--csv_dir", type=Path, help="write the official CSVs (3 decimals) to this folder")
    args = parser.parse_args(argv)

    try:
        result = evaluate_davis(args.davis_root, args.results_path, args.set, args.sequences, args.workers,
                                annotation_format=args.annotation_format)
    except DataError as err:  # a missing or broken file: one paragraph naming it, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_tables(result, args.set))
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=1))
    if args.csv_dir:
        write_official_csvs(result, args.csv_dir, args.set)
    return 0


if __name__ == "__main__":
    sys.exit(main())
