"""The official RepViT-SAM image encoder against ours (unfused), on CPU, alternating, in one process.

    pip install timm   # the official code imports it
    python benchmarks/bench_official_repvit.py --official-sam DIR   # DIR: a THU-MIG/RepViT checkout's sam/ folder

Both get the official encoder's (random) weights, so the outputs must be identical; prints the median time of each,
run as the official SamPredictor.set_image runs it (torch.no_grad) and, for ours, as the engine does
(torch.inference_mode), plus the official encoder with autograd on, the slow way to time it.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from models import build_model  # noqa: E402


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--official-sam", type=Path, required=True, help="the sam/ folder of a THU-MIG/RepViT checkout")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(args.official_sam))
    from repvit_sam.modeling.repvit import repvit  # the official encoder, outside this repository

    torch.manual_seed(0)
    official = repvit().eval()
    ours = build_model("repvit", random_init=True, fuse=False).image_encoder.eval()
    ours.load_state_dict(official.state_dict(), strict=True)
    image = torch.randn(1, 3, 1024, 1024)
    times: dict[str, list[float]] = {"official, torch.no_grad": [], "ours, torch.inference_mode": []}
    outputs = {}
    for _ in range(args.runs + 1):  # the first round warms up
        with torch.no_grad():
            times["official, torch.no_grad"].append(timed(lambda: outputs.update(official=official(image))))
        with torch.inference_mode():
            times["ours, torch.inference_mode"].append(timed(lambda: outputs.update(ours=ours(image))))
    times["official, autograd on"] = [timed(lambda: official(image)) for _ in range(2)]
    for name, runs in times.items():
        print(f"{name:<28} median {statistics.median(runs[1:]):.3f} s  runs {[round(t, 2) for t in runs]}")
    difference = (outputs["official"] - outputs["ours"]).abs().max() / outputs["official"].abs().max()
    print(f"max relative difference of the outputs: {float(difference):.1e}")


if __name__ == "__main__":
    main()
