"""EfficientViT-SAM (Zhang et al., "EfficientViT-SAM: Accelerated Segment Anything Model Without Accuracy Loss",
arXiv 2402.05008): SAM's prompt encoder and mask decoder behind an EfficientViT image encoder.

Official code: mit-han-lab/efficientvit, commit de7d773 (not on PyPI). What reproduces what:
- the network: models/efficientvit.py (our implementation, official keys) of `efficientvit/models/efficientvit/
  backbone.py` (`EfficientViTLargeBackbone`), `efficientvit/models/nn/`, and `efficientvit/models/efficientvit/sam.py`
  (`SamNeck`, `EfficientViTSamImageEncoder`, `EfficientViTSam`, `efficientvit_sam_l0` ... `efficientvit_sam_xl1`),
  built as `efficientvit/sam_model_zoo.py::create_efficientvit_sam_model` does (norm eps 1e-6 everywhere); the prompt
  encoder and mask decoder are the segment_anything package's, as the official code imports them;
- the predictor: `EfficientViTSamPredictor` below, ours, of the official `EfficientViTSamPredictor` (sam.py);
- the automatic mask generator: `EfficientViTSamAutomaticMaskGenerator` below, as the official one: segment_anything's
  `SamAutomaticMaskGenerator` algorithm unchanged (same defaults, grids, filters, NMS, crops) over this predictor.
  What differs from SAM's therefore lies only in the predictor, next.

The predictor, and how it differs from SAM's `SamPredictor`:
- the image is resized (PIL bilinear, longest side; skipped when it already has that side) to the encoder's input
  side S, 512 for the L models and 1024 for the XL models, then scaled to 0..1, normalised with ImageNet mean / std
  (x/255 - mean/255) / (std/255) in float32 (SAM: (x - mean) / std on 0..255 values), and zero-padded bottom-right
  to S x S;
- prompts live in SAM's 1024 frame whatever S is: point and box coordinates are scaled by (1024-frame resized size)
  / (original size) per axis (numpy float64 for numpy prompts, then float32), and the masks are upsampled from
  256 x 256 to 1024 x 1024, cropped to the image's 1024-frame size and resized to the original size (bilinear). For
  an L model the encoder thus sees a 512-side image while the crop uses the 1024-frame size, exactly as official
  (e.g. 321 x 481 -> encoder 342 x 512, crop 683 x 1024);
- the embedding is 256 x 64 x 64 for every variant (the neck resizes to 64 x 64).

Checkpoints: https://huggingface.co/mit-han-lab/efficientvit-sam/resolve/main/efficientvit_sam_<variant>.pt (the
official README's links; the zoo expects them as assets/checkpoints/efficientvit_sam/efficientvit_sam_<variant>.pt).
The official loader (`load_state_dict_from_file`) takes the state dict under "state_dict" when the file has that key,
else the file itself: `state_dict_key="state_dict"` does the same.

Signatures: the layouts nest (L0's keys are a subset of L1's, L1's of L2's, XL0's of XL1's, same shapes), so no key
of a smaller variant is absent from the larger ones; each signature is the last block of the variant's neck, which a
smaller variant lacks. A larger checkpoint named as a smaller variant is still refused by the strict key check.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.utils.transforms import ResizeLongestSide
from torch.nn import functional as F

from ..efficientvit import EfficientViTLargeBackbone, EfficientViTSam, SamNeck, build_efficientvit_sam
from ..prompt_model import MaskPrediction, PromptModel, check_image
from ..capabilities import Capabilities
from ..registry import ModelFamily, ModelVariant
from ..sam_assembly import PIXEL_MEAN, PIXEL_STD
from ..sam_prompt_model import to_input_frame

# ----------------------------------------------------------------------------------------------------- the predictor


class EfficientViTSamPredictor:
    """The official `EfficientViTSamPredictor`'s protocol: `set_image`, then `predict_torch` with prompts already
    in the 1024 frame (`apply_coords` / `apply_boxes`, numpy or torch). It is its own `transform`, as the official
    one is, so SamAutomaticMaskGenerator drives it unchanged."""

    def __init__(self, model: EfficientViTSam) -> None:
        self.model = model
        prompt_side, encoder_side = model.image_size
        self.prompt_side, self.encoder_side = prompt_side, encoder_side
        self.resize = ResizeLongestSide(encoder_side)  # PIL bilinear to the longest side, as the official SamResize
        # ToTensor + Normalize(mean / 255, std / 255): float32 statistics from the float64 quotients.
        self.mean = torch.tensor([m / 255 for m in PIXEL_MEAN], dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor([s / 255 for s in PIXEL_STD], dtype=torch.float32).view(3, 1, 1)
        self.reset_image()

    @property
    def transform(self) -> EfficientViTSamPredictor:
        return self

    @property
    def device(self) -> torch.device:
        return self.model.device

    def reset_image(self) -> None:
        self.is_image_set = False
        self.features = None
        self.original_size = None
        self.input_size = None

    # ----------------------------------------------------------------- prompts: original pixels -> the 1024 frame

    def _scales(self) -> tuple[float, float]:
        (old_h, old_w), (new_h, new_w) = self.original_size, self.input_size
        return new_w / old_w, new_h / old_h

    def apply_coords(self, coords: np.ndarray, im_size=None) -> np.ndarray:
        """(x, y) pixels of the image set last -> the 1024 frame, in float64 (`im_size` is ignored, as official)."""
        sx, sy = self._scales()
        coords = np.array(coords, dtype=float)
        coords[..., 0] = coords[..., 0] * sx
        coords[..., 1] = coords[..., 1] * sy
        return coords

    def apply_boxes(self, boxes: np.ndarray, im_size=None) -> np.ndarray:
        return self.apply_coords(np.asarray(boxes).reshape(-1, 2, 2)).reshape(-1, 4)

    def apply_coords_torch(self, coords: torch.Tensor, im_size=None) -> torch.Tensor:
        sx, sy = self._scales()
        coords = coords.detach().clone().to(torch.float)
        coords[..., 0] = coords[..., 0] * sx
        coords[..., 1] = coords[..., 1] * sy
        return coords

    def apply_boxes_torch(self, boxes: torch.Tensor, im_size=None) -> torch.Tensor:
        return self.apply_coords_torch(boxes.reshape(-1, 2, 2)).reshape(-1, 4)

    # --------------------------------------------------------------------------------------------------- the image

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """H x W x 3 uint8 RGB -> 1 x 3 x S x S: resize, 0..1, normalise, zero-pad bottom-right (module docstring)."""
        if max(image.shape[:2]) != self.encoder_side:
            image = self.resize.apply_image(image)
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).to(torch.float32).div(255)
        x = (x - self.mean) / self.std
        h, w = x.shape[-2:]
        x = F.pad(x, (0, self.encoder_side - w, 0, self.encoder_side - h), value=0.0)
        return x.unsqueeze(0)

    @torch.inference_mode()
    def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
        if image_format not in ("RGB", "BGR"):
            raise ValueError(f"image_format must be 'RGB' or 'BGR', got {image_format!r}")
        if image_format != self.model.image_format:
            image = image[..., ::-1]
        self.reset_image()
        self.original_size = tuple(image.shape[:2])
        self.input_size = ResizeLongestSide.get_preprocess_shape(*self.original_size, long_side_length=self.prompt_side)
        self.features = self.model.image_encoder(self.preprocess(image).to(self.device))
        self.is_image_set = True

    # ------------------------------------------------------------------------------------------------- the masks

    @torch.inference_mode()
    def predict_torch(
        self,
        point_coords: torch.Tensor | None = None,
        point_labels: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Prompts in the 1024 frame, batched (B x N x 2, B x N, B x 4, B x 1 x 256 x 256) -> masks (logits with
        `return_logits`) at the original size B x C x H x W, predicted IoU B x C, low-res logits B x C x 256 x 256."""
        if not self.is_image_set:
            raise RuntimeError("an image must be set with set_image(...) before mask prediction")
        points = (point_coords, point_labels) if point_coords is not None else None
        model = self.model
        sparse, dense = model.prompt_encoder(points=points, boxes=boxes, masks=mask_input)
        low_res, iou = model.mask_decoder(
            image_embeddings=self.features,
            image_pe=model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
        )
        masks = model.postprocess_masks(low_res, self.input_size, self.original_size)
        if not return_logits:
            masks = masks > model.mask_threshold
        return masks, iou, low_res


