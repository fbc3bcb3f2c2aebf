"""`--task mvtec` metric: SAA+'s per-category pixel F1-max (F_p), averaged over the categories.

Reference: caoyunkang/Segment-Any-Anomaly@SAA-plus, eval_SAA.py ``eval`` with utils/eval_utils.py and
utils/metrics.py ``metric_cal``, run once per category (run_MVTec.py):
    1. every anomaly map resized to 400 x 400 with cv2 INTER_CUBIC, every ground-truth mask (> 0) with
       INTER_NEAREST (``specify_resolution``); good images have an empty mask;
    2. the maps min-max normalised over the category's whole test set (``normalize``);
    3. pixel F1-max, pixel AUROC and pixel AP over every pixel of every test image of the category, good images
       included; image AUROC / F1-max / AP of the per-image maximum of the map (ranking_metrics.py);
    4. F_p = mean over the categories of the pixel F1-max, x 100 (SAA+ reports each metric x 100).
Step 2 is not computed: a min-max normalisation is a strictly increasing map of the scores (float32 maps,
normalised in float64, keep every distinct value distinct), and none of these metrics changes under one. The
reported F1 threshold is given on the normalised scale too. The reference divides by zero for a category whose
maps are all equal (and sklearn then rejects the NaN scores); here every pixel then ties at one threshold.

Memory: the task reads samples category by category (dataset.py), so only one category's scores are held -- as
float32 pixel scores split into anomalous and normal pixels (pill, 167 images: 107 MB) -- and each category is
scored as soon as the next one starts. Samples of a category must therefore be contiguous (an error otherwise).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..base import Evaluator, Sample
from .categories import TEST_IMAGES
from .dataset import MVTecImage, read_mask
from .protocol import EVAL_RESOLUTION
from .ranking_metrics import RankingMetrics, ranking_metrics

PERCENT = 100.0

METRIC_DEFINITION = {
    "reported": "f1_max = F_p: mean over categories of the pixel F1-max, x 100",
    "resize": f"maps cv2.INTER_CUBIC to {EVAL_RESOLUTION}x{EVAL_RESOLUTION} (float32), masks (> 0) INTER_NEAREST",
    "normalisation": "min-max over each category's test set (strictly increasing: changes none of the metrics)",
    "f1_max": "max over every distinct threshold (score >= t anomalous) of 2PR/(P+R), 0 where P+R = 0; "
              "as SAA+ utils/metrics.py calculate_max_f1 on sklearn precision_recall_curve",
    "auroc": "sklearn roc_auc_score (ties count 1/2)",
    "ap": "sklearn average_precision_score",
    "image_level": "score = maximum of the map; label = not in test/good",
    "reference": "caoyunkang/Segment-Any-Anomaly@SAA-plus eval_SAA.py, utils/eval_utils.py, utils/metrics.py",
}  # fmt: skip


def resize_map(anomaly_map: np.ndarray, resolution: int = EVAL_RESOLUTION) -> np.ndarray:
    """float32 `resolution` x `resolution` map, resized with cv2 INTER_CUBIC when it has another size."""
    anomaly_map = np.asarray(anomaly_map)
    if anomaly_map.ndim != 2:
        raise ValueError(f"an anomaly map must be 2-D, got shape {anomaly_map.shape}")
    anomaly_map = anomaly_map.astype(np.float32, copy=False)
    if anomaly_map.shape != (resolution, resolution):
        anomaly_map = cv2.resize(anomaly_map, (resolution, resolution), interpolation=cv2.INTER_CUBIC)
    return anomaly_map


@dataclass
class CategoryScores:
    """One category's pixel scores, split by label, and its per-image maxima."""

    category: str
    anomalous_pixels: list[np.ndarray] = field(default_factory=list)
    normal_pixels: list[np.ndarray] = field(default_factory=list)
    image_scores: list[float] = field(default_factory=list)
    image_labels: list[bool] = field(default_factory=list)
    minimum: float = np.inf
    maximum: float = -np.inf

    def add(self, anomaly_map: np.ndarray, mask: np.ndarray, anomalous: bool) -> None:
        if not np.isfinite(anomaly_map).all():
            raise ValueError("anomaly map has NaN or infinite values")
        self.anomalous_pixels.append(anomaly_map[mask])
        self.normal_pixels.append(anomaly_map[~mask])
        self.image_scores.append(float(anomaly_map.max()))
        self.image_labels.append(anomalous)
        self.minimum = min(self.minimum, float(anomaly_map.min()))
        self.maximum = max(self.maximum, self.image_scores[-1])

    def normalised(self, value: float | None) -> float | None:
        """`value` on SAA+'s min-max normalised scale (0 for a constant category)."""
        if value is None:
            return None
        span = self.maximum - self.minimum
        return (value - self.minimum) / span if span > 0 else 0.0

    def score(self) -> dict:
        pixels = ranking_metrics(np.concatenate(self.anomalous_pixels), np.concatenate(self.normal_pixels))
        self.anomalous_pixels, self.normal_pixels = [], []  # free the category's pixels
        scores, labels = np.array(self.image_scores), np.array(self.image_labels)
        images = ranking_metrics(scores[labels], scores[~labels])
        return {
            "pixel_f1_max": pixels.f1_max * PERCENT,
            "pixel_auroc": _percent(pixels.auroc),
            "pixel_ap": _percent(pixels.average_precision),
            "image_auroc": _percent(images.auroc),
            "image_f1_max": images.f1_max * PERCENT,
            "image_ap": _percent(images.average_precision),
            "pixel_f1_threshold": self.normalised(pixels.threshold),
            "pixel_f1_threshold_raw": pixels.threshold,
            "num_images": len(labels),
            "num_anomalous_images": int(labels.sum()),
            "expected_images": TEST_IMAGES.get(self.category),
            "anomalous_pixels": pixels.positives,
            "normal_pixels": pixels.negatives,
            "score_range": [self.minimum, self.maximum],
        }


