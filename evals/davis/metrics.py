"""DAVIS per-frame metrics (J region, F boundary) and per-object statistics (Mean, Recall, Decay).

Numbers are those of davisvideochallenge/davis2017-evaluation (commit ac7c43f): davis2017/metrics.py
(db_eval_iou, f_measure, _seg2bmap) and davis2017/utils.py (db_statistics). The computation works on one frame
and one object at a time, and the boundary F-measure on the box around the object where boundaries can be,
which gives the same counts (and so the same floating-point values) as the official whole-frame code.
"""
from __future__ import annotations

import warnings

import cv2
import numpy as np

# davis2017/metrics.py, f_measure and db_eval_boundary: bound_th=0.008. A value < 1 is a fraction of the image
# diagonal, turned into pixels as ceil(bound_th * ||(H, W)||); a value >= 1 is used as the pixel radius itself.
BOUNDARY_TOLERANCE = 0.008

# davis2017/utils.py, db_statistics: Recall = fraction of frames with a score > 0.5; Decay = mean of the first
# of 4 bins of frames minus mean of the last bin.
RECALL_THRESHOLD = 0.5
DECAY_BINS = 4


def boundary_tolerance_px(shape: tuple[int, int], bound_th: float = BOUNDARY_TOLERANCE) -> float:
    """Dilation radius in pixels (davis2017/metrics.py, f_measure): 8 for 480x854 frames."""
    if bound_th >= 1:
        return bound_th
    return float(np.ceil(bound_th * np.linalg.norm(shape[:2])))


def disk_footprint(radius: float) -> np.ndarray:
    """uint8 disk of offsets (dx, dy) in [-r, r]^2 with dx^2 + dy^2 <= r^2.

    The structuring element of davis2017/metrics.py: skimage.morphology.disk(bound_pix) (default
    strict_radius=True, no decomposition), cast to uint8 for cv2.dilate. Radius 8 gives a 17x17 kernel.
    """
    offsets = np.arange(-radius, radius + 1)
    dx, dy = np.meshgrid(offsets, offsets)
    return (dx**2 + dy**2 <= radius**2).astype(np.uint8)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """1-pixel-wide boundary of a binary mask, as davis2017/metrics.py _seg2bmap (D. Martin's seg2bmap).

    A pixel is on the boundary when it differs from its right, lower or lower-right neighbour (outside the image
    counts as background). In the last row only the right neighbour is compared, in the last column only the
    lower one, and the bottom-right pixel is never a boundary: the image border itself is no boundary.
    """
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    boundary = np.zeros((height, width), dtype=bool)
    if height == 0 or width == 0:
        return boundary
    top_left = mask[:-1, :-1]
    boundary[:-1, :-1] = (top_left ^ mask[:-1, 1:]) | (top_left ^ mask[1:, :-1]) | (top_left ^ mask[1:, 1:])
    boundary[-1, :-1] = mask[-1, :-1] ^ mask[-1, 1:]  # last row: right neighbour only
    boundary[:-1, -1] = mask[:-1, -1] ^ mask[1:, -1]  # last column: lower neighbour only
    return boundary  # bottom-right pixel stays False


