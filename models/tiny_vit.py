"""MobileSAM's image encoder: TinyViT-5M at 1024x1024 input, followed by SAM's 256-channel neck.

Our own implementation of the architecture in ChaoningZhang/MobileSAM, `mobile_sam/modeling/tiny_vit_sam.py`
(commit 34bbbfd), built there by `mobile_sam/build_sam.py::build_sam_vit_t` (registry key `vit_t`).
Papers: TinyViT, arXiv 2207.10666; MobileSAM, arXiv 2306.14289.

It computes what the official module computes and has exactly its state-dict keys and shapes, so the official
`mobile_sam.pt` loads strictly (prefixed `image_encoder.`, see tests/data/parity/mobile_sam_layout.tsv).
Differences that do not change results: no timm (drop-path is 0 at inference, so it is simply absent), spatial
sizes are taken from the input rather than fixed at construction (any input side divisible by 16 works), and
the attention biases are gathered on every forward instead of being cached on `.eval()` (the official cache
goes stale when weights are loaded after `.eval()`).

Shape walk-through at 1024x1024 (channels @ side):
    patch_embed  two stride-2 3x3 convs           3 @ 1024 ->  64 @ 256
    layers.0     2 MBConv blocks, merge stride 2            -> 128 @ 128
    layers.1     2 attention blocks, window 7, merge s. 2   -> 160 @ 64
    layers.2     6 attention blocks, window 14, merge s. 1  -> 320 @ 64
    layers.3     2 attention blocks, window 7, no merge     -> 320 @ 64
    neck         1x1 conv, LN2d, 3x3 conv, LN2d             -> 256 @ 64
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class TinyViTConfig:
    img_size: int
    embed_dims: tuple[int, ...]  # channels of each stage
    depths: tuple[int, ...]  # blocks per stage; stage 0 is convolutional (MBConv), the others attention
    num_heads: tuple[int, ...]  # per stage (stage 0's entry is unused)
    window_sizes: tuple[int, ...]  # per stage (stage 0's entry is unused)
    # Stride of the patch merging that ends each stage but the last. The official code hard-codes stride 1 when
    # the merge's output width is 320, 448 or 576 (the last merge of every TinyViT variant), which keeps SAM's
    # 64x64 embedding grid; here it is explicit.
    merge_strides: tuple[int, ...]
    mlp_ratio: float = 4.0
    mbconv_expand_ratio: float = 4.0
    local_conv_size: int = 3
    num_classes: int = 1000  # width of the unused classification head, present in the official state dict
    neck_dim: int = 256


# build_sam_vit_t: drop_rate 0, drop_path_rate 0 (layer_lr_decay only tags parameters for training).
TINY_VIT_5M_SAM = TinyViTConfig(
    img_size=1024,
    embed_dims=(64, 128, 160, 320),
    depths=(2, 2, 6, 2),
    num_heads=(2, 4, 5, 10),
    window_sizes=(7, 7, 14, 7),
    merge_strides=(2, 2, 1),
)


class ConvBN(nn.Sequential):
    """Bias-free convolution followed by BatchNorm; the children `c` and `bn` give the official key names."""

    def __init__(self, in_chans: int, out_chans: int, kernel_size: int = 1, stride: int = 1, groups: int = 1):
        super().__init__()
        self.c = nn.Conv2d(in_chans, out_chans, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_chans)


class PatchEmbed(nn.Module):
    """Stride-4 stem: two stride-2 3x3 ConvBNs with a GELU between (keys `seq.0`, `seq.2`)."""

    def __init__(self, in_chans: int, embed_dim: int):
        super().__init__()
        self.seq = nn.Sequential(
            ConvBN(in_chans, embed_dim // 2, 3, stride=2),
            nn.GELU(),
            ConvBN(embed_dim // 2, embed_dim, 3, stride=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, 3x3 depthwise, 1x1 project; the last GELU comes after the residual add."""

    def __init__(self, dim: int, expand_ratio: float):
        super().__init__()
        hidden = int(dim * expand_ratio)
        self.conv1 = ConvBN(dim, hidden, 1)
        self.conv2 = ConvBN(hidden, hidden, 3, groups=hidden)
        self.conv3 = ConvBN(hidden, dim, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv1(x))
        y = self.act(self.conv2(y))
        return self.act(self.conv3(y) + x)


