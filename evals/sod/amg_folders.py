"""Read SAM-Not-Perfect's saved AMG output: one folder per image holding `<i>.png` masks and `metadata.csv`.

scripts/amg.py (write_masks_to_folder) writes, for image `<stem>`, the folder `<output>/<stem>/` with each mask as
`<i>.png` (mask * 255, i = the mask's position in the generator's output) and `metadata.csv` (header
``id,area,bbox_x0,...,predicted_iou,stability_score,crop_box_x0,...``). `--predictions DIR --sod-protocol oracle`
(or `saliency`) reads such folders instead of running a model, so the reference's own masks can be scored here.
"""
from __future__ import annotations

import csv
from pathlib import Path

from .dataset import read_mask_reference

METADATA_FILE = "metadata.csv"


def read_amg_folder(folder: Path) -> list[dict]:
    """AMG records in index order: {"map": uint8 as PIL reads the PNG (convert("L")), "segmentation": map > 127,
    "predicted_iou", "stability_score" (from metadata.csv; None when it is absent)}."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no AMG output folder {folder} (SAM-Not-Perfect amg.py layout: <stem>/<i>.png)")
    scores: dict[int, tuple[float, float]] = {}
    metadata = folder / METADATA_FILE
    if metadata.is_file():
        with open(metadata, newline="") as f:
            for row in csv.DictReader(f):
                scores[int(row["id"])] = (float(row["predicted_iou"]), float(row["stability_score"]))
    indexed = sorted((int(path.stem), path) for path in folder.glob("*.png") if path.stem.isdigit())
    records = []
    for index, path in indexed:
        mask_map = read_mask_reference(path)
        predicted_iou, stability = scores.get(index, (None, None))
        records.append({"map": mask_map, "segmentation": mask_map > 127, "predicted_iou": predicted_iou,
                        "stability_score": stability})  # fmt: skip
    return records


def require_scores(records: list[dict], folder: Path) -> None:
    """The saliency protocol weighs masks by their scores: each needs its metadata.csv row."""
    if any(record["predicted_iou"] is None for record in records):
        raise ValueError(f"{folder}: a mask has no predicted_iou / stability_score row in {METADATA_FILE}")

