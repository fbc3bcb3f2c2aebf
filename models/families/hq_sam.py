"""HQ-SAM (Ke et al., "Segment Anything in High Quality", NeurIPS 2023): SAM with a High-Quality output token.

Official code: github.com/SysCV/sam-hq, commit fb181f8 (2025-06-30), package `segment_anything/`; it is published on
PyPI as `segment-anything-hq` 0.3 (import name `segment_anything_hq`), which this family uses as is: image encoders,
prompt encoder, HQ mask decoder, `SamPredictor` and `SamAutomaticMaskGenerator`. The package equals the repository's
code at that commit except `build_sam.py`, whose checkpoint loading adds `map_location` in the repository (not used
here: models/checkpoint.py reads checkpoints).

Pieces (official file -> what we use):
- `build_sam.py::_build_sam` (vit_b / vit_l / vit_h) and `build_sam_vit_t` (vit_tiny, "Light HQ-SAM"): the
  hyper-parameters of `build_hq_sam_vit` / `build_hq_sam_tiny` below; SAM's, plus the decoder's `vit_dim` (the
  encoder's width: 768 / 1024 / 1280, TinyViT's third stage 160).
- `modeling/image_encoder.py::ImageEncoderViT`: SAM's ViT, returning the embedding AND the list of the outputs of its
  global-attention blocks (B x 64 x 64 x width each); `modeling/tiny_vit_sam.py::TinyViT`: MobileSAM's TinyViT-5M,
  returning the embedding and the output of its second stage (B x 64 x 64 x 160).
- `modeling/mask_decoder_hq.py::MaskDecoderHQ`: SAM's decoder plus the HQ token, its MLP and the fusion of the early
  encoder feature (the first intermediate embedding) with the image embedding. With `multimask_output=True` it
  returns ONE mask per prompt (SAM's best of three by predicted IoU, with the HQ mask added or in its place), so
  `multimask_outputs=1`.
- `predictor.py::SamPredictor`, `automatic_mask_generator.py::SamAutomaticMaskGenerator`: SamPredictor's and SAM's
  generator's interface and algorithm, with `hq_token_only` passed to the decoder.

Preprocessing: SAM's (longest side resized to 1024, ImageNet mean / std in 0..255, zero padding to 1024 x 1024).

`hq_token_only` (an explicit setting of `HqSamPromptModel`, recorded in the provenance): False returns SAM's mask
logits plus the HQ token's, True the HQ token's alone. False is the default of the official `SamPredictor.predict` /
`predict_torch` and the value the official code names for its quantitative COCO (and video) evaluations (the comments
of demo/demo_hqsam.py and the help of scripts/export_onnx_model.py; seginw/test_ap_on_seginw.py, the one evaluation
script for box prompts in the repository, calls predict_torch with the default). True is what train/train.py trains
and scores on HQSeg-44K, and what the demos use for single-object images.

Checkpoints: plain state dicts, published at huggingface.co/lkeab/hq-sam (the README's alternative links; its main
links for vit_b / vit_l / vit_h are Google Drive files of the same names). The official builders load them with
`strict=False`; we load strictly. TinyViT caches its attention biases on `.eval()`: the official builder calls `.eval()`
before loading, so the official demo (`demo/demo_hqsam_light.py`) calls `sam.eval()` again after loading; so does
`HqSamPromptModel` (and `models.build_model`).

What differs from SAM (capabilities): one mask per multimask request; the encoder returns several outputs (only the
eager backend; the latency of the decoder includes the HQ fusion). Importing `segment_anything_hq` imports timm (not a
declared dependency of the package) and re-registers timm's `tiny_vit_*` model names with the official TinyViT.
"""
from __future__ import annotations

import warnings
from functools import partial
from typing import Callable

import numpy as np
import torch
from torch import nn

with warnings.catch_warnings():
    # segment_anything_hq.modeling.tiny_vit_sam imports timm's deprecated paths and re-registers timm's tiny_vit names.
    warnings.filterwarnings("ignore", message="Importing from timm", category=FutureWarning)
    warnings.filterwarnings("ignore", message="Overwriting tiny_vit_", category=UserWarning)
    import segment_anything_hq
    from segment_anything_hq.modeling import (
        ImageEncoderViT,
        MaskDecoderHQ,
        PromptEncoder,
        Sam,
        TinyViT,
        TwoWayTransformer,
    )

from ..prompt_model import check_image
from ..capabilities import Capabilities
from ..registry import ModelFamily, ModelVariant
from ..sam_assembly import EMBED_DIM, IMAGE_SIZE, PATCH_SIZE, PIXEL_MEAN, PIXEL_STD
from ..sam_prompt_model import SamPromptModel

