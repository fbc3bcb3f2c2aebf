"""The objects an interactive-segmentation run prompts: every annotation of a COCO-format instances file, with the
fields the references read (area, box, segmentation), grouped by image.

COCO val2017, LVIS v1 val (`lvis_v1_val.json`: COCO-format polygons on COCO's images) and any folder of images with
COCO-format instance annotations read alike; `evals.protocols.coco_format.dataset.read_coco_images` checks the file first (keys,
ids, sizes, boxes, segmentations), so a problem is a DataError naming the file and the record.

Which annotations are prompted is each protocol's choice (EfficientViT-SAM skips only `area < 1`, crowd regions
included); this module keeps them all, in the file's order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..protocols.coco_format.dataset import CocoImage, read_json
from ..protocols.coco_format.rle import compressed_rle, decode_mask


@dataclass(frozen=True)
class Instance:
    """One annotation, as the annotation file gives it."""

    annotation_id: int
    category_id: int
    area: float  # the file's `area` field (polygon area): what the references split small / medium / large by
    bbox: tuple[float, float, float, float]  # COCO [x, y, w, h]
    iscrowd: bool
    segmentation: Any  # polygons or (un)compressed RLE

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        x, y, w, h = self.bbox
        return (x, y, x + w, y + h)

    def mask(self, height: int, width: int) -> np.ndarray:
        """H x W bool. Polygons are rasterised and merged, uncompressed RLE (crowd) converted, with pycocotools'
        calls as EfficientViT-SAM's `ann_to_mask` makes them (frPyObjects, merge, decode > 0: `compressed_rle`);
        compressed RLE (a converted dataset) is taken as it is, where the references raise NotImplementedError."""
        return decode_mask(compressed_rle(self.segmentation, height, width))


@dataclass(frozen=True)
class AnnotatedImage:
    image: CocoImage
    instances: tuple[Instance, ...]  # in the annotation file's order


def read_instances(annotation_file: Path, images: list[CocoImage]) -> list[AnnotatedImage]:
    """`images` (read and checked by read_coco_images from `annotation_file`) with each one's annotations."""
    by_image: dict[int, list[Instance]] = {image.image_id: [] for image in images}
    for ann in read_json(annotation_file, "a COCO instances file")["annotations"]:
        if ann["image_id"] in by_image:
            by_image[ann["image_id"]].append(
                Instance(ann["id"], ann["category_id"], float(ann["area"]), tuple(ann["bbox"]),
                         bool(ann.get("iscrowd", 0)), ann["segmentation"])
            )  # fmt: skip
    return [AnnotatedImage(image, tuple(by_image[image.image_id])) for image in images]
