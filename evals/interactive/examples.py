"""The report's panels for one object of an interactive run: its clicks and last-click mask, its box and box mask,
and its ground truth, cut to a window around the object (an object is often a small part of its image)."""
from __future__ import annotations

import numpy as np

from .. import visual
from ..protocols.coco_format.dataset import CocoImage, read_rgb_or_blank
from ..protocols.coco_format.rle import decode_mask
from .instances import AnnotatedImage, Instance

MARGIN = 0.5  # the window: the object's box, its clicks and its prompt box, grown by half their size a side
MIN_MARGIN = 16  # pixels, so that a tiny object keeps some of its surroundings


def window(image: CocoImage, instance: Instance, record: dict) -> tuple[slice, slice]:
    """Rows and columns around the object's ground-truth box, prompt box and clicks, within the image."""
    points = [instance.xyxy[:2], instance.xyxy[2:]] + [c[:2] for c in record.get("clicks") or []]
    if record.get("box") is not None:
        points += [record["box"][:2], record["box"][2:]]
    (x0, y0), (x1, y1) = np.min(points, axis=0), np.max(points, axis=0)
    grow_x, grow_y = max(MARGIN * (x1 - x0), MIN_MARGIN), max(MARGIN * (y1 - y0), MIN_MARGIN)
    height, width = image.height, image.width
    rows = slice(int(max(0, np.floor(y0 - grow_y))), int(min(height, np.ceil(y1 + grow_y) + 1)))
    cols = slice(int(max(0, np.floor(x0 - grow_x))), int(min(width, np.ceil(x1 + grow_x) + 1)))
    return rows, cols


def draw(annotated: AnnotatedImage, record: dict) -> dict[str, np.ndarray]:
    image = annotated.image
    rgb = read_rgb_or_blank(image)
    instance = next(i for i in annotated.instances if i.annotation_id == record["annotation_id"])
    rows, cols = window(image, instance, record)
    panels = {}
    if record.get("clicks"):
        clicks = np.array(record["clicks"], dtype=np.float64).reshape(-1, 3)
        shown = visual.overlay_masks(rgb, [decode_mask(record["mask"])], [0]) if record.get("mask") else rgb
        shown = visual.draw_points(shown, clicks[clicks[:, 2] == 1, :2], 0, positive=True)
        shown = visual.draw_points(shown, clicks[clicks[:, 2] == 0, :2], 0, positive=False)
        stored = "" if record.get("mask") else "; its mask is not stored"
        panels[f"after {len(clicks)} clicks: IoU {record['ious'][-1]:.1f}% (dots positive, rings negative{stored})"] = shown
    if record.get("box") is not None and record.get("box_iou") is not None:
        shown = visual.overlay_masks(rgb, [decode_mask(record["box_mask"])], [0]) if record.get("box_mask") else rgb
        panels[f"from the box: IoU {record['box_iou']:.1f}%"] = visual.draw_boxes(shown, [record["box"]], [0])
    panels[f"ground truth (annotation {instance.annotation_id}, area {instance.area:.0f} px)"] = visual.overlay_masks(
        rgb, [instance.mask(image.height, image.width)], [1])
    return {caption: np.ascontiguousarray(panel[rows, cols]) for caption, panel in panels.items()}
