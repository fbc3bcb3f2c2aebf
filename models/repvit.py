"""RepViT-SAM image encoder: the RepViT-M2.3 backbone with SAM's convolutional neck.

RepViT ("RepViT-SAM: Towards Real-Time Segmenting Anything", arXiv 2312.05760) replaces SAM's ViT image encoder
with RepViT-M2.3, a MobileNetV3-shaped CNN whose blocks separate a depthwise "token mixer" from a 1x1 "channel
mixer". This module re-implements, without timm, the official encoder of repository THU-MIG/RepViT, file
sam/repvit_sam/modeling/repvit.py at commit 298f420 (timm registry key `repvit`, used by
`build_sam_repvit`). Module and attribute names follow the official ones so that `repvit_sam.pt` loads with
strict key matching; see tests/data/parity/repvit_sam_layout.tsv.

Layout (Bx3x1024x1024 -> Bx256x64x64):

    features.0       stem: conv3x3/2 (3->40) -BN-GELU- conv3x3/2 (40->80) -BN             1/4
    features.1-7     7 blocks,  80 ch                                                   1/4
    features.8-15    downsample to 160 ch, 7 blocks                                      1/8
    features.16-51   downsample to 320 ch, 35 blocks                                     1/16
    features.52-54   "downsample" to 640 ch (kept at stride 1, see RepViTImageEncoder), 2 blocks   1/16
    neck             conv1x1 (640->256) - LayerNorm2d - conv3x3 (256->256) - LayerNorm2d

Per-block configuration, `REPVIT_M23_BLOCKS` below, one row per block, columns as in the official table:

    kernel      depthwise kernel size (always 3)
    expansion   hidden width of the channel mixer / its width (always 2)
    channels    output channels
    se          squeeze-excitation after the token mixer (every other block; never the last of a stage)
    hs          "hard swish" flag inherited from MobileNetV3; the official code uses GELU either way, so it
                changes nothing and is kept only so the table reads as the official one
    stride      2 marks a downsampling block (different structure, see `RepViTBlock`)

Structural re-parameterisation: `RepViTImageEncoder.fuse()` folds every BatchNorm into the preceding
convolution and the three-branch depthwise token mixer into one 3x3 depthwise convolution, as the official
`Conv2d_BN.fuse` / `RepVGGDW.fuse` do. It returns a new module and leaves the original untouched.
The folds use the official float32 operations in the official order, so on a given machine the fused encoder
equals the official fused one bit for bit. That is deliberate: with the key-derived parity weights
(tests/parity_weights.py) activations reach ~1e10 and rounding near the image/padding boundary is amplified,
so float32 RepViT-SAM is only accurate to ~2e-4 relative there; a float64 fold, though closer to exact
arithmetic, moved the outputs 1.7e-4 away from the official float32 reference, outside the 1e-4 parity tolerance.

EdgeSAM's encoder (`RepViTStageFusionEncoder`, `build_repvit_m1_edgesam_encoder`; chongzhou96/EdgeSAM,
edge_sam/modeling/rep_vit.py, class `RepViT` with arch "m1" and fuse=True, as `build_edge_sam` makes it) is the
same kind of backbone with three differences, all opt-in here so that RepViT-SAM's encoder is unchanged:
- the M1 table (`REPVIT_M1_BLOCKS`: widths 48 / 96 / 192 / 384) with every downsampling kept, so the backbone ends at
  stride 32;
- the stride-1 token mixer is the earlier RepVGG form `RepVGGDepthwiseBranchBN`: dw3x3-BN + dw1x1-BN + identity,
  without the closing BatchNorm (state-dict names conv.c / conv.bn / conv1.c / conv1.bn);
- before SAM's neck, the last two stages are merged FPN-style: 1x1 projections of the stride-16 stage (192 ch) and
  of the stride-32 stage (384 ch, then upsampled x2, bicubic) to 256 channels, summed (`fuse_stage2`,
  `fuse_stage3`). ("fuse" in the official names means this merge, not the re-parameterisation above.)
"""
from __future__ import annotations

import copy
from typing import Callable, NamedTuple

import torch
from segment_anything.modeling.common import LayerNorm2d  # the same class (eps 1e-6) the official file copies
from torch import nn
from torch.nn import functional as F

