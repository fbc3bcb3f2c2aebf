"""Time the MVTec AD metric (evals.mvtec) against SAA+'s scikit-learn computation on one generated category.

    python benchmarks/bench_mvtec.py [--images 160] [--resolution 400] [--seed 0] [--dense]

One category the size of MVTec AD's screw (160 test images x 400 x 400 = 25.6 M pixels): SAA-like anomaly maps
(float, a few soft blobs, some over the defects, many exact ties at zero, as SAA+'s maps have outside every mask;
`--dense`: plus noise, so nearly every pixel has its own score, the hardest case for a sort) and defect masks on
3/4 of the images. Timed once each (one category is one run of the metric):
    ours        evals.mvtec.evaluator.CategoryScores: accumulate the 160 float32 maps, then pixel F1-max, AUROC, AP
                and the image-level metrics from one sorted pass (ranking_metrics.py)
    reference   SAA+ utils/metrics.py on the same maps as SAA+ holds them (float64, min-max normalised over the
                category): calculate_max_f1 (sklearn precision_recall_curve) and roc_auc_score, each on its own
The numbers of both sides are printed with their largest difference.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evals.mvtec.evaluator import CategoryScores  # noqa: E402


def generated_category(images: int, resolution: int, seed: int,
                       dense: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    """(float32 maps, bool masks): defects on 3/4 of the images; maps zero except on a few blurred blobs."""
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for index in range(images):
        mask = np.zeros((resolution, resolution), np.uint8)
        if index % 4:
            for _ in range(int(rng.integers(1, 3))):
                centre = tuple(int(v) for v in rng.integers(40, resolution - 40, size=2))
                axes = tuple(int(v) for v in rng.integers(5, 30, size=2))
                cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        blobs = np.zeros((resolution, resolution), np.float32)
        for _ in range(int(rng.integers(1, 6))):
            centre = tuple(int(v) for v in rng.integers(0, resolution, size=2))
            cv2.circle(blobs, centre, int(rng.integers(10, 60)), float(rng.uniform(0.1, 1.0)), -1)
        blobs += mask * rng.uniform(0.0, 0.8)
        soft = cv2.GaussianBlur(blobs, (0, 0), float(rng.uniform(2, 6)))
        if dense:
            soft += rng.uniform(0, 1e-2, size=soft.shape).astype(np.float32)
        else:
            soft[soft < 1e-3] = 0  # SAA+'s maps are exactly 0 away from every chosen mask: massive ties
        maps.append(soft.astype(np.float32))
        masks.append(mask > 0)
    return maps, masks


def saa_reference(maps: list[np.ndarray], masks: list[np.ndarray]) -> tuple[dict, dict]:
    """SAA+ eval_SAA.py + utils/metrics.py on the pixels: float64 maps, normalize(), then sklearn."""
    scores = np.array(maps, dtype=np.float64)
    scores = (scores - scores.min()) / (scores.max() - scores.min())  # utils/eval_utils.py normalize
    gt = np.asarray(masks, dtype=int).ravel()
    flat = scores.ravel()
    seconds = {}
    start = time.perf_counter()
    precision, recall, _ = precision_recall_curve(gt, flat)
    a, b = 2 * precision * recall, precision + recall
    f1 = float(np.max(np.divide(a, b, out=np.zeros_like(a), where=b != 0)))
    seconds["f1_max"] = time.perf_counter() - start
    start = time.perf_counter()
    auroc = float(roc_auc_score(gt, flat))
    seconds["auroc"] = time.perf_counter() - start
    return {"pixel_f1_max": 100 * f1, "pixel_auroc": 100 * auroc}, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=160)
    parser.add_argument("--resolution", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dense", action="store_true", help="noisy maps: (nearly) no tied scores")
    args = parser.parse_args(argv)
    maps, masks = generated_category(args.images, args.resolution, args.seed, args.dense)
    pixels = args.images * args.resolution**2
    print(f"one category: {args.images} maps x {args.resolution}^2 = {pixels / 1e6:.1f} M pixels, "
          f"{np.mean([m.mean() for m in masks]) * 100:.2f}% anomalous")  # fmt: skip

    start = time.perf_counter()
    category = CategoryScores("generated")
    for anomaly_map, mask, in zip(maps, masks):
        category.add(anomaly_map, mask, bool(mask.any()))
    accumulated = time.perf_counter() - start
    ours = category.score()
    total = time.perf_counter() - start
    print(f"ours       accumulate {accumulated:6.2f} s + score (F1-max, AUROC, AP, image metrics) "
          f"{total - accumulated:6.2f} s = {total:6.2f} s")  # fmt: skip

    reference, seconds = saa_reference(maps, masks)
    print(f"reference  F1-max (precision_recall_curve) {seconds['f1_max']:6.2f} s, AUROC (roc_auc_score) "
          f"{seconds['auroc']:6.2f} s = {sum(seconds.values()):6.2f} s")  # fmt: skip
    for key in ("pixel_f1_max", "pixel_auroc"):
        print(f"  {key:14s} ours {ours[key]:.10f}  reference {reference[key]:.10f}  "
              f"|diff| {abs(ours[key] - reference[key]):.2e}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