OFFICIAL_COMMIT = "fb181f8eff6d0c01b47921ced472e8cdaa69a71d"
# The official predictor's default (SamPredictor.predict / predict_torch), also the official COCO-style evaluation's.
HQ_TOKEN_ONLY = False


class HqSamPredictor(segment_anything_hq.SamPredictor):
    """The official predictor whose `predict_torch` uses `self.hq_token_only` when a call does not pass it (our
    `predict` and the official generator's calls do not)."""

    def __init__(self, sam: Sam, hq_token_only: bool = HQ_TOKEN_ONLY):
        super().__init__(sam)
        self.hq_token_only = hq_token_only

    def predict_torch(self, *args, hq_token_only: bool | None = None, **kwargs):
        hq_token_only = self.hq_token_only if hq_token_only is None else hq_token_only
        return super().predict_torch(*args, hq_token_only=hq_token_only, **kwargs)


class HqSamPromptModel(SamPromptModel):
    """`SamPromptModel` over HQ-SAM's official predictor and automatic mask generator.

    hq_token_only: False (default, the official predictor's and COCO evaluation's) -> SAM's mask logits plus the HQ
        token's; True -> the HQ token's alone. Applies to `predict`, `generate` and `decode_once`; settable later
        (`model.hq_token_only = True`), recorded as `provenance["hq_token_only"]`.
    """

    predictor_class = HqSamPredictor
    generator_class = segment_anything_hq.SamAutomaticMaskGenerator

    def __init__(self, sam: Sam, variant: ModelVariant | None, provenance: dict, hq_token_only: bool = HQ_TOKEN_ONLY):
        sam.eval()  # TinyViT: attention biases cached from the loaded weights (see the module docstring)
        super().__init__(sam, variant, provenance)
        self.hq_token_only = hq_token_only

    @property
    def hq_token_only(self) -> bool:
        return self.predictor.hq_token_only

    @hq_token_only.setter
    def hq_token_only(self, value: bool) -> None:
        self.predictor.hq_token_only = bool(value)
        self.provenance["hq_token_only"] = bool(value)

    def interm_embeddings(self) -> list[torch.Tensor]:
        """The encoder's intermediate embeddings of the image set last (B x 64 x 64 x width each; the decoder reads
        the first)."""
        return self.predictor.interm_features

    def decode_once(self) -> Callable[[], object]:
        sam, device = self.network, self.device
        gen = torch.Generator().manual_seed(0)
        embedding_size = sam.prompt_encoder.image_embedding_size
        embedding = torch.randn(1, sam.prompt_encoder.embed_dim, *embedding_size, generator=gen).to(device)
        # The intermediate embedding the decoder reads (the encoder's first), B x 64 x 64 x width, random as the
        # embedding: the decoder's time does not depend on the values.
        width = sam.mask_decoder.compress_vit_feat[0].in_channels
        interm = [torch.randn(1, *embedding_size, width, generator=gen).to(device)]
        input_size = sam.prompt_encoder.input_image_size
        point = torch.tensor([[[0.5 * input_size[1], 0.375 * input_size[0]]]], device=device)
        points = (point, torch.ones(1, 1, dtype=torch.int, device=device))
        dense_pe = sam.prompt_encoder.get_dense_pe()
        hq_token_only = self.hq_token_only

        def decode():
            sparse, dense = sam.prompt_encoder(points=points, boxes=None, masks=None)
            return sam.mask_decoder(embedding, dense_pe, sparse, dense, multimask_output=True,
                                    hq_token_only=hq_token_only, interm_embeddings=interm)  # fmt: skip

        return decode

    def generate(self, image: np.ndarray, **params) -> list[dict]:
        check_image(image)
        generator = self.generator_class(self.network, **params)
        if self.hq_token_only != HQ_TOKEN_ONLY:
            # The official generator builds the official predictor, whose default is HQ_TOKEN_ONLY.
            generator.predictor = HqSamPredictor(self.network, hq_token_only=self.hq_token_only)
        return generator.generate(image)


FAMILY = ModelFamily("hq_sam", official=f"SysCV/sam-hq @ {OFFICIAL_COMMIT[:7]} (PyPI segment-anything-hq 0.3)",
                     prompt_model=HqSamPromptModel)  # fmt: skip
URL = "https://huggingface.co/lkeab/hq-sam/resolve/main/"
CAPABILITIES = Capabilities(multimask_outputs=1, encoder_returns_tensor=False)
NOTES = "HQ-SAM's predictor and automatic mask generator (segment-anything-hq); hq_token_only=False"