class EfficientViTSamAutomaticMaskGenerator(SamAutomaticMaskGenerator):
    """The official generator: SamAutomaticMaskGenerator's algorithm and arguments over EfficientViTSamPredictor."""

    def __init__(self, model: EfficientViTSam, **params) -> None:
        super().__init__(model, **params)  # validates and stores the arguments; its SamPredictor is replaced:
        self.predictor = EfficientViTSamPredictor(model)


# -------------------------------------------------------------------------------------------------- the interface


class EfficientViTSamPromptModel(PromptModel):
    """`PromptModel` over EfficientViTSamPredictor; `predict` scales numpy prompts as the official `predict` does
    (float64, then float32) and torch prompts by `apply_*_torch` (float32): `to_input_frame`."""

    def __init__(self, network: EfficientViTSam, variant: ModelVariant | None, provenance: dict):
        super().__init__(network, variant, provenance)
        self.predictor = EfficientViTSamPredictor(network)

    def encoder_example(self, seed: int = 0) -> torch.Tensor:
        side = self.network.image_size[1]
        return torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(seed)).to(self.device)

    def decode_once(self) -> Callable[[], object]:
        network, device = self.network, self.device
        prompt_encoder, mask_decoder = network.prompt_encoder, network.mask_decoder
        gen = torch.Generator().manual_seed(0)
        embedding = torch.randn(1, prompt_encoder.embed_dim, *prompt_encoder.image_embedding_size, generator=gen)
        embedding = embedding.to(device)
        input_size = prompt_encoder.input_image_size
        point = torch.tensor([[[0.5 * input_size[1], 0.375 * input_size[0]]]], device=device)
        points = (point, torch.ones(1, 1, dtype=torch.int, device=device))
        dense_pe = prompt_encoder.get_dense_pe()

        def decode():
            sparse, dense = prompt_encoder(points=points, boxes=None, masks=None)
            return mask_decoder(embedding, dense_pe, sparse, dense, multimask_output=True)

        return decode

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> None:
        check_image(image)
        self.predictor.set_image(image, image_format="RGB")

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
    ) -> MaskPrediction:
        predictor, device = self.predictor, self.device
        coords = labels = box = None
        if point_coords is not None:
            coords = to_input_frame(predictor, point_coords, predictor.original_size, device, boxes=False)
            labels = torch.as_tensor(point_labels, dtype=torch.int, device=device)
        if boxes is not None:
            box = to_input_frame(predictor, boxes, predictor.original_size, device, boxes=True)
        if mask_input is not None:
            mask_input = torch.as_tensor(mask_input, dtype=torch.float, device=self.device)
        logits, iou, low_res = self.predictor.predict_torch(
            coords, labels, box, mask_input, multimask_output=multimask_output, return_logits=True
        )
        return MaskPrediction(logits=logits, iou=iou, low_res=low_res)

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        check_image(image)
        return EfficientViTSamAutomaticMaskGenerator(self.network, **params).generate(image)


