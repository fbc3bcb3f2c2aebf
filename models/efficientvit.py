"""EfficientViT-SAM's network: the EfficientViT "large" backbone, a fused-MBConv neck to SAM's 256x64x64 embedding,
and SAM's prompt encoder and mask decoder (the segment_anything package's, as the official code imports them).

Our own implementation of the architecture in mit-han-lab/efficientvit (commit de7d773): the backbone of
`efficientvit/models/efficientvit/backbone.py` (`EfficientViTLargeBackbone`), the layers of
`efficientvit/models/nn/ops.py` and `norm.py`, and `SamNeck`, `EfficientViTSamImageEncoder`, `EfficientViTSam` of
`efficientvit/models/efficientvit/sam.py`, assembled as `efficientvit/sam_model_zoo.py` does. Paper: Zhang et al.,
"EfficientViT-SAM: Accelerated Segment Anything Model Without Accuracy Loss", arXiv 2402.05008.

Module and attribute names are the official ones wherever they appear in state-dict keys (`stages.i.op_list.j.main.
spatial_conv.conv.weight`, `neck.input_ops.0.op_list.0.norm.running_var`, ...), so the official checkpoints load with
strict key matching (tests/data/parity/efficientvit_sam_*_layout.tsv). Operations are the official ones in the
official order (the multi-scale linear attention, the LayerNorm2d formula, the neck's sum `a + (b + c)`), so outputs
agree to float rounding.

Things that are easy to get wrong, all as the official code does them:
- every activation is GELU with the tanh approximation (the official registry maps "gelu" to it);
- the model zoo (`create_efficientvit_sam_model`) sets eps = 1e-6 on every BatchNorm and LayerNorm of the whole
  model *after* building it, including the nn.LayerNorms of SAM's two-way transformer (1e-5 in SAM);
  `build_efficientvit_sam` does the same;
- a stage's first (downsampling) block is an MBConv unless the stage is "fmb", with 4x the stage's expansion;
- "fewer_norm" blocks have biased convolutions and no BatchNorm except on their last convolution;
- the neck upsamples each input with bicubic interpolation to 64x64 (skipped when already 64x64);
- the encoder input is 512x512 for the L models and 1024x1024 for the XL models, while the prompt encoder keeps
  SAM's 1024x1024 frame (`EfficientViTSam.image_size = (1024, encoder side)`).

Backbone layout (stride: side of the feature map relative to the input):

    stages.0   3x3 conv stride 2 (+ ResBlocks)                      1/2
    stages.1   downsample + blocks ("fmb")                          1/4
    stages.2   downsample + blocks ("fmb")                          1/8
    stages.3   downsample + blocks ("mb" for L, "fmb" for XL)       1/16
    stages.4   downsample + EfficientViT attention blocks           1/32
    stages.5   (XL only) downsample + attention blocks              1/64

The neck reads stages 2-4 (L, at 512 input: 64, 32, 16 px) or 3-5 (XL, at 1024 input: same sides).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from segment_anything.modeling import MaskDecoder, PromptEncoder
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .sam_assembly import EMBED_DIM, IMAGE_SIZE, assemble_sam

NORM_EPS = 1e-6  # the model zoo's `set_norm_eps(model, 1e-6)`, applied to every norm of the model
EMBEDDING_SIDE = 64  # SAM's image embedding is 64x64 whatever the encoder's input size


def gelu() -> nn.Module:
    return nn.GELU(approximate="tanh")


# ------------------------------------------------------------------------------------------------------------ layers


class ConvLayer(nn.Module):
    """Convolution ("same" padding), then optional BatchNorm and GELU (official `ConvLayer`: keys `conv`, `norm`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, groups: int = 1,
                 use_bias: bool = False, norm: bool = True, act: bool = False) -> None:  # fmt: skip
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel size must be odd, got {kernel_size}")
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups,
                              bias=use_bias)  # fmt: skip
        self.norm = nn.BatchNorm2d(out_channels, eps=NORM_EPS) if norm else None
        self.act = gelu() if act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        return x


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map, the official formula (centre, divide by the RMS of the centred
    values plus eps under the root, then the affine map); keys `weight`, `bias`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - torch.mean(x, dim=1, keepdim=True)
        normalised = centred / torch.sqrt(torch.square(centred).mean(dim=1, keepdim=True) + self.eps)
        return normalised * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class OpSequential(nn.Module):
    """Modules applied in turn, held in `op_list` (the official container; its indices are state-dict keys)."""

    def __init__(self, ops: Sequence[nn.Module]) -> None:
        super().__init__()
        self.op_list = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.op_list:
            x = op(x)
        return x


