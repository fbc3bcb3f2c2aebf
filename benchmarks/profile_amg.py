"""Where SAM's automatic mask generator spends its mask-side time: one batch of its `_process_batch`, split into the
prompt encoder, the mask decoder and the upsampling of every candidate to the image (`Sam.postprocess_masks`).

    python benchmarks/profile_amg.py [--model mobilesam] [--points-per-batch 64] [--repeats 2]

Untrained weights (the split does not depend on their values); random points on the bundled DUTS sample image.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evals.images import read_rgb  # noqa: E402
from models import load_prompt_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mobilesam")
    parser.add_argument("--image", type=Path, default=REPO / "datasets/sample/DUTS-TE/DUTS-TE-Image/synthetic_0001.jpg")
    parser.add_argument("--points-per-batch", type=int, default=64)  # SamAutomaticMaskGenerator's default
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model = load_prompt_model(args.model, untrained=True)
    predictor, sam = model.predictor, model.network
    predictor.set_image(read_rgb(args.image))
    points = torch.rand(args.points_per_batch, 1, 2, generator=torch.Generator().manual_seed(0)) * 1024
    labels = torch.ones(args.points_per_batch, 1, dtype=torch.int)
    with torch.inference_mode():
        for _ in range(args.repeats):
            started = time.perf_counter()
            sparse, dense = sam.prompt_encoder(points=(points, labels), boxes=None, masks=None)
            encoded = time.perf_counter()
            low_res, _ = sam.mask_decoder(image_embeddings=predictor.features, image_pe=sam.prompt_encoder.get_dense_pe(),
                                          sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                          multimask_output=True)  # fmt: skip
            decoded = time.perf_counter()
            sam.postprocess_masks(low_res, predictor.input_size, predictor.original_size)
            upsampled = time.perf_counter()
            print(f"{args.model}, {args.points_per_batch} points ({low_res.shape[0] * low_res.shape[1]} masks), "
                  f"{torch.get_num_threads()} threads: prompt encoder {1e3 * (encoded - started):.0f} ms, mask decoder "
                  f"{1e3 * (decoded - encoded):.0f} ms, upsampling {1e3 * (upsampled - decoded):.0f} ms", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
