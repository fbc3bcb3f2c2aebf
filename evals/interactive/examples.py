"""The report's panels for one image of an interactive run: each object's clicks and last-click mask, its box and
box mask, and the ground truth, objects in one colour each (at most `MAX_SHOWN`, the largest first)."""
from __future__ import annotations

import numpy as np

from .. import visual
from ..coco.examples import read_rgb_or_blank
from ..coco.rle import decode_mask
from .instances import AnnotatedImage

MAX_SHOWN = 8


def draw(annotated: AnnotatedImage, objects: list[dict]) -> dict[str, np.ndarray]:
    image = annotated.image
    rgb = read_rgb_or_blank(image)
    shown = sorted(range(len(objects)), key=lambda i: -objects[i]["area"])[:MAX_SHOWN]
    instances = {instance.annotation_id: instance for instance in annotated.instances}
    panels = {}
    clicked = [i for i in shown if objects[i].get("mask") is not None]
    if clicked:
        out = visual.overlay_masks(rgb, [decode_mask(objects[i]["mask"]) for i in clicked], clicked)
        for i in clicked:
            clicks = np.array(objects[i]["clicks"]).reshape(-1, 3)
            out = visual.draw_points(out, clicks[clicks[:, 2] == 1, :2], i, positive=True)
            out = visual.draw_points(out, clicks[clicks[:, 2] == 0, :2], i, positive=False)
        mean = np.mean([objects[i]["ious"][-1] for i in clicked])
        panels[f"after {len(objects[clicked[0]]['clicks'])} clicks (dots positive, rings negative; mean IoU "
               f"{mean:.1f}%)"] = out  # fmt: skip
    boxed = [i for i in shown if objects[i].get("box_mask") is not None]
    if boxed:
        out = visual.overlay_masks(rgb, [decode_mask(objects[i]["box_mask"]) for i in boxed], boxed)
        mean = np.mean([objects[i]["box_iou"] for i in boxed])
        panels[f"from the ground-truth boxes (mean IoU {mean:.1f}%)"] = visual.draw_boxes(
            out, [objects[i]["box"] for i in boxed], boxed)
    truths = [instances[objects[i]["annotation_id"]].mask(image.height, image.width) for i in shown]
    panels[f"ground truth ({len(shown)} of {len(objects)} objects, largest first)"] = visual.overlay_masks(rgb, truths, shown)
    return panels
