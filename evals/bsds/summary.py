"""Dataset scores from per-image counts: ODS, OIS, AP and R50, computed as the bench computes them.

Sources: BSR ``bench/benchmarks/collect_eval_bdry.m`` (ODS, OIS, AP and the three text files) and pdollar/edges
``edgesEvalDir.m`` (R50, which the BSR bench lacks; its other numbers equal the BSR bench's).

- Recall and precision of counts: ``R = cntR ./ (sumR + (sumR==0))``, ``P = cntP ./ (sumP + (sumP==0))``,
  ``F = 2*P.*R ./ (P+R+((P+R)==0))`` (``collect_eval_bdry.m``, ``fmeasure``).
- ODS: the counts are summed over images per threshold, then ``maxF`` walks each segment between adjacent
  thresholds at ``linspace(0,1)`` (100 points), interpolating T, R and P linearly, and keeps the first point of
  strictly larger F, starting from the first threshold.
- OIS: per image, the first threshold of maximal (not interpolated) F; the counts at those thresholds are summed
  over images and give ``R_max``, ``P_max``, ``F_max``. The per-image lines of ``eval_bdry_img.txt`` are instead
  the interpolated ``maxF`` of each image.
- AP ("Area_PR"): ``[Ru, indR] = unique(R)``; ``interp1(Ru, P(indR), 0:0.01:1)`` with NaN (outside the recall
  range) set to 0, summed and times 0.01; 0 when fewer than two distinct recalls. ``unique`` keeps the first
  occurrence of a repeated recall (MATLAB R2013a and later; the old default kept the last, which only matters
  when two thresholds have the same recall and different precision).
- R50 (``edgesEvalDir.m``): after ``[~,k] = unique(R)`` (R and P reordered to the unique recalls),
  ``[~,o] = unique(P); R50 = interp1(P(o), R(o), max(P(o(1)), .5))``: the recall where precision crosses 0.5
  (or at the lowest precision, if that is above 0.5); NaN when precision never reaches 0.5.
"""

from __future__ import annotations

import numpy as np

from evals.bootstrap import RESAMPLES, statistic_interval
from evals.bsds.matlab_ranges import matlab_colon, matlab_linspace


def recall_precision_f(cnt_r, sum_r, cnt_p, sum_p):
    """``R``, ``P``, ``F`` of counts (arrays or scalars) with the bench's zero guards."""
    cnt_r, sum_r, cnt_p, sum_p = (np.asarray(a, dtype=np.float64) for a in (cnt_r, sum_r, cnt_p, sum_p))
    recall = cnt_r / (sum_r + (sum_r == 0))
    precision = cnt_p / (sum_p + (sum_p == 0))
    return recall, precision, f_measure(recall, precision)


def f_measure(recall, precision):
    """``2*p.*r./(p+r+((p+r)==0))`` (``collect_eval_bdry.m``)."""
    total = precision + recall
    return 2 * precision * recall / (total + (total == 0))


def best_interpolated_f(thresholds, recall, precision) -> tuple[float, float, float, float]:
    """``maxF`` of ``collect_eval_bdry.m``: best (T, R, P, F) along the piecewise-linear PR curve."""
    thresholds, recall, precision = (np.asarray(a, dtype=np.float64) for a in (thresholds, recall, precision))
    best = (thresholds[0], recall[0], precision[0], float(f_measure(recall[0], precision[0])))
    if thresholds.size < 2:
        return tuple(float(v) for v in best)
    d = matlab_linspace(0.0, 1.0, 100)[None, :]
    t = thresholds[1:, None] * d + thresholds[:-1, None] * (1 - d)
    r = recall[1:, None] * d + recall[:-1, None] * (1 - d)
    p = precision[1:, None] * d + precision[:-1, None] * (1 - d)
    f = f_measure(r, p)
    first_max = np.argmax(f)  # first in the bench's loop order (segment, then d)
    if f.flat[first_max] > best[3]:
        best = (t.flat[first_max], r.flat[first_max], p.flat[first_max], f.flat[first_max])
    return tuple(float(v) for v in best)


