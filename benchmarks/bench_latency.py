"""Image-encoder latency of one model under every backend, in one process (BENCHMARKS.md).

    python benchmarks/bench_latency.py --model repvit --runs 5 [--backends eager_unfused eager jit onnxruntime]

Untrained weights (latency does not depend on the values). Each configuration: `--warmup` untimed runs, then
`--runs` timed runs at 1x3x1024x1024; prints median / min / max ms, the speed-up over the unfused eager model, and
the relative error of each backend's output against the unfused eager output.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from models import build_sam
from models.backends import BACKENDS, accelerate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="repvit")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--backends", nargs="+", default=["eager_unfused", *BACKENDS])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = torch.randn(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(0))
    reference = None
    baseline = None
    print(f"model {args.model}, {args.threads} threads, {args.runs} runs after {args.warmup} warm-up")
    print(f"{'backend':<16}{'median ms':>12}{'min':>10}{'max':>10}{'speed-up':>10}{'rel. err':>12}")
    for backend in args.backends:
        fuse = backend != "eager_unfused"
        encoder = build_sam(args.model, random_init=True, fuse=fuse).image_encoder
        encoder = accelerate(encoder, "eager" if backend == "eager_unfused" else backend, torch.device("cpu"))
        with torch.inference_mode():
            for _ in range(args.warmup):
                out = encoder(image)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                out = encoder(image)
                times.append((time.perf_counter() - start) * 1000)
        if reference is None:
            reference = out
        median = statistics.median(times)
        baseline = baseline or median
        error = float((out - reference).abs().max() / reference.abs().max())
        print(f"{backend:<16}{median:>12.1f}{min(times):>10.1f}{max(times):>10.1f}{baseline / median:>9.2f}x{error:>12.2e}")


if __name__ == "__main__":
    main()
