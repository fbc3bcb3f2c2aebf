"""One (prediction, ground truth) pair in the normalised form that every SOD metric reads.

The normalisation is PySODMetrics' (py_sod_metrics/utils.py, prepare_data; see evals.sod.protocol):
``gt > 128`` and ``pred / 255`` min-max stretched per image when not constant. The values are reproduced bit for
bit: an 8-bit map takes at most 256 values, so the stretch is applied to the 256 possible values once (the same
float operations in the same order as on the whole image) and the image becomes an index into that table.

That table of "levels" is what makes the metrics cheap: F-measure and E-measure curves, MAE, the adaptive
thresholds and every S-measure term only need, per level, how many foreground and background pixels take it
(a 256-bin histogram), not the pixels themselves. Only the weighted F-measure needs the float image.

Float maps (float32/float64 in [0, 1]) are read as already scaled (MATLAB's im2double of a double is the
identity) and stretched the same way; their levels are the map's distinct values (``np.unique``), which is
slower than the 8-bit path but exact.
"""
from __future__ import annotations

from functools import cached_property

import cv2
import numpy as np

from evals.sod.protocol import (
    ADAPTIVE_THRESHOLD_CAP,
    ADAPTIVE_THRESHOLD_FACTOR,
    GT_THRESHOLD,
    NUM_THRESHOLDS,
    PRED_SCALE,
)

# cv2.calcHist counts in float32, exact below 2**24 per bin; larger images use np.bincount.
_CALCHIST_MAX_PIXELS = 2**24


def binarize_gt(gt: np.ndarray) -> np.ndarray:
    """8-bit mask -> bool foreground (``gt > 128``); a bool mask is taken as it is."""
    if gt.dtype == np.bool_:
        return gt
    if gt.dtype != np.uint8:
        raise TypeError(f"ground truth must be a uint8 (0-255) or bool mask, got {gt.dtype}")
    return gt > GT_THRESHOLD


def stretch_levels(values: np.ndarray) -> np.ndarray:
    """MATLAB ``mapminmax``: (v - min) / (max - min) when max != min, else unchanged (utils.py, prepare_data)."""
    low, high = values.min(), values.max()
    if high == low:
        return values
    return (values - low) / (high - low)


class PreparedPair:
    """A prediction and its ground truth, normalised; per-level pixel counts are computed once and cached.

    Attributes:
        gt: bool (H, W) foreground mask.
        levels: (H, W) integer image indexing ``level_values`` (the 8-bit map itself for uint8 input).
        level_values: float64 normalised prediction value of each level.
    """

    def __init__(self, pred: np.ndarray, gt: np.ndarray):
        pred, gt = np.asarray(pred), np.asarray(gt)
        if pred.ndim != 2 or gt.ndim != 2:
            raise ValueError(f"prediction and ground truth must be 2-D (H, W), got {pred.shape} and {gt.shape}")
        if pred.shape != gt.shape:
            raise ValueError(f"shape mismatch between prediction {pred.shape} and ground truth {gt.shape}")
        if pred.size == 0:
            raise ValueError("empty image")
        self.gt = np.ascontiguousarray(binarize_gt(gt))  # OpenCV reads it as a mask: no negative strides
        if pred.dtype == np.uint8:
            pred = np.ascontiguousarray(pred)
            # utils.py, prepare_data: ``pred / 255`` then the stretch, applied here to the 256 possible values.
            scaled = np.arange(256) / PRED_SCALE
            low, high = (scaled[int(v)] for v in cv2.minMaxLoc(pred)[:2])
            self.level_values = scaled if low == high else (scaled - low) / (high - low)
            self.levels = pred
        elif pred.dtype in (np.float32, np.float64):
            values = pred.astype(np.float64, copy=False)
            if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
                raise ValueError("a float prediction must be finite and within [0, 1]")
            distinct, inverse = np.unique(values.ravel(), return_inverse=True)
            self.level_values = stretch_levels(distinct)
            self.levels = inverse.reshape(pred.shape)
        else:
            raise TypeError(f"prediction must be uint8 (0-255) or float32/float64 in [0, 1], got {pred.dtype}")
        self.num_levels = len(self.level_values)
        self.size = pred.size
        self.fg_count = int(np.count_nonzero(self.gt))

    # --- the float image (weighted F-measure, exact ties) --------------------------------------------------------
    @cached_property
    def pred(self) -> np.ndarray:
        """The normalised prediction as a C-contiguous float64 image, equal bit for bit to prepare_data's."""
        return np.take(self.level_values, self.levels)

    @cached_property
    def pred_mean(self) -> float:
        """``pred.mean()`` summed as numpy sums the reference's image, so the adaptive threshold is bit-exact."""
        return float(np.mean(self.pred))

    # --- per-level counts ---------------------------------------------------------------------------------------
    def count_levels(self, rows: slice = slice(None), cols: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """(foreground, all) pixel counts per level inside ``[rows, cols]``, int64 of length num_levels."""
        levels, gt = self.levels[rows, cols], self.gt[rows, cols]
        if self.levels.dtype == np.uint8 and self.size < _CALCHIST_MAX_PIXELS:
            every = cv2.calcHist([levels], [0], None, [256], [0, 256])
            fg = cv2.calcHist([levels], [0], gt.view(np.uint8), [256], [0, 256])
            return fg.ravel().astype(np.int64), every.ravel().astype(np.int64)
        every = np.bincount(levels.ravel(), minlength=self.num_levels)
        fg = np.bincount(levels[gt], minlength=self.num_levels)
        return fg.astype(np.int64), every.astype(np.int64)

    @cached_property
    def level_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(foreground, background) pixel counts per level over the whole image."""
        fg, every = self.count_levels()
        return fg, every - fg

    @cached_property
    def counts_per_threshold(self) -> tuple[np.ndarray, np.ndarray]:
        """(foreground, background) pixels whose quantised value ``uint8(pred * 255)`` is >= t, for t = 0..255.

        The quantisation of Fmeasure.cal_pr / Emeasure.cal_em_with_cumsumhistogram (sod_metrics.py), applied to
        the levels; index t of each array is threshold t (the reference stores the curves from t = 255 down).
        """
        bins = (self.level_values * PRED_SCALE).astype(np.uint8)
        fg, bg = self.level_counts
        per_bin = [np.bincount(bins, weights=counts, minlength=NUM_THRESHOLDS) for counts in (fg, bg)]
        fg_at_or_above, bg_at_or_above = (np.cumsum(hist[::-1])[::-1].astype(np.int64) for hist in per_bin)
        return fg_at_or_above, bg_at_or_above

    @cached_property
    def adaptive_threshold(self) -> float:
        """``min(2 * pred.mean(), 1)`` (utils.py, get_adaptive_threshold)."""
        return min(ADAPTIVE_THRESHOLD_FACTOR * self.pred_mean, ADAPTIVE_THRESHOLD_CAP)

    @cached_property
    def counts_at_adaptive_threshold(self) -> tuple[int, int]:
        """(foreground, background) pixels with ``pred >= adaptive threshold``."""
        selected = self.level_values >= self.adaptive_threshold
        fg, bg = self.level_counts
        return int(fg[selected].sum()), int(bg[selected].sum())
