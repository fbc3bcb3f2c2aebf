"""Where an image-encoder configuration spends its time: the kernels torch.profiler sees, grouped.

    python benchmarks/profile_encoder.py --device cuda --configs compile compile+bf16x3 compile+tf32 [--channels-last]

A configuration is as in bench_latency.py (a backend or eager_unfused, optionally +precision). Per configuration:
the median latency over --runs, then the profiled kernels of --runs more calls, summed by kind (matrix products,
convolutions, generated elementwise kernels, copies) and the --top kernels by device time. Profile the `compile`
backend rather than `cudagraphs`: a CUDA-graph replay hides the kernels from the profiler.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from benchmarks.bench_latency import build_encoder, synchronize  # noqa: E402
from models.backends import use_full_float32  # noqa: E402

KINDS = {  # first match wins; kernel names of cuDNN, cuBLAS / CUTLASS, Inductor (triton_ / cpp_) and PyTorch ops
    "convolution": ("conv", "fprop", "implicit", "winograd", "depthwise"),
    "matrix product": ("gemm", "sm90_", "sm80_", "cutlass", "addmm", "aten::mm"),
    "generated elementwise": ("triton", "cpp_fused", "fused_"),
    "copy / layout": ("copy", "transpose", "nchwtonhwc", "nhwctonchw", "cat"),
}


def kind_of(name: str) -> str:
    lowered = name.lower()
    return next((kind for kind, keys in KINDS.items() if any(k in lowered for k in keys)), "other")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="repvit")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--configs", nargs="+", default=["eager"])
    parser.add_argument("--channels-last", action="store_true", help="model and input in channels-last memory format")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    device = torch.device(args.device)
    use_full_float32()
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    image = torch.randn(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(0)).to(device)
    image = image.contiguous(memory_format=memory_format)
    activity = torch.profiler.ProfilerActivity.CUDA if device.type == "cuda" else torch.profiler.ProfilerActivity.CPU
    for config in args.configs:
        encoder = build_encoder(args.model, config, device, memory_format)
        with torch.inference_mode():
            times = []
            for _ in range(3 + args.runs):  # three untimed calls compile and warm up
                synchronize(device)
                start = time.perf_counter()
                encoder(image)
                synchronize(device)
                times.append((time.perf_counter() - start) * 1000)
            with torch.profiler.profile(activities=[activity]) as profile:
                for _ in range(args.runs):
                    encoder(image)
                synchronize(device)
        events = [e for e in profile.key_averages() if e.self_device_time_total > 0 or device.type == "cpu"]
        spent = (lambda e: e.self_device_time_total) if device.type == "cuda" else (lambda e: e.self_cpu_time_total)
        total = sum(spent(e) for e in events) / args.runs / 1000
        by_kind: dict[str, float] = defaultdict(float)
        for event in events:
            by_kind[kind_of(event.key)] += spent(event) / args.runs / 1000
        print(f"\n{config}{' (channels-last)' if args.channels_last else ''}: median {statistics.median(times[3:]):.2f} "
              f"ms; profiled {total:.2f} ms per call")  # fmt: skip
        for kind, ms in sorted(by_kind.items(), key=lambda item: -item[1]):
            print(f"  {kind:<24}{ms:8.2f} ms {100 * ms / total:5.1f}%")
        for event in sorted(events, key=spent, reverse=True)[: args.top]:
            print(f"  {spent(event) / args.runs / 1000:8.3f} ms {event.count // args.runs:5d}x  {event.key[:110]}")


if __name__ == "__main__":
    main()
