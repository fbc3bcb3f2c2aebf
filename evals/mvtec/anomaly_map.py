"""Stages 3-4 of SAA+: the SAM model's masks for the cached defect boxes, rescored and fused into the anomaly map.

Reference: caoyunkang/Segment-Any-Anomaly@SAA-plus, SAA/model.py ``region_refine`` (SAM), ``rescore`` and
``confidence_prompting`` (the map), with k_mask from saa_prompts.py and the constants of protocol.py:
    masks   SAM box prompts, one mask each (multimask_output=False), mask = logits > 0, at the image's size
    score   box logit x exp(3 x mean saliency inside the mask) (x 1 for an empty mask), the mean over float32 and
            the exponential in float64, as under SAA+'s NumPy 1.x
    map     the k_mask best masks (numpy ``argsort()[-k:]``, ascending): sum of score x mask divided by
            (1 + number of those masks on the pixel), float64; cv2 bilinear resize to 400 x 400
An image without a defect box gets an all-zero map (SAA+: one empty mask with logit 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from models.prompt_model import PromptModel

from .protocol import EVAL_RESOLUTION, MASK_THRESHOLD, MULTIMASK_OUTPUT, RESCORE_TEMPERATURE, SAM_BOX_BATCH
from .saliency import upsample


@dataclass
class AnomalyMap:
    anomaly_map: np.ndarray  # EVAL_RESOLUTION x EVAL_RESOLUTION float32
    scores: np.ndarray  # K float64, every defect box's rescored confidence
    selected: list[int]  # indices (into the boxes) of the masks in the map, ascending score
    mask_areas: list[int]  # pixels of every defect mask


def sam_input(bgr: np.ndarray, color_order: str) -> np.ndarray:
    """The array SAM's predictor is given: SAA+ passes the BGR image as is (read as RGB by SAM) -- "bgr"."""
    if color_order == "bgr":
        return bgr
    if color_order == "rgb":
        return np.ascontiguousarray(bgr[:, :, ::-1])
    raise ValueError(f"unknown colour order {color_order!r}")


def defect_masks(model: PromptModel, boxes: np.ndarray, batch: int = SAM_BOX_BATCH) -> np.ndarray:
    """K x H x W bool, one mask per box (x0, y0, x1, y1 pixels) on the image set last."""
    masks = []
    for start in range(0, len(boxes), batch):
        # A torch tensor, scaled in float32: SAA/model.py region_refine, apply_boxes_torch + predict_torch.
        chunk = torch.from_numpy(boxes[start : start + batch])
        out = model.predict(boxes=chunk, multimask_output=MULTIMASK_OUTPUT)
        masks.append((out.logits[:, 0] > MASK_THRESHOLD).cpu().numpy())
    return np.concatenate(masks)


def rescore(masks: np.ndarray, logits: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """SAA+ rescore: logit x exp(3 x mean saliency in the mask); the mean as numpy takes it over float32, the
    exponential in float64: SAA/model.py's ``np.exp(3 * similarity_map[mask].mean())`` under the NumPy 1.x it ran on
    (torch 1.10, install.sh), where 3 x a float32 scalar is float64 (NumPy 2's NEP 50 rules would keep float32: one
    float32 ulp apart; tests/data/protocols/mvtec/make_reference.py runs SAA+ with NumPy 1.26)."""
    scores = []
    for mask, logit in zip(masks, logits.astype(np.float64)):
        inside = saliency[mask]
        scores.append(logit * (np.exp(RESCORE_TEMPERATURE * np.float64(inside.mean())) if inside.size else 1.0))
    return np.array(scores, dtype=np.float64)


def fuse_top_k(masks: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, list[int]]:
    """SAA+ confidence_prompting before the resize: (H x W float64 map, the chosen indices)."""
    chosen = [int(i) for i in scores.argsort()[-k:]]
    total = np.zeros(masks.shape[1:], dtype=np.float64)
    weight = np.ones(masks.shape[1:], dtype=np.float64)
    for index in chosen:
        total += masks[index] * scores[index]
        weight += masks[index] * 1.0
    return total / weight, chosen


def anomaly_map(model: PromptModel, bgr: np.ndarray, entry: dict, k_mask: int, color_order: str,
                resolution: int = EVAL_RESOLUTION, box_batch: int = SAM_BOX_BATCH) -> AnomalyMap:  # fmt: skip
    """The anomaly map of one image from its prompt-cache entry (prompt_cache.py)."""
    height, width = bgr.shape[:2]
    boxes = np.asarray(entry["defect_boxes"], dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        empty = np.zeros((resolution, resolution), dtype=np.float32)
        return AnomalyMap(empty, np.zeros(0), [], [])
    model.set_image(sam_input(bgr, color_order))
    masks = defect_masks(model, boxes, box_batch)
    scores = rescore(masks, np.asarray(entry["defect_logits"]), upsample(entry["saliency"], height, width))
    fused, chosen = fuse_top_k(masks, scores, k_mask)
    resized = cv2.resize(fused, (resolution, resolution)).astype(np.float32)
    return AnomalyMap(resized, scores, chosen, [int(m.sum()) for m in masks])
