"""The one model interface every task drives: embed an image once, then answer any number of prompts on it.

Wraps the official `segment_anything.SamPredictor` (preprocessing, coordinate transforms, postprocessing) and
`SamAutomaticMaskGenerator`. Tests drive the same methods with fakes, so a task never touches `Sam` directly.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator, SamPredictor
from segment_anything.modeling import Sam

# SamAutomaticMaskGenerator's own defaults (32x32 points, predicted IoU >= 0.88, stability >= 0.95, box NMS 0.7, no
# crops, ...), read from the official package so they cannot drift from it. The protocols that use the automatic
# mask generator (SAM-Not-Perfect's amg.py for salient objects, SAM-PT's vis_eval_root.yaml for UVO) keep them all.
AMG_DEFAULTS: dict = {
    name: parameter.default
    for name, parameter in inspect.signature(SamAutomaticMaskGenerator.__init__).parameters.items()
    if name not in ("self", "model")
}


@dataclass
class MaskPrediction:
    """Decoder outputs for B prompts with C masks each (C = 3 with multimask output, else 1)."""

    logits: torch.Tensor  # B x C x H x W, at the original image resolution; mask = logits > 0
    iou: torch.Tensor  # B x C, the decoder's predicted IoU
    low_res: torch.Tensor  # B x C x 256 x 256, logits to feed back as `mask_input`


class PromptModel:
    """A SAM-family model behind the prompt interface. Coordinates are (x, y) pixels of the original image."""

    def __init__(self, sam: Sam):
        self.sam = sam
        self.predictor = SamPredictor(sam)
        self.provenance: dict = getattr(sam, "provenance", {})
        self.encoder_seconds = 0.0  # time spent in the image encoder, whichever path called it (predictor or AMG)
        self.encoder_calls = 0
        sam.image_encoder.register_forward_pre_hook(self._encoder_started)
        sam.image_encoder.register_forward_hook(self._encoder_finished)

    def _encoder_started(self, module, inputs) -> None:
        self._synchronize()
        self._encoder_start = time.perf_counter()

    def _encoder_finished(self, module, inputs, output) -> None:
        self._synchronize()
        self.encoder_seconds += time.perf_counter() - self._encoder_start
        self.encoder_calls += 1

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @property
    def device(self) -> torch.device:
        return self.sam.device

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> None:
        """Compute the embedding of `image` (H x W x 3 uint8 RGB) once; every `predict` until the next call reuses it."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got shape {image.shape} dtype {image.dtype}")
        self.predictor.set_image(image, image_format="RGB")

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the image set last."""
        return self.predictor.original_size

    @torch.inference_mode()
    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        boxes: np.ndarray | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
    ) -> MaskPrediction:
        """Decode B prompts at once on the current embedding.

        point_coords: B x N x 2 (x, y); point_labels: B x N (1 foreground, 0 background, -1 padding);
        boxes: B x 4 (x0, y0, x1, y1); mask_input: B x 1 x 256 x 256 low-res logits from an earlier prediction.
        """
        transform, device = self.predictor.transform, self.device
        size = self.predictor.original_size
        coords = labels = box = None
        if point_coords is not None:
            coords = transform.apply_coords_torch(torch.as_tensor(point_coords, dtype=torch.float, device=device), size)
            labels = torch.as_tensor(point_labels, dtype=torch.int, device=device)
        if boxes is not None:
            box = transform.apply_boxes_torch(torch.as_tensor(boxes, dtype=torch.float, device=device), size)
        if mask_input is not None:
            mask_input = mask_input.to(device)
        logits, iou, low_res = self.predictor.predict_torch(
            coords, labels, box, mask_input, multimask_output=multimask_output, return_logits=True
        )
        return MaskPrediction(logits=logits, iou=iou, low_res=low_res)

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        """SAM's automatic mask generator on `image` with `params` (SamAutomaticMaskGenerator's arguments)."""
        return SamAutomaticMaskGenerator(self.sam, **params).generate(image)
