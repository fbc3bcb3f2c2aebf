"""Image-encoder latency of one model under every backend, in one process (BENCHMARKS.md).

    python benchmarks/bench_latency.py --model repvit --runs 5 [--backends eager_unfused eager jit onnxruntime]

Untrained weights (latency does not depend on the values). All configurations are built first, then run round
robin at 1x3x1024x1024 (`--warmup` untimed rounds, `--runs` timed rounds); prints median / min / max ms, the
speed-up over the first configuration (the unfused eager model), and each output's relative error against it.
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
    encoders = {}
    for backend in args.backends:
        encoder = build_sam(args.model, random_init=True, fuse=backend != "eager_unfused").image_encoder
        encoders[backend] = accelerate(encoder, "eager" if backend == "eager_unfused" else backend, torch.device("cpu"))
    # Round robin: every backend once per round, so drifting load on a shared machine hits all of them alike.
    times: dict[str, list[float]] = {backend: [] for backend in encoders}
    outputs = {}
    with torch.inference_mode():
        for round_index in range(args.warmup + args.runs):
            for backend, encoder in encoders.items():
                start = time.perf_counter()
                outputs[backend] = encoder(image)
                if round_index >= args.warmup:
                    times[backend].append((time.perf_counter() - start) * 1000)
    reference = outputs[args.backends[0]]
    baseline = statistics.median(times[args.backends[0]])
    print(f"model {args.model}, {args.threads} threads, {args.runs} interleaved runs after {args.warmup} warm-up")
    print(f"{'backend':<16}{'median ms':>12}{'min':>10}{'max':>10}{'speed-up':>10}{'rel. err':>12}")
    for backend, runs in times.items():
        median = statistics.median(runs)
        error = float((outputs[backend] - reference).abs().max() / reference.abs().max())
        print(f"{backend:<16}{median:>12.1f}{min(runs):>10.1f}{max(runs):>10.1f}{baseline / median:>9.2f}x{error:>12.2e}")

if __name__ == "__main__":
    main()
