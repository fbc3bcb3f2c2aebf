"""RepViT-SAM (Wang et al., arXiv 2312.05760): SAM's decoder behind a RepViT-M2.3 image encoder.

Official code: THU-MIG/RepViT `sam/repvit_sam/build_sam.py` (`build_sam_repvit`, registry key `repvit`), commit
298f420; the encoder is re-implemented in models/repvit.py with the official keys. Its training-time branches are
folded into single convolutions after loading (`fuse`; `--no-fuse` keeps them). Predictor and automatic mask
generator are segment_anything's, which the official code copies unchanged.
"""
from __future__ import annotations

from segment_anything.modeling import Sam

from ..registry import ModelFamily
from ..repvit import build_repvit_m23_encoder
from ..sam_assembly import assemble_sam
from ..sam_prompt_model import SamPromptModel

FAMILY = ModelFamily("repvit_sam", official="THU-MIG/RepViT @ 298f420", prompt_model=SamPromptModel)


def fuse_encoder(sam: Sam) -> Sam:
    sam.image_encoder = sam.image_encoder.fuse()
    return sam


@FAMILY.register(display="RepViT-SAM", checkpoint="repvit_sam.pt",
                 url="https://github.com/THU-MIG/RepViT/releases/download/v1.0/repvit_sam.pt",
                 signature=("image_encoder.features.0.0.c.weight", (40, 3, 3, 3)),
                 fuse=fuse_encoder)  # fmt: skip
def repvit() -> Sam:
    return assemble_sam(build_repvit_m23_encoder())
