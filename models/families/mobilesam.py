"""MobileSAM (Zhang et al., "Faster Segment Anything", 2023): SAM's decoder behind a TinyViT-5M image encoder.

Official code: ChaoningZhang/MobileSAM `mobile_sam/build_sam.py` (`build_sam_vit_t`, registry key `vit_t`), commit
34bbbfd; the encoder is re-implemented in models/tiny_vit.py with the official keys. Predictor and automatic mask
generator are segment_anything's, which MobileSAM's package copies unchanged.
"""
from __future__ import annotations

from segment_anything.modeling import Sam

from ..registry import ModelFamily
from ..sam_assembly import assemble_sam
from ..sam_prompt_model import SamPromptModel
from ..tiny_vit import build_tiny_vit_5m_encoder

FAMILY = ModelFamily("mobilesam", official="ChaoningZhang/MobileSAM @ 34bbbfd", prompt_model=SamPromptModel)


@FAMILY.register(display="MobileSAM", checkpoint="mobile_sam.pt",
                 url="https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
                 signature=("image_encoder.patch_embed.seq.0.c.weight", (32, 3, 3, 3)))  # fmt: skip
def mobilesam() -> Sam:
    return assemble_sam(build_tiny_vit_5m_encoder())
