"""Put an image encoder together with SAM's prompt encoder and mask decoder.

The constants are those of segment-anything 1.0 `build_sam.py::_build_sam`, which the official RepViT-SAM
(`sam/repvit_sam/build_sam.py`), MobileSAM (`mobile_sam/build_sam.py`) and the other SAM-decoder families repeat; a
family that changes one passes it.
"""
from __future__ import annotations

from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
from torch import nn

IMAGE_SIZE = 1024  # SAM's input resolution (longest side)
EMBED_DIM = 256  # channels of the image embedding and of every prompt token
PATCH_SIZE = 16  # IMAGE_SIZE // 16 = 64: spatial size of the image embedding
PIXEL_MEAN = [123.675, 116.28, 103.53]  # ImageNet mean in 0..255, RGB
PIXEL_STD = [58.395, 57.12, 57.375]


def assemble_sam(
    image_encoder: nn.Module,
    image_size: int = IMAGE_SIZE,
    embed_dim: int = EMBED_DIM,
    patch_size: int = PATCH_SIZE,
    num_multimask_outputs: int = 3,
) -> Sam:
    """A `segment_anything.modeling.Sam` in eval mode around `image_encoder`
    (B x 3 x image_size x image_size -> B x embed_dim x image_size/patch_size x image_size/patch_size)."""
    embedding_size = image_size // patch_size
    sam = Sam(
        image_encoder=image_encoder,
        prompt_encoder=PromptEncoder(
            embed_dim=embed_dim,
            image_embedding_size=(embedding_size, embedding_size),
            input_image_size=(image_size, image_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=num_multimask_outputs,
            transformer=TwoWayTransformer(depth=2, embedding_dim=embed_dim, mlp_dim=2048, num_heads=8),
            transformer_dim=embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=PIXEL_MEAN,
        pixel_std=PIXEL_STD,
    )
    return sam.eval()
