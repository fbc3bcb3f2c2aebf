"""Every parameter of SAM's zero-shot edge protocol (edges.py runs it), with where each comes from.

A module of its own, with light imports, so that the command line reads the defaults without loading the
protocol's torch / scipy code.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from evals.bsds.edge_nms import NMS_BORDER, NMS_MULTIPLIER, NMS_RADIUS, ORIENTATION_SMOOTHING
from evals.errors import UsageError

BOUNDARY_MODES = ("inner", "outer", "both")


@dataclass
class EdgeParams:
    """Every choice of the protocol, with where it comes from."""

    # Prompts. Paper D.2: "a 16x16 regular grid of foreground points". The grid is the automatic mask
    # generator's: cell centres of a regular n x n grid of the unit square (`amg.build_point_grid`), scaled by
    # (W, H) as `SamAutomaticMaskGenerator._process_crop` does; one foreground point per prompt.
    points_per_side: int = 16
    # Paper D.2: "768 predicted masks (three per point)": multimask output, all three masks used.
    multimask: bool = True
    # Points per decoder call (AMG's `points_per_batch` defaults to 64). Only speed/memory; not in the paper.
    points_per_batch: int = 64

    # Paper D.2: "We do not filter by predicted IoU or stability": both thresholds 0 (= off). When set, they
    # act as AMG's `pred_iou_thresh` (keep iou > t) and `stability_score_thresh` (keep score >= t, with AMG's
    # `stability_score_offset` 1.0).
    pred_iou_thresh: float = 0.0
    stability_score_thresh: float = 0.0
    stability_score_offset: float = 1.0
    # SAM's `mask_threshold`: a pixel belongs to a mask when its logit is > 0 (segment_anything `Sam`).
    mask_threshold: float = 0.0

    # Paper D.2: "Redundant masks are removed by NMS" -- kind and threshold: paper: open. As AMG does it:
    # greedy box NMS (torchvision `batched_nms`, one category) on the masks' bounding boxes
    # (`amg.batched_mask_to_box` of logits > mask_threshold, computed equivalently by `mask_boxes`), ranked
    # by predicted IoU, with AMG's default `box_nms_thresh` 0.7 (also the threshold of the SA-1B data
    # engine's NMS, paper appendix B).
    nms_iou: float = 0.7

    # Paper D.2: "set values to zero if they do not intersect with the outer boundary pixels of a mask" --
    # which pixels: paper: open. Choices:
    #   "inner" (default): mask pixels with a 4-neighbour outside the mask (mask minus its 4-connected
    #       erosion; MATLAB bwperim(mask, 4), skimage find_boundaries(mode="inner")). Read as the outline
    #       *of the mask*, i.e. pixels that belong to it; the logit-0 contour runs between these pixels and
    #       their outside neighbours, so the Sobel response of the soft mask is as high on them as anywhere.
    #       They exist for every non-empty mask (a mask covering the whole image has none, and draws no edge).
    #   "outer": pixels just outside the mask (4-connected dilation minus mask; skimage mode="outer").
    #   "both": the union, a 2-pixel band straddling the contour.
    # The image frame never counts as a boundary: pixels outside the image are treated as inside every mask
    # for the erosion (a mask touching the border does not draw the image frame, which BSDS never annotates).
    boundary: str = "inner"
    # Band width in pixels (city-block distance from the contour, 4-connected steps); the paper's "pixels"
    # suggests 1.
    boundary_width: int = 1
    # A third reading of "outer": only the mask's exterior contour, not the boundaries of its holes. Off by
    # default (holes of a SAM mask are usually other objects, whose edges are wanted).
    fill_holes: bool = False

    # Sobel (paper D.2: "apply a Sobel filter", variant open): the 3x3 Sobel derivatives (cv2.Sobel's
    # kernels, divided by 8 so a unit ramp has slope 1), gradient magnitude sqrt(gx^2 + gy^2), replicated
    # border (kornia's default). The scale is irrelevant: the max map is normalised by its maximum.

    # Edge NMS. Paper D.2: "apply edge NMS [13]" ([13] = Canny 1986); which implementation and parameters:
    # paper: open. The standard BSDS one: P. Dollar's Structured Edge toolbox (`edgesNmsMex`), orientation
    # from `edgesDetect.m` (triangle smoothing radius 4), called there with r=1, s=5, m=1.01. See
    # `evals.bsds.edge_nms`. `apply_edge_nms=False` returns the normalised map unthinned.
    apply_edge_nms: bool = True
    orientation_smoothing: float = ORIENTATION_SMOOTHING
    nms_radius: int = NMS_RADIUS
    nms_border: int = NMS_BORDER
    nms_multiplier: float = NMS_MULTIPLIER

    # Bytes of first-pass logits kept for the second pass (on the model's device); batches beyond it are
    # decoded again. 1 GiB holds all 768 float32 masks of a 481x321 BSDS image (474 MB). Speed only.
    cache_bytes: int = 1 << 30

    def __post_init__(self):
        if self.boundary not in BOUNDARY_MODES:
            raise UsageError(f"--bsds-boundary must be one of {', '.join(BOUNDARY_MODES)}, got {self.boundary!r}")
        if self.boundary_width < 1 or self.points_per_side < 1 or self.points_per_batch < 1:
            raise UsageError("--bsds-boundary-width, --bsds-points-per-side and --bsds-points-per-batch must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