def average_precision(recall, precision) -> float:
    """``Area_PR`` of ``collect_eval_bdry.m``."""
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    unique_recall, first = np.unique(recall, return_index=True)
    if unique_recall.size < 2:
        return 0.0
    grid = matlab_colon(0.0, 0.01, 1.0)
    interpolated = np.interp(grid, unique_recall, precision[first])
    interpolated[(grid < unique_recall[0]) | (grid > unique_recall[-1])] = 0.0
    return float(np.sum(interpolated) * 0.01)


def recall_at_half_precision(recall, precision) -> float:
    """``R50`` of pdollar/edges ``edgesEvalDir.m``."""
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    _, by_recall = np.unique(recall, return_index=True)
    recall, precision = recall[by_recall[::-1]], precision[by_recall[::-1]]
    unique_precision, first = np.unique(precision, return_index=True)
    if unique_precision.size < 2:
        return float("nan")
    query = max(unique_precision[0], 0.5)
    if query > unique_precision[-1]:
        return float("nan")
    return float(np.interp(query, unique_precision, recall[first]))


def _ois_counts(counts: np.ndarray) -> np.ndarray:
    """(N, 4): each image's counts at its first threshold of maximal F (what OIS sums)."""
    f = recall_precision_f(*np.moveaxis(counts, 2, 0))[2]
    return counts[np.arange(len(counts)), np.argmax(f, axis=1)]


def intervals(per_image_counts, thresholds, resamples: int = RESAMPLES) -> dict[str, tuple[float, float]]:
    """95% bootstrap intervals of ODS, OIS and AP, resampling images (evals/bootstrap.py): each resample pools the
    counts of the images it drew, as the bench pools all images' (R50 is left out: it is undefined, NaN, wherever
    precision never reaches 0.5)."""
    counts = np.asarray(per_image_counts, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    flat, ois = counts.reshape(len(counts), -1), _ois_counts(counts)

    def pooled(weights):
        return recall_precision_f(*(weights @ flat).reshape(-1, 4).T)

    statistics = {
        "ODS": lambda w: best_interpolated_f(thresholds, *pooled(w)[:2])[3],
        "OIS": lambda w: float(recall_precision_f(*(w @ ois))[2]),
        "AP": lambda w: average_precision(*pooled(w)[:2]),
    }
    return {key: statistic_interval(statistic, len(counts), resamples) for key, statistic in statistics.items()}


def summarize(per_image_counts, thresholds) -> dict:
    """Dataset scores of per-image counts.

    ``per_image_counts``: (N, K, 4) counts ``[cntR, sumR, cntP, sumP]`` per image and threshold (or a list of
    (K, 4) arrays). ``thresholds``: the K thresholds (for segmentations: 1..K).

    Returns ``ODS``, ``ods_threshold``, ``ods_recall``, ``ods_precision``; ``OIS``, ``ois_recall``,
    ``ois_precision``; ``AP``; ``R50``; per threshold ``thresholds``, ``recall``, ``precision``, ``f``; and
    ``per_image`` (N, 4): each image's interpolated best ``[T, R, P, F]`` (``eval_bdry_img.txt``).
    """
    counts = np.asarray(per_image_counts, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if counts.ndim != 3 or counts.shape[2] != 4 or counts.shape[1] != thresholds.size:
        raise ValueError(f"counts must be (N, K={thresholds.size}, 4), got {counts.shape}")
    per_image = np.zeros((counts.shape[0], 4))
    for i, image in enumerate(counts):
        per_image[i] = best_interpolated_f(thresholds, *recall_precision_f(*image.T)[:2])
    recall, precision, f = recall_precision_f(*counts.sum(axis=0).T)
    ods_t, ods_r, ods_p, ods_f = best_interpolated_f(thresholds, recall, precision)
    ois_r, ois_p, ois_f = (float(v) for v in recall_precision_f(*_ois_counts(counts).sum(axis=0)))
    return {
        "ODS": ods_f,
        "ods_threshold": ods_t,
        "ods_recall": ods_r,
        "ods_precision": ods_p,
        "OIS": ois_f,
        "ois_recall": ois_r,
        "ois_precision": ois_p,
        "AP": average_precision(recall, precision),
        "R50": recall_at_half_precision(recall, precision),
        "thresholds": thresholds,
        "recall": recall,
        "precision": precision,
        "f": f,
        "per_image": per_image,
    }
