"""Put an image encoder together with SAM's prompt encoder and mask decoder.

All four models share SAM's prompt encoder and mask decoder with the same hyper-parameters; only the image
encoder differs. The constants are those of segment-anything 1.0 `build_sam.py::_build_sam`, which the official
RepViT-SAM (`sam/repvit_sam/build_sam.py`) and MobileSAM (`mobile_sam/build_sam.py`) repeat unchanged.
"""
from __future__ import annotations

from torch import nn
from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

IMAGE_SIZE = 1024  # SAM's input resolution (longest side)
EMBED_DIM = 256  # channels of the image embedding and of every prompt token
EMBEDDING_SIZE = 64  # IMAGE_SIZE // 16: spatial size of the image embedding
PIXEL_MEAN = [123.675, 116.28, 103.53]  # ImageNet mean in 0..255, RGB
PIXEL_STD = [58.395, 57.12, 57.375]


def assemble_sam(image_encoder: nn.Module) -> Sam:
    """A `segment_anything.modeling.Sam` in eval mode around `image_encoder` (Bx3x1024x1024 -> Bx256x64x64)."""
    sam = Sam(
        image_encoder=image_encoder,
        prompt_encoder=PromptEncoder(
            embed_dim=EMBED_DIM,
            image_embedding_size=(EMBEDDING_SIZE, EMBEDDING_SIZE),
            input_image_size=(IMAGE_SIZE, IMAGE_SIZE),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=EMBED_DIM, mlp_dim=2048, num_heads=8),
            transformer_dim=EMBED_DIM,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=PIXEL_MEAN,
        pixel_std=PIXEL_STD,
    )
    return sam.eval()
