"""Time evals.sod against PySODMetrics (PyPI ``pysodmetrics``) per metric on generated 300x400 maps.

    python benchmarks/bench_sod.py [--images 200] [--repeats 3] [--workers 2]

Each metric is timed on its own, both sides doing their own input normalisation per image (ours builds a
PreparedPair per call; the reference's ``step`` runs prepare_data), then everything at once (our score_image
against the five reference classes in a row). Per-image milliseconds are the best of ``--repeats`` passes over
the set, which damps the noise of other processes on the machine. The numbers of both sides are compared too
(largest absolute difference over the set). ``--workers`` > 1 also times evaluate_pairs on that many processes.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evals.sod.metrics import (  # noqa: E402
    adaptive_emeasure,
    adaptive_fmeasure,
    emeasure_curve,
    fmeasure_curve,
    mean_absolute_error,
    score_image,
    smeasure,
    weighted_fmeasure,
)
from evals.sod.parallel import evaluate_pairs  # noqa: E402
from evals.sod.prepare import PreparedPair  # noqa: E402

SHAPE = (300, 400)


def generated_set(count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(pred uint8, gt uint8) pairs: 1-3 elliptic objects; the map is a shifted, blurred, noisy copy."""
    rng = np.random.default_rng(seed)
    h, w = SHAPE
    pairs = []
    for _ in range(count):
        gt = np.zeros(SHAPE, np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            center = (int(rng.integers(w // 5, 4 * w // 5)), int(rng.integers(h // 5, 4 * h // 5)))
            axes = (int(rng.integers(15, w // 4)), int(rng.integers(15, h // 4)))
            cv2.ellipse(gt, center, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        shift = np.float32([[1, 0, rng.integers(-10, 11)], [0, 1, rng.integers(-10, 11)]])
        soft = cv2.GaussianBlur(cv2.warpAffine(gt, shift, (w, h)).astype(np.float32), (0, 0), float(rng.uniform(2, 8)))
        pred = np.clip(soft * rng.uniform(0.6, 1.0) + rng.normal(0, 12, SHAPE), 0, 255).astype(np.uint8)
        pairs.append((pred, gt))
    return pairs


def ours_per_metric():
    return {
        "MAE": lambda p, g: mean_absolute_error(PreparedPair(p, g)),
        "F-measure": lambda p, g: _f(PreparedPair(p, g)),
        "S-measure": lambda p, g: smeasure(PreparedPair(p, g)),
        "E-measure": lambda p, g: _e(PreparedPair(p, g)),
        "weighted F": lambda p, g: weighted_fmeasure(PreparedPair(p, g)),
        "all five": score_image,
    }


def _f(pair):
    return adaptive_fmeasure(pair), fmeasure_curve(pair)


def _e(pair):
    return adaptive_emeasure(pair), emeasure_curve(pair)


def reference_per_metric():
    import py_sod_metrics as ref

    classes = {
        "MAE": ref.MAE,
        "F-measure": ref.Fmeasure,
        "S-measure": ref.Smeasure,
        "E-measure": ref.Emeasure,
        "weighted F": ref.WeightedFmeasure,
    }

    def step_all(pred, gt):
        for cls in classes.values():
            cls().step(pred=pred, gt=gt)

    timed = {name: (lambda cls: lambda p, g: cls().step(pred=p, gt=g))(cls) for name, cls in classes.items()}
    timed["all five"] = step_all
    return timed


def best_ms_per_image(function, pairs, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for pred, gt in pairs:
            function(pred, gt)
        best = min(best, time.perf_counter() - start)
    return best / len(pairs) * 1e3


def largest_differences(pairs) -> dict[str, float]:
    import py_sod_metrics as ref

    worst = {}
    for pred, gt in pairs:
        ours = score_image(pred, gt)
        values = {}
        for name, cls in (("mae", ref.MAE), ("s_measure", ref.Smeasure), ("weighted_f", ref.WeightedFmeasure)):
            metric = cls()
            metric.step(pred=pred, gt=gt)
            values[name] = metric.get_results()[{"mae": "mae", "s_measure": "sm", "weighted_f": "wfm"}[name]]
        fm, em = ref.Fmeasure(), ref.Emeasure()
        fm.step(pred=pred, gt=gt)
        em.step(pred=pred, gt=gt)
        values.update(adaptive_f=fm.adaptive_fms[0], f_curve=fm.changeable_fms[0][::-1])
        values.update(adaptive_e=em.adaptive_ems[0], e_curve=em.changeable_ems[0][::-1])
        for name, expected in values.items():
            difference = float(np.max(np.abs(np.asarray(getattr(ours, name)) - expected)))
            worst[name] = max(worst.get(name, 0.0), difference)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the reference's Fmeasure deprecation warning

    pairs = generated_set(args.images)
    print(f"{args.images} generated {SHAPE[0]}x{SHAPE[1]} maps, best of {args.repeats}, ms per image")
    print(f"{'metric':<12} {'evals.sod':>10} {'pysodmetrics':>13} {'speed-up':>9}")
    ours, reference = ours_per_metric(), reference_per_metric()
    for name in ours:
        ours_ms = best_ms_per_image(ours[name], pairs, args.repeats)
        reference_ms = best_ms_per_image(reference[name], pairs, args.repeats)
        print(f"{name:<12} {ours_ms:>10.3f} {reference_ms:>13.3f} {reference_ms / ours_ms:>8.1f}x")

    if args.workers > 1:
        start = time.perf_counter()
        evaluate_pairs(pairs, workers=args.workers, progress=False)
        elapsed = time.perf_counter() - start
        print(f"evaluate_pairs, {args.workers} workers (spawn included): {elapsed / len(pairs) * 1e3:.3f} ms per image")

    print("largest |ours - pysodmetrics| per image:")
    for name, difference in largest_differences(pairs).items():
        print(f"  {name:<11} {difference:.2e}")


if __name__ == "__main__":
    main()
