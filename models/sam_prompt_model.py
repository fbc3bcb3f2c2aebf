"""`PromptModel` over the official `SamPredictor` protocol, for every family whose network is a segment_anything
`Sam` (SAM, MobileSAM, RepViT-SAM, ...) or whose official predictor keeps SamPredictor's interface.

The official predictor does the preprocessing (resize of the longest side, normalisation, padding), the coordinate
transforms and the postprocessing; this class only batches prompts through `predict_torch`, scaled to the input
frame as the official predictor's callers scale them (`to_input_frame`). A family whose official predictor is another
class with the same methods passes it as `predictor_class` (and its generator as `generator_class`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from segment_anything import SamPredictor
from segment_anything.modeling import Sam

from .fast_amg import FastSamAutomaticMaskGenerator
from .prompt_model import MaskPrediction, PromptModel, check_image
from .registry import ModelVariant


def to_input_frame(transform, values: np.ndarray | torch.Tensor, original_size: tuple[int, int],
                   device: torch.device, boxes: bool) -> torch.Tensor:  # fmt: skip
    """Point coordinates (..., 2) or boxes (B x 4) in pixels of the original image -> float32 in the encoder's input
    frame, by a SamPredictor-style `transform` (`apply_coords` / `apply_boxes` and their `_torch` forms), in the
    precision of the official path the prompts' type names: a numpy array as `SamPredictor.predict` scales it
    (`apply_*` in float64, then float32), a torch tensor as the callers of `predict_torch` do (`apply_*_torch`, in
    float32). The two round differently in the last float32 bit, which can flip a mask pixel: each task passes the
    type its reference script passes."""
    if isinstance(values, torch.Tensor):
        scale = transform.apply_boxes_torch if boxes else transform.apply_coords_torch
        return scale(values.to(device), original_size)
    scale = transform.apply_boxes if boxes else transform.apply_coords
    return torch.as_tensor(scale(np.asarray(values), original_size), dtype=torch.float, device=device)


class SamPromptModel(PromptModel):
    predictor_class: type = SamPredictor
    # SAM's generator, same records with less work (models/fast_amg.py); a family with its own sets its own
    generator_class: type = FastSamAutomaticMaskGenerator

    def __init__(self, sam: Sam, variant: ModelVariant | None, provenance: dict):
        super().__init__(sam, variant, provenance)
        self.predictor = self.predictor_class(sam)

    def encoder_example(self, seed: int = 0) -> torch.Tensor:
        size = self.network.image_encoder.img_size
        return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed)).to(self.device)

    def decode_once(self) -> Callable[[], object]:
        sam, device = self.network, self.device
        gen = torch.Generator().manual_seed(0)
        embedding_size = sam.prompt_encoder.image_embedding_size
        embedding = torch.randn(1, sam.prompt_encoder.embed_dim, *embedding_size, generator=gen).to(device)
        input_size = sam.prompt_encoder.input_image_size
        point = torch.tensor([[[0.5 * input_size[1], 0.375 * input_size[0]]]], device=device)
        points = (point, torch.ones(1, 1, dtype=torch.int, device=device))
        dense_pe = sam.prompt_encoder.get_dense_pe()

        def decode():
            sparse, dense = sam.prompt_encoder(points=points, boxes=None, masks=None)
            return sam.mask_decoder(embedding, dense_pe, sparse, dense, multimask_output=True)

        return decode

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> None:
        check_image(image)
        self.predictor.set_image(image, image_format="RGB")

    @torch.inference_mode()
    def set_resized_image(self, image: torch.Tensor, original_size: tuple[int, int]) -> None:
        """`set_image` for an image its caller resized: 1 x 3 x h x w float RGB (0..255), longest side the encoder's
        input size, from an image of `original_size` (H, W). For protocols whose reference resizes with its own
        operation (EdgeSAM's evaluation: torch's antialiased bilinear interpolation of the float image, where
        SamPredictor resizes the uint8 image with PIL); normalisation and padding are the model's, as in set_image."""
        self.predictor.set_torch_image(image.to(self.device), tuple(original_size))

    @property
    def image_size(self) -> tuple[int, int]:
        return self.predictor.original_size

    def embedding(self) -> torch.Tensor:
        return self.predictor.features

    @torch.inference_mode()
    def predict(
        self,
        point_coords: np.ndarray | torch.Tensor | None = None,
        point_labels: np.ndarray | torch.Tensor | None = None,
        boxes: np.ndarray | torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
        input_frame: bool = False,
    ) -> MaskPrediction:
        """PromptModel.predict (numpy prompts scaled as `SamPredictor.predict` scales them, torch prompts as
        `apply_*_torch`: `to_input_frame`); `input_frame`: point_coords and boxes are already in the encoder's input
        frame (the resized image, before padding), as the prompt encoder takes them, and are not transformed (for
        protocols that sample prompts in that frame: a round trip through original coordinates is not exact in
        float32)."""
        transform, device = self.predictor.transform, self.device
        size = self.predictor.original_size

        def frame(values, boxes: bool) -> torch.Tensor:
            if input_frame:
                return torch.as_tensor(values, dtype=torch.float, device=device)
            return to_input_frame(transform, values, size, device, boxes)

        coords = labels = box = None
        if point_coords is not None:
            coords = frame(point_coords, boxes=False)
            labels = torch.as_tensor(point_labels, dtype=torch.int, device=device)
        if boxes is not None:
            box = frame(boxes, boxes=True)
        if mask_input is not None:
            mask_input = mask_input.to(device)
        logits, iou, low_res = self.predictor.predict_torch(
            coords, labels, box, mask_input, multimask_output=multimask_output, return_logits=True
        )
        return MaskPrediction(logits=logits, iou=iou, low_res=low_res)

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        check_image(image)
        return self.generator_class(self.network, **params).generate(image)
