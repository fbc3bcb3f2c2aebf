"""SAM's own ViT image encoders (ViT-B, ViT-H), taken from the official `segment-anything` package.

Hyper-parameters: segment-anything 1.0 `build_sam.py` (`build_sam_vit_b`, `build_sam_vit_h`, `_build_sam`).
"""
from __future__ import annotations

from functools import partial

import torch
from segment_anything.modeling import ImageEncoderViT

from .sam_assembly import EMBED_DIM, IMAGE_SIZE


def build_vit_encoder(embed_dim: int, depth: int, num_heads: int, global_attn_indexes: tuple) -> ImageEncoderViT:
    return ImageEncoderViT(
        depth=depth,
        embed_dim=embed_dim,
        img_size=IMAGE_SIZE,
        mlp_ratio=4,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=num_heads,
        patch_size=16,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=global_attn_indexes,
        window_size=14,
        out_chans=EMBED_DIM,
    )


def build_vit_b_encoder() -> ImageEncoderViT:
    return build_vit_encoder(768, 12, 12, (2, 5, 8, 11))


def build_vit_h_encoder() -> ImageEncoderViT:
    return build_vit_encoder(1280, 32, 16, (7, 15, 23, 31))