from .sam_assembly import EMBED_DIM, IMAGE_SIZE


class BlockConfig(NamedTuple):
    kernel: int
    expansion: int
    channels: int
    se: bool
    hs: bool
    stride: int


# RepViT-M2.3 as used by RepViT-SAM: the official `repvit()` table, row for row (features.1 .. features.54).
# fmt: off
_M23_ROWS = (
    # k  t   c  se hs  s
    (3, 2,  80, 1, 0, 1),
    (3, 2,  80, 0, 0, 1),
    (3, 2,  80, 1, 0, 1),
    (3, 2,  80, 0, 0, 1),
    (3, 2,  80, 1, 0, 1),
    (3, 2,  80, 0, 0, 1),
    (3, 2,  80, 0, 0, 1),
    (3, 2, 160, 0, 0, 2),
    (3, 2, 160, 1, 0, 1),
    (3, 2, 160, 0, 0, 1),
    (3, 2, 160, 1, 0, 1),
    (3, 2, 160, 0, 0, 1),
    (3, 2, 160, 1, 0, 1),
    (3, 2, 160, 0, 0, 1),
    (3, 2, 160, 0, 0, 1),
    (3, 2, 320, 0, 1, 2),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 1, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 320, 0, 1, 1),
    (3, 2, 640, 0, 1, 2),
    (3, 2, 640, 1, 1, 1),
    (3, 2, 640, 0, 1, 1),
)
# fmt: on
REPVIT_M23_BLOCKS: tuple[BlockConfig, ...] = tuple(
    BlockConfig(k, t, c, bool(se), bool(hs), s) for k, t, c, se, hs, s in _M23_ROWS
)

# RepViT-M1 as used by EdgeSAM: the official `m1_cfgs` table, row for row (features.1 .. features.26).
# fmt: off
_M1_ROWS = (
    # k  t   c  se hs  s
    (3, 2,  48, 1, 0, 1),
    (3, 2,  48, 0, 0, 1),
    (3, 2,  48, 0, 0, 1),
    (3, 2,  96, 0, 0, 2),
    (3, 2,  96, 1, 0, 1),
    (3, 2,  96, 0, 0, 1),
    (3, 2,  96, 0, 0, 1),
    (3, 2, 192, 0, 1, 2),
    (3, 2, 192, 1, 1, 1),
    (3, 2, 192, 0, 1, 1),
    (3, 2, 192, 1, 1, 1),
    (3, 2, 192, 0, 1, 1),
    (3, 2, 192, 1, 1, 1),
    (3, 2, 192, 0, 1, 1),
    (3, 2, 192, 1, 1, 1),
    (3, 2, 192, 0, 1, 1),
    (3, 2, 192, 1, 1, 1),
    (3, 2, 192, 0, 1, 1),
    (3, 2, 192, 1, 1, 1),
    (3, 2, 192, 0, 1, 1),
    (3, 2, 192, 1, 1, 1),
    (3, 2, 192, 0, 1, 1),
    (3, 2, 192, 0, 1, 1),
    (3, 2, 384, 0, 1, 2),
    (3, 2, 384, 1, 1, 1),
    (3, 2, 384, 0, 1, 1),
)
# fmt: on
REPVIT_M1_BLOCKS: tuple[BlockConfig, ...] = tuple(
    BlockConfig(k, t, c, bool(se), bool(hs), s) for k, t, c, se, hs, s in _M1_ROWS
)

STEM_STRIDE = 4  # two stride-2 3x3 convolutions
OUTPUT_STRIDE = 16  # SAM's image embedding is 64x64 for a 1024x1024 input


