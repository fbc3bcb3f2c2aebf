"""How SAM's automatic masks become one saliency map per image: the two protocols of `--task sod`.

Both start from SAM's automatic mask generator (AMG) on the whole image, then reduce its masks to one map at the
ground truth's size, stored as uint8 0..255 (what the metric reads):

oracle    (the paper's number, an UPPER BOUND: it looks at the ground truth) Ji et al., "Segment Anything Is Not
          Always Perfect", arXiv 2304.05750, code LiuTingWed/SAM-Not-Perfect (commit cf40652):
          scripts/amg.py runs the AMG with every default and writes each mask as `<i>.png` (mask * 255);
          scripts/sam_dice_f1_mae.py keeps, per image, the mask with the best Dice against the ground truth and
          reports that mask's MAE; an image where no mask has Dice > 0 scores MAE 1. The RepViT-SAM paper does not
          say where its salient-object protocol comes from; this is the published code that matches its setting
          (SAM's AMG on DUTS, MAE) most plausibly.
saliency  (ours, GT-free) every AMG mask votes for its pixels with weight
              predicted IoU x stability score x exp(-BndCon^2 / 2),
          BndCon = (mask pixels on the image's 1-pixel frame) / sqrt(mask area), the boundary connectivity of
          Zhu et al., "Saliency Optimization from Robust Background Detection", CVPR 2014, eq. (1)-(2), sigma = 1:
          a region hugging the border is background-like. The vote sum is divided by its maximum (-> [0, 1]).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ..protocols.amg import AmgParams

REFERENCE_CODE = "LiuTingWed/SAM-Not-Perfect@cf40652ff4f2413b1ad2be0928d183fb6dc320d3"
PROTOCOLS = ("oracle", "saliency")
EXTERNAL = "external"  # --predictions DIR of finished saliency maps: no AMG, no selection

# --- the automatic mask generator -----------------------------------------------------------------------------
# SamAutomaticMaskGenerator's defaults (segment_anything/automatic_mask_generator.py, identical in
# SAM-Not-Perfect's vendored copy); SAM-Not-Perfect scripts/amg.py sets none of them (get_amg_kwargs drops every
# option left at None), so all defaults apply: 32 x 32 points, predicted IoU >= 0.88, stability >= 0.95, box NMS
# 0.7, no crops, no small-region removal. points_per_batch changes only speed and memory.
AMG_PARAMS = AmgParams()

# --- oracle: SAM-Not-Perfect scripts/sam_dice_f1_mae.py ------------------------------------------------------
# normalize_pil: ``gt = gt / (gt.max() + 1e-8); gt = np.where(gt > 0.5, 1, 0)`` (mask read by binary_loader:
# PIL convert("L")), i.e. foreground where the mask is above half its own maximum (>= 128 for 0/255 masks,
# where PySODMetrics takes > 128).
REFERENCE_GT_EPS = 1e-8
REFERENCE_GT_THRESHOLD = 0.5
# normalize_pil: ``pre / 255`` when the map is constant, else ``(pre - min) / (max - min)``.
REFERENCE_PRED_SCALE = 255
# dice_coefficient: ``2 * sum(gt * pred) / (sum(gt) + sum(pred) + 1e-8)``.
REFERENCE_DICE_EPS = 1e-8
# find_best_dice: ``best_dice = 0; best_mae = 1`` and a mask replaces the best only if ``f_dice > best_dice``:
# with no mask, or none with Dice > 0 (none overlaps the ground truth, or the ground truth is empty), the image
# scores MAE 1. Among equal Dice the first mask in os.listdir order wins there (arbitrary, file-system order);
# here the first in the AMG's output order (the reference's file index <i>.png).
NO_MASK_MAE = 1.0
# find_best_dice: a mask of another size than the ground truth is resized to it with PIL's Image.BILINEAR.

# --- saliency: ours ---------------------------------------------------------------------------------------------
# Zhu et al. CVPR 2014, eq. (2): background probability 1 - exp(-BndCon^2 / (2 sigma^2)), sigma_bndCon = 1
# ("the results are insensitive to it in [0.5, 2.5]"); the foreground weight here is its complement.
BOUNDARY_CONNECTIVITY_SIGMA = 1.0


# --- oracle ---------------------------------------------------------------------------------------------------
def reference_gt(mask: np.ndarray) -> np.ndarray:
    """0/1 int64 ground truth of an 8-bit mask, as normalize_pil (sam_dice_f1_mae.py)."""
    gt = mask / (mask.max() + REFERENCE_GT_EPS)
    return np.where(gt > REFERENCE_GT_THRESHOLD, 1, 0)


def reference_pred(pred: np.ndarray) -> np.ndarray:
    """float64 [0, 1] map of an 8-bit map, as normalize_pil: min-max stretched unless constant (then / 255)."""
    high, low = pred.max(), pred.min()
    if high == low:
        return pred / REFERENCE_PRED_SCALE
    return (pred - low) / (high - low)


def reference_dice(gt: np.ndarray, pred: np.ndarray) -> float:
    """dice_coefficient(gt, pred) of sam_dice_f1_mae.py on normalised maps."""
    intersection = np.sum(gt * pred)
    union = np.sum(gt) + np.sum(pred)
    return float((2.0 * intersection) / (union + REFERENCE_DICE_EPS))


def reference_mae(gt: np.ndarray, pred: np.ndarray) -> float:
    """mean_absolute_error(gt, pred) of sam_dice_f1_mae.py on normalised maps: mean |pred - gt|."""
    return float(np.mean(np.abs(pred - gt)))


def reference_map_mae(pred: np.ndarray, mask: np.ndarray) -> float:
    """MAE of an 8-bit map against an 8-bit mask of the same size, normalised both as the reference does."""
    return reference_mae(reference_gt(mask), reference_pred(pred))


def mask_to_map(segmentation: np.ndarray) -> np.ndarray:
    """A boolean AMG mask as scripts/amg.py writes it: ``mask * 255``, 0/255."""
    return segmentation.astype(np.uint8) * np.uint8(255)


def resize_to(pred: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An 8-bit map at (H, W) = `size`: unchanged when it has that size, else PIL bilinear (find_best_dice)."""
    if pred.shape == tuple(size):
        return pred
    height, width = size
    return np.asarray(Image.fromarray(pred).resize((width, height), Image.BILINEAR))