class PatchMerging(nn.Module):
    """Stage transition: 1x1 ConvBN to the new width, 3x3 depthwise ConvBN (strided), 1x1 ConvBN.

    No residual, and no activation after the last ConvBN.
    """

    def __init__(self, dim: int, out_dim: int, stride: int):
        super().__init__()
        self.conv1 = ConvBN(dim, out_dim, 1)
        self.conv2 = ConvBN(out_dim, out_dim, 3, stride=stride, groups=out_dim)
        self.conv3 = ConvBN(out_dim, out_dim, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C', H', W')
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return self.conv3(x)


def relative_position_index(window_size: int) -> torch.Tensor:
    """(N, N) index into the per-head bias table, N = window_size**2, for the official table order.

    The official code numbers each offset (|dy|, |dx|) by first appearance while scanning all (query, key)
    pairs in row-major order; the first query, (0, 0), already meets every offset, in the order
    |dy| * window_size + |dx|, which is therefore the index.
    """
    coords = torch.arange(window_size)
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    return (rows[:, None] - rows[None, :]).abs() * window_size + (cols[:, None] - cols[None, :]).abs()


class Attention(nn.Module):
    """Multi-head self-attention within one window, with a pre-LayerNorm and a learned bias per head and offset.

    The bias table is gathered into (heads, N, N) in every forward: never cached, so it always reflects the
    current `attention_biases` (the official module caches it on `.eval()`, which goes stale on a later load).
    """

    def __init__(self, dim: int, num_heads: int, window_size: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads  # key, query and value width alike (official attn_ratio = 1)
        self.scale = self.head_dim**-0.5
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, window_size * window_size))
        # Derived from the window size alone, so not part of the state dict (nor of the official one).
        self.register_buffer("attention_bias_idxs", relative_position_index(window_size), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, C) -> (B, N, C)
        B, N, C = x.shape
        qkv = self.qkv(self.norm(x))
        # The official qkv output is grouped by head first, [q_h | k_h | v_h] for each head h, not by q/k/v.
        q, k, v = qkv.view(B, N, self.num_heads, 3 * self.head_dim).transpose(1, 2).chunk(3, dim=-1)
        bias = self.attention_biases[:, self.attention_bias_idxs]  # (heads, N, N), broadcast over B
        # Written out rather than F.scaled_dot_product_attention: on CPU a float mask sends SDPA to its math
        # path plus fully-masked-row checks, ~10-25% slower here. Scaling q (N*d) is cheaper than scores (N*N).
        attn = torch.softmax((q * self.scale) @ k.transpose(-2, -1) + bias, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    """Pre-LayerNorm two-layer MLP with GELU."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.norm(x))))


class TinyViTBlock(nn.Module):
    """Windowed attention (residual), a depthwise 3x3 ConvBN (no residual), then the MLP (residual)."""

    def __init__(self, dim: int, num_heads: int, window_size: int, mlp_ratio: float, local_conv_size: int):
        super().__init__()
        self.window_size = window_size
        self.attn = Attention(dim, num_heads, window_size)
        self.local_conv = ConvBN(dim, dim, local_conv_size, groups=dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def window_attention(self, x: torch.Tensor) -> torch.Tensor:  # (B, H, W, C) -> (B, H, W, C)
        B, H, W, C = x.shape
        ws = self.window_size
        pad_b, pad_r = -H % ws, -W % ws
        # Zero padding goes in before the attention's LayerNorm and is not masked: as in the official code, the
        # padded positions enter every edge window as keys and values (LayerNorm(0) = its bias).
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        nh, nw = (H + pad_b) // ws, (W + pad_r) // ws
        windows = x.view(B, nh, ws, nw, ws, C).transpose(2, 3).reshape(B * nh * nw, ws * ws, C)
        windows = self.attn(windows)
        x = windows.view(B, nh, nw, ws, ws, C).transpose(2, 3).reshape(B, nh * ws, nw * ws, C)
        return x[:, :H, :W] if pad_b or pad_r else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, H, W, C) -> (B, H, W, C)
        x = x + self.window_attention(x)
        # Depthwise conv mixes neighbouring windows; the permutes are views (channels-last NCHW), no copies.
        x = self.local_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x + self.mlp(x)


class ConvStage(nn.Module):
    """Stage 0: MBConv blocks, then the patch merging into stage 1 (keys `blocks.*`, `downsample`)."""

    def __init__(self, dim: int, depth: int, expand_ratio: float, downsample: nn.Module):
        super().__init__()
        self.blocks = nn.ModuleList(MBConv(dim, expand_ratio) for _ in range(depth))
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C', H', W')
        for block in self.blocks:
            x = block(x)
        return self.downsample(x)


class AttentionStage(nn.Module):
    """Stages 1-3: TinyViT blocks on (B, H, W, C) tokens, then patch merging (identity after the last stage)."""

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float,
                 local_conv_size: int, downsample: nn.Module | None):
        super().__init__()
        self.blocks = nn.ModuleList(
            TinyViTBlock(dim, num_heads, window_size, mlp_ratio, local_conv_size) for _ in range(depth)
        )
        # None rather than nn.Identity would also add no keys; Identity keeps forward branch-free.
        self.downsample = downsample if downsample is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C', H', W')
        # Contiguous NHWC once here; otherwise the residual adds inherit the NCHW strides of the incoming map and
        # every block pays for strided LayerNorms and copies (stage 1: ~25% slower on CPU).
        x = x.permute(0, 2, 3, 1).contiguous()
        for block in self.blocks:
            x = block(x)
        return self.downsample(x.permute(0, 3, 1, 2))


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of a (B, C, H, W) map, eps 1e-6 (SAM's neck)."""

    def __init__(self, num_channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class TinyViTEncoder(nn.Module):
    """TinyViT backbone + SAM neck: (B, 3, S, S) normalised image -> (B, 256, S/16, S/16) image embedding."""

    def __init__(self, config: TinyViTConfig = TINY_VIT_5M_SAM, in_chans: int = 3):
        super().__init__()
        self.config = config
        self.img_size = config.img_size  # read by segment_anything's Sam.preprocess
        dims = config.embed_dims
        self.patch_embed = PatchEmbed(in_chans, dims[0])

        def merging(i: int) -> PatchMerging | None:
            return PatchMerging(dims[i], dims[i + 1], config.merge_strides[i]) if i + 1 < len(dims) else None

        self.layers = nn.ModuleList([ConvStage(dims[0], config.depths[0], config.mbconv_expand_ratio, merging(0))])
        for i in range(1, len(dims)):
            self.layers.append(
                AttentionStage(dims[i], config.depths[i], config.num_heads[i], config.window_sizes[i],
                               config.mlp_ratio, config.local_conv_size, merging(i))
            )

        # The ImageNet classification head of TinyViT. MobileSAM's forward never uses it, but the official
        # module still builds it, so its keys are in mobile_sam.pt (and the layout file): kept for a strict load.
        self.norm_head = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], config.num_classes)

        self.neck = nn.Sequential(
            nn.Conv2d(dims[-1], config.neck_dim, kernel_size=1, bias=False),
            LayerNorm2d(config.neck_dim),
            nn.Conv2d(config.neck_dim, config.neck_dim, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(config.neck_dim),
        )
        self._init_weights()

    def _init_weights(self) -> None:
        # The official constructor's initialisation; irrelevant once a checkpoint is loaded.
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, MBConv):
                nn.init.zeros_(m.conv3.bn.weight)  # each MBConv starts as identity + GELU

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.neck(x)


def build_tiny_vit_5m_encoder() -> TinyViTEncoder:
    """MobileSAM's image encoder (official `build_sam_vit_t`), untrained."""
    return TinyViTEncoder(TINY_VIT_5M_SAM)
