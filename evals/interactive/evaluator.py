"""Prompt mIoU: the mean IoU of every prompted object after its box and after each click, overall and by object
size, with bootstrap intervals over images (evals/bootstrap.py), NoC@85 / NoC@90, and the per-object values that
paired comparisons of two runs read (`per_sample`).

- mIoU: the mean of the objects' IoUs in % (EfficientViT-SAM `sam_eval_utils.get_iou_metric`: "all").
- Sizes, by the annotation's `area` field, as `get_iou_metric` filters them (`filter_results_by_area`, both bounds
  inclusive, so an object of area exactly 32^2 or 96^2 counts in two sizes): small area <= 32^2, medium
  32^2 <= area <= 96^2, large area >= 96^2. An empty size is NaN (the reference divides by zero).
- NoC@85 / NoC@90 (RITM `isegm/inference/utils.py::compute_noc_metric`): per object the number of the first click
  whose IoU reaches 85% / 90%, or the cap where none does, averaged. RITM runs 20 clicks with cap 20: the numbers are
  reported only for runs of at least `NOC_MAX_CLICKS` clicks (fewer clicks would make another metric).
- Objects whose IoU is undefined (EdgeSAM's protocol: an empty union gives NaN, which its script drops) are left out
  of every mean, as that script does.
"""
from __future__ import annotations

import numpy as np

from ..base import Evaluator, Sample
from ..bootstrap import mean_interval

SIZES = {"small": (None, 32**2), "medium": (32**2, 96**2), "large": (96**2, None)}
NOC_THRESHOLDS = (85, 90)
NOC_MAX_CLICKS = 20
INTERVAL_CLICKS = (1, 3, 5)  # the click counts the tables print, with their intervals


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def number_of_clicks(ious: np.ndarray, threshold: float, max_clicks: int = NOC_MAX_CLICKS) -> np.ndarray:
    """Per object (rows of `ious`, objects x clicks, in %), RITM's NoC: first click reaching `threshold`, else the cap."""
    reached = ious >= threshold
    return np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, max_clicks)


class PromptIoUEvaluator(Evaluator):
    def __init__(self, export_prompts=None):
        self.export_prompts = export_prompts  # callable(list of (sample, prediction)) or None

    def reset(self) -> None:
        self.objects: list[tuple[int, dict]] = []  # (image id, record)
        self.predictions: list[tuple[Sample, dict]] = []

    def process(self, sample: Sample, prediction: dict) -> None:
        image_id = sample.data.image.image_id
        self.objects += [(image_id, record) for record in prediction["objects"]]
        if self.export_prompts is not None:
            self.predictions.append((sample, prediction))

    def evaluate(self) -> dict:
        if self.export_prompts is not None:
            self.export_prompts(self.predictions)
        groups = np.array([image_id for image_id, _ in self.objects])
        areas = np.array([record["area"] for _, record in self.objects], dtype=np.float64)
        columns: dict[str, np.ndarray] = {}
        if any(record.get("box_iou") is not None for _, record in self.objects):
            columns["box"] = np.array([_nan(record.get("box_iou")) for _, record in self.objects])
        made = min((len(record["ious"]) for _, record in self.objects), default=0)
        clicks = np.array([[_nan(v) for v in record["ious"][:made]] for _, record in self.objects]).reshape(-1, made)
        for k in range(1, made + 1):
            columns[f"click{k}"] = clicks[:, k - 1]
        metrics: dict = {"objects": len(self.objects), "images": int(len(np.unique(groups)))}
        for name, values in columns.items():
            metrics[f"{name}_mIoU"] = _mean(values)
            for size, (low, high) in SIZES.items():
                keep = (areas >= low if low is not None else True) & (areas <= high if high is not None else True)
                metrics[f"{name}_mIoU_{size}"] = _mean(values[keep]) if np.any(keep) else float("nan")
            if name == "box" or int(name.removeprefix("click")) in INTERVAL_CLICKS:
                metrics[f"{name}_mIoU_ci95"] = list(mean_interval(values, groups))
        if made >= NOC_MAX_CLICKS:
            for threshold in NOC_THRESHOLDS:
                metrics[f"NoC{threshold}"] = float(number_of_clicks(clicks[:, :NOC_MAX_CLICKS], threshold).mean())
        metrics["per_sample"] = {
            "group": groups.tolist(),
            "id": [f"{image_id}/{record['annotation_id']}" for image_id, record in self.objects],
            **{f"{name}_iou": [None if np.isnan(v) else round(float(v), 6) for v in values]
               for name, values in columns.items()},
        }  # fmt: skip
        return metrics


def _nan(value) -> float:
    return float("nan") if value is None else float(value)
