"""Make this folder's reference arrays from the official parity outputs in ../shared/parity.

    python tests/data/parity/subsample.py ../shared/parity

Keeps the inputs whole and every 4th row and column of the feature maps and logits (the full arrays are 8 MB per
model), so the parity tests run from the repository alone. Files written: <variant>.npz, <variant>_layout.tsv.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

STRIDE = 4
VARIANTS = ("repvit_sam", "mobile_sam", "sam_vit_b")
INPUTS = ("image", "point_coords", "point_labels", "points2_coords", "points2_labels", "box", "input_size")


def main(source: Path, target: Path) -> None:
    for variant in VARIANTS:
        full = np.load(source / f"{variant}.npz")
        out = {k: full[k] for k in INPUTS}
        out["features"] = full["features"][:, :, ::STRIDE, ::STRIDE]
        for prompt in ("point", "box", "combo"):
            out[f"{prompt}.iou"] = full[f"{prompt}.iou"]
            out[f"{prompt}.logits"] = full[f"{prompt}.logits"][:, ::STRIDE, ::STRIDE]
            out[f"{prompt}.low_res"] = full[f"{prompt}.low_res"][:, ::STRIDE, ::STRIDE]
        out["stride"] = np.array(STRIDE)
        np.savez_compressed(target / f"{variant}.npz", **out)
        shutil.copyfile(source / f"{variant}_layout.tsv", target / f"{variant}_layout.tsv")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).parent)
