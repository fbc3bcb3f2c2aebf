"""Latency task: image encoder and mask decoder at 1024x1024, batch 1, on the chosen device.

Protocol (RepViT-SAM README "Latency comparisons": 1024x1024 input, batch 1; the paper used Core ML on an
iPhone 12 and a MacBook M1 Pro, we time the PyTorch / ONNX Runtime path on the device the run uses):
- image encoder: one random preprocessed image at the model's encoder input size (1x3x1024x1024 for SAM-decoder
  models; EfficientViT-SAM's L models take 512) through the model's encoder (the selected backend);
- mask decoder: prompt encoder + mask decoder for one point prompt with multimask output on a random embedding,
  excluding the upscaling to image size (the decoder network as the paper's mask-decoder column);
- `warmup` untimed runs, then `runs` timed runs; the median is reported, min / max / quartiles recorded.
`--export onnx|coreml` also writes the encoder and decoder as ONNX (checked with ONNX Runtime) or as Core ML packages
the way RepViT-SAM's release converts them (models/coreml_export.py; timed on a Mac by benchmarks/coreml_latency.py).
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from ..base import Column, Dataset, Evaluator, Requirement, Sample, Task
from ..errors import UsageError
from ..params import TaskParams

if TYPE_CHECKING:  # torch is imported where it is used: the command line starts without it
    import torch

    from models.prompt_model import PromptModel

SECTION = "Latency (1024x1024, batch 1)"
COREML_PRECISIONS = ("fp16", "fp32")  # the first is the default (RepViT-SAM's export scripts: --precision fp16)
# The paper's latency table (Core ML on an iPhone 12 and a MacBook M1 Pro; OOM: out of memory on the phone) is in
# evals/paper_results.csv (`evals.paper.paper_platforms("latency")`); the tables show it as rows of its own.


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def time_call(fn, device: torch.device, warmup: int, runs: int) -> list[float]:
    """Milliseconds of each of `runs` calls of `fn` after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        times.append((time.perf_counter() - start) * 1000)
    return times


def summarize_times(times: list[float]) -> dict:
    q1, _, q3 = statistics.quantiles(times, n=4) if len(times) > 1 else (times[0],) * 3
    return {
        "median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
        "q1_ms": q1, "q3_ms": q3, "runs": len(times), "times_ms": times,
    }  # fmt: skip


@dataclass(frozen=True)
class LatencyParams(TaskParams):
    # The encoder's input is the model's (Capabilities.encoder_input_size: 1024 for SAM's, 512 for EfficientViT-SAM's
    # L models), recorded with each run's timings (`encoder_input_shape`).
    batch: int = 1
    warmup: int = 2
    runs: int = 10
    decoder_runs: int = 100  # 10 x runs: a decoder call is short
    dtype: str = "float32"
    export: str | None = None  # "onnx" or "coreml"
    export_dir: str | None = None
    coreml_precision: str | None = None  # with export "coreml"


class LatencyTask(Task):
    name = "latency"
    description = "image encoder and mask decoder latency, 1024x1024, batch 1"
    timing_table = True
    samples_name = "measurements"
    deterministic = False
    demo_args = ("--runs", "3", "--warmup", "1")
    columns = (
        Column("encoder_ms", "Image encoder", SECTION, higher_is_better=False, unit="ms"),
        Column("decoder_ms", "Mask decoder", SECTION, higher_is_better=False, unit="ms"),
    )  # fmt: skip
    params_type = LatencyParams

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("latency")
        group.add_argument("--warmup", type=int, default=2, help="untimed runs before timing (default 2)")
        group.add_argument("--runs", type=int, default=10, help="timed runs of the encoder; the decoder gets 10x (default 10)")
        group.add_argument("--export", choices=["onnx", "coreml"],
                           help="also export the encoder and decoder: onnx (checked with onnxruntime) or coreml "
                                "(Core ML packages as RepViT-SAM's scripts make them; needs the coreml extra)")  # fmt: skip
        group.add_argument("--coreml-precision", choices=COREML_PRECISIONS,
                           help="compute precision of the Core ML packages (default fp16, as RepViT-SAM's scripts)")

    @classmethod
    def params_from_args(cls, args: argparse.Namespace) -> LatencyParams:
        if args.coreml_precision is not None and args.export != "coreml":
            raise UsageError("--coreml-precision is used only with --export coreml")
        if args.export == "coreml" and (args.backend != "eager" or args.precision != "fp32"):
            raise UsageError("--export coreml converts the PyTorch network itself, whose Core ML precision is "
                             "--coreml-precision: drop --backend / --precision")  # fmt: skip
        return LatencyParams(
            warmup=args.warmup, runs=args.runs, decoder_runs=10 * args.runs, export=args.export,
            export_dir=str(Path(args.out) / "latency" / args.export) if args.export else None,
            coreml_precision=(args.coreml_precision or COREML_PRECISIONS[0]) if args.export == "coreml" else None,
        )

    def requirements(self, data_root: Path) -> list[Requirement]:
        if self.params.export != "coreml":
            return []
        installed = lambda: importlib.util.find_spec("coremltools") is not None  # noqa: E731
        return [Requirement("coremltools (--export coreml)", None, "pip install -e '.[coreml]'", present=installed)]

    def load_dataset(self, data_root: Path) -> Dataset:
        samples = [Sample("image_encoder"), Sample("mask_decoder")]
        return Dataset(name="synthetic input at the encoder's size", split="-", root=None, samples=samples)

    def predict(self, model: PromptModel, sample: Sample, inputs: None) -> dict:
        import torch

        warmup, runs = self.params.warmup, self.params.runs
        with torch.inference_mode():
            if sample.id == "image_encoder":
                image, encoder = model.encoder_example(), model.encoder
                times = time_call(lambda: encoder(image), model.device, warmup, runs)
                prediction = {**summarize_times(times), "encoder_input_shape": list(image.shape)}
                if self.params.export:
                    prediction[self.params.export] = self.export(model)
                return prediction
            return summarize_times(time_call(model.decode_once(), model.device, warmup, self.params.decoder_runs))

    def export(self, model: PromptModel) -> dict:
        """The encoder and decoder written to <export_dir>/<model>/, and what was checked of them."""
        export_dir = Path(self.params.export_dir) / model.provenance.get("model", "model")
        if self.params.export == "coreml":
            from models.coreml_export import export_and_check

            return export_and_check(model, export_dir, self.params.coreml_precision)
        from models.onnx_export import export_and_check

        return export_and_check(model, export_dir)

    def evaluator(self) -> Evaluator:
        from .evaluator import LatencyEvaluator

        return LatencyEvaluator()