@dataclass(frozen=True)
class OracleChoice:
    index: int | None  # position of the chosen mask in the AMG output; None: no mask has Dice > 0
    dice: float  # its Dice (0 when none is chosen)
    mae: float  # its MAE as the reference computes it; NO_MASK_MAE when none is chosen
    saliency: np.ndarray  # uint8 map at the ground truth's size: the chosen mask, or zeros


def select_best_dice_mask(maps: Sequence[np.ndarray], gt_mask: np.ndarray) -> OracleChoice:
    """The mask with the best Dice against the ground truth (find_best_dice, sam_dice_f1_mae.py).

    maps: 8-bit (0..255) masks as written by scripts/amg.py, any size (resized to the mask's as the reference);
    gt_mask: the 8-bit ground truth as binary_loader reads it. Strictly greater Dice replaces the best, from 0.
    """
    gt = reference_gt(gt_mask)
    best = OracleChoice(index=None, dice=0.0, mae=NO_MASK_MAE, saliency=np.zeros(gt_mask.shape, np.uint8))
    for index, raw in enumerate(maps):
        resized = resize_to(raw, gt_mask.shape)
        pred = reference_pred(resized)
        dice = reference_dice(gt, pred)
        if dice > best.dice:
            best = OracleChoice(index=index, dice=dice, mae=reference_mae(gt, pred), saliency=resized)
    return best


# --- saliency -------------------------------------------------------------------------------------------------
def border_pixel_count(mask: np.ndarray) -> int:
    """Mask pixels on the image's outermost rows and columns, each pixel counted once."""
    if mask.shape[0] <= 2 or mask.shape[1] <= 2:
        return int(np.count_nonzero(mask))
    inner = np.count_nonzero(mask[1:-1, 1:-1])
    return int(np.count_nonzero(mask)) - int(inner)


def boundary_connectivity(mask: np.ndarray) -> float:
    """BndCon = |mask on the border| / sqrt(|mask|) (Zhu et al. CVPR 2014, eq. 1); 0 for an empty mask."""
    area = int(np.count_nonzero(mask))
    return border_pixel_count(mask) / math.sqrt(area) if area else 0.0


def foreground_weight(mask: np.ndarray, sigma: float = BOUNDARY_CONNECTIVITY_SIGMA) -> float:
    """exp(-BndCon^2 / (2 sigma^2)): 1 for a region off the border, ~0 for one spread along it."""
    return math.exp(-boundary_connectivity(mask) ** 2 / (2 * sigma * sigma))


def saliency_weight(record: dict) -> float:
    """An AMG mask's vote: predicted IoU x stability score x boundary-connectivity foreground weight."""
    return float(record["predicted_iou"]) * float(record["stability_score"]) * foreground_weight(record["segmentation"])


def saliency_map(records: Sequence[dict], shape: tuple[int, int]) -> tuple[np.ndarray, list[float]]:
    """(float64 map in [0, 1] of `shape`, the masks' weights): the weighted vote of the AMG masks over its maximum.

    No mask (or all weights 0) gives an all-zero map.
    """
    votes = np.zeros(shape, dtype=np.float64)
    weights = []
    for record in records:
        weight = saliency_weight(record)
        weights.append(weight)
        if weight > 0:
            votes[record["segmentation"]] += weight
    peak = votes.max(initial=0.0)
    return (votes / peak if peak > 0 else votes), weights


def quantize(saliency: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A [0, 1] map as the uint8 0..255 PNG it would be saved as, at (H, W) = `size` (bilinear if resized)."""
    if saliency.shape != tuple(size):
        saliency = cv2.resize(saliency, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.rint(saliency * 255), 0, 255).astype(np.uint8)