def make_divisible(value: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """Round `value` to the nearest multiple of `divisor`, going up a step if that lost more than 1 - round_limit.

    The backbone widths use the MobileNet rule (round_limit 0.9); timm's SqueezeExcite, which the official code
    uses, rounds its reduced width with round_limit 0 (never bumps up): 80 * 0.25 = 20 -> 24 channels.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded


# ---------------------------------------------------------------------------------------------------- building blocks


def _batchnorm_std(bn: nn.BatchNorm2d) -> torch.Tensor:
    # `** 0.5` rather than torch.sqrt: the official expression, so folded weights round identically.
    return (bn.running_var + bn.eps) ** 0.5


def _conv_with(template: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """A biased copy of `template`'s geometry carrying `weight` and `bias` (cast to the template's dtype)."""
    conv = nn.Conv2d(
        template.in_channels,
        template.out_channels,
        template.kernel_size,
        stride=template.stride,
        padding=template.padding,
        dilation=template.dilation,
        groups=template.groups,
        bias=True,
        device=template.weight.device,
        dtype=template.weight.dtype,
    )
    conv.weight.copy_(weight)
    conv.bias.copy_(bias)
    return conv


class ConvBN(nn.Sequential):
    """Bias-free convolution followed by BatchNorm (official `Conv2d_BN`; state-dict names `c`, `bn`)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        bn_weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        self.c = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)
        # A zero-initialised last BN makes each residual branch start as the identity (training recipe only).
        nn.init.constant_(self.bn.weight, bn_weight_init)
        nn.init.zeros_(self.bn.bias)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) of the single convolution equal to conv-then-BN in eval mode (running statistics)."""
        bn, std = self.bn, _batchnorm_std(self.bn)
        # Same float32 operations in the same order as the official Conv2d_BN.fuse (module docstring).
        return self.c.weight * (bn.weight / std)[:, None, None, None], bn.bias - bn.running_mean * bn.weight / std

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        return _conv_with(self.c, *self.folded())


class RepVGGDepthwise(nn.Module):
    """Token mixer of the stride-1 blocks: BN(dw3x3-BN(x) + dw1x1(x) + x) (official `RepVGGDW`).

    Training uses three parallel branches; all are linear, so at inference they are one 3x3 depthwise conv.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = ConvBN(channels, channels, 3, groups=channels)
        self.conv1 = nn.Conv2d(channels, channels, 1, groups=channels)  # has a bias, unlike ConvBN's conv
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x) + self.conv1(x) + x)

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        weight, bias = self.conv.folded()
        # The 1x1 branch and the identity are 3x3 kernels that are zero except at the centre tap.
        centre_tap = [1, 1, 1, 1]  # F.pad amounts: 1x1 -> 3x3
        weight = weight + F.pad(self.conv1.weight, centre_tap)
        weight = weight + F.pad(torch.ones_like(self.conv1.weight), centre_tap)
        bias = bias + self.conv1.bias
        bn, std = self.bn, _batchnorm_std(self.bn)  # then the closing BN, in the official operation order
        weight = weight * (bn.weight / std)[:, None, None, None]
        bias = bn.bias + (bias - bn.running_mean) * bn.weight / std
        return _conv_with(self.conv.c, weight, bias)


class RepVGGDepthwiseBranchBN(nn.Module):
    """Token mixer of EdgeSAM's stride-1 blocks: dw3x3-BN(x) + dw1x1-BN(x) + x (EdgeSAM's `RepVGGDW`).

    Each parallel branch carries its own BatchNorm and nothing closes the sum, unlike `RepVGGDepthwise`. EdgeSAM's
    official inference runs these branches as they are (its predictor never folds them), and so does this class.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = ConvBN(channels, channels, 3, groups=channels)
        self.conv1 = ConvBN(channels, channels, 1, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.conv1(x) + x


class SqueezeExcite(nn.Module):
    """Channel gating x * sigmoid(fc2(relu(fc1(mean(x))))), as timm's `SqueezeExcite` with rd_ratio 0.25."""

    def __init__(self, channels: int, reduction: float = 0.25) -> None:
        super().__init__()
        reduced = make_divisible(channels * reduction, 8, round_limit=0.0)
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


class Residual(nn.Module):
    """x + m(x). (The official class also has stochastic depth, inactive at inference and 0 for SAM.)"""

    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.m(x)


def channel_mixer(channels: int, hidden: int) -> Residual:
    """Residual 1x1 MLP: ConvBN - GELU - ConvBN. The official `use_hs` flag picks GELU on both sides."""
    return Residual(
        nn.Sequential(
            ConvBN(channels, hidden),
            nn.GELU(),  # exact (erf) GELU, not the tanh approximation
            ConvBN(hidden, channels, bn_weight_init=0.0),
        )
    )


