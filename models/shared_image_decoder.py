"""segment_anything's mask decoder for a batch of point prompts on one image, with the image side computed once.

`MaskDecoder.predict_masks` repeats the image embedding, its positional encoding and the dense prompt embedding once
per prompt, and its first transformer block projects each copy. For prompts without a mask input (the automatic
mask generator's), all copies are equal until that block's image-to-token attention adds each prompt's tokens. Here
the first block's image side runs once and is broadcast, and `low_res_masks` upsamples only the prompts asked for.

Bit for bit equal to the official decoder (tests/test_fast_amg.py), because every reduction runs on the same values
in the same memory layout, with the same batch for the token side:
- Additions are element by element: broadcasting one copy gives the values that adding each copy gives.
- The first block's projections of the image side: the official input is a transposed view of the repeated
  embedding, for which ATen's `linear` copies the rows, multiplies (`mm`), then adds the bias (not fused into the
  product, as it is for contiguous inputs). `_project_rows` runs exactly those steps on one copy. Each output row is
  one row of the product, the same whatever the number of rows (checked there for 1 and 2 threads).
- Attention over a broadcast key or query: `matmul` expands it and copies it to the same contiguous batch that the
  official reshape of its per-prompt copy gives, so `bmm` gets identical inputs.
- The token side (queries, hypernetwork and IoU MLPs) runs on the whole batch, as in the official decoder: small
  matrix products are not batch-invariant (a 1-row product takes another BLAS kernel).
- The upscaling convolutions and the final `bmm` compute each prompt on its own, so a subset of two or more prompts
  gives their rows (a batch of one runs another convolution kernel on the CPU).
Checked on the CPU only, and only for segment_anything's own classes (`shares_image_side`): CUDA libraries choose
their kernels by shape, so elsewhere, and for another decoder, the official path runs.
"""
from __future__ import annotations

import math

import torch
from segment_anything.modeling import MaskDecoder, TwoWayTransformer
from segment_anything.modeling.transformer import Attention, TwoWayAttentionBlock
from torch import Tensor


def shares_image_side(decoder: torch.nn.Module, device: torch.device) -> bool:
    """Whether `decoder` is exactly segment_anything's MaskDecoder and TwoWayTransformer (not a subclass: another
    forward would make this one wrong), on the CPU."""
    transformer = getattr(decoder, "transformer", None)
    return (torch.device(device).type == "cpu" and type(decoder) is MaskDecoder and type(transformer) is TwoWayTransformer
            and all(type(layer) is TwoWayAttentionBlock for layer in transformer.layers)
            and all(type(module) is Attention for module in transformer.modules() if isinstance(module, Attention)))  # fmt: skip


class SharedImageDecoding:
    """`decoder`'s transformer run for B point prompts on one image (`sparse`: B x N x C; `dense`: the prompt
    encoder's dense embedding without mask input, its no-mask embedding expanded to B x C x h x w)."""

    def __init__(self, decoder: MaskDecoder, image_embeddings: Tensor, image_pe: Tensor, sparse: Tensor, dense: Tensor):
        if image_embeddings.shape[0] != 1 or (dense.shape[0] > 1 and dense.stride(0) != 0):
            raise ValueError("SharedImageDecoding: one image, and a dense prompt embedding equal for every prompt")
        self.decoder = decoder
        output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
        output_tokens = output_tokens.unsqueeze(0).expand(sparse.size(0), -1, -1)
        tokens = torch.cat((output_tokens, sparse), dim=1)
        self.embedding_size = image_embeddings.shape[1:]
        src = image_embeddings + dense[:1]
        queries, self.keys = _transformer(decoder.transformer, src, image_pe, tokens)
        mask_tokens_out = queries[:, 1 : 1 + decoder.num_mask_tokens, :]
        self.hyper_in = torch.stack([mlp(mask_tokens_out[:, i, :])
                                     for i, mlp in enumerate(decoder.output_hypernetworks_mlps)], dim=1)  # fmt: skip
        self.iou_pred = decoder.iou_prediction_head(queries[:, 0, :])

    def low_res_masks(self, prompts: Tensor) -> Tensor:
        """The low-resolution mask logits of the prompts at indices `prompts`: len(prompts) x tokens x 256 x 256."""
        count = len(prompts)
        if count == 1 < len(self.keys):  # a batch of one takes another convolution kernel than the official batch
            prompts = prompts.repeat(2)
        c, h, w = self.embedding_size
        src = self.keys[prompts].transpose(1, 2).view(len(prompts), c, h, w)
        upscaled = self.decoder.output_upscaling(src)
        b, c, h, w = upscaled.shape
        return (self.hyper_in[prompts] @ upscaled.view(b, c, h * w)).view(b, -1, h, w)[:count]