# ------------------------------------------------------------------------------------------------------ the variants

FAMILY = ModelFamily("efficientvit_sam", official="mit-han-lab/efficientvit @ de7d773",
                     prompt_model=EfficientViTSamPromptModel)  # fmt: skip
URL = "https://huggingface.co/mit-han-lab/efficientvit-sam/resolve/main/"
L_CAPABILITIES = Capabilities(encoder_input_size=512)
XL_CAPABILITIES = Capabilities(encoder_input_size=1024)
L_WIDTHS = (32, 64, 128, 256, 512)
XL_WIDTHS = (32, 64, 128, 256, 512, 1024)
XL_BLOCKS = dict(block_list=("res", "fmb", "fmb", "fmb", "att@3", "att@3"), expand_list=(1, 4, 4, 4, 4, 6),
                 fewer_norm_list=(False, False, False, False, True, True))  # fmt: skip
NOTES = "EfficientViT-SAM's predictor and automatic mask generator (SAM's algorithm; {side}-px encoder input)"


def neck_signature(depth: int, expand_ratio: int) -> tuple[str, tuple[int, ...]]:
    """The last block of the neck: (its first convolution's key, shape)."""
    key = f"image_encoder.neck.middle.op_list.{depth - 1}.main.spatial_conv.conv.weight"
    return key, (256 * expand_ratio, 256, 3, 3)


