"""The report's MVTec AD examples: defective images ranked by their own pixel F1-max, drawn as image with SAA+'s
box prompts / anomaly map / ground truth.

Score: the pixel F1-max (ranking_metrics.py, as evaluator.py scores a category) of the image's map against its
mask, both at the evaluation resolution -- the run's F_p computed over this image's pixels alone. Good images are
not ranked: without an anomalous pixel their F1 is 0 whatever the map (the category's F_p still counts their
pixels as normal ones).
"""
from __future__ import annotations

import numpy as np

from .. import visual
from .dataset import MVTecImage, read_mask
from .evaluator import resize_map
from .protocol import EVAL_RESOLUTION
from .ranking_metrics import ranking_metrics

SELECTED, OTHER = 3, 7  # palette indices: red for the boxes whose masks make the map, grey for the rest


def image_f1_max(image: MVTecImage, prediction: dict) -> float | None:
    if not image.anomalous:
        return None
    anomaly_map = resize_map(prediction["anomaly_map"], EVAL_RESOLUTION)
    mask = read_mask(image, EVAL_RESOLUTION)
    return ranking_metrics(anomaly_map[mask], anomaly_map[~mask]).f1_max


def draw(image: MVTecImage, prediction: dict, boxes: np.ndarray | None) -> dict[str, np.ndarray]:
    """`boxes`: the prompt cache's defect boxes of the image (K x 4 pixels), None when the run had none."""
    rgb = visual.read_rgb(image.image_path)
    rgb = visual.blank(EVAL_RESOLUTION, EVAL_RESOLUTION) if rgb is None else rgb
    truth = visual.resize_to(read_mask(image, EVAL_RESOLUTION).astype(np.uint8), rgb.shape[:2], nearest=True) > 0
    prompts = {"image": rgb}
    if boxes is not None:
        selected = set(prediction.get("selected_boxes", []))
        colours = [SELECTED if i in selected else OTHER for i in range(len(boxes))]
        prompts = {f"image and the {len(boxes)} defect boxes ({len(selected)} in the map, red)":
                   visual.draw_boxes(rgb, boxes, colours)}  # fmt: skip
    anomaly = np.asarray(prediction["anomaly_map"])
    if anomaly.size and anomaly.max() > 0:
        predicted = ("anomaly map (scaled to its maximum)", visual.heat_map(anomaly, rgb))
    else:  # no defect box, or masks of no pixel: an all-zero map, said in words
        predicted = ("anomaly map: empty (all zero)", visual.no_mask(*rgb.shape[:2]))
    return {
        **prompts,
        predicted[0]: predicted[1],
        "ground truth": visual.overlay_masks(rgb, [truth], [SELECTED]),
    }
