"""COCO results-format files: one JSON list of detections ``{image_id, category_id, score, bbox | segmentation}``.

Both the box prompts (a detector's output, e.g. ViTDet-H's) and another method's masks (`--predictions`) come in
this format, one file for the whole split. The engine asks for one image at a time, so a file is read once and
indexed by image id; within an image, detections keep the file's order (COCOeval breaks score ties by that order:
`pycocotools/cocoeval.py`, evaluateImg, ``np.argsort([-d['score'] for d in dt], kind='mergesort')``).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from .rle import compressed_rle

DETECTRON2_RESULTS_NAME = "coco_instances_results.json"  # detectron2's COCOEvaluator writes this in its output dir


def read_results_by_image(path: Path, required: tuple[str, ...]) -> dict[int, list[dict]]:
    """{image_id: [detection dicts in file order]}; every detection must have the `required` keys."""
    path = Path(path)
    with open(path) as f:
        detections = json.load(f)
    if not isinstance(detections, list):
        raise ValueError(f"{path} is not a COCO results file: expected a JSON list of detections")
    by_image: dict[int, list[dict]] = defaultdict(list)
    for index, detection in enumerate(detections):
        if not isinstance(detection, dict) or any(key not in detection for key in required):
            raise ValueError(f"{path}: detection #{index} lacks one of {', '.join(required)}: {str(detection)[:200]}")
        by_image[int(detection["image_id"])].append(detection)
    return dict(by_image)


def resolve_results_file(path: Path) -> Path:
    """`path` itself, or inside a folder: detectron2's coco_instances_results.json, else its only *.json file."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"no such results file or folder: {path}")
    if (path / DETECTRON2_RESULTS_NAME).is_file():
        return path / DETECTRON2_RESULTS_NAME
    candidates = sorted(path.glob("*.json"))
    if len(candidates) != 1:
        names = ", ".join(p.name for p in candidates) or "none"
        raise FileNotFoundError(
            f"{path}: expected one COCO results .json (or {DETECTRON2_RESULTS_NAME}) in the folder, found {names}"
        )
    return candidates[0]


def mask_detections(entries: list[dict], height: int, width: int) -> list[dict]:
    """Results-file entries of one image -> ``{category_id, score, segmentation}`` with compressed RLE masks
    (polygons and uncompressed RLE converted, see rle.compressed_rle); `bbox` is not kept (the metric drops it)."""
    return [
        {"category_id": entry["category_id"], "score": entry["score"],
         "segmentation": compressed_rle(entry["segmentation"], height, width)}
        for entry in entries
    ]  # fmt: skip
