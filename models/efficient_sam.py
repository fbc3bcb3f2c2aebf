"""EfficientSAM's network (Xiong et al., "EfficientSAM: Leveraged Masked Image Pretraining for Efficient Segment
Anything", CVPR 2024): a plain ViT image encoder (SAMI-pretrained) and a point-only prompt encoder and decoder.

Re-implements yformer/EfficientSAM (commit d525f62) `efficient_sam/`: `efficient_sam_encoder.py` (`ImageEncoderViT`),
`efficient_sam_decoder.py` (`PromptEncoder`, `MaskDecoder`), `two_way_transformer.py`, `mlp.py` and
`efficient_sam.py` (`EfficientSam`, `build_efficient_sam`), with the official module and attribute names so that the
official checkpoints load with strict key matching, and the official order of operations (the parity references in
tests/data/parity were made with the official code).

What differs from SAM's network:
- encoder: a global-attention ViT without relative positions; an absolute position embedding learnt at 224x224
  (14x14 patches and a class token) resized bicubically to the 64x64 grid on every call; SAM's neck;
- input: the whole image resized to 1024x1024 (bilinear, aspect ratio not kept, no padding), pixels in [0, 1]
  normalised with ImageNet's mean and std inside the model (`preprocess`);
- prompts are points only: label 1 foreground, 0 background, 2 / 3 a box's top-left / bottom-right corner, -1
  padding; every query is padded with (-1, -1) points labelled -1 to `decoder_max_num_input_points` (6) points, and
  points past the 6th are dropped; no mask prompt and no dense prompt embedding;
- decoder: SAM's two-way transformer with other residual / positional-encoding placement (see
  `TwoWayAttentionBlock.forward`), GroupNorm in the upscaling, 256x256 low-resolution masks, and the image embedding
  tiled per query.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.prompt_encoder import PositionEmbeddingRandom
from torch import nn

IMAGE_SIZE = 1024
PATCH_SIZE = 16
PRETRAIN_IMAGE_SIZE = 224  # the position embedding's grid (14 x 14 + a class token)
MAX_POINTS = 6  # decoder_max_num_input_points
PIXEL_MEAN = (0.485, 0.456, 0.406)  # of images in [0, 1]
PIXEL_STD = (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------------------------- the image encoder


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, in_chans: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Attention(nn.Module):
    """Global multi-head self-attention over the token sequence (B x N x C)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        weights = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, in_features: int, hidden_features: int, act_layer: type[nn.Module] = nn.GELU):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (LayerNorm eps 1e-6)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def resize_position_embedding(pos_embed: torch.Tensor, height: int, width: int,
                              has_cls_token: bool = True) -> torch.Tensor:  # fmt: skip
    """1 x (1 + S*S) x C (class token first) -> 1 x height x width x C, bicubic when S differs from the grid."""
    if has_cls_token:
        pos_embed = pos_embed[:, 1:]
    size = math.isqrt(pos_embed.shape[1])
    if size * size != pos_embed.shape[1]:
        raise ValueError(f"position embedding of {pos_embed.shape[1]} positions is not a square grid")
    grid = pos_embed.reshape(1, size, size, -1)
    if (size, size) == (height, width):
        return grid
    grid = F.interpolate(grid.permute(0, 3, 1, 2), size=(height, width), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1)