class ResidualBlock(nn.Module):
    """`main(x) + x`, or `main(x)` alone for a block that changes the shape (official `ResidualBlock` with an
    identity shortcut or none; key prefix `main`)."""

    def __init__(self, main: nn.Module, residual: bool) -> None:
        super().__init__()
        self.main = main
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + x if self.residual else self.main(x)


class UpSample(nn.Module):
    """Bicubic resize (align_corners False) to a fixed side; a map already that size passes unchanged."""

    def __init__(self, side: int) -> None:
        super().__init__()
        self.size = (side, side)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) == self.size:
            return x
        return F.interpolate(x, size=self.size, mode="bicubic", align_corners=False)


# ------------------------------------------------------------------------------------------------------------ blocks
# A "fewer_norm" block has biased convolutions without BatchNorm except the last one, which has a BatchNorm and no
# bias; otherwise every convolution is bias-free with a BatchNorm. Every convolution but the last has a GELU.


class ResBlock(nn.Module):
    """3x3 conv (stride) -> 3x3 conv (keys `conv1`, `conv2`)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expand_ratio: float = 1,
                 fewer_norm: bool = False) -> None:  # fmt: skip
        super().__init__()
        mid = round(in_channels * expand_ratio)
        self.conv1 = ConvLayer(in_channels, mid, 3, stride, use_bias=fewer_norm, norm=not fewer_norm, act=True)
        self.conv2 = ConvLayer(mid, out_channels, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class FusedMBConv(nn.Module):
    """3x3 conv to `expand_ratio` x width (stride) -> 1x1 conv (keys `spatial_conv`, `point_conv`)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expand_ratio: float = 6,
                 fewer_norm: bool = False) -> None:  # fmt: skip
        super().__init__()
        mid = round(in_channels * expand_ratio)
        self.spatial_conv = ConvLayer(in_channels, mid, 3, stride, use_bias=fewer_norm, norm=not fewer_norm, act=True)
        self.point_conv = ConvLayer(mid, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.spatial_conv(x))


