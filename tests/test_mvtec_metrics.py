"""MVTec AD metric: the exact F1-max / AUROC / AP against scikit-learn (SAA+'s utils/metrics.py), anomalib's F1Max
semantics, and the per-category evaluator against a transcription of SAA+'s evaluation (eval_SAA.py,
utils/eval_utils.py, utils/metrics.py, caoyunkang/Segment-Any-Anomaly@SAA-plus) on generated data.

anomalib is not installed (heavy); its F1Max is re-implemented below from its definition: anomalib.metrics.F1Max
computes ``(2 * precision * recall) / (precision + recall + 1e-10)`` over anomalib's BinaryPrecisionRecallCurve,
which is torchmetrics' BinaryPrecisionRecallCurve with ``thresholds=None`` (every distinct score) without the
sigmoid torchmetrics applies to scores outside [0, 1]; torchmetrics builds the curve as sklearn's
``_binary_clf_curve`` (descending scores, cumulative TP/FP at the distinct values), precision = TP / (TP + FP),
recall = TP / TP[-1], cut after the first full-recall point, then appends (precision 1, recall 0).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from evals.base import Sample
from evals.mvtec.dataset import MVTecImage
from evals.mvtec.evaluator import MVTecEvaluator, resize_map
from evals.mvtec.ranking_metrics import ranking_metrics, ranking_metrics_from_labels


# --- references ------------------------------------------------------------------------------------------------
def saa_max_f1(gt: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """SAA+ utils/metrics.py calculate_max_f1, transcribed: sklearn's curve, F1 = 0 where P + R = 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "No positive class found in y_true" for all-normal data
        precision, recall, thresholds = precision_recall_curve(gt, scores)
    a, b = 2 * precision * recall, precision + recall
    f1s = np.divide(a, b, out=np.zeros_like(a), where=b != 0)
    index = np.argmax(f1s)
    return float(f1s[index]), float(thresholds[index])


def anomalib_f1_max(scores: np.ndarray, labels: np.ndarray) -> float:
    """anomalib F1Max on its BinaryPrecisionRecallCurve (thresholds=None), from the definition in the docstring."""
    preds = torch.as_tensor(scores).flatten()
    target = torch.as_tensor(labels).flatten().long()
    order = torch.argsort(preds, descending=True)
    preds, target = preds[order], target[order]
    distinct = torch.where(preds[1:] - preds[:-1])[0]
    ends = torch.cat([distinct, torch.tensor([target.numel() - 1])])
    tps = torch.cumsum(target, dim=0)[ends]
    fps = 1 + ends - tps
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    last = int(torch.where(tps == tps[-1])[0][0])
    precision = torch.cat([precision[: last + 1].flip(0), torch.ones(1, dtype=precision.dtype)])
    recall = torch.cat([recall[: last + 1].flip(0), torch.zeros(1, dtype=recall.dtype)])
    f1 = (2 * precision * recall) / (precision + recall + 1e-10)
    return float(torch.max(f1))