def _transformer(transformer: TwoWayTransformer, image_embedding: Tensor, image_pe: Tensor,
                 point_embedding: Tensor) -> tuple[Tensor, Tensor]:  # fmt: skip
    """TwoWayTransformer.forward with a 1 x C x h x w image side; the keys are 1 x hw x C until the first block's
    image-to-token attention makes them B x hw x C. Both made hw x C contiguous once, whatever the encoder's layout:
    the additions that broadcast them over the prompts then run unstrided, and every reduction reads the values it
    reads in the official decoder (layer norm copies to this layout; `_project_rows` takes the official path)."""
    keys = image_embedding.flatten(2).permute(0, 2, 1).contiguous()
    key_pe = image_pe.flatten(2).permute(0, 2, 1).contiguous()
    first, *others = transformer.layers
    queries, keys = _block_with_shared_keys(first, point_embedding, keys, point_embedding, key_pe)
    for layer in others:
        queries, keys = layer(queries=queries, keys=keys, query_pe=point_embedding, key_pe=key_pe)
    q = queries + point_embedding
    k = keys + key_pe
    attn_out = transformer.final_attn_token_to_image(q=q, k=k, v=keys)
    return transformer.norm_final_attn(queries + attn_out), keys


def _block_with_shared_keys(layer: TwoWayAttentionBlock, queries: Tensor, keys: Tensor, query_pe: Tensor,
                            key_pe: Tensor) -> tuple[Tensor, Tensor]:  # fmt: skip
    """TwoWayAttentionBlock.forward's steps, its two cross attentions taking the one copy of the keys."""
    if layer.skip_first_layer_pe:
        queries = layer.self_attn(q=queries, k=queries, v=queries)
    else:
        q = queries + query_pe
        queries = queries + layer.self_attn(q=q, k=q, v=queries)
    queries = layer.norm1(queries)

    q = queries + query_pe
    k = keys + key_pe
    attention = layer.cross_attn_token_to_image
    queries = queries + _attend(attention, attention.q_proj(q), _project_rows(attention.k_proj, k),
                                _project_rows(attention.v_proj, keys))  # fmt: skip
    queries = layer.norm2(queries)
    queries = layer.norm3(queries + layer.mlp(queries))

    q = queries + query_pe
    attention = layer.cross_attn_image_to_token
    attn_out = _attend(attention, _project_rows(attention.q_proj, k), attention.k_proj(q), attention.v_proj(queries))
    return queries, layer.norm4(keys + attn_out)


def _attend(attention: Attention, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Attention.forward after its three projections; a 1 x n x c operand is broadcast over the batch."""
    q = attention._separate_heads(q, attention.num_heads)
    k = attention._separate_heads(k, attention.num_heads)
    v = attention._separate_heads(v, attention.num_heads)
    attn = q @ k.permute(0, 1, 3, 2)
    attn = attn / math.sqrt(q.shape[-1])
    attn = torch.softmax(attn, dim=-1)
    return attention.out_proj(attention._recombine_heads(attn @ v))


def _project_rows(linear: torch.nn.Linear, x: Tensor) -> Tensor:
    """`linear(x)` for the 1 x hw x C image side `x`, computed as ATen computes it for the official B x hw x C
    transposed view: rows copied to a contiguous matrix, `mm`, then the bias added (a contiguous input would take a
    fused `addmm`, which differs in the last bit)."""
    rows = x.reshape(-1, x.shape[-1]).contiguous()
    return torch.mm(rows, linear.weight.t()).view(*x.shape[:-1], -1).add_(linear.bias)
