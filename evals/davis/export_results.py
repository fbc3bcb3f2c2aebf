"""Stored predictions of a davis run -> a DAVIS results folder (<out>/<sequence>/<frame>.png, palette PNGs).

    python -m evals.davis.export_results results/davis/repvit.predictions OUT_DIR

The folder is what davis2017-evaluation reads (and `--predictions OUT_DIR` scores again): one PNG per frame, pixel
value = object id, the DAVIS palette (io.write_palette_mask), named as the annotations.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evals.davis.evaluator import frames_by_name
from evals.davis.io import write_palette_mask
from evals.errors import DataError
from evals.store import UNREADABLE, decode_prediction


def export_results(store_dir: Path, out_dir: Path) -> list[str]:
    """Write every stored sequence's masks; returns the sequence names written."""
    written = []
    for path in sorted(Path(store_dir).glob("*.npz")):
        try:
            prediction = decode_prediction(path.read_bytes())
        except UNREADABLE as err:  # a truncated or foreign file
            raise DataError(f"{path}: not a whole stored prediction ({type(err).__name__}: {err}); predict the "
                            "sequence again (run the same davis command)") from None  # fmt: skip
        for frame_name, ids in frames_by_name(prediction).items():
            write_palette_mask(Path(out_dir) / path.stem / f"{frame_name}.png", ids)
        written.append(path.stem)
    if not written:
        raise DataError(f"no stored predictions (*.npz) in {store_dir}: give results/davis/<run>.predictions")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store_dir", type=Path, help="results/davis/<run>.predictions")
    parser.add_argument("out_dir", type=Path, help="results folder to write")
    args = parser.parse_args(argv)
    try:
        names = export_results(args.store_dir, args.out_dir)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(names)} sequence(s) written to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
