"""The part of a task that COCO and SegInW share: a sample is an image with its box prompts (`PromptedImage`), read
ahead, segmented one mask per box (protocol.py), and scored and drawn alike in the report (examples.py)."""
from __future__ import annotations

import numpy as np

from models.prompt_model import PromptModel

from ..base import Sample, Task
from . import examples
from .dataset import read_rgb
from .protocol import segment_image


class BoxPromptedTask(Task):
    """A Task whose `params` hold `mask_selection` and `box_batch` (options.decoding_params)."""

    def load_inputs(self, sample: Sample) -> np.ndarray | None:
        return read_rgb(sample.data.image) if sample.data.prompts else None  # an image without prompts is skipped

    def predict(self, model: PromptModel, sample: Sample, image: np.ndarray | None) -> dict:
        params = self.params
        prompts = sample.data.prompts
        return {"detections": segment_image(model, image, prompts, params["mask_selection"], params["box_batch"])}

    def example_score(self, sample: Sample, prediction: dict) -> float | None:
        """Mean best mask IoU of the image's objects (examples.py); None without ground truth."""
        return examples.best_iou_recall(sample.data.image, prediction["detections"])

    def draw_example(self, sample: Sample, prediction: dict) -> dict:
        return examples.draw(sample.data, prediction["detections"])