class ImageEncoderViT(nn.Module):
    """Plain ViT (global attention in every block) and SAM's neck: 1 x 3 x 1024 x 1024 -> 1 x 256 x 64 x 64."""

    def __init__(
        self,
        img_size: int = IMAGE_SIZE,
        patch_size: int = PATCH_SIZE,
        in_chans: int = 3,
        patch_embed_dim: int = 192,
        depth: int = 12,
        num_heads: int = 3,
        mlp_ratio: float = 4.0,
        neck_dims: Sequence[int] = (256, 256),
        pretrain_img_size: int = PRETRAIN_IMAGE_SIZE,
    ):
        super().__init__()
        self.img_size = img_size  # read by the predictor path (coordinate scaling, resize) and the backends
        self.image_embedding_size = img_size // patch_size
        self.transformer_output_dim = neck_dims[-1]
        self.pretrain_use_cls_token = True
        self.patch_embed = PatchEmbed(patch_size, in_chans, patch_embed_dim)
        positions = (pretrain_img_size // patch_size) ** 2 + 1  # + the class token's
        self.pos_embed = nn.Parameter(torch.zeros(1, positions, patch_embed_dim))
        self.blocks = nn.ModuleList(Block(patch_embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.neck = nn.Sequential(
            nn.Conv2d(patch_embed_dim, neck_dims[0], kernel_size=1, bias=False),
            LayerNorm2d(neck_dims[0]),
            nn.Conv2d(neck_dims[0], neck_dims[0], kernel_size=3, padding=1, bias=False),
            LayerNorm2d(neck_dims[0]),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(f"the image encoder takes {self.img_size}x{self.img_size} inputs, got {tuple(x.shape)}")
        x = self.patch_embed(x).permute(0, 2, 3, 1)  # B x h x w x C
        b, h, w, c = x.shape
        x = x + resize_position_embedding(self.pos_embed, h, w, self.pretrain_use_cls_token)
        x = x.reshape(b, h * w, c)
        for block in self.blocks:
            x = block(x)
        return self.neck(x.reshape(b, h, w, c).permute(0, 3, 1, 2))


# ------------------------------------------------------------------------------------------- the prompt encoder


class PromptEncoder(nn.Module):
    """Points (B x N x 2, pixels of the 1024x1024 input) with labels (B x N) -> B x N x embed_dim.

    Each point: the random-Fourier encoding of its pixel centre, plus a learnt embedding for labels -1 (padding),
    1 (foreground), 2 (box top-left) and 3 (box bottom-right); label 0 (background) adds none.
    """

    def __init__(self, embed_dim: int, image_embedding_size: tuple[int, int], input_image_size: tuple[int, int]):
        super().__init__()
        self.embed_dim = embed_dim
        self.input_image_size = input_image_size
        self.image_embedding_size = image_embedding_size
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        self.invalid_points = nn.Embedding(1, embed_dim)
        self.point_embeddings = nn.Embedding(1, embed_dim)
        self.bbox_top_left_embeddings = nn.Embedding(1, embed_dim)
        self.bbox_bottom_right_embeddings = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        """The positional encoding of every cell of the image embedding: 1 x embed_dim x h x w."""
        return self.pe_layer(self.image_embedding_size).unsqueeze(0)

    def forward(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        embedding = self.pe_layer.forward_with_coords(coords + 0.5, self.input_image_size)
        for label, table in ((-1, self.invalid_points), (1, self.point_embeddings),
                             (2, self.bbox_top_left_embeddings), (3, self.bbox_bottom_right_embeddings)):  # fmt: skip
            embedding = embedding + table.weight[:, None, :] * torch.eq(labels, label)[:, :, None]
        return embedding


# ---------------------------------------------------------------------------------------------------- the decoder


class MLPBlock(nn.Module):
    """`num_layers` (Linear, activation) pairs of width `hidden_dim` (`layers`), then a Linear to `output_dim`
    (`fc`)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int, act: type[nn.Module]):
        super().__init__()
        self.num_layers = num_layers
        widths = [input_dim] + [hidden_dim] * num_layers
        self.layers = nn.ModuleList(nn.Sequential(nn.Linear(a, b), act()) for a, b in zip(widths[:-1], widths[1:]))
        self.fc = nn.Linear(hidden_dim, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.fc(x)


class AttentionForTwoWayAttentionBlock(nn.Module):
    """Multi-head attention with projections to `embedding_dim / downsample_rate` channels."""

    def __init__(self, embedding_dim: int, num_heads: int, downsample_rate: int = 1):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        if self.internal_dim % num_heads:
            raise ValueError(f"{num_heads} heads do not divide {self.internal_dim} channels")
        self.inv_sqrt_c_per_head = 1.0 / math.sqrt(self.internal_dim / num_heads)
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.v_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)
        # The official initialisation: q, k, v uniform with a Xavier bound for fan-out 3 x internal_dim, biases zero.
        bound = math.sqrt(6 / (embedding_dim + 3 * self.internal_dim))
        for proj in (self.q_proj, self.k_proj, self.v_proj):
            nn.init.uniform_(proj.weight, -bound, bound)
            nn.init.zeros_(proj.bias)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q, k, v = self._heads(self.q_proj(q)), self._heads(self.k_proj(k)), self._heads(self.v_proj(v))
        weights = torch.softmax((q @ k.permute(0, 1, 3, 2)) * self.inv_sqrt_c_per_head, dim=-1)
        out = weights @ v  # B x heads x tokens x channels per head
        b, heads, n, c = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, heads * c))


class TwoWayAttentionBlock(nn.Module):
    def __init__(self, embedding_dim: int, num_heads: int, mlp_dim: int, activation: type[nn.Module],
                 attention_downsample_rate: int = 2, skip_first_layer_pe: bool = False):  # fmt: skip
        super().__init__()
        self.self_attn = AttentionForTwoWayAttentionBlock(embedding_dim, num_heads)
        self.norm1 = nn.LayerNorm(embedding_dim)
        rate = attention_downsample_rate
        self.cross_attn_token_to_image = AttentionForTwoWayAttentionBlock(embedding_dim, num_heads, rate)
        self.norm2 = nn.LayerNorm(embedding_dim)
        self.mlp = MLPBlock(embedding_dim, mlp_dim, embedding_dim, 1, activation)
        self.norm3 = nn.LayerNorm(embedding_dim)
        self.norm4 = nn.LayerNorm(embedding_dim)
        self.cross_attn_image_to_token = AttentionForTwoWayAttentionBlock(embedding_dim, num_heads, rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, query_pe: torch.Tensor, key_pe: torch.Tensor):
        # Unlike SAM: outside the first layer the tokens' positional encoding is added to the tokens themselves
        # (values included), and the first layer's self-attention keeps its residual connection.
        if not self.skip_first_layer_pe:
            queries = queries + query_pe
        queries = self.norm1(queries + self.self_attn(q=queries, k=queries, v=queries))
        k = keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(q=queries + query_pe, k=k, v=keys))
        queries = self.norm3(queries + self.mlp(queries))
        k = keys + key_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(q=k, k=queries + query_pe, v=queries))
        return queries, keys


class TwoWayTransformer(nn.Module):
    def __init__(self, depth: int, embedding_dim: int, num_heads: int, mlp_dim: int, activation: type[nn.Module],
                 attention_downsample_rate: int = 2):  # fmt: skip
        super().__init__()
        self.depth = depth
        self.embedding_dim = embedding_dim
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(embedding_dim, num_heads, mlp_dim, activation, attention_downsample_rate,
                                 skip_first_layer_pe=(i == 0))  # fmt: skip
            for i in range(depth)
        )
        self.final_attn_token_to_image = AttentionForTwoWayAttentionBlock(
            embedding_dim, num_heads, attention_downsample_rate
        )
        self.norm_final_attn = nn.LayerNorm(embedding_dim)

    def forward(self, image_embedding: torch.Tensor, image_pe: torch.Tensor, point_embedding: torch.Tensor):
        keys = image_embedding.flatten(2).permute(0, 2, 1)  # B x HW x C
        key_pe = image_pe.flatten(2).permute(0, 2, 1)
        queries = point_embedding
        for layer in self.layers:
            queries, keys = layer(queries=queries, keys=keys, query_pe=point_embedding, key_pe=key_pe)
        attended = self.final_attn_token_to_image(q=queries + point_embedding, k=keys + key_pe, v=keys)
        return self.norm_final_attn(queries + attended), keys


class MaskDecoder(nn.Module):
    """Tokens (IoU + 4 masks) and prompts through the two-way transformer; masks at 4x the embedding (256x256)."""

    def __init__(self, *, transformer_dim: int, transformer: nn.Module, num_multimask_outputs: int = 3,
                 activation: type[nn.Module] = nn.GELU, iou_head_depth: int = 2, iou_head_hidden_dim: int = 256,
                 upscaling_layer_dims: Sequence[int] = (64, 32)):  # fmt: skip
        super().__init__()
        self.transformer_dim = transformer_dim
        self.transformer = transformer
        self.num_multimask_outputs = num_multimask_outputs
        self.iou_token = nn.Embedding(1, transformer_dim)
        self.num_mask_tokens = num_multimask_outputs + 1 if num_multimask_outputs > 1 else 1
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)
        layers, width = [], transformer_dim
        for i, dims in enumerate(upscaling_layer_dims):
            last = i == len(upscaling_layer_dims) - 1
            layers.append(nn.Sequential(nn.ConvTranspose2d(width, dims, kernel_size=2, stride=2),
                                        nn.Identity() if last else nn.GroupNorm(1, dims), activation()))  # fmt: skip
            width = dims
        self.final_output_upscaling_layers = nn.ModuleList(layers)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLPBlock(transformer_dim, transformer_dim, width, 2, activation) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLPBlock(
            transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth, activation
        )

    def forward(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor, sparse_prompt_embeddings: torch.Tensor,
                multimask_output: bool) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """image_embeddings: B x C x h x w; sparse_prompt_embeddings: B x Q x N x C (Q queries per image).
        Returns masks (B*Q) x M x 4h x 4w and IoU predictions (B*Q) x M (M = 3 with multimask output, else 1)."""
        b, queries, n, c = sparse_prompt_embeddings.shape
        _, ec, eh, ew = image_embeddings.shape
        tiled = torch.tile(image_embeddings[:, None], [1, queries, 1, 1, 1]).view(b * queries, ec, eh, ew)
        masks, iou = self.predict_masks(tiled, image_pe, sparse_prompt_embeddings.reshape(b * queries, n, c))
        if multimask_output and self.num_multimask_outputs > 1:
            return masks[:, 1:], iou[:, 1:]
        return masks[:, :1], iou[:, :1]

    def predict_masks(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor,
                      sparse_prompt_embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        output_tokens = output_tokens.unsqueeze(0).expand(sparse_prompt_embeddings.size(0), -1, -1)
        tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)
        pos_src = torch.repeat_interleave(image_pe, tokens.shape[0], dim=0)
        b, c, h, w = image_embeddings.shape
        hs, src = self.transformer(image_embeddings, pos_src, tokens)
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1 : 1 + self.num_mask_tokens, :]
        upscaled = src.transpose(1, 2).view(b, c, h, w)
        for layer in self.final_output_upscaling_layers:
            upscaled = layer(upscaled)
        mlps = self.output_hypernetworks_mlps
        hyper_in = torch.stack([mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(mlps)], dim=1)
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
        return masks, self.iou_prediction_head(iou_token_out)


# ---------------------------------------------------------------------------------------------------- the model


class EfficientSam(nn.Module):
    """Image encoder, point prompt encoder and mask decoder; inference as the official `EfficientSam`.

    Images: B x 3 x H x W float in [0, 1] (torchvision's ToTensor of the RGB image). Points: B x Q x N x 2 pixel
    (x, y) of that image, labels B x Q x N (see `PromptEncoder`).
    """

    mask_threshold: float = 0.0
    image_format: str = "RGB"

    def __init__(self, image_encoder: ImageEncoderViT, prompt_encoder: PromptEncoder, decoder_max_num_input_points: int,
                 mask_decoder: MaskDecoder, pixel_mean: Sequence[float] = PIXEL_MEAN,
                 pixel_std: Sequence[float] = PIXEL_STD):  # fmt: skip
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.decoder_max_num_input_points = decoder_max_num_input_points
        self.mask_decoder = mask_decoder
        # Not in the official state dict (persistent=False there too).
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(1, 3, 1, 1), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Resize to the encoder's square (bilinear, aspect ratio not kept), then normalise."""
        size = self.image_encoder.img_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, (size, size), mode="bilinear")
        return (x - self.pixel_mean) / self.pixel_std

    def get_image_embeddings(self, batched_images: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(self.preprocess(batched_images))

    def get_rescaled_pts(self, batched_points: torch.Tensor, input_h: int, input_w: int) -> torch.Tensor:
        """Pixels of the H x W image -> pixels of the encoder's square; negative coordinates become -1."""
        size = self.image_encoder.img_size
        x, y = batched_points[..., 0], batched_points[..., 1]
        return torch.stack(
            [torch.where(x >= 0, x * size / input_w, -1.0), torch.where(y >= 0, y * size / input_h, -1.0)], dim=-1
        )

    def predict_masks(self, image_embeddings: torch.Tensor, batched_points: torch.Tensor,
                      batched_point_labels: torch.Tensor, multimask_output: bool, input_h: int, input_w: int,
                      output_h: int = -1, output_w: int = -1) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """The decoder for B x Q queries of N points: masks B x Q x M x output_h x output_w (bicubic upscaling of the
        256x256 low-resolution masks; those themselves when output_h or output_w <= 0) and IoU B x Q x M."""
        b, queries, n, _ = batched_points.shape
        points = self.get_rescaled_pts(batched_points, input_h, input_w)
        labels = batched_point_labels
        limit = self.decoder_max_num_input_points
        if n > limit:
            points, labels = points[:, :, :limit], labels[:, :, :limit]
        elif n < limit:
            points = F.pad(points, (0, 0, 0, limit - n), value=-1.0)
            labels = F.pad(labels, (0, limit - n), value=-1.0)
        sparse = self.prompt_encoder(points.reshape(b * queries, limit, 2), labels.reshape(b * queries, limit))
        sparse = sparse.view(b, queries, sparse.shape[1], sparse.shape[2])
        low_res, iou = self.mask_decoder(
            image_embeddings, self.prompt_encoder.get_dense_pe(), sparse_prompt_embeddings=sparse,
            multimask_output=multimask_output,
        )  # fmt: skip
        outputs, size = low_res.shape[1], low_res.shape[-1]
        if output_h > 0 and output_w > 0:
            masks = F.interpolate(low_res, (output_h, output_w), mode="bicubic")
            masks = masks.reshape(b, queries, outputs, output_h, output_w)
        else:
            masks = low_res.reshape(b, queries, outputs, size, size)
        return masks, iou.reshape(b, queries, outputs)

    def forward(self, batched_images: torch.Tensor, batched_points: torch.Tensor, batched_point_labels: torch.Tensor,
                scale_to_original_image_size: bool = True) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """End to end, always with the 3 multimask outputs (as the official forward)."""
        _, _, height, width = batched_images.shape
        embeddings = self.get_image_embeddings(batched_images)
        out = (height, width) if scale_to_original_image_size else (-1, -1)
        return self.predict_masks(embeddings, batched_points, batched_point_labels, True, height, width, *out)


def build_efficient_sam(
    encoder_patch_embed_dim: int,
    encoder_num_heads: int,
    encoder_depth: int = 12,
    img_size: int = IMAGE_SIZE,
    patch_size: int = PATCH_SIZE,
    encoder_mlp_ratio: float = 4.0,
    neck_dims: Sequence[int] = (256, 256),
    decoder_max_num_input_points: int = MAX_POINTS,
    decoder_transformer_depth: int = 2,
    decoder_transformer_mlp_dim: int = 2048,
    decoder_num_heads: int = 8,
    decoder_upscaling_layer_dims: Sequence[int] = (64, 32),
    num_multimask_outputs: int = 3,
    iou_head_depth: int = 3,
    iou_head_hidden_dim: int = 256,
) -> EfficientSam:
    """An EfficientSAM network with the constructors' initialisation; the defaults are the official builder's
    (EfficientSAM-Ti: embed dim 192, 3 heads; EfficientSAM-S: 384, 6 heads)."""
    encoder = ImageEncoderViT(img_size=img_size, patch_size=patch_size, patch_embed_dim=encoder_patch_embed_dim,
                              depth=encoder_depth, num_heads=encoder_num_heads, mlp_ratio=encoder_mlp_ratio,
                              neck_dims=neck_dims)  # fmt: skip
    dim, grid = encoder.transformer_output_dim, encoder.image_embedding_size
    transformer = TwoWayTransformer(decoder_transformer_depth, dim, decoder_num_heads, decoder_transformer_mlp_dim,
                                    nn.GELU)  # fmt: skip
    decoder = MaskDecoder(transformer_dim=dim, transformer=transformer, num_multimask_outputs=num_multimask_outputs,
                          activation=nn.GELU, iou_head_depth=iou_head_depth - 1,  # the official builder's "- 1"
                          iou_head_hidden_dim=iou_head_hidden_dim,
                          upscaling_layer_dims=decoder_upscaling_layer_dims)  # fmt: skip
    prompt_encoder = PromptEncoder(dim, (grid, grid), (img_size, img_size))
    return EfficientSam(encoder, prompt_encoder, decoder_max_num_input_points, decoder)
