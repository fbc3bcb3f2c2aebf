"""Grounding DINO's raw outputs for one caption, as SAA+ reads them: the MVTec-specific part of the detector.

SAA+ (caoyunkang/Segment-Any-Anomaly@SAA-plus, SAA/model.py) runs the original GroundingDINO code with the
Swin-T OGC checkpoint (groundingdino_swint_ogc.pth); its `transformers` conversion is IDEA-Research/grounding-dino-tiny,
loaded from a local folder (no hub access at run time) by the shared wrapper evals/detectors/grounding_dino.py,
which also gives the image preprocessing GroundingDINO uses (``T.RandomResize([800], max_size=1333)``, PIL
bilinear, ToTensor, ImageNet Normalize). The wrapper's `detect` is SegInW's closed-set top-k selection; SAA+ instead
reads, per caption and per query box, the probability of every caption token (``get_grounding_output``), so this
module runs the model itself: one caption per forward pass, like SAA+.

    hf download IDEA-Research/grounding-dino-tiny --local-dir weights/grounding-dino-tiny
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..detectors.grounding_dino import DetectorWeightsError, GroundingDinoDetector, preprocess_image
from ..detectors.weights import has_weights
from .protocol import DETECTOR_HUB_MODEL as HUB_MODEL

UNTRAINED_MARKER = "UNTRAINED"  # a file in a detector folder written by untrained_detector.py


@dataclass
class GroundingResult:
    caption: str  # as the model read it (lower-cased, stripped, ending in '.')
    input_ids: list[int]  # the caption's tokens, [CLS] ... [SEP]
    boxes: torch.Tensor  # Q x 4 float32: cx, cy, w, h, normalised to the image
    probabilities: torch.Tensor  # Q x T float32: sigmoid of the logits over the caption's T tokens


def normalise_caption(caption: str) -> str:
    """SAA/model.py get_grounding_output: lower-case, strip, end with '.'."""
    caption = caption.lower().strip()
    return caption if caption.endswith(".") else caption + "."


class CaptionGrounding:
    """A Grounding DINO model answering one caption at a time with all its query boxes and token probabilities."""

    def __init__(self, detector: GroundingDinoDetector):
        self.detector = detector
        self.provenance = {**detector.provenance, "expected": f"{HUB_MODEL} (Swin-T OGC, SAA+'s checkpoint)"}

    @classmethod
    def from_folder(cls, folder: str | Path, device: str = "cpu") -> CaptionGrounding:
        """The shared loader (a missing folder is an error naming what to download), plus whether the folder holds
        untrained weights (untrained_detector.py marks them)."""
        folder = Path(folder)
        if not has_weights(folder):
            raise DetectorWeightsError(
                f"no Grounding DINO weights in {folder} (a transformers folder: config.json, model.safetensors, "
                f"tokenizer and processor files). SAA+ uses Grounding DINO Swin-T OGC (groundingdino_swint_ogc.pth), "
                f"converted for transformers as {HUB_MODEL}; download it once, e.g.\n"
                f"    hf download {HUB_MODEL} --local-dir {folder}\n"
                "or pass --mvtec-detector DIR."
            )
        detector = GroundingDinoDetector.load(folder, device)
        grounding = cls(detector)
        grounding.provenance["trained"] = not (folder / UNTRAINED_MARKER).exists()
        return grounding

    @property
    def device(self) -> torch.device:
        return self.detector.device

    def prepare(self, rgb: np.ndarray) -> torch.Tensor:
        """1 x 3 x h x w: the shared GroundingDINO preprocessing of an RGB array."""
        return preprocess_image(Image.fromarray(rgb))

    @torch.inference_mode()
    def detect(self, pixel_values: torch.Tensor, caption: str) -> GroundingResult:
        """Every query's box and token probabilities for `caption` on a prepared image."""
        caption = normalise_caption(caption)
        tokens = self.detector.tokenizer([caption], padding="longest", return_tensors="pt")
        pixel_values = pixel_values.to(self.device)
        keys = ("input_ids", "token_type_ids", "attention_mask")
        inputs = {k: tokens[k].to(self.device) for k in keys if k in tokens}
        outputs = self.detector.model(
            pixel_values=pixel_values,
            pixel_mask=torch.ones((1, *pixel_values.shape[-2:]), dtype=torch.long, device=self.device),
            **inputs,
        )
        input_ids = tokens["input_ids"][0].tolist()
        # SAA/model.py get_grounding_output: ``outputs["pred_logits"].sigmoid()`` over all 256 text positions, then
        # read per caption token: the sigmoid of the contiguous rows, as there (that of a column slice can differ
        # by a float32 ulp: torch's vectorised and scalar paths; tests/test_protocol_parity_mvtec.py)
        probabilities = outputs.logits[0].float().sigmoid()[:, : len(input_ids)].cpu()
        return GroundingResult(caption, input_ids, outputs.pred_boxes[0].float().cpu(), probabilities)

    def decode(self, token_ids: list[int]) -> str:
        """A phrase as GroundingDINO's get_phrases_from_posmap makes it: ``tokenizer.decode`` of the token ids."""
        return self.detector.tokenizer.decode(token_ids)
