"""`--task latency` metric: the two parts' timings (and export checks) as the run's numbers."""
from __future__ import annotations

from ..base import Evaluator, Sample


class LatencyEvaluator(Evaluator):
    def reset(self) -> None:
        self.parts: dict[str, dict] = {}

    def process(self, sample: Sample, prediction: dict) -> None:
        self.parts[sample.id] = prediction

    def evaluate(self) -> dict:
        encoder, decoder = self.parts["image_encoder"], self.parts["mask_decoder"]
        metrics = {"encoder_ms": encoder["median_ms"], "decoder_ms": decoder["median_ms"],
                   "encoder": encoder, "decoder": decoder}  # fmt: skip
        for export in ("onnx", "coreml"):
            if export in encoder:
                metrics[export] = encoder[export]
        return metrics
