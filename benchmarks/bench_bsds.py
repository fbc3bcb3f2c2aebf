"""Time the BSDS500 boundary benchmark on the 200 test images with Sobel soft edge maps (K = 99 thresholds).

    python benchmarks/bench_bsds.py [--data ../shared/data/bsds500_test] [--workers 2] [--limit N]
                                    [--pyedgeeval M]

Writes Sobel maps (gradient magnitude of the grayscale image / its maximum, as 8-bit PNG, the bench's input
format) to a temporary directory (not timed), then times ``evaluate_directory`` over them. ``--pyedgeeval M``
also times pyEdgeEval (the original CSA ``correspondPixels``, one process) on the first M images, extrapolates
that to all images (clearly labelled as an extrapolation), and prints both counts side by side.
Wall-clock numbers depend on what else runs on the machine: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.bsds.directory_evaluation import evaluate_directory
from evals.bsds.image_evaluation import evaluate_image
from evals.bsds.io import read_ground_truth, read_prediction
from evals.bsds.protocol import bench_thresholds


def sobel_map(image_path: Path) -> np.ndarray:
    gray = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE).astype(np.float64)
    magnitude = np.hypot(cv2.Sobel(gray, cv2.CV_64F, 1, 0), cv2.Sobel(gray, cv2.CV_64F, 0, 1))
    return magnitude / max(magnitude.max(), 1e-12)


def write_sobel_maps(image_dir: Path, names: list[str], out_dir: Path) -> None:
    for name in names:
        soft = sobel_map(image_dir / f"{name}.jpg")
        cv2.imwrite(str(out_dir / f"{name}.png"), np.round(soft * 255).astype(np.uint8))


def time_pyedgeeval(pred_dir: Path, gt_dir: Path, names: list[str], thresholds: np.ndarray) -> None:
    try:
        from pyEdgeEval.common.binary_label.evaluate_boundaries import evaluate_boundaries_threshold_multiple_gts
    except ImportError:
        print("pyEdgeEval is not installed (pip install pyedgeeval); skipped")
        return
    for name in names:
        soft = read_prediction(pred_dir / f"{name}.png")
        gts = [g.astype(np.float64) for g in read_ground_truth(gt_dir / f"{name}.mat")]
        start = time.perf_counter(), time.process_time()
        cnt_r, sum_r, cnt_p, sum_p = evaluate_boundaries_threshold_multiple_gts(thresholds, soft, gts)
        wall, cpu = time.perf_counter() - start[0], time.process_time() - start[1]
        theirs = np.column_stack([cnt_r, sum_r, cnt_p, sum_p]).astype(np.int64)
        ours = evaluate_image(soft, read_ground_truth(gt_dir / f"{name}.mat"), thresholds)
        diff = ours - theirs
        print(f"pyEdgeEval {name}: {wall:.1f} s wall, {cpu:.1f} CPU-s for {thresholds.size} thresholds")
        print(
            f"  ours - pyEdgeEval, summed over thresholds: cntR {diff[:, 0].sum():+d} of {theirs[:, 0].sum()}, "
            f"cntP {diff[:, 2].sum():+d} of {theirs[:, 2].sum()}; max |d| per threshold: "
            f"cntR {np.abs(diff[:, 0]).max()}, cntP {np.abs(diff[:, 2]).max()}; "
            f"sumR/sumP equal: {bool((diff[:, [1, 3]] == 0).all())}"
        )
        np.savetxt(
            sys.stdout,
            np.column_stack([thresholds, ours, theirs])[::10],
            fmt="%.4g",
            delimiter=" ",
            header="every 10th threshold: T, ours cntR sumR cntP sumP, pyEdgeEval cntR sumR cntP sumP",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/bsds500_test"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--thresholds", type=int, default=99)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--pyedgeeval", type=int, default=0, metavar="M", help="also time pyEdgeEval on M images")
    args = parser.parse_args()

    data = args.data.resolve()  # the ground truth is symlinked from a temporary folder
    image_dir, gt_dir = data / "images" / "test", data / "groundTruth" / "test"
    names = sorted(p.stem for p in gt_dir.glob("*.mat"))[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        pred_dir, sub_gt = Path(tmp) / "sobel", Path(tmp) / "groundTruth"
        pred_dir.mkdir()
        sub_gt.mkdir()
        for name in names:
            os.symlink(gt_dir / f"{name}.mat", sub_gt / f"{name}.mat")
        start = time.perf_counter()
        write_sobel_maps(image_dir, names, pred_dir)
        print(f"Sobel maps for {len(names)} images written in {time.perf_counter() - start:.1f} s (not timed below)")

        print(f"load average before: {os.getloadavg()}")
        start = time.perf_counter(), time.process_time()
        result = evaluate_directory(pred_dir, sub_gt, args.thresholds, workers=args.workers, progress=True)
        wall = time.perf_counter() - start[0]
        print(
            f"ours: {len(names)} images x {args.thresholds} thresholds in {wall:.1f} s wall "
            f"({args.workers} workers; {wall / len(names) * 1000:.0f} ms/image), load average after: "
            f"{os.getloadavg()}"
        )
        s = result.summary
        print(
            f"Sobel baseline: ODS {s['ODS']:.4f} (t={s['ods_threshold']:.3f})  OIS {s['OIS']:.4f}  "
            f"AP {s['AP']:.4f}  R50 {s['R50']:.4f}"
        )
        if args.pyedgeeval:
            few = names[: args.pyedgeeval]
            start = time.perf_counter()
            time_pyedgeeval(pred_dir, sub_gt, few, bench_thresholds(args.thresholds))
            per_image = (time.perf_counter() - start) / len(few)
            print(
                f"pyEdgeEval EXTRAPOLATED from {len(few)} image(s) (timing includes our own evaluation of the "
                f"same image, negligible): ~{per_image:.0f} s/image -> ~{per_image * len(names) / 60:.0f} min "
                f"for {len(names)} images on one core, ~{per_image * len(names) / 120:.0f} min on two"
            )


if __name__ == "__main__":
    main()
