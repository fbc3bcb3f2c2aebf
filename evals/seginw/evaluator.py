"""SegInW's metric: COCO mask AP of each dataset on its own annotation file, and their plain mean.

Per dataset: the box-prompted tasks' mask AP (evals/protocols/box_prompts/mask_ap.py: COCOeval "segm", pycocotools semantics, areas from the
masks, maxDets 100), on all its images. sam-hq (test_ap_on_seginw.py with cocogrounding_eval.py's
CocoGroundingEvaluator, useCats=True) evaluates image by image (``loadRes`` of one image's detections, then
``evaluate`` on that image) and accumulates the per-image results of all images: the same evalImgs, so the same 12
numbers as one COCOeval over the whole file. Its detections carry no ``bbox`` (``prepare_for_coco_segmentation``), so
``loadRes`` takes areas from the masks, as our metric does by dropping ``bbox``.

Annotation id 0: Roboflow exports number annotations from 0. COCOeval (pycocotools cocoeval.py evaluateImg) records a
match as the matched ground truth's id in ``dtMatches`` and counts a detection as a true positive when that id is
non-zero (``tps = np.logical_and(dtm, ...)``), so a detection matching the annotation with id 0 counts as a false
positive and that instance can never be found. sam-hq's numbers carry this (it scores with pycocotools), and so do
ours (faster-coco-eval keeps pycocotools' semantics and warns; the warning is silenced here): each dataset records
``ground_truth_has_annotation_id_0``.

Mean: the plain mean of the datasets' AP (sam-hq README "Mean AP" = mean of the 25 columns: 48.716 -> 48.7).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from ..base import Evaluator, Sample
from ..protocols.box_prompts.mask_ap import MaskAPEvaluator
from .datasets import dataset_name
from .reference import REFERENCE_AP, REFERENCE_MEAN_AP, REFERENCE_MODEL, REFERENCE_SOURCE


def mean_ap(per_dataset: dict[str, dict[str, Any]]) -> float | None:
    """Plain mean of the datasets' AP; a dataset without any ground truth (AP None) is left out."""
    values = [metrics["AP"] for metrics in per_dataset.values() if metrics["AP"] is not None]
    return sum(values) / len(values) if values else None


def has_annotation_id_0(annotation_file: Path) -> bool:
    with open(annotation_file) as f:
        return any(annotation["id"] == 0 for annotation in json.load(f)["annotations"])


def with_reference(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """`metrics` plus sam-hq's ViT-H AP of the dataset and the difference to it (SegInW datasets only)."""
    reference = REFERENCE_AP.get(name)
    difference = metrics["AP"] - reference if reference is not None and metrics["AP"] is not None else None
    return {**metrics, "reference_AP": reference, "AP_minus_reference": difference}


class SegInWEvaluator(Evaluator):
    """Samples carry a `PromptedImage` of their dataset's annotation file; predictions ``{"detections": [...]}``."""

    def __init__(self, implementation: str):
        self.mask_ap = MaskAPEvaluator(implementation)

    def reset(self) -> None:
        self.mask_ap.reset()

    def process(self, sample: Sample, prediction: dict) -> None:
        self.mask_ap.process(sample, prediction)

    def evaluate(self) -> dict[str, Any]:
        with warnings.catch_warnings():  # faster-coco-eval on annotation id 0: see the module docstring
            warnings.filterwarnings("ignore", message="Found annotation id 0")
            each = self.mask_ap.evaluate_each()  # in the order the datasets came
        per_dataset = {}
        for path, metrics in each.items():
            metrics = {**metrics, "ground_truth_has_annotation_id_0": has_annotation_id_0(path)}
            per_dataset[dataset_name(path)] = with_reference(dataset_name(path), metrics)
        order = list(per_dataset)
        mean = mean_ap(per_dataset)
        reference_mean = None
        if order and set(order) <= set(REFERENCE_AP):
            reference_mean = sum(REFERENCE_AP[name] for name in order) / len(order)
        both = mean is not None and reference_mean is not None
        return {
            "mean_AP": mean,
            "num_datasets": len(per_dataset),
            "num_images": sum(m["num_images"] for m in per_dataset.values()),
            "num_detections": sum(m["num_detections"] for m in per_dataset.values()),
            "datasets": per_dataset,
            "reference": {
                "model": REFERENCE_MODEL,
                "source": REFERENCE_SOURCE,
                "mean_AP": REFERENCE_MEAN_AP,
                "mean_AP_of_these_datasets": reference_mean,
                "mean_AP_minus_reference": mean - reference_mean if both else None,
            },
        }
