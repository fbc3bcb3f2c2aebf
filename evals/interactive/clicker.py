"""The RITM clicker: where a simulated user clicks next, given the ground truth and the current prediction.

Source: SamsungLabs/ritm_interactive_segmentation `isegm/inference/clicker.py` (b9b4460), as EfficientViT-SAM's
`applications/efficientvit_sam/sam_eval_utils.py::Clicker` (mit-han-lab/efficientvit de7d773) copies it:
- the error regions: false negatives (ground truth, not predicted) and false positives (predicted, not ground
  truth); before the first click the prediction is empty, so the first click lands inside the object;
- each region's distance to its own boundary: OpenCV's exact Euclidean distance transform
  (`cv2.distanceTransform(region, cv2.DIST_L2, 0)`: mask size 0 = DIST_MASK_PRECISE) of the region padded by one
  pixel of background, so the image border counts as boundary;
- pixels clicked before get distance 0, so they are not clicked again while an error region remains (with a perfect
  prediction every distance is 0 and the click goes to pixel (0, 0), again and again, as in the reference);
- the click goes to the region with the larger maximum distance: positive where false negatives win, negative
  otherwise (a tie, e.g. a perfect prediction with both maxima 0, gives a negative click);
- at the first pixel, in row-major order, that attains the maximum (`np.where(...)[0]`).
Coordinates are returned as (x, y) pixel indices, the order the predictors take (the reference's `coords[::-1]`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Click:
    x: int
    y: int
    positive: bool

    @property
    def label(self) -> int:
        """SAM's point label: 1 foreground, 0 background."""
        return int(self.positive)


def _distance_to_boundary(region: np.ndarray) -> np.ndarray:
    import cv2

    padded = np.pad(region, 1).astype(np.uint8)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 0)[1:-1, 1:-1]


class Clicker:
    """Clicks for one object; `next_click(prediction)` adds and returns the next one."""

    def __init__(self, ground_truth: np.ndarray):
        self.ground_truth = ground_truth.astype(bool)
        self.clicks: list[Click] = []
        self._not_clicked = np.ones(self.ground_truth.shape, dtype=bool)

    def next_click(self, prediction: np.ndarray) -> Click:
        prediction = prediction.astype(bool)
        false_negative = self.ground_truth & ~prediction
        false_positive = ~self.ground_truth & prediction
        fn_distance = _distance_to_boundary(false_negative) * self._not_clicked
        fp_distance = _distance_to_boundary(false_positive) * self._not_clicked
        fn_max, fp_max = fn_distance.max(), fp_distance.max()
        positive = bool(fn_max > fp_max)
        distance, best = (fn_distance, fn_max) if positive else (fp_distance, fp_max)
        ys, xs = np.where(distance == best)
        return self.add(Click(int(xs[0]), int(ys[0]), positive))

    def add(self, click: Click) -> Click:
        """Record `click` (made here, or read back from a prompt file) so that it is never made again."""
        self.clicks.append(click)
        self._not_clicked[click.y, click.x] = False
        return click
