"""`--task bsds` metric: the BSDS500 benchmark (directory_evaluation.py, summary.py) over the run's edge maps:
ODS, OIS, AP, R50, the PR curve, 95% bootstrap intervals and each image's best F."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..base import Evaluator, Sample


class BoundaryEvaluator(Evaluator):
    """Keeps each image's map (a few hundred kB) and runs the benchmark over all images at the end, in parallel."""

    def __init__(self, thresholds: int, max_dist: float, workers: int | None):
        self.thresholds, self.max_dist, self.workers = thresholds, max_dist, workers

    def reset(self) -> None:
        self.names: list[str] = []
        self.maps: list = []
        self.ground_truths: list[Path] = []

    def process(self, sample: Sample, prediction: dict) -> None:
        self.names.append(sample.id)
        self.maps.append(prediction["edges"])
        self.ground_truths.append(sample.data.ground_truth)

    def evaluate(self) -> dict:
        from .directory_evaluation import evaluate_images
        from .summary import intervals

        result = evaluate_images(self.names, self.maps, self.ground_truths, self.thresholds, self.max_dist,
                                 workers=self.workers)  # fmt: skip
        summary = result.summary
        metrics: dict[str, Any] = {key: float(summary[key]) for key in
                                   ("ODS", "OIS", "AP", "R50", "ods_threshold", "ods_recall", "ods_precision",
                                    "ois_recall", "ois_precision")}  # fmt: skip
        metrics["R50"] = None if np.isnan(metrics["R50"]) else metrics["R50"]
        for key in ("thresholds", "recall", "precision", "f"):
            metrics[key] = [float(v) for v in summary[key]]
        for key, interval in intervals(result.counts, result.thresholds).items():
            metrics[f"{key}_ci95"] = list(interval)
        # Each image's interpolated best F, recall and precision (the bench's eval_bdry_img.txt): the report's
        # examples and --compare-runs' pairs; an image is its own group.
        per_image = np.asarray(summary["per_image"])
        metrics["per_sample"] = {"id": list(result.names), "group": list(result.names),
                                 **{key: per_image[:, column].tolist() for key, column in (("F", 3), ("recall", 1), ("precision", 2))}}  # fmt: skip
        return metrics
