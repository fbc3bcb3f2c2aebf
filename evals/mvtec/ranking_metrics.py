"""Exact threshold-free metrics of scores against binary labels: F1-max, AUROC and average precision in one pass.

Definitions (what SAA+'s utils/metrics.py computes with scikit-learn, caoyunkang/Segment-Any-Anomaly@SAA-plus):
    F1-max   ``calculate_max_f1``: the maximum over the precision-recall curve of
             ``sklearn.metrics.precision_recall_curve`` (every distinct score a threshold, a score >= threshold
             predicted anomalous, no binning) of 2PR / (P + R), where P + R = 0 counts as F1 = 0; the curve's last
             point (P = 1, R = 0) has F1 = 0. No positive at all: sklearn sets recall to 1 and precision is 0, so
             F1-max = 0.
    AUROC    ``sklearn.metrics.roc_auc_score``: the trapezoidal area under the ROC curve, i.e. the Mann-Whitney
             statistic P(score of a positive > score of a negative) + 0.5 P(equal). Undefined (None) without
             both classes (sklearn raises).
    AP       ``sklearn.metrics.average_precision_score``: sum over thresholds of (R_n - R_(n-1)) P_n. None without
             a positive.

How: the F1 of a threshold between two consecutive distinct positive scores is at most the F1 at the upper one
(same true positives, no fewer false positives), so the maximum is attained at a distinct positive score, where
TP = #positives >= t and FP = #negatives >= t. Recall, hence AP, also changes only there. So both classes are
sorted once (numpy's SIMD sort: ~0.4 s for 25 M float32 on one core) and every distinct positive score is looked
up in the sorted negatives (``searchsorted`` left and right, for FP and for AUROC's ties). Counts are integers;
no score is binned or rounded, and the dtype of the scores is kept (float32 maps are compared as float32).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankingMetrics:
    f1_max: float  # in [0, 1]
    threshold: float | None  # the score at which F1 is maximal (anomalous: score >= threshold); None without positives
    auroc: float | None
    average_precision: float | None
    positives: int
    negatives: int

    def as_dict(self, scale: float = 1.0) -> dict:
        def scaled(value):
            return None if value is None else value * scale

        return {
            "f1_max": scaled(self.f1_max), "auroc": scaled(self.auroc), "ap": scaled(self.average_precision),
            "f1_threshold": self.threshold, "positives": self.positives, "negatives": self.negatives,
        }  # fmt: skip


def _sorted_finite(scores: np.ndarray, what: str) -> np.ndarray:
    scores = np.asarray(scores).ravel()
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    if np.isnan(scores).any():
        raise ValueError(f"{what} scores contain NaN")
    return np.sort(scores)


def ranking_metrics(positive_scores: np.ndarray, negative_scores: np.ndarray) -> RankingMetrics:
    """The metrics of the scores of the positive (anomalous) and of the negative (normal) items."""
    positives = _sorted_finite(positive_scores, "positive")
    negatives = _sorted_finite(negative_scores, "negative")
    num_pos, num_neg = positives.size, negatives.size
    if num_pos == 0:
        return RankingMetrics(0.0, None, None, None, 0, num_neg)
    if positives.dtype != negatives.dtype:
        common = np.result_type(positives, negatives)
        positives, negatives = positives.astype(common), negatives.astype(common)

    # Distinct positive scores (ascending), where each run of equal scores starts, and its length.
    starts = np.flatnonzero(np.concatenate(([True], positives[1:] != positives[:-1])))
    values = positives[starts]
    counts = np.diff(np.append(starts, num_pos)).astype(np.int64)
    true_pos = (num_pos - starts).astype(np.int64)  # positives >= value
    below = np.searchsorted(negatives, values, side="left").astype(np.int64)  # negatives < value
    at_or_below = np.searchsorted(negatives, values, side="right").astype(np.int64)  # negatives <= value
    false_pos = num_neg - below  # negatives >= value

    f1 = 2.0 * true_pos / (true_pos + false_pos + num_pos)  # = 2PR / (P + R)
    best = int(np.argmax(f1))  # first maximum in ascending threshold order, as argmax over sklearn's curve
    precision = true_pos / (true_pos + false_pos)
    average_precision = float(np.sum(counts * precision) / num_pos)
    auroc = None
    if num_neg:
        # Mann-Whitney U, doubled to stay in integers: 2 x #(neg < pos) + #(neg == pos), over every positive.
        doubled_u = int(np.sum(counts * (below + at_or_below)))
        auroc = doubled_u / (2.0 * num_pos * num_neg)
    return RankingMetrics(float(f1[best]), float(values[best]), auroc, average_precision, num_pos, num_neg)


def ranking_metrics_from_labels(scores: np.ndarray, labels: np.ndarray) -> RankingMetrics:
    scores, labels = np.asarray(scores).ravel(), np.asarray(labels).ravel().astype(bool)
    if scores.shape != labels.shape:
        raise ValueError(f"{scores.size} scores for {labels.size} labels")
    return ranking_metrics(scores[labels], scores[~labels])
