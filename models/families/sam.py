"""SAM (Kirillov et al., "Segment Anything", 2023): ViT-B / ViT-L / ViT-H image encoders.

The official code is the PyPI package `segment-anything` 1.0 (facebookresearch/segment-anything), used as is:
encoder, prompt encoder, mask decoder, `SamPredictor` and `SamAutomaticMaskGenerator`. Hyper-parameters:
`build_sam.py` (`build_sam_vit_b`, `build_sam_vit_l`, `build_sam_vit_h`, `_build_sam`).
"""
from __future__ import annotations

from functools import partial

import torch
from segment_anything.modeling import ImageEncoderViT, Sam

from ..registry import ModelFamily
from ..sam_assembly import EMBED_DIM, IMAGE_SIZE, PATCH_SIZE, assemble_sam
from ..sam_prompt_model import SamPromptModel

FAMILY = ModelFamily("sam", official="facebookresearch/segment-anything (PyPI segment-anything 1.0)",
                     prompt_model=SamPromptModel)  # fmt: skip
BASE_URL = "https://dl.fbaipublicfiles.com/segment_anything/"


def build_sam_vit(embed_dim: int, depth: int, num_heads: int, global_attn_indexes: tuple[int, ...],
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
    return assemble_sam(encoder, image_size=image_size)


@FAMILY.register(display="ViT-H-SAM", checkpoint="sam_vit_h_4b8939.pth", url=BASE_URL + "sam_vit_h_4b8939.pth",
                 signature=("image_encoder.pos_embed", (1, 64, 64, 1280)))  # fmt: skip
def vit_h() -> Sam:
    return build_sam_vit(1280, 32, 16, (7, 15, 23, 31))


@FAMILY.register(display="ViT-L-SAM", checkpoint="sam_vit_l_0b3195.pth", url=BASE_URL + "sam_vit_l_0b3195.pth",
                 signature=("image_encoder.pos_embed", (1, 64, 64, 1024)))  # fmt: skip
def vit_l() -> Sam:
    return build_sam_vit(1024, 24, 16, (5, 11, 17, 23))


@FAMILY.register(display="ViT-B-SAM", checkpoint="sam_vit_b_01ec64.pth", url=BASE_URL + "sam_vit_b_01ec64.pth",
                 signature=("image_encoder.pos_embed", (1, 64, 64, 768)))  # fmt: skip
def vit_b() -> Sam:
    return build_sam_vit(768, 12, 12, (2, 5, 8, 11))