class RepViTBlock(nn.Module):
    """Token mixer (spatial, depthwise) then channel mixer (residual 1x1 MLP).

    Regular block (config stride 1, same width in and out):
        token_mixer = [RepVGGDepthwise, SqueezeExcite or Identity]
    Downsampling block (config stride 2), which also changes the width:
        token_mixer = [dw kxk ConvBN with stride `conv_stride`, SqueezeExcite or Identity, 1x1 ConvBN to out width]
    Both: channel_mixer = Residual(1x1 ConvBN to `expansion` x width, GELU, 1x1 ConvBN back).
    `depthwise` builds the regular block's first token-mixer layer from the width (EdgeSAM:
    `RepVGGDepthwiseBranchBN`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        cfg: BlockConfig,
        conv_stride: int,
        depthwise: Callable[[int], nn.Module] = RepVGGDepthwise,
    ) -> None:
        super().__init__()
        squeeze_excite = SqueezeExcite(in_channels) if cfg.se else nn.Identity()
        if cfg.stride == 2:
            self.token_mixer = nn.Sequential(
                ConvBN(in_channels, in_channels, cfg.kernel, conv_stride, groups=in_channels),
                squeeze_excite,
                ConvBN(in_channels, out_channels),
            )
        else:
            # The official code also has a non-residual variant for stride 1 with a width change; M2.3 never uses it.
            if in_channels != out_channels or cfg.kernel != 3:
                raise ValueError(f"stride-1 RepViT block needs equal widths and kernel 3, got {in_channels}, {cfg}")
            self.token_mixer = nn.Sequential(depthwise(in_channels), squeeze_excite)
        # The hidden width is `expansion` times the width entering the channel mixer (= the block's output width).
        self.channel_mixer = channel_mixer(out_channels, make_divisible(out_channels * cfg.expansion))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.channel_mixer(self.token_mixer(x))


# -------------------------------------------------------------------------------------------------------- the encoder


class RepViTImageEncoder(nn.Module):
    """RepViT backbone (`features`) + SAM neck (`neck`): Bx3xHxW -> Bx256x(H/16)x(W/16), H and W multiples of 16."""

    def __init__(
        self,
        blocks: tuple[BlockConfig, ...] = REPVIT_M23_BLOCKS,
        img_size: int = IMAGE_SIZE,
        out_chans: int = EMBED_DIM,
    ) -> None:
        super().__init__()
        self.img_size = img_size  # read by segment_anything's Sam / SamPredictor
        width = make_divisible(blocks[0].channels)
        stem = nn.Sequential(
            ConvBN(3, width // 2, 3, stride=2), nn.GELU(), ConvBN(width // 2, width, 3, stride=2)
        )
        layers: list[nn.Module] = [stem]
        total_stride = STEM_STRIDE
        for cfg in blocks:
            out_width = make_divisible(cfg.channels)
            # The last downsampling block (320 -> 640 channels) keeps stride 1 so that the embedding stays at 1/16
            # (official: `stride if inp != 320 else 1`): it widens the features but does not shrink them.
            conv_stride = cfg.stride if total_stride < OUTPUT_STRIDE else 1
            total_stride *= conv_stride
            layers.append(RepViTBlock(width, out_width, cfg, conv_stride))
            width = out_width
        self.features = nn.ModuleList(layers)
        self.neck = nn.Sequential(
            nn.Conv2d(width, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.features:
            x = layer(x)
        return self.neck(x)

    @torch.no_grad()
    def fuse(self) -> RepViTImageEncoder:
        """A new, inference-only encoder with every ConvBN and RepVGGDepthwise folded into one convolution.

        `self` is not modified. The result computes what `self` computes in eval mode (BatchNorm running
        statistics), up to float rounding; it has no BatchNorm left and cannot be trained as RepViT. The neck's
        LayerNorm2d depends on the input's statistics and stays. Fusing an already fused encoder changes nothing.
        """
        fused = copy.deepcopy(self)
        _fuse_children(fused.features)
        return fused


def _fuse_children(module: nn.Module) -> None:
    """Replace, in place and recursively, each ConvBN / RepVGGDepthwise below `module` by its fused convolution."""
    for name, child in module.named_children():
        if isinstance(child, (ConvBN, RepVGGDepthwise)):
            setattr(module, name, child.fuse())
        else:
            _fuse_children(child)


def build_repvit_m23_encoder() -> RepViTImageEncoder:
    """RepViT-SAM's image encoder, untrained (constructors' initialisation), in the official key layout."""
    return RepViTImageEncoder(REPVIT_M23_BLOCKS, img_size=IMAGE_SIZE, out_chans=EMBED_DIM)


# ------------------------------------------------------------------------------- EdgeSAM: stage fusion before the neck


class Upsample(nn.Module):
    """Parameter-free resize by `factor` (EdgeSAM's `UpSampleLayer`: F.interpolate, align_corners=False)."""

    def __init__(self, factor: int = 2, mode: str = "bicubic") -> None:
        super().__init__()
        self.factor, self.mode = factor, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        align_corners = False if self.mode in ("bilinear", "bicubic") else None
        return F.interpolate(x, scale_factor=self.factor, mode=self.mode, align_corners=align_corners)


class OpSequential(nn.Module):
    """Layers applied in order, held under `op_list` (EdgeSAM's state-dict name: `fuse_stage3.op_list.0.weight`)."""

    def __init__(self, ops: list[nn.Module]) -> None:
        super().__init__()
        self.op_list = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.op_list:
            x = op(x)
        return x


class RepViTStageFusionEncoder(nn.Module):
    """EdgeSAM's image encoder: RepViT backbone at full stride 32, its last two stages merged, then SAM's neck.

    Bx3xHxW -> Bx256x(H/16)x(W/16), H and W multiples of 32. A stage is a run of blocks of one width; with the M1
    table the last two are 192 channels at stride 16 and 384 channels at stride 32:

        x16 = backbone up to the last 192-channel block;  x32 = the rest of the backbone applied to x16
        neck(fuse_stage2(x16) + fuse_stage3(x32))       fuse_stage3 = conv1x1 then Upsample x2
    """

    def __init__(
        self,
        blocks: tuple[BlockConfig, ...] = REPVIT_M1_BLOCKS,
        img_size: int = IMAGE_SIZE,
        out_chans: int = EMBED_DIM,
        upsample_mode: str = "bicubic",
    ) -> None:
        super().__init__()
        self.img_size = img_size  # read by segment_anything's Sam / SamPredictor
        width = make_divisible(blocks[0].channels)
        stem = nn.Sequential(
            ConvBN(3, width // 2, 3, stride=2), nn.GELU(), ConvBN(width // 2, width, 3, stride=2)
        )
        layers: list[nn.Module] = [stem]
        stage_widths = []
        for cfg in blocks:
            out_width = make_divisible(cfg.channels)
            layers.append(RepViTBlock(width, out_width, cfg, cfg.stride, depthwise=RepVGGDepthwiseBranchBN))
            if not stage_widths or stage_widths[-1] != out_width:
                stage_widths.append(out_width)
            width = out_width
        self.features = nn.ModuleList(layers)
        # The stride-16 output is taken after the last block of the second-to-last stage (official `stage2`); block i
        # is features[i + 1] (features[0] is the stem), so the first slice of `forward` ends at features[last + 1].
        last = max(i for i, cfg in enumerate(blocks) if make_divisible(cfg.channels) == stage_widths[-2])
        self.split = last + 2
        self.fuse_stage2 = nn.Conv2d(stage_widths[-2], out_chans, kernel_size=1, bias=False)
        self.fuse_stage3 = OpSequential(
            [nn.Conv2d(stage_widths[-1], out_chans, kernel_size=1, bias=False), Upsample(2, upsample_mode)]
        )
        self.neck = nn.Sequential(
            nn.Conv2d(out_chans, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.features[: self.split]:
            x = layer(x)
        stride16 = x
        for layer in self.features[self.split :]:
            x = layer(x)
        return self.neck(self.fuse_stage2(stride16) + self.fuse_stage3(x))


def build_repvit_m1_edgesam_encoder(upsample_mode: str = "bicubic") -> RepViTStageFusionEncoder:
    """EdgeSAM's image encoder (official `RepViT("m1", fuse=True)`), untrained, in the official key layout."""
    return RepViTStageFusionEncoder(REPVIT_M1_BLOCKS, img_size=IMAGE_SIZE, out_chans=EMBED_DIM,
                                    upsample_mode=upsample_mode)  # fmt: skip