def _percent(value: float | None) -> float | None:
    return None if value is None else value * PERCENT


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


class MVTecEvaluator(Evaluator):
    def __init__(self, resolution: int = EVAL_RESOLUTION):
        self.resolution = resolution

    def reset(self) -> None:
        self.current: CategoryScores | None = None
        self.per_category: dict[str, dict] = {}

    def process(self, sample: Sample, prediction: dict) -> None:
        image: MVTecImage = sample.data
        if self.current is None or self.current.category != image.category:
            self._close_category()
            if image.category in self.per_category:
                raise ValueError(f"{sample.id}: the samples of category {image.category!r} are not contiguous; "
                                 "the evaluator scores one category at a time")  # fmt: skip
            self.current = CategoryScores(image.category)
        anomaly_map = resize_map(prediction["anomaly_map"], self.resolution)
        try:
            self.current.add(anomaly_map, read_mask(image, self.resolution), image.anomalous)
        except ValueError as error:
            raise ValueError(f"{sample.id}: {error}") from error

    def _close_category(self) -> None:
        if self.current is not None:
            self.per_category[self.current.category] = self.current.score()
            self.current = None

    def evaluate(self) -> dict:
        self._close_category()
        categories = list(self.per_category)
        if not categories:
            raise RuntimeError("no MVTec AD sample was scored")

        def mean_of(key: str) -> float | None:
            return _mean([self.per_category[c][key] for c in categories])

        return {
            "f1_max": mean_of("pixel_f1_max"),
            "pixel_auroc": mean_of("pixel_auroc"),
            "pixel_ap": mean_of("pixel_ap"),
            "image_auroc": mean_of("image_auroc"),
            "image_f1_max": mean_of("image_f1_max"),
            "image_ap": mean_of("image_ap"),
            "categories": categories,
            "num_categories": len(categories),
            "num_images": sum(self.per_category[c]["num_images"] for c in categories),
            "per_category": self.per_category,
            "metric": METRIC_DEFINITION,
        }


__all__ = ["CategoryScores", "MVTecEvaluator", "RankingMetrics", "resize_map"]
