"""evals.coco's reader, RLE and mask AP against pycocotools, called directly here, on 80 real val2017 images.

Predictions are derived from the ground truth (shifted, eroded, dilated, dropped, duplicated, wrong-category and
spurious masks, crowd regions detected, random scores with ties) so that every branch of COCOeval's matching is
exercised; our path (reader -> RLE -> prediction store -> evaluator) must give pycocotools' 12 numbers: exactly
with pycocotools, and to 1e-12 with faster-coco-eval (it sums the final means in another order: observed
differences are one unit in the last place, ~1e-16).
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_util
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from evals import cli
from evals.base import Sample
from evals.coco.task import CocoTask
from evals.errors import DataError
from evals.protocols.box_prompts.mask_ap import IMPLEMENTATIONS, MaskAPEvaluator, results_without_boxes
from evals.protocols.box_prompts.prompts import PromptedImage
from evals.protocols.coco_format.dataset import read_coco_images
from evals.protocols.coco_format.results_file import read_results_by_image, resolve_results_file
from evals.protocols.coco_format.rle import compressed_rle, decode_mask, encode_masks
from evals.store import decode_prediction, encode_prediction

DATA = Path(__file__).parent / "data" / "coco_tiny_val2017"
ANNOTATIONS = DATA / "annotations" / "instances_val2017.json"
SUMMATION_ORDER = 1e-12  # faster-coco-eval vs pycocotools
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools + numpy 2


def assert_same_stats(stats: dict, expected: list[float], implementation: str) -> None:
    if implementation == "pycocotools":
        assert list(stats.values()) == expected
    else:
        assert list(stats.values()) == pytest.approx(expected, abs=SUMMATION_ORDER, rel=0)


def quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


@pytest.fixture(scope="module")
def ground_truth() -> COCO:
    return quiet(COCO, str(ANNOTATIONS))


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return [
        Sample(str(image.image_id), PromptedImage(image, ()))
        for image in read_coco_images(ANNOTATIONS, DATA / "val2017")
    ]


def shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = mask[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


@pytest.fixture(scope="module")
def derived_detections(ground_truth) -> dict[int, list[dict]]:
    """{image_id: detections in results format, with the ground-truth box as `bbox`, as prompts would give it}."""
    rng = np.random.default_rng(2024)
    category_ids = sorted(ground_truth.getCatIds())
    by_image: dict[int, list[dict]] = {image_id: [] for image_id in ground_truth.getImgIds()}
    kernel = np.ones((5, 5), np.uint8)
    for ann in ground_truth.dataset["annotations"]:
        if not ann["iscrowd"] and rng.random() < 0.15:
            continue  # dropped: a miss
        mask = ground_truth.annToMask(ann)
        roll = rng.random()
        if roll < 0.3:
            mask = shifted(mask, *rng.integers(-6, 7, size=2))
        elif roll < 0.45:
            mask = cv2.erode(mask, kernel)
        elif roll < 0.6:
            mask = cv2.dilate(mask, kernel, iterations=int(rng.integers(1, 4)))
        category = ann["category_id"] if rng.random() > 0.05 else int(rng.choice(category_ids))
        score = round(float(rng.random()), 1)  # ties, broken by order as COCOeval does
        rle = encode_masks(mask[None].astype(bool))[0]
        by_image[ann["image_id"]].append(
            {"bbox": ann["bbox"], "category_id": category, "score": score, "segmentation": rle}
        )
        if rng.random() < 0.1:  # a duplicate: a false positive once the original matched
            by_image[ann["image_id"]].append(
                {"bbox": ann["bbox"], "category_id": category, "score": score / 2, "segmentation": rle}
            )
    for image_id, detections in by_image.items():  # one spurious rectangle per image
        image = ground_truth.imgs[image_id]
        mask = np.zeros((image["height"], image["width"]), bool)
        y, x = rng.integers(0, image["height"] - 20), rng.integers(0, image["width"] - 20)
        mask[y : y + int(rng.integers(5, 150)), x : x + int(rng.integers(5, 150))] = True
        detections.append({"bbox": [float(x), float(y), 1.0, 1.0], "category_id": int(rng.choice(category_ids)),
                           "score": float(rng.random()), "segmentation": encode_masks(mask[None])[0]})  # fmt: skip
    return by_image


def reference_stats(ground_truth: COCO, detections: list[dict], image_ids=None) -> list[float]:
    """pycocotools, as TinySAM's and EfficientViT-SAM's eval scripts call it."""
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(json.loads(json.dumps(detections))), "segm")
        if image_ids is not None:
            evaluation.params.imgIds = image_ids
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return [float(v) for v in evaluation.stats]


def ours(samples, predictions: dict[int, list[dict]], implementation: str) -> dict:
    evaluator = MaskAPEvaluator(implementation)
    evaluator.reset()
    for sample in samples:
        stored = decode_prediction(encode_prediction({"detections": predictions[sample.data.image.image_id]}))
        evaluator.process(sample, stored)
    return evaluator.evaluate()


def flat(samples, predictions: dict[int, list[dict]]) -> list[dict]:
    return [{"image_id": s.data.image.image_id, **d} for s in samples for d in predictions[s.data.image.image_id]]


def test_reader_keeps_the_annotation_files_order_and_boxes(samples, ground_truth):
    assert [int(s.id) for s in samples] == [image["id"] for image in ground_truth.dataset["images"]]
    image = samples[0].data.image
    assert (image.height, image.width) == (
        ground_truth.imgs[image.image_id]["height"],
        ground_truth.imgs[image.image_id]["width"],
    )
    assert sum(len(s.data.image.ground_truth) for s in samples) == 815
    assert sum(box.iscrowd for s in samples for box in s.data.image.ground_truth) == 11


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_mask_ap_equals_pycocotools(samples, ground_truth, derived_detections, implementation):
    expected = reference_stats(ground_truth, results_without_boxes(flat(samples, derived_detections)))
    metrics = ours(samples, derived_detections, implementation)
    assert_same_stats(metrics["coco_eval"], expected, implementation)
    assert 0.2 < expected[0] < 0.9  # a discriminating case: neither trivial nor empty
    assert metrics["AP"] == 100 * metrics["coco_eval"]["AP"] and metrics["APl"] == 100 * metrics["coco_eval"]["APl"]
    assert metrics["num_images"] == 80 and metrics["evaluation"]["implementation"] == implementation


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_subset_is_scored_on_its_own_images(samples, ground_truth, derived_detections, implementation):
    subset = samples[:25]
    image_ids = sorted(s.data.image.image_id for s in subset)
    expected = reference_stats(ground_truth, results_without_boxes(flat(subset, derived_detections)), image_ids)
    assert_same_stats(ours(subset, derived_detections, implementation)["coco_eval"], expected, implementation)


def test_boxes_are_dropped_so_size_ranges_use_mask_areas(samples, ground_truth, derived_detections):
    metrics = ours(samples, derived_detections, "pycocotools")["coco_eval"]
    with_boxes = reference_stats(ground_truth, flat(samples, derived_detections))
    assert metrics["AP"] == with_boxes[0]  # the 'all' range does not look at areas
    assert (metrics["APs"], metrics["APm"], metrics["APl"]) != tuple(with_boxes[3:6])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_no_detection_scores_zero(samples, implementation):
    metrics = ours(samples, {int(s.id): [] for s in samples}, implementation)
    assert metrics["AP"] == 0.0 and metrics["num_detections"] == 0


def test_rle_is_the_references_encoding_and_round_trips(ground_truth):
    masks = np.stack(
        [ground_truth.annToMask(ann) for ann in ground_truth.loadAnns(ground_truth.getAnnIds(imgIds=[5001]))]
    )
    ours_rles = encode_masks(masks.astype(bool))
    for mask, rle in zip(masks, ours_rles):
        reference = mask_util.encode(np.array(mask, order="F", dtype="uint8"))  # TinySAM's call
        assert rle == {"size": reference["size"], "counts": reference["counts"].decode("utf-8")}
        assert np.array_equal(decode_mask(rle), mask > 0)
    assert encode_masks(np.zeros((0, 4, 4), bool)) == []


def test_any_segmentation_becomes_the_ground_truths_rle(ground_truth):
    for ann in ground_truth.loadAnns(ground_truth.getAnnIds(imgIds=[5001])):  # polygons and one crowd RLE
        image = ground_truth.imgs[ann["image_id"]]
        expected = ground_truth.annToRLE(ann)
        rle = compressed_rle(ann["segmentation"], image["height"], image["width"])
        assert rle == {"size": expected["size"], "counts": expected["counts"].decode("utf-8")}
        assert compressed_rle({**expected}, image["height"], image["width"]) == rle  # bytes counts
    with pytest.raises(ValueError, match="size"):
        compressed_rle(rle, image["height"] + 1, image["width"])


def test_external_predictions_file_is_scored_as_pycocotools(tmp_path, samples, ground_truth, derived_detections):
    results = flat(samples, derived_detections)
    for detection in results[::3]:  # some as polygons, as a method may write them
        mask = decode_mask(detection["segmentation"]).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        polygons = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
        if polygons:
            detection["segmentation"] = polygons
    path = tmp_path / "masks.json"
    path.write_text(json.dumps(results))
    task = CocoTask(CocoTask.params_from_args(cli.build_parser().parse_args(
        ["--predictions", str(path), "--coco-eval", "pycocotools"])))  # fmt: skip
    assert task.params.predictions_file == str(path) and len(task.params.predictions_sha256) == 64
    evaluator = task.evaluator()
    evaluator.reset()
    for sample in samples:
        evaluator.process(sample, task.read_external_prediction(path, sample))
    reference_results = []
    for detection in results_without_boxes(results):
        rle = ground_truth.annToRLE(detection)  # polygons -> RLE as pycocotools does it for ground truth
        counts = rle["counts"].decode() if isinstance(rle["counts"], bytes) else rle["counts"]
        reference_results.append({**detection, "segmentation": {"size": rle["size"], "counts": counts}})
    assert list(evaluator.evaluate()["coco_eval"].values()) == reference_stats(ground_truth, reference_results)


def test_external_predictions_may_be_a_folder(tmp_path):
    (tmp_path / "masks.json").write_text("[]")
    assert resolve_results_file(tmp_path) == tmp_path / "masks.json"
    (tmp_path / "other.json").write_text("[]")
    with pytest.raises(DataError, match="masks.json, other.json"):
        resolve_results_file(tmp_path)
    (tmp_path / "coco_instances_results.json").write_text("[]")  # detectron2's output folder
    assert resolve_results_file(tmp_path) == tmp_path / "coco_instances_results.json"
    with pytest.raises(DataError, match="missing"):
        resolve_results_file(tmp_path / "missing")
    (tmp_path / "bad.json").write_text('[{"image_id": 1}]')
    with pytest.raises(DataError, match="lacks"):
        read_results_by_image(tmp_path / "bad.json", ("image_id", "segmentation"))