class MBConv(nn.Module):
    """1x1 conv to `expand_ratio` x width -> 3x3 depthwise conv (stride) -> 1x1 conv (keys `inverted_conv`,
    `depth_conv`, `point_conv`)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expand_ratio: float = 6,
                 fewer_norm: bool = False) -> None:  # fmt: skip
        super().__init__()
        mid = round(in_channels * expand_ratio)
        self.inverted_conv = ConvLayer(in_channels, mid, 1, use_bias=fewer_norm, norm=not fewer_norm, act=True)
        self.depth_conv = ConvLayer(mid, mid, 3, stride, groups=mid, use_bias=fewer_norm, norm=not fewer_norm,
                                    act=True)  # fmt: skip
        self.point_conv = ConvLayer(mid, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.depth_conv(self.inverted_conv(x)))


LOCAL_BLOCKS = {"res": ResBlock, "fmb": FusedMBConv, "mb": MBConv}


class LiteMLA(nn.Module):
    """Multi-scale ReLU linear attention (official `LiteMLA`).

    A 1x1 convolution makes q, k, v for `heads` heads of `dim` channels; for each scale, a depthwise conv of that
    kernel followed by a grouped 1x1 conv (one group per head and q/k/v) aggregates them into as many more heads.
    Each head attends linearly: with ReLU kernels, out = (v k^T) q / (1^T k^T q + eps), the normaliser computed by
    appending a row of ones to v. Maps of at most `dim` pixels take the quadratic form (same result, other order).
    The heads are projected back with a 1x1 conv + BatchNorm. Keys `qkv`, `aggreg.<scale>.{0,1}`, `proj`.
    """

    def __init__(self, in_channels: int, out_channels: int, dim: int = 8, scales: Sequence[int] = (5,),
                 eps: float = 1.0e-15) -> None:  # fmt: skip
        super().__init__()
        heads = in_channels // dim
        total = heads * dim
        self.dim, self.eps = dim, eps
        self.qkv = ConvLayer(in_channels, 3 * total, 1, norm=False)
        self.aggreg = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(3 * total, 3 * total, scale, padding=scale // 2, groups=3 * total, bias=False),
                nn.Conv2d(3 * total, 3 * total, 1, groups=3 * heads, bias=False),
            )
            for scale in scales
        )
        self.proj = ConvLayer(total * (1 + len(scales)), out_channels, 1)

    def _heads(self, qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, _, h, w = qkv.shape
        qkv = qkv.reshape(b, -1, 3 * self.dim, h * w)  # B x heads x 3dim x N
        q, k, v = qkv[:, :, : self.dim], qkv[:, :, self.dim : 2 * self.dim], qkv[:, :, 2 * self.dim :]
        return F.relu(q), F.relu(k), v

    def linear_attention(self, qkv: torch.Tensor) -> torch.Tensor:
        b, _, h, w = qkv.shape
        if qkv.dtype == torch.float16:
            qkv = qkv.float()
        q, k, v = self._heads(qkv)
        v = F.pad(v, (0, 0, 0, 1), mode="constant", value=1)  # the row of ones: its output is the normaliser
        out = torch.matmul(torch.matmul(v, k.transpose(-1, -2)), q)
        if out.dtype == torch.bfloat16:
            out = out.float()
        out = out[:, :, :-1] / (out[:, :, -1:] + self.eps)
        return out.reshape(b, -1, h, w)

    def quadratic_attention(self, qkv: torch.Tensor) -> torch.Tensor:
        b, _, h, w = qkv.shape
        q, k, v = self._heads(qkv)
        attention = torch.matmul(k.transpose(-1, -2), q)  # B x heads x N x N
        dtype = attention.dtype
        if dtype in (torch.float16, torch.bfloat16):
            attention = attention.float()
        attention = (attention / (torch.sum(attention, dim=2, keepdim=True) + self.eps)).to(dtype)
        return torch.matmul(v, attention).reshape(b, -1, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qkv = self.qkv(x)
        qkv = torch.cat([qkv] + [op(qkv) for op in self.aggreg], dim=1)
        h, w = qkv.shape[-2:]
        if h * w > self.dim:
            out = self.linear_attention(qkv).to(qkv.dtype)
        else:
            out = self.quadratic_attention(qkv)
        return self.proj(out)


class EfficientViTBlock(nn.Module):
    """Residual LiteMLA (`context_module`) then a residual MBConv with fewer norms (`local_module`)."""

    def __init__(self, channels: int, dim: int = 32, expand_ratio: float = 4, scales: Sequence[int] = (5,)) -> None:
        super().__init__()
        self.context_module = ResidualBlock(LiteMLA(channels, channels, dim=dim, scales=scales), residual=True)
        self.local_module = ResidualBlock(MBConv(channels, channels, expand_ratio=expand_ratio, fewer_norm=True),
                                          residual=True)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local_module(self.context_module(x))


# ---------------------------------------------------------------------------------------------------------- backbone


class EfficientViTLargeBackbone(nn.Module):
    """EfficientViT-L backbone (official `EfficientViTLargeBackbone`): a list of stages; returns every stage's map.

    width_list / depth_list: channels and number of blocks after the downsampling block, per stage (stage 0: the
    stem's width and its ResBlocks). block_list: "res", "fmb", "mb", "att" (attention, kernel-5 aggregation) or
    "att@3" (kernel 3), per stage. expand_list: expansion of the stage's blocks (its downsampling block: 4x that).
    fewer_norm_list: per stage, see the block classes. Defaults: the official ones (the L backbones').
    """

    def __init__(self, width_list: Sequence[int], depth_list: Sequence[int],
                 block_list: Sequence[str] = ("res", "fmb", "fmb", "mb", "att"),
                 expand_list: Sequence[float] = (1, 4, 4, 4, 6),
                 fewer_norm_list: Sequence[bool] = (False, False, False, True, True),
                 in_channels: int = 3, qkv_dim: int = 32) -> None:  # fmt: skip
        super().__init__()
        if not len(width_list) == len(depth_list) == len(block_list) == len(expand_list) == len(fewer_norm_list):
            raise ValueError("width_list, depth_list, block_list, expand_list and fewer_norm_list differ in length")
        self.width_list = list(width_list)
        stem = [ConvLayer(in_channels, width_list[0], 3, 2, act=True)]
        for _ in range(depth_list[0]):
            block = LOCAL_BLOCKS[block_list[0]](width_list[0], width_list[0], 1, expand_list[0], fewer_norm_list[0])
            stem.append(ResidualBlock(block, residual=True))
        stages = [OpSequential(stem)]
        channels = width_list[0]
        for width, depth, kind, expand, fewer_norm in zip(*(lists[1:] for lists in (
                width_list, depth_list, block_list, expand_list, fewer_norm_list))):  # fmt: skip
            down = LOCAL_BLOCKS[kind if kind in ("mb", "fmb") else "mb"]
            stage = [ResidualBlock(down(channels, width, 2, expand * 4, fewer_norm), residual=False)]
            channels = width
            for _ in range(depth):
                if kind.startswith("att"):
                    scales = (3,) if kind == "att@3" else (5,)
                    stage.append(EfficientViTBlock(channels, dim=qkv_dim, expand_ratio=expand, scales=scales))
                else:
                    block = LOCAL_BLOCKS[kind](channels, channels, 1, expand, fewer_norm)
                    stage.append(ResidualBlock(block, residual=True))
            stages.append(OpSequential(stage))
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = {"input": x}
        for i, stage in enumerate(self.stages):
            features[f"stage{i}"] = x = stage(x)
        features["stage_final"] = x
        return features


# -------------------------------------------------------------------------------------------------- neck and encoder


class SamNeck(nn.Module):
    """The official `SamNeck` (a `DAGBlock`): each input stage -> 1x1 conv + BN to `head_width`, bicubic to 64x64;
    their sum -> `head_depth` residual fused-MBConvs -> 1x1 conv with bias to `out_dim` (output key "sam_encoder").
    Keys `input_ops.i.op_list.0`, `middle.op_list.i.main`, `output_ops.0.op_list.0`."""

    def __init__(self, fid_list: Sequence[str], in_channel_list: Sequence[int], head_width: int, head_depth: int,
                 expand_ratio: float, middle_op: str = "fmb", out_dim: int = EMBED_DIM) -> None:  # fmt: skip
        super().__init__()
        if middle_op not in LOCAL_BLOCKS:
            raise ValueError(f"middle_op {middle_op!r}: one of {', '.join(LOCAL_BLOCKS)}")
        self.input_keys = list(fid_list)
        self.input_ops = nn.ModuleList(
            OpSequential([ConvLayer(c, head_width, 1), UpSample(EMBEDDING_SIDE)]) for c in in_channel_list
        )
        self.middle = OpSequential([
            ResidualBlock(LOCAL_BLOCKS[middle_op](head_width, head_width, expand_ratio=expand_ratio), residual=True)
            for _ in range(head_depth)
        ])  # fmt: skip
        self.output_ops = nn.ModuleList([OpSequential([ConvLayer(head_width, out_dim, 1, use_bias=True, norm=False)])])

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = [op(features[key]) for key, op in zip(self.input_keys, self.input_ops)]
        total = inputs[-1]
        for x in reversed(inputs[:-1]):  # a + (b + c), the official recursive sum's order
            total = x + total
        return self.output_ops[0](self.middle(total))


class EfficientViTSamImageEncoder(nn.Module):
    """backbone -> neck -> LayerNorm2d: B x 3 x S x S -> B x 256 x 64 x 64 (S = `img_size`: 512 or 1024)."""

    def __init__(self, backbone: EfficientViTLargeBackbone, neck: SamNeck, img_size: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.norm = LayerNorm2d(EMBED_DIM, eps=NORM_EPS)
        self.img_size = img_size  # the square input it takes (the encoder backends keep this attribute)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.neck(self.backbone(x)))


# ---------------------------------------------------------------------------------------------------------- the model


class EfficientViTSam(nn.Module):
    """Image encoder + SAM's prompt encoder and mask decoder (official `EfficientViTSam`).

    `image_size` = (1024, S): prompts and masks live in SAM's 1024 frame (the prompt encoder's input size), the
    image encoder takes S x S. Not a segment_anything `Sam`: no pixel statistics (the predictor normalises) and
    its own `postprocess_masks`.
    """

    mask_threshold: float = 0.0
    image_format: str = "RGB"

    def __init__(self, image_encoder: EfficientViTSamImageEncoder, prompt_encoder: PromptEncoder,
                 mask_decoder: MaskDecoder, image_size: tuple[int, int]) -> None:  # fmt: skip
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        self.image_size = image_size

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def postprocess_masks(self, masks: torch.Tensor, input_size: tuple[int, int],
                          original_size: tuple[int, int]) -> torch.Tensor:  # fmt: skip
        """Low-res logits -> the prompt frame (1024 x 1024), cropped to the resized image, -> the original size."""
        side = self.image_size[0]
        masks = F.interpolate(masks, (side, side), mode="bilinear", align_corners=False)
        masks = masks[..., : input_size[0], : input_size[1]]
        return F.interpolate(masks, original_size, mode="bilinear", align_corners=False)


def set_norm_eps(model: nn.Module, eps: float = NORM_EPS) -> nn.Module:
    """Set eps on every BatchNorm, LayerNorm and GroupNorm of `model` (the official zoo does this after building)."""
    for module in model.modules():
        if isinstance(module, (nn.GroupNorm, nn.LayerNorm, _BatchNorm)):
            module.eps = eps
    return model


def build_efficientvit_sam(backbone: EfficientViTLargeBackbone, neck: SamNeck, image_size: int) -> EfficientViTSam:
    """EfficientViT-SAM around `backbone` and `neck` with an `image_size` x `image_size` encoder input (official
    `build_efficientvit_sam` + the zoo's eps), in eval mode."""
    encoder = EfficientViTSamImageEncoder(backbone, neck, img_size=image_size)
    sam = assemble_sam(encoder)  # SAM's prompt encoder and mask decoder, the sizes the official builder repeats
    model = EfficientViTSam(encoder, sam.prompt_encoder, sam.mask_decoder, image_size=(IMAGE_SIZE, image_size))
    return set_norm_eps(model).eval()
