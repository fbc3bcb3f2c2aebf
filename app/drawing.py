"""What the page shows: the image with its prompts (the canvas one clicks on) and each model's masks under them.

The report's drawing helpers (evals/visual.py) draw the masks, points and boxes: positive points are filled green
dots, negative points red rings, the box orange, a box's pending first corner an orange cross.
"""
from __future__ import annotations

import cv2
import numpy as np

from evals.visual import color, draw_boxes, draw_points, line_width, overlay_masks

from .prompts import POSITIVE, Prompts

MASK_COLOUR, BOX_COLOUR, POSITIVE_COLOUR, NEGATIVE_COLOUR = 0, 1, 2, 3  # indices of evals.visual.PALETTE


def draw_prompts(image: np.ndarray, prompts: Prompts) -> np.ndarray:
    """A copy of `image` with the box, a pending corner and the points drawn (the points last, on top)."""
    out = image.copy()
    if prompts.box is not None:
        out = draw_boxes(out, [prompts.box], [BOX_COLOUR])
    corner = prompts.pending_corner
    if corner is not None:
        width = line_width(out)
        cv2.drawMarker(out, (corner.x, corner.y), color(BOX_COLOUR), cv2.MARKER_CROSS, 8 * width, width, cv2.LINE_AA)
    for point in prompts.points:
        positive = point.kind == POSITIVE
        out = draw_points(out, [(point.x, point.y)], POSITIVE_COLOUR if positive else NEGATIVE_COLOUR, positive)
    return out


def draw_masks(image: np.ndarray, masks: list[np.ndarray], prompts: Prompts | None = None) -> np.ndarray:
    """`image` with `masks` tinted (one: in the mask colour; several, the automatic masks: a colour each), then
    the prompts they answer on top."""
    colours = [MASK_COLOUR] if len(masks) == 1 else list(range(len(masks)))
    out = overlay_masks(image, masks, colours)
    return draw_prompts(out, prompts) if prompts is not None else out
