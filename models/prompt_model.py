"""The one model interface every task drives: embed an image once, then answer any number of prompts on it.

`PromptModel` is abstract: each model family gives an implementation (models/families/), most of them
`SamPromptModel` (models/sam_prompt_model.py), which drives the official `SamPredictor` protocol. Tasks never touch
a family's network; latency and the encoder backends reach it through `encoder`, `encoder_example` and
`decode_once`. Coordinates are (x, y) pixels of the original image throughout.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch
from torch import nn

from .capabilities import Capabilities


class Described(Protocol):
    """What a model knows of its registry entry (models.registry.ModelVariant): its name and what it can answer."""

    name: str
    capabilities: Capabilities


@dataclass
class MaskPrediction:
    """Decoder outputs for B prompts with C masks each (C = capabilities.multimask_outputs with multimask output,
    else 1)."""

    logits: torch.Tensor  # B x C x H x W, at the original image resolution; mask = logits > 0
    iou: torch.Tensor  # B x C, the decoder's predicted IoU
    low_res: torch.Tensor  # B x C x h x w (SAM: 256 x 256), logits to feed back as `mask_input`


def check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got shape {image.shape} dtype {image.dtype}")


class PromptModel(ABC):
    """A SAM-family model behind the prompt interface.

    Subclasses implement `set_image`, `image_size`, `embedding`, `predict`, `generate`, `encoder_example` and
    `decode_once`. This base class holds the network, the variant's capabilities and provenance, and the image
    encoder (`encoder`: the network's `image_encoder`, which the backends replace; a family whose encoder sits
    elsewhere overrides the property), and times it (the results record its share of the run time).
    """

    def __init__(self, network: nn.Module | None, variant: Described | None, provenance: dict,
                 capabilities: Capabilities | None = None):  # fmt: skip
        self.network = network
        self.variant = variant
        self.provenance = provenance
        self.capabilities = capabilities or (variant.capabilities if variant is not None else Capabilities())
        self.encoder_seconds = 0.0  # time spent in the image encoder, whichever path called it (predictor or AMG)
        self.encoder_calls = 0
        self._timing_hooks: list = []
        self.time_encoder()

    # ------------------------------------------------------------------------------------------ the image encoder

    @property
    def encoder(self) -> nn.Module:
        """The image encoder as inference runs it (input: `encoder_example()`'s shape)."""
        return self.network.image_encoder

    @encoder.setter
    def encoder(self, module: nn.Module) -> None:
        self.network.image_encoder = module
        self.time_encoder()

    @property
    def device(self) -> torch.device:
        return self.network.device

    def time_encoder(self) -> None:
        """Count the encoder's calls and time: hooks on the current encoder only (a wrapper that replaced it, e.g. a
        backend, is timed once, not again through the module it wraps)."""
        for hook in self._timing_hooks:
            hook.remove()
        module = self.encoder
        self._timing_hooks = [module.register_forward_pre_hook(self._encoder_started),
                              module.register_forward_hook(self._encoder_finished)]  # fmt: skip

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

    @abstractmethod
    def encoder_example(self, seed: int = 0) -> torch.Tensor:
        """A random preprocessed image batch of one, as the encoder takes it (1 x 3 x S x S), on the model's device."""

    @abstractmethod
    def decode_once(self) -> Callable[[], object]:
        """A call of the prompt encoder and mask decoder for one point prompt with multimask output on a fixed
        random embedding, without the upscaling to image size: the paper's mask-decoder latency."""

    # ------------------------------------------------------------------------------------------------ the prompts

    @abstractmethod
    def set_image(self, image: np.ndarray) -> None:
        """Compute the embedding of `image` (H x W x 3 uint8 RGB) once; every `predict` until the next call reuses it."""

    @property
    @abstractmethod
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the image set last."""

    @abstractmethod
    def embedding(self) -> torch.Tensor:
        """The image embedding of the image set last, as the decoder reads it (SAM: 1 x 256 x 64 x 64)."""

    @abstractmethod
    def predict(
        self,
        point_coords: np.ndarray | torch.Tensor | None = None,
        point_labels: np.ndarray | torch.Tensor | None = None,
        boxes: np.ndarray | torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
    ) -> MaskPrediction:
        """Decode B prompts at once on the current embedding.

        point_coords: B x N x 2 (x, y); point_labels: B x N (1 foreground, 0 background, -1 padding);
        boxes: B x 4 (x0, y0, x1, y1); mask_input: B x 1 x h x w low-res logits from an earlier prediction.
        Coordinates are scaled to the model's input as the family's official predictor scales them; where it has two
        paths (SamPredictor-style predictors), a numpy array takes `predict`'s (float64, then float32) and a torch
        tensor `predict_torch`'s callers' (`apply_*_torch`, float32): a task passes the type its reference passes.
        """

    @abstractmethod
    def generate(self, image: np.ndarray, **params) -> list[dict]:
        """Automatic masks of `image` by the family's automatic mask generator (its own where the official code has
        one, else SAM's), in SamAutomaticMaskGenerator's record format (segmentation, area, bbox, predicted_iou,
        point_coords, stability_score, crop_box). `params` are SamAutomaticMaskGenerator's keyword arguments
        (evals/protocols/amg.py holds their defaults): the protocols that use automatic masks set them."""

    def video_predictor(self):
        """The family's own video predictor, sharing this model's weights and image encoder (SAM 2's
        `SAM2VideoPredictor`); only where `capabilities.video_propagation` (the tasks check it before any work)."""
        raise NotImplementedError(f"{type(self).__name__} has no video predictor (capabilities.video_propagation)")
