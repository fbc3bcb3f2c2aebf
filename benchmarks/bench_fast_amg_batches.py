"""The fast generator's batches against the official ones, alternating on the same batch (robust to a CPU whose
load drifts): seconds per 64-point batch at four keep rates of the predicted-IoU filter, records checked equal.

    python benchmarks/bench_fast_amg_batches.py [--model mobilesam] [--repeats 2]

Untrained weights: the IoU thresholds are the quantiles of the candidates' predicted IoUs that keep ~100% (no
filter), 30%, 5% and 0% of them; stability threshold 0 (see bench_fast_amg.py). Batches 0, 5, 10, 15 of the 32x32
grid on the bundled 160x120 DUTS sample.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.utils.amg import build_point_grid

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evals.images import read_rgb  # noqa: E402
from models import load_prompt_model  # noqa: E402
from models.fast_amg import FastSamAutomaticMaskGenerator  # noqa: E402

IMAGE = REPO / "datasets/sample/DUTS-TE/DUTS-TE-Image/synthetic_0001.jpg"
BATCH_STARTS = (0, 320, 640, 960)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mobilesam")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model = load_prompt_model(args.model, untrained=True)
    image = read_rgb(IMAGE)
    size = image.shape[:2]
    crop = [0, 0, size[1], size[0]]
    grid = build_point_grid(32) * np.array(size[::-1])
    print(f"{args.model}, {torch.get_num_threads()} threads")
    print("| candidates kept | IoU threshold | official s/batch | fast s/batch | speed-up |")
    print("|---|---|---|---|---|", flush=True)
    with torch.inference_mode():
        official = SamAutomaticMaskGenerator(model.network, pred_iou_thresh=0.0, stability_score_thresh=0.0)
        official.predictor.set_image(image)
        ious = np.concatenate([official._process_batch(grid[s : s + 64], size, crop, size)["iou_preds"].numpy()
                               for s in BATCH_STARTS])  # fmt: skip
        for keep in (1.0, 0.3, 0.05, 0.0):
            threshold = 0.0 if keep == 1.0 else float(np.quantile(ious, 1.0 - keep)) + (1e-3 if keep == 0.0 else 0.0)
            params = dict(pred_iou_thresh=threshold, stability_score_thresh=0.0)
            generators = [SamAutomaticMaskGenerator(model.network, **params),
                          FastSamAutomaticMaskGenerator(model.network, **params)]  # fmt: skip
            for generator in generators:
                generator.predictor.set_image(image)
            seconds, kept = [0.0, 0.0], 0
            for start in BATCH_STARTS:
                for _ in range(args.repeats):
                    data = []
                    for i, generator in enumerate(generators):
                        started = time.perf_counter()
                        data.append(generator._process_batch(grid[start : start + 64], size, crop, size))
                        seconds[i] += time.perf_counter() - started
                    for key in data[0]._stats:
                        a, b = data[0][key], data[1][key]
                        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b, key
                kept += len(data[0]["iou_preds"])
            runs = len(BATCH_STARTS) * args.repeats
            print(f"| {kept / len(ious):.0%} | {threshold:.4f} | {seconds[0] / runs:.2f} | {seconds[1] / runs:.2f} | "
                  f"{seconds[0] / seconds[1]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
