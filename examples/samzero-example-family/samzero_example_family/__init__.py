"""A worked example of a samzero model family, registered from its own package (entry point `samzero.models`).

The network is segment_anything's prompt encoder and mask decoder behind a 16x16 average-pooling image encoder: it
segments nothing useful, but it has a key layout, a checkpoint file and every method tasks call, which is all a
family needs to be evaluated.
"""
from __future__ import annotations

import torch
from segment_anything.modeling import Sam
from torch import nn

from models import Capabilities, ModelFamily, SamPromptModel
from models.sam_assembly import EMBED_DIM, IMAGE_SIZE, PATCH_SIZE, assemble_sam

FAMILY = ModelFamily("example", official="examples/samzero-example-family (a worked example, not a published model)",
                     prompt_model=SamPromptModel)  # fmt: skip


class PoolingEncoder(nn.Module):
    """B x 3 x S x S image -> B x 256 x S/16 x S/16 embedding: 16x16 average pooling and a 1x1 convolution."""

    def __init__(self, image_size: int = IMAGE_SIZE, embed_dim: int = EMBED_DIM):
        super().__init__()
        self.img_size = image_size  # read by segment_anything's SamPredictor
        self.project = nn.Conv2d(3, embed_dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(nn.functional.avg_pool2d(x, PATCH_SIZE))


def build_example(image_size: int = IMAGE_SIZE) -> Sam:
    return assemble_sam(PoolingEncoder(image_size), image_size=image_size)


@FAMILY.register(display="Example (pooling)", checkpoint="example_pool.pt",
                 url="https://example.org/samzero-example-family/example_pool.pt (a worked example: none is published)",
                 signature=("image_encoder.project.weight", (EMBED_DIM, 3, 1, 1)))  # fmt: skip
def example_pool() -> Sam:
    return build_example()


@FAMILY.register(display="Example (pooling, no automatic masks)", checkpoint="example_pool.pt",
                 url="https://example.org/samzero-example-family/example_pool.pt (a worked example: none is published)",
                 signature=("image_encoder.project.weight", (EMBED_DIM, 3, 1, 1)),
                 capabilities=Capabilities(automatic_masks=False))  # fmt: skip
def example_pool_nomasks() -> Sam:
    return build_example()
