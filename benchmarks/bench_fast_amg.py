"""The fast automatic mask generator (models/fast_amg.py) against segment-anything's, per image, at three keep rates.

    python benchmarks/bench_fast_amg.py [--models repvit,mobilesam] [--images 160x120,854x480] [--points-per-side 32]

The weights are untrained. Their predicted IoUs spread around 0 (about -0.8 to 1.1), far from SAM's 0.88 threshold,
which would keep almost nothing. So for each model and image, the candidates' predicted IoUs are decoded once, and
the threshold is set to the quantile that keeps about 100% (no filter), 30% or 5% of them. The stability threshold is
0, since untrained logits make every stability score small. That first pass (encoder, prompt encoder, official mask
decoder, no mask upsampling) is timed too. Each row gives seconds per image (best of --repeats), the speed-up, the
share of candidates that passed the IoU filter and of points with at least one such candidate (only those points'
masks are upscaled and upsampled), and whether the records are identical.
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
KEEP_RATES = (1.0, 0.3, 0.05)


@torch.inference_mode()
def candidate_ious(model, image: np.ndarray, points_per_side: int, points_per_batch: int) -> np.ndarray:
    """The predicted IoU of every candidate on the generator's grid (its decoding, without the mask side)."""
    predictor, sam = model.predictor, model.network
    predictor.set_image(image)
    grid = build_point_grid(points_per_side) * np.array(image.shape[1::-1])
    points = predictor.transform.apply_coords(grid, image.shape[:2])
    ious = []
    for start in range(0, len(points), points_per_batch):
        batch = torch.as_tensor(points[start : start + points_per_batch], dtype=torch.float)[:, None]
        labels = torch.ones(batch.shape[:2], dtype=torch.int)
        sparse, dense = sam.prompt_encoder(points=(batch, labels), boxes=None, masks=None)
        _, iou = sam.mask_decoder(image_embeddings=predictor.features, image_pe=sam.prompt_encoder.get_dense_pe(),
                                  sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=True)  # fmt: skip
        ious.append(iou.flatten())  # B x 3: the multimask candidates, as the generator decodes them
    return torch.cat(ious).numpy()


def best_time(generate, repeats: int) -> tuple[float, list]:
    times, records = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        records = generate()
        times.append(time.perf_counter() - started)
    return min(times), records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="repvit,mobilesam")
    parser.add_argument("--images", default=",".join(IMAGES), help=f"among {', '.join(IMAGES)}")
    parser.add_argument("--points-per-side", type=int, default=32)  # SamAutomaticMaskGenerator's default
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    points_per_batch = 64  # SamAutomaticMaskGenerator's default
    print(f"{torch.get_num_threads()} threads, {args.points_per_side}x{args.points_per_side} points", flush=True)
    print("| model | image | candidates kept | points kept | official decoder, no masks (s) | official (s) | fast (s) "
          "| speed-up | identical |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for name in args.models.split(","):
        model = load_prompt_model(name, untrained=True)
        for image_name in args.images.split(","):
            image = read_rgb(IMAGES[image_name])
            started = time.perf_counter()
            ious = candidate_ious(model, image, args.points_per_side, points_per_batch)
            shared = time.perf_counter() - started
            for keep_rate in KEEP_RATES:
                threshold = 0.0 if keep_rate == 1.0 else float(np.quantile(ious, 1.0 - keep_rate))
                # the generator filters only with a threshold above 0
                passes = ious.reshape(-1, 3) > threshold if threshold > 0.0 else np.ones((len(ious) // 3, 3), bool)
                kept, points_kept = float(np.mean(passes)), float(np.mean(passes.any(axis=1)))
                params = dict(points_per_side=args.points_per_side, points_per_batch=points_per_batch,
                              pred_iou_thresh=threshold, stability_score_thresh=0.0, output_mode="uncompressed_rle")  # fmt: skip
                official_s, official = best_time(
                    lambda: SamAutomaticMaskGenerator(model.network, **params).generate(image), args.repeats
                )
                fast_s, fast = best_time(
                    lambda: FastSamAutomaticMaskGenerator(model.network, **params).generate(image), args.repeats
                )
                print(f"| {name} | {image_name} | {kept:.0%} (IoU > {threshold:.3f}) | {points_kept:.0%} | {shared:.1f} | "
                      f"{official_s:.1f} | "
                      f"{fast_s:.1f} | {official_s / fast_s:.2f}x | {'yes' if fast == official else 'NO'} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