def l_model(depth_list: tuple[int, ...], neck_depth: int) -> EfficientViTSam:
    """An L model: `efficientvit_backbone_l*` (default block kinds), neck on stages 4/3/2 with expansion 1, 512 px."""
    backbone = EfficientViTLargeBackbone(width_list=L_WIDTHS, depth_list=depth_list)
    neck = SamNeck(["stage4", "stage3", "stage2"], [512, 256, 128], head_width=256, head_depth=neck_depth,
                   expand_ratio=1, middle_op="fmb")  # fmt: skip
    return build_efficientvit_sam(backbone, neck, image_size=512)


def xl_model(depth_list: tuple[int, ...], neck_depth: int) -> EfficientViTSam:
    """An XL model: six stages (attention with 3x3 aggregation), neck on stages 5/4/3 with expansion 4, 1024 px."""
    backbone = EfficientViTLargeBackbone(width_list=XL_WIDTHS, depth_list=depth_list, **XL_BLOCKS)
    neck = SamNeck(["stage5", "stage4", "stage3"], [1024, 512, 256], head_width=256, head_depth=neck_depth,
                   expand_ratio=4, middle_op="fmb")  # fmt: skip
    return build_efficientvit_sam(backbone, neck, image_size=1024)


def _register(name: str, display: str, capabilities: Capabilities, signature: tuple) -> Callable:
    return FAMILY.register(name=name, display=display, checkpoint=f"{name}.pt", url=URL + f"{name}.pt",
                           signature=signature, capabilities=capabilities, state_dict_key="state_dict",
                           notes=NOTES.format(side=capabilities.encoder_input_size))  # fmt: skip


@_register("efficientvit_sam_l0", "EfficientViT-SAM-L0", L_CAPABILITIES, neck_signature(4, 1))
def efficientvit_sam_l0() -> EfficientViTSam:
    return l_model(depth_list=(1, 1, 1, 4, 4), neck_depth=4)


@_register("efficientvit_sam_l1", "EfficientViT-SAM-L1", L_CAPABILITIES, neck_signature(8, 1))
def efficientvit_sam_l1() -> EfficientViTSam:
    return l_model(depth_list=(1, 1, 1, 6, 6), neck_depth=8)


@_register("efficientvit_sam_l2", "EfficientViT-SAM-L2", L_CAPABILITIES, neck_signature(12, 1))
def efficientvit_sam_l2() -> EfficientViTSam:
    return l_model(depth_list=(1, 2, 2, 8, 8), neck_depth=12)


@_register("efficientvit_sam_xl0", "EfficientViT-SAM-XL0", XL_CAPABILITIES, neck_signature(6, 4))
def efficientvit_sam_xl0() -> EfficientViTSam:
    return xl_model(depth_list=(0, 1, 1, 2, 3, 3), neck_depth=6)


@_register("efficientvit_sam_xl1", "EfficientViT-SAM-XL1", XL_CAPABILITIES, neck_signature(12, 4))
def efficientvit_sam_xl1() -> EfficientViTSam:
    return xl_model(depth_list=(1, 2, 2, 4, 6, 6), neck_depth=12)
