"""A text-prompted detector over the images of a COCO-format annotation file -> COCO results entries (box prompts).

The categories are the annotation file's, in its order (sam-hq test_ap_on_seginw.py: ``cat_list = [item['name'] for
item in dataset.coco.dataset['categories']]``). A detection's label is an index into that list; sam-hq writes the
index itself as ``category_id`` (cocogrounding_eval.py ``prepare_for_coco_detection``: ``"category_id": labels[k]``),
which is the category's id because every SegInW file numbers its categories 0, 1, ... in order. We write
``categories[label]["id"]``: the same there, and right for a file numbered otherwise.

Entries: ``{image_id, category_id, bbox: [x, y, w, h], score}``, best first within an image (the detector's order).
``w = x1 - x0`` in float64 from the float32 corners, so ``x + w`` gives back the corner SAM is prompted with (sam-hq
passes the float32 xyxy box to ``SamPredictor`` directly) up to float64 rounding, which casting to float32 removes.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from tqdm import tqdm

from .grounding_dino import GroundingDinoDetector, read_image
from .phrase_grounding import NUM_SELECT, GroundedDetections


def read_categories(annotation_file: Path) -> list[dict]:
    with open(annotation_file) as f:
        content = json.load(f)
    categories = content.get("categories") if isinstance(content, dict) else None
    if not categories:
        raise ValueError(f"{annotation_file} lists no categories: nothing to prompt the detector with")
    return categories


def results_entries(image_id: int, detections: GroundedDetections, categories: list[dict]) -> list[dict]:
    entries = []
    scores, labels, boxes = detections.scores.tolist(), detections.labels.tolist(), detections.boxes_xyxy.tolist()
    for score, label, box in zip(scores, labels, boxes):
        x0, y0, x1, y1 = (float(v) for v in box)
        entries.append({"image_id": image_id, "category_id": categories[label]["id"],
                        "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(score)})  # fmt: skip
    return entries


def detect_annotation_file(
    detector: GroundingDinoDetector, annotation_file: Path, images_dir: Path, num_select: int = NUM_SELECT,
    description: str | None = None,
) -> list[dict]:  # fmt: skip
    """COCO results entries of `detector` on every image of `annotation_file` (file order), prompted with all its
    category names."""
    annotation_file = Path(annotation_file)
    with open(annotation_file) as f:
        images = json.load(f)["images"]
    categories = read_categories(annotation_file)
    text = detector.prepare_text([category["name"] for category in categories])
    entries: list[dict] = []
    for record in tqdm(images, desc=description or annotation_file.parent.name, unit="image", file=sys.stderr):
        path = Path(images_dir) / record["file_name"]
        if not path.is_file():
            raise FileNotFoundError(f"image {path} of {annotation_file} is missing")
        entries += results_entries(record["id"], detector.detect(read_image(path), text, num_select), categories)
    return entries
