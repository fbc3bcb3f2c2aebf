"""Image-encoder latency of one model under every backend, in one process (BENCHMARKS.md).

    python benchmarks/bench_latency.py --model repvit --runs 5 [--backends eager_unfused eager onnxruntime]
    python benchmarks/bench_latency.py --device cuda --runs 50 --backends eager_unfused eager cudagraphs cudagraphs+bf16

Untrained weights (latency does not depend on the values). All configurations are built first, then run round
robin at 1x3x1024x1024 (`--warmup` untimed rounds, `--runs` timed rounds); prints median / min / max ms, the
speed-up over the first configuration (the unfused eager model), and each output's relative error against it.
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
from models.backends import BACKENDS, optimise_encoder, use_full_float32  # noqa: E402


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_encoder(
    model: str, config: str, device: torch.device, memory_format: torch.memory_format = torch.contiguous_format
) -> torch.nn.Module:
    """A configuration is a backend, or `eager_unfused` (the official code's model), with an optional `+precision`."""
    backend, _, precision = config.partition("+")
    encoder = build_model(model, random_init=True, fuse=backend != "eager_unfused", device=device).image_encoder
    encoder = encoder.to(memory_format=memory_format)
    backend = "eager" if backend == "eager_unfused" else backend
    example = torch.zeros(1, 3, encoder.img_size, encoder.img_size, device=device)
    return optimise_encoder(encoder, backend, precision or "fp32", device, example=example)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="repvit")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--backends", nargs="+", default=["eager_unfused", *BACKENDS],
                        help="configurations: a backend or eager_unfused, optionally +bf16x3 / +tf32 / +bf16 / +fp16")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    use_full_float32()  # as run_eval.py: float32 means float32; TF32 is the `+tf32` configuration
    image = torch.randn(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(0)).to(device)
    encoders = {config: build_encoder(args.model, config, device) for config in args.backends}
    # Round robin: every configuration once per round, so drifting load on a shared machine hits all of them alike.
    times: dict[str, list[float]] = {config: [] for config in encoders}
    outputs = {}
    with torch.inference_mode():
        for round_index in range(args.warmup + args.runs):
            for config, encoder in encoders.items():
                synchronize(device)
                start = time.perf_counter()
                outputs[config] = encoder(image)
                synchronize(device)
                if round_index >= args.warmup:
                    times[config].append((time.perf_counter() - start) * 1000)
    reference = outputs[args.backends[0]]
    baseline = statistics.median(times[args.backends[0]])
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {args.threads} threads"
    print(f"model {args.model}, {name}, {args.runs} interleaved runs after {args.warmup} warm-up")
    print(f"{'configuration':<24}{'median ms':>12}{'min':>10}{'max':>10}{'speed-up':>10}{'rel. err':>12}")
    for config, runs in times.items():
        median = statistics.median(runs)
        error = float((outputs[config] - reference).abs().max() / reference.abs().max())
        print(f"{config:<24}{median:>12.2f}{min(runs):>10.2f}{max(runs):>10.2f}{baseline / median:>9.2f}x{error:>12.2e}")


if __name__ == "__main__":
    main()
