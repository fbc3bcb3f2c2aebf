"""The report's examples for box-prompted instance segmentation (COCO, and SegInW which reuses this reader).

Score of an image: the mean, over its non-crowd ground-truth objects, of the best mask IoU that a detection of the
object's category reaches (pycocotools' mask IoU, as COCOeval matches with) -- the quantity AP thresholds at
0.50:0.95, without the ranking by score. An image without ground truth is not ranked. Ground-truth masks are read
from the image's annotation file, one file kept at a time (COCO val2017's is 450 MB in memory).
"""
from __future__ import annotations

import json
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_util

from ... import visual
from ..coco_format.dataset import CocoImage, read_rgb_or_blank
from ..coco_format.rle import compressed_rle, decode_mask
from .prompts import PromptedImage

MAX_SHOWN = 20  # detections drawn per image, highest scores first: more hide each other


@lru_cache(maxsize=1)
def _annotations(annotation_file: Path) -> dict[int, list[dict]]:
    """{image id: its annotations} of one annotation file."""
    by_image: dict[int, list[dict]] = defaultdict(list)
    for annotation in json.loads(Path(annotation_file).read_text())["annotations"]:
        by_image[annotation["image_id"]].append(annotation)
    return by_image


def ground_truth(image: CocoImage) -> list[dict]:
    """The image's non-crowd objects: ``{category_id, segmentation}`` with compressed RLE masks."""
    return [
        {"category_id": a["category_id"], "segmentation": compressed_rle(a["segmentation"], image.height, image.width)}
        for a in _annotations(image.annotation_file).get(image.image_id, []) if not a.get("iscrowd", 0)
    ]  # fmt: skip


def _pycocotools_rle(rle: dict) -> dict:
    return {"size": rle["size"], "counts": rle["counts"].encode() if isinstance(rle["counts"], str) else rle["counts"]}


def best_iou_recall(image: CocoImage, detections: list[dict]) -> float | None:
    objects = ground_truth(image)
    if not objects:
        return None
    best = []
    for truth in objects:
        candidates = [_pycocotools_rle(d["segmentation"]) for d in detections if d["category_id"] == truth["category_id"]]
        ious = mask_util.iou(candidates, [_pycocotools_rle(truth["segmentation"])], [0]) if candidates else [[0.0]]
        best.append(float(np.max(ious)))
    return float(np.mean(best))


def draw(prompted: PromptedImage, detections: list[dict], prompt_source: str | None = None) -> dict[str, np.ndarray]:
    """`prompt_source`: where the run's box prompts came from, in words ("ViTDet-H detections", "ground-truth
    boxes, oracle"); None for another method's masks."""
    image = prompted.image
    rgb = read_rgb_or_blank(image)
    shown = sorted(range(len(detections)), key=lambda i: -detections[i]["score"])[:MAX_SHOWN]
    boxes = [detections[i]["bbox"] for i in shown if "bbox" in detections[i]]  # another method's masks have none
    xyxy = [(x, y, x + w, y + h) for x, y, w, h in boxes]
    objects = ground_truth(image)
    source = f" ({prompt_source})" if prompt_source else ""
    prompts = f"image and the top {len(xyxy)} box prompts{source}" if xyxy else "image"
    masks = [decode_mask(detections[i]["segmentation"]) for i in shown]
    if any(mask.any() for mask in masks):
        caption = f"predicted masks ({len(shown)} of {len(detections)}, highest scores)"
        predicted = (caption, visual.overlay_masks(rgb, masks))
    else:
        empty = f"all {len(detections)} empty" if detections else "none"
        predicted = (f"predicted masks: {empty}", visual.no_mask(*rgb.shape[:2]))
    return {
        prompts: visual.draw_boxes(rgb, xyxy),
        predicted[0]: predicted[1],
        f"ground truth ({len(objects)} objects)": visual.overlay_masks(rgb, [decode_mask(o["segmentation"]) for o in objects]),
    }  # fmt: skip
