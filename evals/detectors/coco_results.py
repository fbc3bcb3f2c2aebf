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

import sys
from pathlib import Path

from tqdm import tqdm

from ..errors import DataError
from ..protocols.coco_format.dataset import read_coco_images, read_json
from .grounding_dino import GroundingDinoDetector, read_image
from .phrase_grounding import NUM_SELECT, GroundedDetections


def read_categories(annotation_file: Path) -> list[dict]:
    """The annotation file's categories, each with an integer id and a name (a DataError naming the file else)."""
    content = read_json(annotation_file, "a COCO instances file: {images, annotations, categories}")
    categories = content.get("categories") if isinstance(content, dict) else None
    if not categories or not isinstance(categories, list):
        raise DataError(f"{annotation_file}: lists no categories: nothing to prompt the detector with")
    for index, category in enumerate(categories):
        if not isinstance(category, dict) or not isinstance(category.get("id"), int) or not isinstance(
            category.get("name"), str
        ):
            raise DataError(f"{annotation_file}: categories[{index}] is not {{id: integer, name: text}}: "
                            f"{str(category)[:200]}")  # fmt: skip
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
    images = read_coco_images(annotation_file, images_dir)  # the file checked as the SAM stage checks it
    categories = read_categories(annotation_file)
    try:
        text = detector.prepare_text([category["name"] for category in categories])
    except ValueError as err:  # a category name without a word to ground
        raise DataError(f"{annotation_file}: {err}") from None
    entries: list[dict] = []
    for image in tqdm(images, desc=description or annotation_file.parent.name, unit="image", file=sys.stderr):
        if not image.path.is_file():
            raise DataError(f"{image.path}: image {image.image_id} of {annotation_file} is missing")
        pixels = read_image(image.path)
        if pixels.size != (image.width, image.height):
            raise DataError(f"{image.path}: the image is {pixels.size[0]}x{pixels.size[1]} but the annotation file says "
                            f"{image.width}x{image.height} ({annotation_file}, image id {image.image_id})")  # fmt: skip
        entries += results_entries(image.image_id, detector.detect(pixels, text, num_select), categories)
    return entries