def region_similarity(gt: np.ndarray, pred: np.ndarray) -> float:
    """J: intersection over union of two binary masks; 1.0 when both are empty (davis2017/metrics.py)."""
    gt = np.asarray(gt, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape:
        raise ValueError(f"mask shapes differ: {gt.shape} vs {pred.shape}")
    union = np.count_nonzero(gt | pred)
    if union == 0:
        return 1.0
    return np.count_nonzero(gt & pred) / union


def _f_from_boundaries(gt_boundary: np.ndarray, pred_boundary: np.ndarray, footprint: np.ndarray) -> float:
    """Boundary F from two boundary maps (davis2017/metrics.py, f_measure), empty cases as the official code:
    no predicted boundary -> precision 1, recall 0 (F 0); no GT boundary -> precision 0, recall 1 (F 0);
    neither -> precision = recall = 1 (F 1)."""
    n_pred = np.count_nonzero(pred_boundary)
    n_gt = np.count_nonzero(gt_boundary)
    if n_pred == 0 and n_gt == 0:
        precision = recall = 1.0
    elif n_pred == 0:
        precision, recall = 1.0, 0.0
    elif n_gt == 0:
        precision, recall = 0.0, 1.0
    else:
        gt_dilated = cv2.dilate(gt_boundary.view(np.uint8), footprint).view(bool)
        pred_dilated = cv2.dilate(pred_boundary.view(np.uint8), footprint).view(bool)
        precision = np.count_nonzero(pred_boundary & gt_dilated) / n_pred
        recall = np.count_nonzero(gt_boundary & pred_dilated) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def boundary_f_measure(gt: np.ndarray, pred: np.ndarray, bound_th: float = BOUNDARY_TOLERANCE) -> float:
    """F: boundary F-measure of two binary masks on the whole frame (reference version of frame_scores)."""
    gt = np.asarray(gt, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape:
        raise ValueError(f"mask shapes differ: {gt.shape} vs {pred.shape}")
    footprint = disk_footprint(boundary_tolerance_px(pred.shape, bound_th))
    return _f_from_boundaries(boundary_map(gt), boundary_map(pred), footprint)


def _boundary_window(union_u8: np.ndarray) -> tuple[slice, slice] | None:
    """Rows/columns of the frame that hold every boundary pixel of both masks, with the same boundary maps.

    Boundary pixels lie in the union's box grown by one pixel up and left. One empty row (column) is kept below
    (right of) the box, unless the box reaches the frame edge, so that _seg2bmap's last-row/last-column rule
    falls on empty pixels inside the window, exactly as in the whole frame. Dilation outside the window cannot
    reach a boundary pixel, and cv2.dilate's border adds nothing, so the matched counts are the same too.
    """
    x, y, w, h = cv2.boundingRect(union_u8)
    if w == 0 or h == 0:
        return None
    height, width = union_u8.shape
    rows = slice(max(y - 1, 0), min(y + h + 1, height))
    cols = slice(max(x - 1, 0), min(x + w + 1, width))
    return rows, cols


def frame_scores(gt: np.ndarray, pred: np.ndarray, footprint: np.ndarray) -> tuple[float, float]:
    """(J, F) of one object in one frame; gt and pred are boolean masks of the full frame.

    Same values as region_similarity and boundary_f_measure (with footprint = disk_footprint of the frame's
    tolerance), computed on the window around the object.
    """
    union = gt | pred
    window = _boundary_window(union.view(np.uint8))
    if window is None:  # both empty: J = 1 (empty union), F = 1 (no boundary on either side)
        return 1.0, 1.0
    gt_w, pred_w = gt[window], pred[window]
    j = np.count_nonzero(gt_w & pred_w) / np.count_nonzero(union[window])
    f = _f_from_boundaries(boundary_map(gt_w), boundary_map(pred_w), footprint)
    return j, f


def sequence_statistics(per_frame: np.ndarray) -> tuple[float, float, float]:
    """(Mean, Recall, Decay) of one object's per-frame scores (davis2017/utils.py, db_statistics).

    Mean and Recall ignore NaN. Decay bins: edges round(linspace(1, n, 5) + 1e-10) - 1, cast to uint8 as the
    official code does (so for n > 256 frames the edges wrap modulo 256, reproduced on purpose); bin i spans
    frames edge[i] .. edge[i+1] inclusive, so neighbouring bins share a frame.
    """
    per_frame = np.asarray(per_frame, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = np.nanmean(per_frame)
        recall = np.nanmean(per_frame > RECALL_THRESHOLD)
        edges = (np.round(np.linspace(1, len(per_frame), DECAY_BINS + 1) + 1e-10) - 1).astype(np.uint8)
        first_bin = per_frame[edges[0] : edges[1] + 1]
        last_bin = per_frame[edges[DECAY_BINS - 1] : edges[DECAY_BINS] + 1]
        decay = np.nanmean(first_bin) - np.nanmean(last_bin)
    return float(mean), float(recall), float(decay)


def tolerance_footprint(shape: tuple[int, int], bound_th: float = BOUNDARY_TOLERANCE) -> np.ndarray:
    """Disk footprint for frames of this shape (radius boundary_tolerance_px)."""
    return disk_footprint(boundary_tolerance_px(shape, bound_th))


__all__ = [
    "BOUNDARY_TOLERANCE",
    "DECAY_BINS",
    "RECALL_THRESHOLD",
    "boundary_f_measure",
    "boundary_map",
    "boundary_tolerance_px",
    "disk_footprint",
    "frame_scores",
    "region_similarity",
    "sequence_statistics",
    "tolerance_footprint",
]
