"""Float32 matrix products on bfloat16 tensor cores: the three-product split ("bf16x3").

A float32 x splits into two bfloat16 numbers, hi = x rounded to bfloat16 and lo = (x - hi) rounded to bfloat16, so
x = hi + lo to about 2^-17 relative (16 of float32's 24 significand bits). A product of two such sums keeps three
of its four terms,

    x . w  ~  x_hi . w_hi + x_hi . w_lo + x_lo . w_hi        (x_lo . w_lo is ~2^-18 of the product: dropped)

and every term is a bfloat16 x bfloat16 product, exact in float32 and accumulated in float32. The three terms are two
matrix products, x_hi @ [w_hi | w_lo] and x_lo @ w_hi, summed. This is the scheme of JAX's `Precision.HIGH` on TPUs
("bf16_3x") and, with TF32 halves, of NVIDIA CUTLASS's 3xTF32 GEMM (its example 27_ampere_3xtf32_fast_accurate_
tensorop_gemm). It keeps the result within ~1e-5 of float32 (RepViT-SAM's encoder on an H200: 7e-6 relative,
BENCHMARKS.md), where plain bfloat16 moves it by 1e-2.

It pays where bfloat16 tensor cores are many times faster than float32 arithmetic: NVIDIA GPUs, where a
bfloat16 x bfloat16 -> float32 product is one cuBLAS call (`torch.mm(..., out_dtype=torch.float32)`). PyTorch has
no such product on CPU (and MKL's, called directly on this suite's AMX CPU, left the encoder slower than float32:
BENCHMARKS.md), so there the path below computes the same exact terms in float32, for the tests; `--precision
bf16x3` is refused on CPU.

Only the layers that are matrix products with weights change: `nn.Linear` and dense 1x1 convolutions, which hold
95% of RepViT-SAM's encoder FLOPs. Depthwise and 3x3 convolutions, attention's activation-activation products and
normalisations stay float32.
"""
from __future__ import annotations

import torch
from torch import nn

BF16_ROUNDING_BIT = 1 << 15  # half a bfloat16 unit in the last place, in float32's low 16 bits
BF16_MASK = -(1 << 16)  # 0xFFFF0000 as int32: the bits float32 shares with bfloat16


def split_bf16(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(hi, lo) bfloat16 tensors with hi + lo = x to ~2^-17 relative; x float32."""
    # hi is rounded with integer arithmetic on the float32 bits, not with x.to(bfloat16).to(float32): Inductor
    # removes such a round trip as a no-op (joint_graph.pointless_convert), which would make lo zero.
    hi = ((x.view(torch.int32) + BF16_ROUNDING_BIT) & BF16_MASK).view(torch.float32)
    return hi.to(torch.bfloat16), (x - hi).to(torch.bfloat16)


def has_bf16_product() -> bool:
    """Whether this PyTorch has the bfloat16 x bfloat16 -> float32 product (`torch.mm(..., out_dtype=)`, 2.8+)."""
    return "dtype" in torch.ops.aten.mm.overloads()


def bf16_products(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b in float32 for bfloat16 a (M x K) and b (K x N): exact products, float32 accumulation."""
    if a.is_cuda:
        return torch.mm(a, b, out_dtype=torch.float32)
    return torch.mm(a.float(), b.float())  # the same exact products, on float32 units


class Bf16x3Linear(nn.Module):
    """y = x W^T + b over the last dimension of x, with the products split into three bfloat16 terms."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        w_hi, w_lo = split_bf16(weight.detach().float())
        # Two products rather than one over [x_hi | x_hi | x_lo]: under torch.compile the split then fuses into the
        # kernel that makes x and writes x_hi and x_lo once, where concatenating them made Inductor recompute x
        # (a GELU, say) for every copy: 3.4 of 6.9 ms of RepViT-SAM's encoder on an H200 (BENCHMARKS.md).
        self.register_buffer("weight_hi_lo", torch.cat([w_hi, w_lo]).t().contiguous())  # K x 2N, for x_hi
        self.register_buffer("weight_hi", w_hi.t().contiguous())  # K x N, for x_lo
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_hi, x_lo = split_bf16(x.reshape(-1, self.in_features))
        hi_terms = bf16_products(x_hi, self.weight_hi_lo)  # [x_hi w_hi | x_hi w_lo]
        y = hi_terms[:, : self.out_features] + hi_terms[:, self.out_features :] + bf16_products(x_lo, self.weight_hi)
        if self.bias is not None:
            y = y + self.bias
        return y.view(*x.shape[:-1], self.out_features)


class Bf16x3Conv1x1(Bf16x3Linear):
    """A dense 1x1 convolution as a bf16x3 product over channels; the output is channels-last in memory."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def is_pointwise_conv(module: nn.Module) -> bool:
    return (
        isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1) and module.stride == (1, 1)
        and module.padding == (0, 0) and module.dilation == (1, 1) and module.groups == 1
    )  # fmt: skip


def to_bf16x3(module: nn.Module) -> nn.Module:
    """`module` with every nn.Linear and dense 1x1 convolution replaced, in place, by its bf16x3 form."""
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, Bf16x3Linear(child.weight, child.bias))
        elif is_pointwise_conv(child):
            setattr(module, name, Bf16x3Conv1x1(child.weight.flatten(1), child.bias))
        else:
            to_bf16x3(child)
    return module
