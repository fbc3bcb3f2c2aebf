"""SOD metrics per image and over a dataset, with PySODMetrics' numbers (lartpang/PySODMetrics 1.6.2).

Per image (py_sod_metrics/sod_metrics.py, classes MAE, Fmeasure, Smeasure, Emeasure, WeightedFmeasure):
    mae          mean |pred - gt|
    f_curve      F-measure (beta^2 = 0.3) at the 256 thresholds, adaptive_f at min(2 mean(pred), 1)
    e_curve      E-measure at the 256 thresholds, adaptive_e at the same adaptive threshold
    s_measure    0.5 S_object + 0.5 S_region
    weighted_f   weighted F-measure (beta^2 = 1)
Over a dataset (the classes' get_results and the reference's examples/test_metrics.py): scalars are averaged
over images; the curves are averaged over images first, and max_f / mean_f (max_e / mean_e) are the maximum and
the mean of that averaged curve, not averages of per-image maxima.

Everything but the weighted F-measure is computed from per-level pixel counts (evals.sod.prepare), which gives
the reference's values up to floating-point summation order (~1e-16); comparisons against thresholds use the
same doubles as the reference, so binarisations are identical.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import distance_transform_edt

from evals.sod.prepare import PreparedPair
from evals.sod.protocol import (
    EPS,
    FMEASURE_BETA_SQUARED,
    NUM_THRESHOLDS,
    SMEASURE_ALPHA,
    WFMEASURE_BETA_SQUARED,
    WFMEASURE_DISTANCE_DECAY,
    gaussian_kernel_1d,
)

RESULT_KEYS = ("mae", "max_f", "mean_f", "adp_f", "s_measure", "max_e", "mean_e", "adp_e", "w_f")


def _weighted_sum(counts: np.ndarray, values: np.ndarray) -> float:
    """sum(counts * values): a pixel sum from per-level counts (numpy's pairwise sum; BLAS dot is avoided as its
    threads stall on a busy machine)."""
    return float(np.sum(counts * values))


# --- MAE ---------------------------------------------------------------------------------------------------------
def mean_absolute_error(pair: PreparedPair) -> float:
    """mean |pred - gt| (sod_metrics.py, MAE.cal_mae): 1 - v on foreground pixels, v on background ones."""
    fg, bg = pair.level_counts
    values = pair.level_values
    return (_weighted_sum(fg, 1.0 - values) + _weighted_sum(bg, values)) / pair.size


# --- F-measure ---------------------------------------------------------------------------------------------------
def _f_score(precision, recall, beta_squared: float):
    """(1 + b2) P R / (b2 P + R), 0 where the numerator is 0 (sod_metrics.py, Fmeasure.cal_pr)."""
    numerator = (1 + beta_squared) * precision * recall
    denominator = np.where(numerator == 0, 1, beta_squared * precision + recall)
    return numerator / denominator


def fmeasure_curve(pair: PreparedPair, beta_squared: float = FMEASURE_BETA_SQUARED) -> np.ndarray:
    """F-measure at thresholds t = 0..255 (index t), as Fmeasure.cal_pr.

    Precision's denominator is set to 1 where nothing is predicted and recall's to 1 for an empty mask (the
    numerator is 0 there), so those thresholds score 0.
    """
    true_pos, false_pos = pair.counts_per_threshold
    predicted = true_pos + false_pos
    predicted[predicted == 0] = 1
    precision = true_pos / predicted
    recall = true_pos / max(pair.fg_count, 1)
    return _f_score(precision, recall, beta_squared)


def adaptive_fmeasure(pair: PreparedPair, beta_squared: float = FMEASURE_BETA_SQUARED) -> float:
    """F-measure of ``pred >= min(2 mean(pred), 1)``, 0 when no foreground pixel is hit (Fmeasure.cal_adaptive_fm)."""
    true_pos, false_pos = pair.counts_at_adaptive_threshold
    if true_pos == 0:
        return 0.0
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / pair.fg_count
    return float((1 + beta_squared) * precision * recall / (beta_squared * precision + recall))


# --- E-measure ---------------------------------------------------------------------------------------------------
def _enhanced_alignment(true_pos, false_pos, fg_count: int, size: int):
    """E-measure of binarised maps given their counts (scalars or arrays over thresholds).

    Emeasure.cal_em_with_threshold / generate_parts_numel_combinations (sod_metrics.py), Enhancedmeasure.m: the
    enhanced alignment matrix takes one value per (prediction, gt) class pair, so its sum is a weighted sum of 4
    terms; an empty mask scores the predicted-background count, a full mask the predicted-foreground count.
    """
    pred_fg = true_pos + false_pos
    pred_bg = size - pred_fg
    if fg_count == 0:
        enhanced_sum = pred_bg
    elif fg_count == size:
        enhanced_sum = pred_fg
    else:
        false_neg = fg_count - true_pos
        true_neg = pred_bg - false_neg
        pred_mean, gt_mean = pred_fg / size, fg_count / size
        parts = (
            (true_pos, 1 - pred_mean, 1 - gt_mean),
            (false_pos, 1 - pred_mean, 0 - gt_mean),
            (false_neg, 0 - pred_mean, 1 - gt_mean),
            (true_neg, 0 - pred_mean, 0 - gt_mean),
        )
        enhanced_sum = 0
        for count, pred_dev, gt_dev in parts:
            alignment = 2 * (pred_dev * gt_dev) / (pred_dev**2 + gt_dev**2 + EPS)
            enhanced_sum = enhanced_sum + (alignment + 1) ** 2 / 4 * count
    return enhanced_sum / (size - 1 + EPS)


def emeasure_curve(pair: PreparedPair) -> np.ndarray:
    """E-measure at thresholds t = 0..255 (index t), as Emeasure.cal_em_with_cumsumhistogram."""
    true_pos, false_pos = pair.counts_per_threshold
    return np.asarray(_enhanced_alignment(true_pos, false_pos, pair.fg_count, pair.size), dtype=np.float64)


def adaptive_emeasure(pair: PreparedPair) -> float:
    """E-measure of ``pred >= min(2 mean(pred), 1)`` (Emeasure.cal_adaptive_em)."""
    true_pos, false_pos = pair.counts_at_adaptive_threshold
    return float(_enhanced_alignment(true_pos, false_pos, pair.fg_count, pair.size))


# --- S-measure ---------------------------------------------------------------------------------------------------
def _object_similarity(counts: np.ndarray, values: np.ndarray) -> float:
    """2 m / (m^2 + 1 + s + eps) of the pixel values (m mean, s std with ddof 1; Smeasure.s_object, S_object.m)."""
    n = int(counts.sum())
    mean = _weighted_sum(counts, values) / n
    deviation = values - mean
    std = np.sqrt(_weighted_sum(counts, deviation * deviation) / (n - 1)) if n > 1 else 0.0
    return 2 * mean / (mean * mean + 1 + std + EPS)


def _object_score(pair: PreparedPair) -> float:
    """Foreground similarity of pred and background similarity of 1 - pred, weighted by area (Smeasure.object)."""
    fg, bg = pair.level_counts
    gt_mean = pair.fg_count / pair.size
    return (
        _object_similarity(fg, pair.level_values) * gt_mean
        + _object_similarity(bg, 1 - pair.level_values) * (1 - gt_mean)
    )


def _quadrant_ssim(pair: PreparedPair, rows: slice, cols: slice) -> float:
    """SSIM-like similarity of one quadrant (Smeasure.ssim, ssim.m in DengPingFan/S-measure)."""
    fg, every = pair.count_levels(rows, cols)
    n, n_fg = int(every.sum()), int(fg.sum())
    if n == 0:
        return float("nan")  # the reference takes the mean of an empty quadrant: NaN, as MATLAB's mean2
    values = pair.level_values
    y = n_fg / n
    if n_fg in (0, n) and np.count_nonzero(every) == 1:
        # Constant prediction on a constant mask: the reference's alpha is 0 and it returns 1 if beta == 0, else
        # 0; its beta is 0 exactly when its float mean x of the quadrant equals the constant (sigma_x = 0), which
        # rounding may break. Reproduce that mean (same array, same summation) rather than the exact one.
        x = float(np.mean(pair.pred[rows, cols]))
        constant = values[np.flatnonzero(every)[0]]
        return 1.0 if x == constant else 0.0
    x = _weighted_sum(every, values) / n
    deviation = values - x
    denominator = n - 1 + EPS
    sigma_x = _weighted_sum(every, deviation * deviation) / denominator
    sigma_y = (n_fg * (1 - y) ** 2 + (n - n_fg) * y**2) / denominator
    sigma_xy = (_weighted_sum(fg, deviation) * (1 - y) + _weighted_sum(every - fg, deviation) * (0 - y)) / denominator
    alpha = 4 * x * y * sigma_xy
    beta = (x * x + y * y) * (sigma_x + sigma_y)
    if alpha != 0:
        return alpha / (beta + EPS)
    return 1.0 if beta == 0 else 0.0


def _region_score(pair: PreparedPair) -> float:
    """Area-weighted SSIM of the 4 quadrants split at the foreground centroid (Smeasure.region, S_region.m)."""
    h, w = pair.gt.shape
    rows_of_fg = np.count_nonzero(pair.gt, axis=1)
    cols_of_fg = np.count_nonzero(pair.gt, axis=0)
    # Centroid = mean of the foreground coordinates, rounded half to even (np.round) and made 1-based as in
    # MATLAB (Smeasure.region); integer sums keep the mean the same double as the reference's.
    cy = round(int((np.arange(h) * rows_of_fg).sum()) / pair.fg_count) + 1
    cx = round(int((np.arange(w) * cols_of_fg).sum()) / pair.fg_count) + 1
    area = h * w
    w_lt = cx * cy / area
    w_rt = cy * (w - cx) / area
    w_lb = (h - cy) * cx / area
    w_rb = 1 - w_lt - w_rt - w_lb
    top, bottom, left, right = slice(0, cy), slice(cy, h), slice(0, cx), slice(cx, w)
    return (
        _quadrant_ssim(pair, top, left) * w_lt
        + _quadrant_ssim(pair, top, right) * w_rt
        + _quadrant_ssim(pair, bottom, left) * w_lb
        + _quadrant_ssim(pair, bottom, right) * w_rb
    )


def smeasure(pair: PreparedPair, alpha: float = SMEASURE_ALPHA) -> float:
    """S-measure (Smeasure.cal_sm): 1 - mean(pred) on an empty mask, mean(pred) on a full one."""
    gt_mean = pair.fg_count / pair.size
    if gt_mean == 0:
        return 1 - pair.pred_mean
    if gt_mean == 1:
        return pair.pred_mean
    return float(np.maximum(0, alpha * _object_score(pair) + (1 - alpha) * _region_score(pair)))


# --- weighted F-measure ------------------------------------------------------------------------------------------
_GAUSSIAN_1D = gaussian_kernel_1d()


def weighted_fmeasure(pair: PreparedPair, beta_squared: float = WFMEASURE_BETA_SQUARED) -> float:
    """Weighted F-measure (WeightedFmeasure.cal_wfm, WFb.m); 0 for an empty mask (WeightedFmeasure.step).

    Errors E = |pred - gt|; each background pixel takes the error of its nearest foreground pixel (the
    Euclidean feature transform, scipy's, so ties go to the same pixel as in the reference); the result is
    smoothed by the 7x7 sigma-5 Gaussian with zero padding, and a foreground pixel keeps the smaller of its
    smoothed and raw error. Background errors are weighted by 2 - exp(log(0.5) / 5 * distance to foreground).
    """
    if pair.fg_count == 0:
        return 0.0
    gt, pred = pair.gt, pair.pred
    h, w = gt.shape
    errors = np.abs(pred - gt)
    nearest_rows, nearest_cols = distance_transform_edt(~gt, return_distances=False, return_indices=True)
    errors_at_nearest_fg = np.take(errors, nearest_rows * w + nearest_cols)
    smoothed = cv2.sepFilter2D(
        errors_at_nearest_fg, cv2.CV_64F, _GAUSSIAN_1D, _GAUSSIAN_1D, borderType=cv2.BORDER_CONSTANT
    )
    # Foreground pixels: importance 1, error min(raw, smoothed).
    fg_error = float(np.minimum(errors[gt], smoothed[gt]).sum())
    # Background pixels: raw error times importance. Distances from the feature transform, as scipy computes
    # them: the square root of the integer squared offset.
    background = ~gt
    row_offsets = nearest_rows - np.arange(h, dtype=nearest_rows.dtype)[:, None]
    col_offsets = nearest_cols - np.arange(w, dtype=nearest_cols.dtype)[None, :]
    distances = np.sqrt((row_offsets * row_offsets + col_offsets * col_offsets)[background].astype(np.float64))
    importance = 2 - np.exp(WFMEASURE_DISTANCE_DECAY * distances)
    bg_error = float((errors[background] * importance).sum())
    true_pos = pair.fg_count - fg_error
    recall = 1 - fg_error / pair.fg_count
    precision = true_pos / (true_pos + bg_error + EPS)
    return (1 + beta_squared) * recall * precision / (recall + beta_squared * precision + EPS)


# --- one image, a dataset ----------------------------------------------------------------------------------------
@dataclass
class ImageScores:
    """Every metric of one image; curves are indexed by threshold t = 0..255."""

    mae: float
    adaptive_f: float
    s_measure: float
    adaptive_e: float
    weighted_f: float
    f_curve: np.ndarray
    e_curve: np.ndarray


def score_image(pred: np.ndarray, gt: np.ndarray) -> ImageScores:
    """All metrics of one pair: pred uint8 (0-255) or float in [0, 1], gt uint8 (foreground > 128) or bool."""
    pair = PreparedPair(pred, gt)
    return ImageScores(
        mae=mean_absolute_error(pair),
        adaptive_f=adaptive_fmeasure(pair),
        s_measure=smeasure(pair),
        adaptive_e=adaptive_emeasure(pair),
        weighted_f=weighted_fmeasure(pair),
        f_curve=fmeasure_curve(pair),
        e_curve=emeasure_curve(pair),
    )


_SCALARS = ("mae", "adaptive_f", "s_measure", "adaptive_e", "weighted_f")


class SODMetrics:
    """Dataset accumulator: ``update(pred, gt)`` per image, then ``results()``.

    Curves are summed in the order images arrive and divided by the image count, as numpy averages the
    reference's stacked curves; per-image scalars are kept (``per_image``) and averaged with np.mean like the
    reference. So the same images in the same order give the same doubles, however they were computed
    (evals.sod.parallel hands the workers' scores over in input order).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.per_image: dict[str, list[float]] = {name: [] for name in _SCALARS}
        self._f_curve_sum = np.zeros(NUM_THRESHOLDS)
        self._e_curve_sum = np.zeros(NUM_THRESHOLDS)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def update(self, pred: np.ndarray, gt: np.ndarray) -> ImageScores:
        """Score one image (pred uint8 0-255 or float in [0, 1]; gt uint8, foreground > 128, or bool) and add it."""
        scores = score_image(pred, gt)
        self.add(scores)
        return scores

    def add(self, scores: ImageScores) -> None:
        """Add one image's already computed scores (the parallel runner's path)."""
        for name in _SCALARS:
            self.per_image[name].append(getattr(scores, name))
        self._f_curve_sum += scores.f_curve
        self._e_curve_sum += scores.e_curve
        self._count += 1

    def curves(self) -> dict[str, np.ndarray]:
        """Dataset F-measure ("f") and E-measure ("e") curves: mean over images, index t = threshold 0..255."""
        if self._count == 0:
            raise ValueError("no image was added")
        return {"f": self._f_curve_sum / self._count, "e": self._e_curve_sum / self._count}

    def _mean(self, name: str) -> float:
        return float(np.mean(np.array(self.per_image[name], dtype=np.float64)))

    def results(self) -> dict[str, float]:
        """mae, max_f, mean_f, adp_f, s_measure, max_e, mean_e, adp_e, w_f over the images added so far."""
        curves = self.curves()
        return {
            "mae": self._mean("mae"),
            "max_f": float(curves["f"].max()),
            "mean_f": float(curves["f"].mean()),
            "adp_f": self._mean("adaptive_f"),
            "s_measure": self._mean("s_measure"),
            "max_e": float(curves["e"].max()),
            "mean_e": float(curves["e"].mean()),
            "adp_e": self._mean("adaptive_e"),
            "w_f": self._mean("weighted_f"),
        }
