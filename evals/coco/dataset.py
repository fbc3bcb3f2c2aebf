"""COCO-format instance annotations: the official val2017 layout, and a reader that SegInW reuses.

The reader needs only an annotation file in COCO `instances` format and the folder its `file_name`s are relative
to, so a Roboflow COCO export (SegInW: `<Dataset>/valid/_annotations_min1cat.coco.json` beside its images) reads
exactly as `coco/annotations/instances_val2017.json` with `coco/val2017/`. Images keep the annotation file's
order; each carries its ground-truth boxes (for `--boxes gt`) and the annotation file it belongs to (the metric
groups images by it: one mask AP per annotation file).
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..base import DatasetLayoutError

VAL2017_IMAGES = Path("val2017")
VAL2017_ANNOTATIONS = Path("annotations") / "instances_val2017.json"
VAL2017_TREE = """\
<data-root>/coco/                      (or <data-root> itself)
    val2017/*.jpg                       5,000 images (COCO 2017 val)
    annotations/instances_val2017.json  from annotations_trainval2017.zip
"""
MISSING_SHOWN = 5  # how many missing image files an error names


@dataclass(frozen=True)
class GroundTruthBox:
    """One annotation's box as the annotation file gives it (COCO [x, y, w, h], pixels)."""

    annotation_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    iscrowd: bool


@dataclass(frozen=True)
class CocoImage:
    image_id: int
    path: Path
    height: int
    width: int
    annotation_file: Path  # the ground truth this image is scored against
    ground_truth: tuple[GroundTruthBox, ...]  # in the annotation file's order, crowd annotations included


def find_val2017(data_root: Path) -> tuple[Path, Path]:
    """(images folder, annotation file) of COCO val2017 under `data_root`/coco or `data_root` itself."""
    data_root = Path(data_root)
    for root in (data_root / "coco", data_root):
        if (root / VAL2017_IMAGES).is_dir() and (root / VAL2017_ANNOTATIONS).is_file():
            return root / VAL2017_IMAGES, root / VAL2017_ANNOTATIONS
    raise DatasetLayoutError(f"COCO val2017 not found under {data_root}", VAL2017_TREE)


def read_coco_images(annotation_file: Path, images_dir: Path) -> list[CocoImage]:
    """Every image of `annotation_file`, in its order, with its ground-truth boxes; image files are not opened."""
    annotation_file = Path(annotation_file)
    with open(annotation_file) as f:
        content = json.load(f)
    if not isinstance(content, dict) or "images" not in content or "annotations" not in content:
        raise ValueError(f"{annotation_file} is not a COCO instances file (needs 'images' and 'annotations')")
    boxes: dict[int, list[GroundTruthBox]] = defaultdict(list)
    for ann in content["annotations"]:
        boxes[ann["image_id"]].append(
            GroundTruthBox(ann["id"], ann["category_id"], tuple(ann["bbox"]), bool(ann.get("iscrowd", 0)))
        )
    images, seen = [], set()
    for record in content["images"]:
        if record["id"] in seen:
            raise ValueError(f"{annotation_file}: image id {record['id']} appears twice")
        seen.add(record["id"])
        images.append(CocoImage(
            image_id=record["id"], path=Path(images_dir) / record["file_name"], height=record["height"],
            width=record["width"], annotation_file=annotation_file, ground_truth=tuple(boxes.get(record["id"], ())),
        ))  # fmt: skip
    return images


def require_image_files(images: list[CocoImage], tree: str = VAL2017_TREE) -> None:
    """A DatasetLayoutError naming the first missing image files, if any is missing."""
    missing = [image.path for image in images if not image.path.is_file()]
    if missing:
        shown = ", ".join(str(p) for p in missing[:MISSING_SHOWN]) + (", ..." if len(missing) > MISSING_SHOWN else "")
        raise DatasetLayoutError(
            f"{len(missing)} of {len(images)} images of the annotation file are missing: {shown}", tree
        )


def read_rgb(image: CocoImage) -> np.ndarray:
    """H x W x 3 uint8 RGB, decoded as TinySAM's eval/tinysam_zero_shot_ins_eval.py does: ``cv2.imread`` (which
    applies EXIF orientation) then ``cv2.cvtColor(image, cv2.COLOR_BGR2RGB)``; grayscale JPEGs become 3 channels.
    (EfficientViT-SAM's eval_efficientvit_sam_model.py uses ``PIL.Image.open(path).convert("RGB")``, which decodes
    the same JPEGs with libjpeg too.) A size other than the annotation file's is an error: the masks would not
    line up with the ground truth.
    """
    bgr = cv2.imread(str(image.path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read image {image.path}")
    if bgr.shape[:2] != (image.height, image.width):
        raise ValueError(
            f"{image.path} is {bgr.shape[1]}x{bgr.shape[0]} but the annotation file says {image.width}x{image.height}"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