def assemble_hq_sam(image_encoder: nn.Module, vit_dim: int, image_size: int = IMAGE_SIZE) -> Sam:
    """A `segment_anything_hq.modeling.Sam` in eval mode: `image_encoder` (returning the embedding and the intermediate
    embeddings) with SAM's prompt encoder and the HQ mask decoder for an early feature of `vit_dim` channels."""
    embedding_size = image_size // PATCH_SIZE
    sam = Sam(
        image_encoder=image_encoder,
        prompt_encoder=PromptEncoder(
            embed_dim=EMBED_DIM,
            image_embedding_size=(embedding_size, embedding_size),
            input_image_size=(image_size, image_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoderHQ(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=EMBED_DIM, mlp_dim=2048, num_heads=8),
            transformer_dim=EMBED_DIM,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
            vit_dim=vit_dim,
        ),
        pixel_mean=PIXEL_MEAN,
        pixel_std=PIXEL_STD,
    )
    return sam.eval()


def build_hq_sam_vit(embed_dim: int, depth: int, num_heads: int, global_attn_indexes: tuple[int, ...],
                     image_size: int = IMAGE_SIZE) -> Sam:  # fmt: skip
    encoder = ImageEncoderViT(
        depth=depth,
        embed_dim=embed_dim,
        img_size=image_size,
        mlp_ratio=4,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=num_heads,
        patch_size=PATCH_SIZE,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=global_attn_indexes,
        window_size=14,
        out_chans=EMBED_DIM,
    )
    return assemble_hq_sam(encoder, vit_dim=embed_dim, image_size=image_size)


def build_hq_sam_tiny() -> Sam:
    """Light HQ-SAM: MobileSAM's TinyViT-5M (official `build_sam_vit_t`); the decoder fuses its second stage (160)."""
    encoder = TinyViT(
        img_size=IMAGE_SIZE,
        in_chans=3,
        num_classes=1000,
        embed_dims=[64, 128, 160, 320],
        depths=[2, 2, 6, 2],
        num_heads=[2, 4, 5, 10],
        window_sizes=[7, 7, 14, 7],
        mlp_ratio=4.0,
        drop_rate=0.0,
        drop_path_rate=0.0,
        use_checkpoint=False,
        mbconv_expand_ratio=4.0,
        local_conv_size=3,
        layer_lr_decay=0.8,
    )
    return assemble_hq_sam(encoder, vit_dim=160)


# Signatures: the HQ decoder's first fusion layer, whose input width is the encoder's; no other known checkpoint
# (SAM, MobileSAM, ...) has an HQ decoder.
@FAMILY.register(display="HQ-SAM ViT-H", checkpoint="sam_hq_vit_h.pth", url=URL + "sam_hq_vit_h.pth",
                 signature=("mask_decoder.compress_vit_feat.0.weight", (1280, 256, 2, 2)),
                 capabilities=CAPABILITIES, state_dict_key=None, notes=NOTES)  # fmt: skip
def hq_vit_h() -> Sam:
    return build_hq_sam_vit(1280, 32, 16, (7, 15, 23, 31))


@FAMILY.register(display="HQ-SAM ViT-L", checkpoint="sam_hq_vit_l.pth", url=URL + "sam_hq_vit_l.pth",
                 signature=("mask_decoder.compress_vit_feat.0.weight", (1024, 256, 2, 2)),
                 capabilities=CAPABILITIES, state_dict_key=None, notes=NOTES)  # fmt: skip
def hq_vit_l() -> Sam:
    return build_hq_sam_vit(1024, 24, 16, (5, 11, 17, 23))


@FAMILY.register(display="HQ-SAM ViT-B", checkpoint="sam_hq_vit_b.pth", url=URL + "sam_hq_vit_b.pth",
                 signature=("mask_decoder.compress_vit_feat.0.weight", (768, 256, 2, 2)),
                 capabilities=CAPABILITIES, state_dict_key=None, notes=NOTES)  # fmt: skip
def hq_vit_b() -> Sam:
    return build_hq_sam_vit(768, 12, 12, (2, 5, 8, 11))


@FAMILY.register(display="Light HQ-SAM (ViT-Tiny)", checkpoint="sam_hq_vit_tiny.pth", url=URL + "sam_hq_vit_tiny.pth",
                 signature=("mask_decoder.compress_vit_feat.0.weight", (160, 256, 2, 2)),
                 capabilities=CAPABILITIES, state_dict_key=None, notes=NOTES)  # fmt: skip
def hq_vit_tiny() -> Sam:
    return build_hq_sam_tiny()
