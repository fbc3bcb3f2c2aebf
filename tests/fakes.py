"""Small, fast stand-ins for the tests: a real SAM decoder behind a trivial image encoder, and a toy task."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from evals.base import Column, Dataset, Evaluator, Sample, Task
from evals.params import TaskParams, evaluation_only
from models.sam_assembly import assemble_sam
from models.sam_prompt_model import SamPromptModel


class PoolingEncoder(nn.Module):
    """1024x1024 image -> 256x64x64 embedding by 16x16 average pooling and a 1x1 conv: milliseconds on CPU."""

    img_size = 1024

    def __init__(self):
        super().__init__()
        self.project = nn.Conv2d(3, 256, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(nn.functional.avg_pool2d(x, 16))


def toy_prompt_model(seed: int = 0) -> SamPromptModel:
    torch.manual_seed(seed)
    provenance = {"model": "toy", "display": "Toy", "trained": False, "checkpoint_sha256": None,
                  "fused": False, "backend": "eager"}  # fmt: skip
    return SamPromptModel(assemble_sam(PoolingEncoder()), None, provenance)


def disk_image(index: int, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic image with one bright disk and its ground-truth mask; varies with `index`."""
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[:size, :size]
    cy, cx, r = rng.integers(30, size - 30), rng.integers(30, size - 30), rng.integers(10, 25)
    mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    image = np.where(mask[..., None], 220, 30).astype(np.uint8).repeat(3, axis=2)
    return image, mask


@dataclass(frozen=True)
class ToyParams(TaskParams):
    points: int = 1
    threshold: float = evaluation_only(0.5)  # scoring only: for the engine's fingerprint tests


class ToyTask(Task):
    """A point prompt at each disk's centre; metric: mean IoU of the best predicted mask. For engine tests."""

    name = "toy"
    description = "toy disks"
    columns = (Column("miou", "mIoU", "Toy"),)
    params_type = ToyParams

    def __init__(self, params=None, num_samples: int = 6, fail_after: int | None = None, failure=KeyboardInterrupt,
                 note: str = "a point prompt at each disk's centre"):
        super().__init__(params)
        self.note = note  # prose about the protocol: recorded, never fingerprinted
        self.num_samples = num_samples
        self.fail_after = fail_after  # raise `failure` after this many predictions: a killed run
        self.failure = failure
        self.predictions_made = 0

    def protocol_notes(self) -> dict[str, str]:
        return {"prompts": self.note}

    def load_dataset(self, data_root: Path) -> Dataset:
        samples = [Sample(f"disk_{i:03d}", i) for i in range(self.num_samples)]
        return Dataset(name="toy disks", split="test", root=None, samples=samples)

    def load_inputs(self, sample: Sample) -> tuple[np.ndarray, np.ndarray]:
        return disk_image(sample.data)

    def predict(self, model: SamPromptModel, sample: Sample, inputs: tuple[np.ndarray, np.ndarray]) -> dict:
        if self.fail_after is not None and self.predictions_made >= self.fail_after:
            raise self.failure("simulated kill")
        self.predictions_made += 1
        image, mask = inputs
        model.set_image(image)
        ys, xs = np.nonzero(mask)
        out = model.predict(point_coords=np.array([[[xs.mean(), ys.mean()]]]), point_labels=np.array([[1]]))
        best = int(out.iou[0].argmax())
        return {"mask": (out.logits[0, best] > 0).numpy(), "score": float(out.iou[0, best])}

    def evaluator(self) -> Evaluator:
        return ToyEvaluator()


class ToyEvaluator(Evaluator):
    def reset(self) -> None:
        self.ious: list[float] = []

    def process(self, sample: Sample, prediction: dict) -> None:
        _, gt = disk_image(sample.data)
        union = np.logical_or(prediction["mask"], gt).sum()
        self.ious.append(float(np.logical_and(prediction["mask"], gt).sum() / union) if union else 1.0)

    def evaluate(self) -> dict:
        return {"miou": 100 * float(np.mean(self.ious)), "num_images": len(self.ious)}
