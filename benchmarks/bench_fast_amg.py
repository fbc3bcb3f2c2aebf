"""The fast automatic mask generator (models/fast_amg.py) against segment-anything's, at four keep rates of the
predicted-IoU filter, records checked equal.

    python benchmarks/bench_fast_amg.py [--model mobilesam] [--image 160x120] [--repeats 2]          # per batch
    python benchmarks/bench_fast_amg.py --whole [--model repvit] [--image 854x480] [--repeats 1]      # per image

Per batch (the default): the two generators' `_process_batch` alternate on the same 64-point batch (batches 0, 5,
10 and 15 of the 32x32 grid), so a load that drifts over the run hits both alike; seconds per batch, averaged.
`--whole`: each generator's whole `generate` on the image, best of --repeats, one after the other (needs a quiet CPU).

The weights are untrained. Their predicted IoUs spread around 0 (about -0.8 to 1.1), far from SAM's 0.88 threshold,
which would keep almost nothing. So the candidates' predicted IoUs are decoded first (official `_process_batch`, no
filter) and the threshold is set to the quantile that keeps about 100% (no filter), 30%, 5% or 0% of them. The
stability threshold is 0, since untrained logits make every stability score small.
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

IMAGES = {
    "160x120": REPO / "datasets/sample/DUTS-TE/DUTS-TE-Image/synthetic_0001.jpg",
    "854x480": REPO / "datasets/sample/DAVIS/JPEGImages/480p/blackswan/00000.jpg",
}
KEEP_RATES = (1.0, 0.3, 0.05, 0.0)
POINTS_PER_SIDE, POINTS_PER_BATCH = 32, 64  # SamAutomaticMaskGenerator's defaults
TIMED_BATCHES = (0, 5, 10, 15)


def iou_threshold(ious: np.ndarray, keep_rate: float) -> float:
    """The threshold that keeps `keep_rate` of the candidates (the generator filters only above 0)."""
    if keep_rate == 1.0:
        return 0.0
    return float(np.quantile(ious, 1.0 - keep_rate)) + (1e-3 if keep_rate == 0.0 else 0.0)


def assert_equal_batches(official, fast) -> None:
    for key in official._stats:
        a, b = official[key], fast[key]
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mobilesam")
    parser.add_argument("--image", default="160x120", choices=list(IMAGES))
    parser.add_argument("--whole", action="store_true", help="time whole images, not alternating batches")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model = load_prompt_model(args.model, untrained=True)
    image = read_rgb(IMAGES[args.image])
    size = image.shape[:2]
    grid = build_point_grid(POINTS_PER_SIDE) * np.array(size[::-1])
    starts = range(0, len(grid), POINTS_PER_BATCH) if args.whole else [i * POINTS_PER_BATCH for i in TIMED_BATCHES]
    batches = [grid[s : s + POINTS_PER_BATCH] for s in starts]
    unit = "image" if args.whole else "batch"
    print(f"{args.model}, {args.image}, {torch.get_num_threads()} threads, per {unit}")
    print(f"| candidates kept | IoU threshold | official s/{unit} | fast s/{unit} | speed-up |")
    print("|---|---|---|---|---|", flush=True)
    with torch.inference_mode():
        unfiltered = SamAutomaticMaskGenerator(model.network, pred_iou_thresh=0.0, stability_score_thresh=0.0)
        unfiltered.predictor.set_image(image)
        ious = np.concatenate([process(unfiltered, points, size)["iou_preds"].numpy() for points in batches])
        for keep_rate in KEEP_RATES:
            params = dict(points_per_side=POINTS_PER_SIDE, points_per_batch=POINTS_PER_BATCH,
                          pred_iou_thresh=iou_threshold(ious, keep_rate), stability_score_thresh=0.0,
                          output_mode="uncompressed_rle")  # records comparable with ==
            generators = [SamAutomaticMaskGenerator(model.network, **params),
                          FastSamAutomaticMaskGenerator(model.network, **params)]  # fmt: skip
            if args.whole:
                seconds = time_whole(generators, image, args.repeats)
            else:
                seconds = time_batches(generators, image, batches, args.repeats)
            kept = np.mean(ious > params["pred_iou_thresh"]) if params["pred_iou_thresh"] > 0.0 else 1.0
            print(f"| {kept:.0%} | {params['pred_iou_thresh']:.4f} | {seconds[0]:.2f} | {seconds[1]:.2f} | "
                  f"{seconds[0] / seconds[1]:.2f}x |", flush=True)


def process(generator, points: np.ndarray, size: tuple[int, int]):
    """The generator's batch of `points` on the whole image (one crop: the image itself)."""
    return generator._process_batch(points, size, [0, 0, size[1], size[0]], size)


def time_batches(generators, image: np.ndarray, batches: list[np.ndarray], repeats: int) -> list[float]:
    """Mean seconds per batch of each generator, alternating on every batch."""
    for generator in generators:
        generator.predictor.set_image(image)
    seconds = [0.0, 0.0]
    for points in batches:
        for _ in range(repeats):
            data = []
            for i, generator in enumerate(generators):
                started = time.perf_counter()
                data.append(process(generator, points, image.shape[:2]))
                seconds[i] += time.perf_counter() - started
            assert_equal_batches(*data)
    return [s / (len(batches) * repeats) for s in seconds]


def time_whole(generators, image: np.ndarray, repeats: int) -> list[float]:
    """Best seconds per image of each generator, encoder included."""
    seconds, records = [], []
    for generator in generators:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            found = generator.generate(image)
            times.append(time.perf_counter() - started)
        seconds.append(min(times))
        records.append(found)
    assert records[0] == records[1], "records differ"
    return seconds


if __name__ == "__main__":
    main()
