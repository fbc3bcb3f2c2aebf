"""`PromptModel` over the official `SamPredictor` protocol, for every family whose network is a segment_anything
`Sam` (SAM, MobileSAM, RepViT-SAM, ...) or whose official predictor keeps SamPredictor's interface.

The official predictor does the preprocessing (resize of the longest side, normalisation, padding), the coordinate
transforms and the postprocessing; this class only batches prompts through `predict_torch`. A family whose official
predictor is another class with the same methods passes it as `predictor_class` (and its generator as
`generator_class`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator, SamPredictor
from segment_anything.modeling import Sam

from .prompt_model import MaskPrediction, PromptModel, check_image
from .registry import ModelVariant


class SamPromptModel(PromptModel):
    predictor_class: type = SamPredictor
    generator_class: type = SamAutomaticMaskGenerator

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
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        boxes: np.ndarray | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
        input_frame: bool = False,
    ) -> MaskPrediction:
        """PromptModel.predict; `input_frame`: point_coords and boxes are already in the encoder's input frame (the
        resized image, before padding), as the prompt encoder takes them, and are not transformed (for protocols
        that sample prompts in that frame: a round trip through original coordinates is not exact in float32)."""
        transform, device = self.predictor.transform, self.device
        size = self.predictor.original_size
        coords = labels = box = None
        if point_coords is not None:
            coords = torch.as_tensor(point_coords, dtype=torch.float, device=device)
            coords = coords if input_frame else transform.apply_coords_torch(coords, size)
            labels = torch.as_tensor(point_labels, dtype=torch.int, device=device)
        if boxes is not None:
            box = torch.as_tensor(boxes, dtype=torch.float, device=device)
            box = box if input_frame else transform.apply_boxes_torch(box, size)
        if mask_input is not None:
            mask_input = mask_input.to(device)
        logits, iou, low_res = self.predictor.predict_torch(
            coords, labels, box, mask_input, multimask_output=multimask_output, return_logits=True
        )
        return MaskPrediction(logits=logits, iou=iou, low_res=low_res)

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        check_image(image)
        return self.generator_class(self.network, **params).generate(image)