def random_case(rng: np.random.Generator, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Scores with many ties (quantised), or continuous; labels with a random positive rate."""
    n = int(rng.integers(2, 400))
    if rng.random() < 0.6:
        levels = int(rng.integers(1, 12))
        scores = np.round(rng.random(n) * levels) / levels
    else:
        scores = rng.normal(size=n)
    labels = rng.random(n) < rng.uniform(0.05, 0.95)
    return scores.astype(dtype), labels


# --- ranking metrics ---------------------------------------------------------------------------------------------
def test_metrics_equal_sklearn_and_anomalib_with_ties():
    rng = np.random.default_rng(0)
    for case in range(300):
        scores, labels = random_case(rng, np.float32 if case % 2 else np.float64)
        if labels.all() or not labels.any():
            continue
        ours = ranking_metrics_from_labels(scores, labels)
        f1, threshold = saa_max_f1(labels.astype(int), scores)
        assert ours.f1_max == pytest.approx(f1, abs=1e-12)
        assert ours.threshold == threshold  # first maximum, as np.argmax over sklearn's ascending thresholds
        assert ours.f1_max == pytest.approx(anomalib_f1_max(scores, labels), abs=1e-6)
        assert ours.auroc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        assert ours.average_precision == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def test_all_ties_and_a_single_value():
    labels = np.array([0, 1, 0, 1, 1], bool)
    ours = ranking_metrics_from_labels(np.zeros(5), labels)  # one threshold: everything anomalous
    assert ours.f1_max == pytest.approx(saa_max_f1(labels.astype(int), np.zeros(5))[0]) == pytest.approx(2 * 3 / 8)
    assert ours.auroc == 0.5 == roc_auc_score(labels, np.zeros(5))


def test_all_normal_category():
    """No anomalous pixel: SAA+ (sklearn sets recall to 1, precision is 0) gives F1-max 0, as we do; AUROC and AP
    are undefined (sklearn raises / warns). anomalib's F1Max divides 0 by 0 for the recall and returns NaN."""
    scores, labels = np.array([0.1, 0.5, 0.5, 0.9]), np.zeros(4, bool)
    ours = ranking_metrics_from_labels(scores, labels)
    assert ours.f1_max == 0.0 == saa_max_f1(labels.astype(int), scores)[0]
    assert ours.auroc is None and ours.average_precision is None and ours.threshold is None
    assert np.isnan(anomalib_f1_max(scores, labels))


def test_all_anomalous_category():
    scores, labels = np.array([0.2, 0.3, 0.3]), np.ones(3, bool)
    ours = ranking_metrics_from_labels(scores, labels)
    assert ours.f1_max == 1.0 == saa_max_f1(labels.astype(int), scores)[0]
    assert ours.f1_max == pytest.approx(anomalib_f1_max(scores, labels))
    assert ours.auroc is None and ours.average_precision == pytest.approx(1.0)


def test_float32_scores_are_compared_as_float32():
    """Two float32 scores one ulp apart stay two thresholds (no cast, no binning)."""
    low = np.float32(0.5)
    high = np.nextafter(low, np.float32(1))
    ours = ranking_metrics(np.array([high], np.float32), np.array([low], np.float32))
    assert ours.f1_max == 1.0 and ours.auroc == 1.0


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        ranking_metrics(np.array([np.nan]), np.array([0.0]))


# --- the per-category evaluator against SAA+'s evaluation ----------------------------------------------------------
def write_category(root: Path, category: str, rng: np.random.Generator,
                   count: int = 5) -> list[tuple[Sample, np.ndarray, np.ndarray | None]]:  # fmt: skip
    """(sample, float32 map at some size, 0/255 mask or None) per image; the first image is good."""
    items = []
    for index in range(count):
        size = int(rng.choice([64, 80, 400]))
        defect = "good" if index == 0 else "scratch"
        image_path = root / category / "test" / defect / f"{index:03d}.png"
        mask = None
        mask_path = None
        if defect != "good":
            mask = np.zeros((size, size), np.uint8)
            centre = tuple(int(v) for v in rng.integers(10, size - 10, 2))
            cv2.circle(mask, centre, int(rng.integers(3, 12)), 255, -1)
            mask_path = root / category / "ground_truth" / defect / f"{index:03d}_mask.png"
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(mask_path), mask)
        # a smooth map with exact ties (quantised) and, for the good image, a constant zero map
        anomaly_map = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 3)
        anomaly_map = np.round(anomaly_map * 40) / 40
        if mask is not None:
            anomaly_map += 0.2 * (mask > 0)
        if index == 0:
            anomaly_map[:] = 0
        image = MVTecImage(category, defect, f"{index:03d}", image_path, mask_path)
        items.append((Sample(image.id, image), anomaly_map.astype(np.float32), mask))
    return items


