"""Model registry: a name on the command line -> how to build that model and where its official weights live.

In the manner of timm's registry: each entry is data (`ModelSpec`), `build_sam` is the one way to get a model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from torch import nn

from .repvit import build_repvit_m23_encoder
from .tiny_vit import build_tiny_vit_5m_encoder
from .vit import build_vit_b_encoder, build_vit_h_encoder

WEIGHTS_DIR = Path("weights")


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the CLI key (`--model`)
    display: str  # row label in the paper's tables
    build_encoder: Callable[[], nn.Module]
    checkpoint_file: str  # official file name, looked up in WEIGHTS_DIR by default
    url: str  # where the official file is published
    # A (key, shape) that only this model's official state dict has: tells which model a checkpoint belongs to.
    signature: tuple[str, tuple[int, ...]]
    reparameterizable: bool = False  # has training-time branches that `fuse` folds away (RepViT)

    @property
    def default_checkpoint(self) -> Path:
        return WEIGHTS_DIR / self.checkpoint_file


# Rows in the paper's order (RepViT-SAM README tables): ViT-H-SAM, ViT-B-SAM, MobileSAM, RepViT-SAM.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="vit_h",
            display="ViT-H-SAM",
            build_encoder=build_vit_h_encoder,
            checkpoint_file="sam_vit_h_4b8939.pth",
            url="https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
            signature=("image_encoder.pos_embed", (1, 64, 64, 1280)),
        ),
        ModelSpec(
            name="vit_b",
            display="ViT-B-SAM",
            build_encoder=build_vit_b_encoder,
            checkpoint_file="sam_vit_b_01ec64.pth",
            url="https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
            signature=("image_encoder.pos_embed", (1, 64, 64, 768)),
        ),
        ModelSpec(
            name="mobilesam",
            display="MobileSAM",
            build_encoder=build_tiny_vit_5m_encoder,
            checkpoint_file="mobile_sam.pt",
            url="https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
            signature=("image_encoder.patch_embed.seq.0.c.weight", (32, 3, 3, 3)),
        ),
        ModelSpec(
            name="repvit",
            display="RepViT-SAM",
            build_encoder=build_repvit_m23_encoder,
            checkpoint_file="repvit_sam.pt",
            url="https://github.com/THU-MIG/RepViT/releases/download/v1.0/repvit_sam.pt",
            signature=("image_encoder.features.0.0.c.weight", (40, 3, 3, 3)),
            reparameterizable=True,
        ),
    )
}
# Signatures of official checkpoints we do not evaluate, so that a mix-up is named instead of reported as garbage.
OTHER_SIGNATURES = {"SAM ViT-L (sam_vit_l_0b3195.pth)": ("image_encoder.pos_embed", (1, 64, 64, 1024))}


def model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
