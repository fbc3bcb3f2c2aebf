"""Mask AP: COCOeval with iouType "segm" on the masks of one annotation file, by pycocotools or faster-coco-eval.

Protocol (pycocotools cocoeval.py, Params.setDetParams: IoU thresholds 0.50:0.05:0.95, maxDets [1, 10, 100], area
ranges all / small < 32^2 <= medium < 96^2 <= large; AP is the first of its 12 summary numbers, at maxDets 100), as
TinySAM's eval script and EfficientViT-SAM's ``evaluate_predictions_on_coco`` (sam_eval_utils.py, adapted from
detectron2's coco_evaluation.py) run it.

`bbox` is dropped from every detection before ``loadRes`` (detectron2 coco_evaluation.py
``_evaluate_predictions_on_coco`` and EfficientViT-SAM: ``c.pop("bbox", None)`` for iou_type "segm"; TinySAM pops it
too). With a bbox present, ``COCO.loadRes`` takes its box branch and sets each detection's ``area`` to the box's
w * h instead of the mask's pixel count, so detections fall into other small / medium / large ranges and APs / APm /
APl move (AP does not: its range is all areas). Without it, ``area = mask_util.area(segmentation)``.

Evaluation covers the images that were evaluated (``params.imgIds``), which on a full run is every image of the
annotation file (COCOeval's default) and with `--limit` only those, as detectron2's evaluator does.

Implementations: ``faster-coco-eval`` (PyPI faster-coco-eval, C++ evaluate / accumulate: ~3x less time than
pycocotools on a val2017-sized set, benchmarks/bench_coco.py) gives pycocotools' 12 numbers to 1e-15 (it sums the
final means in another order); ``pycocotools`` is the oracle of tests/test_coco_metric.py.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import io
from pathlib import Path
from typing import Any

from ...base import Evaluator, Sample

IOU_TYPE = "segm"
MAX_DETS = (1, 10, 100)  # pycocotools Params.setDetParams; AP / APs / APm / APl are at maxDets=100
# COCOeval.summarize()'s stats, in its order (pycocotools cocoeval.py, _summarizeDets).
SUMMARY_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
PERCENT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")  # x100 in the metrics, as the papers print them
IMPLEMENTATIONS = ("faster-coco-eval", "pycocotools")


def default_implementation() -> str:
    try:
        importlib.metadata.version("faster-coco-eval")
    except importlib.metadata.PackageNotFoundError:
        return "pycocotools"
    return "faster-coco-eval"


def _coco_api(implementation: str):
    """(COCO, COCOeval) classes of `implementation`."""
    if implementation == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        return COCO, COCOeval
    if implementation == "faster-coco-eval":
        from faster_coco_eval import COCO, COCOeval_faster

        def cocoeval(gt, dt, iou_type):
            return COCOeval_faster(gt, dt, iou_type, print_function=lambda *args: None)

        return COCO, cocoeval
    raise ValueError(f"unknown COCO evaluation implementation {implementation!r}; one of {', '.join(IMPLEMENTATIONS)}")


def results_without_boxes(detections: list[dict]) -> list[dict]:
    """Copies of `detections` without `bbox` (see the module docstring), so that areas are mask areas."""
    return [{key: value for key, value in detection.items() if key != "bbox"} for detection in detections]


def mask_ap(annotation_file: Path, detections: list[dict], image_ids: list[int], implementation: str) -> dict[str, Any]:
    """COCO mask AP of `detections` (results format, compressed RLE) on `image_ids` of `annotation_file`.

    Returns the 12 summary numbers of COCOeval under ``coco_eval`` (fractions, -1 where a range has no ground truth)
    and AP, AP50, AP75, APs, APm, APl x100 (None where COCOeval says -1).
    """
    coco_cls, cocoeval_cls = _coco_api(implementation)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # pycocotools prints progress and the summary table
        ground_truth = coco_cls(str(annotation_file))
        results = _load_results(ground_truth, results_without_boxes(detections), coco_cls)
        evaluation = cocoeval_cls(ground_truth, results, IOU_TYPE)
        evaluation.params.imgIds = sorted(set(image_ids))
        evaluation.params.maxDets = list(MAX_DETS)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = [float(value) for value in evaluation.stats[: len(SUMMARY_KEYS)]]
    coco_eval = dict(zip(SUMMARY_KEYS, stats))
    metrics: dict[str, Any] = {key: (100 * coco_eval[key] if coco_eval[key] >= 0 else None) for key in PERCENT_KEYS}
    metrics["coco_eval"] = coco_eval
    metrics["num_images"] = len(set(image_ids))
    metrics["num_detections"] = len(detections)
    metrics["evaluation"] = {"implementation": implementation, "version": importlib.metadata.version(implementation)}
    return metrics


def _load_results(ground_truth, results: list[dict], coco_cls):
    if results:
        return ground_truth.loadRes(results)
    # pycocotools' loadRes fails on an empty list (it reads anns[0]); no detection is a valid result: AP 0.
    empty = coco_cls()
    empty.dataset = {"images": list(ground_truth.dataset["images"]), "categories": ground_truth.dataset["categories"],
                     "annotations": []}  # fmt: skip
    empty.createIndex()
    return empty


class MaskAPAccumulator:
    """The detections of the images of one annotation file, as they come; mask AP over them at the end.

    Holds only RLEs (a few hundred bytes per detection), never a decoded mask.
    """

    def __init__(self, annotation_file: Path, implementation: str):
        self.annotation_file = Path(annotation_file)
        self.implementation = implementation
        self.image_ids: list[int] = []
        self.detections: list[dict] = []

    def add(self, image_id: int, detections: list[dict]) -> None:
        self.image_ids.append(image_id)
        for detection in detections:
            kept = {key: detection[key] for key in ("category_id", "score", "segmentation")}
            self.detections.append({"image_id": image_id, **kept})

    def compute(self) -> dict[str, Any]:
        return mask_ap(self.annotation_file, self.detections, self.image_ids, self.implementation)


class MaskAPEvaluator(Evaluator):
    """The engine's evaluator: samples carry a `PromptedImage`, predictions ``{"detections": [...]}``; one
    accumulator per annotation file (COCO has one; SegInW one per dataset, and averages their APs)."""

    def __init__(self, implementation: str):
        self.implementation = implementation

    def reset(self) -> None:
        self.accumulators: dict[Path, MaskAPAccumulator] = {}

    def process(self, sample: Sample, prediction: dict) -> None:
        image = sample.data.image
        if image.annotation_file not in self.accumulators:
            self.accumulators[image.annotation_file] = MaskAPAccumulator(image.annotation_file, self.implementation)
        self.accumulators[image.annotation_file].add(image.image_id, prediction["detections"])

    def evaluate_each(self) -> dict[Path, dict[str, Any]]:
        """Mask AP of each annotation file's images."""
        return {annotation_file: acc.compute() for annotation_file, acc in self.accumulators.items()}

    def evaluate(self) -> dict[str, Any]:
        if len(self.accumulators) != 1:
            raise RuntimeError(f"expected the images of one annotation file, got {len(self.accumulators)} files")
        return next(iter(self.evaluate_each().values()))