def saa_category(maps: list[np.ndarray], masks: list[np.ndarray | None]) -> dict:
    """eval_SAA.py eval + metric_cal for one category, transcribed (the maps' float32 cubic resize kept, then
    float64 as SAA+'s own maps are): specify_resolution, normalize, pixel and image metrics."""
    scores = [cv2.resize(m, (400, 400), interpolation=cv2.INTER_CUBIC) for m in maps]
    gts = []
    for anomaly_map, mask in zip(maps, masks):
        gt = np.zeros([anomaly_map.shape[0]] * 2) if mask is None else mask.copy()
        gt[gt > 0] = 1
        gts.append(cv2.resize(gt, (400, 400), interpolation=cv2.INTER_NEAREST))
    scores = np.array(scores, dtype=np.float64)
    scores = (scores - scores.min()) / (scores.max() - scores.min())
    gt_mask = np.asarray(gts, dtype=int)
    labels = np.array([mask is not None for mask in masks], dtype=int)
    image_scores = scores.reshape(scores.shape[0], -1).max(axis=1)
    return {
        "pixel_f1_max": 100 * saa_max_f1(gt_mask.flatten(), scores.flatten())[0],
        "pixel_auroc": 100 * roc_auc_score(gt_mask.flatten(), scores.flatten()),
        "pixel_ap": 100 * average_precision_score(gt_mask.flatten(), scores.flatten()),
        "image_auroc": 100 * roc_auc_score(labels, image_scores),
        "image_f1_max": 100 * saa_max_f1(labels, image_scores)[0],
    }


def test_evaluator_matches_saa_evaluation(tmp_path):
    rng = np.random.default_rng(1)
    categories = {name: write_category(tmp_path, name, rng) for name in ("tile", "screw")}
    evaluator = MVTecEvaluator()
    evaluator.reset()
    for items in categories.values():
        for sample, anomaly_map, _ in items:
            evaluator.process(sample, {"anomaly_map": anomaly_map})
    metrics = evaluator.evaluate()
    assert metrics["categories"] == ["tile", "screw"] and metrics["num_images"] == 10
    for name, items in categories.items():
        reference = saa_category([m for _, m, _ in items], [k for _, _, k in items])
        ours = metrics["per_category"][name]
        for key, value in reference.items():
            assert ours[key] == pytest.approx(value, abs=1e-6), (name, key)
        assert 0 <= ours["pixel_f1_threshold"] <= 1
    mean = np.mean([saa_category([m for _, m, _ in items], [k for _, _, k in items])["pixel_f1_max"]
                    for items in categories.values()])  # fmt: skip
    assert metrics["f1_max"] == pytest.approx(mean, abs=1e-6)


def test_evaluator_needs_contiguous_categories_and_finite_maps(tmp_path):
    rng = np.random.default_rng(2)
    tile, screw = write_category(tmp_path, "tile", rng, 2), write_category(tmp_path, "screw", rng, 2)
    evaluator = MVTecEvaluator()
    evaluator.reset()
    for sample, anomaly_map, _ in [tile[0], screw[0]]:
        evaluator.process(sample, {"anomaly_map": anomaly_map})
    with pytest.raises(ValueError, match="not contiguous"):
        evaluator.process(tile[1][0], {"anomaly_map": tile[1][1]})
    evaluator.reset()
    with pytest.raises(ValueError, match="NaN"):
        evaluator.process(tile[1][0], {"anomaly_map": np.full((8, 8), np.nan, np.float32)})


def test_resize_map_is_cv2_cubic_and_keeps_400_maps():
    small = np.random.default_rng(3).random((50, 70)).astype(np.float32)
    assert np.array_equal(resize_map(small), cv2.resize(small, (400, 400), interpolation=cv2.INTER_CUBIC))
    full = np.random.default_rng(4).random((400, 400)).astype(np.float32)
    assert resize_map(full) is full or np.array_equal(resize_map(full), full)
    with pytest.raises(ValueError, match="2-D"):
        resize_map(np.zeros((4, 4, 3)))
