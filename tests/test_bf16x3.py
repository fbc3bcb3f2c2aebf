"""bf16x3 (models/bf16x3.py) computes float32 products to ~1e-5, well inside the 1e-4 every backend is held to."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from models.errors import UnsupportedSetting
from models.backends import check_precision, optimise_encoder, use_full_float32
from models.bf16x3 import Bf16x3Conv1x1, Bf16x3Linear, split_bf16, to_bf16x3
from models.repvit import build_repvit_m23_encoder
from models.tiny_vit import build_tiny_vit_5m_encoder


def relative_error(out: torch.Tensor, reference: torch.Tensor) -> float:
    return float((out - reference).abs().max() / reference.abs().max())


def test_split_keeps_sixteen_significand_bits():
    x = torch.randn(10_000) * torch.logspace(-20, 20, 10_000)
    hi, lo = split_bf16(x)
    assert hi.dtype == lo.dtype == torch.bfloat16
    assert torch.equal(hi, x.to(torch.bfloat16))  # hi is x rounded to nearest, as the bit arithmetic intends
    residual = (x - hi.float() - lo.float()).abs() / x.abs()
    assert float(residual.max()) <= 2.0**-16
    assert float((x - hi.float()).abs().max()) > 0 and bool((lo != 0).any())  # lo carries what hi dropped


def test_linear_matches_float32_far_closer_than_bfloat16():
    torch.manual_seed(0)
    linear = nn.Linear(320, 640)
    x = torch.randn(4, 100, 320)
    with torch.inference_mode():
        reference = linear(x)
        split = Bf16x3Linear(linear.weight, linear.bias)(x)
        plain = nn.functional.linear(x.bfloat16(), linear.weight.bfloat16(), linear.bias.bfloat16()).float()
    assert split.shape == reference.shape and split.dtype == torch.float32
    assert relative_error(split, reference) < 1e-5
    assert relative_error(plain, reference) > 1e-3  # what one bfloat16 product would have done


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_pointwise_conv_matches_float32(memory_format):
    torch.manual_seed(0)
    conv = nn.Conv2d(80, 160, 1)
    x = torch.randn(2, 80, 16, 12).contiguous(memory_format=memory_format)
    with torch.inference_mode():
        out = Bf16x3Conv1x1(conv.weight.flatten(1), conv.bias)(x)
        reference = conv(x)
    assert out.shape == reference.shape
    assert relative_error(out, reference) < 1e-5


def test_only_linear_and_pointwise_convs_are_replaced():
    model = nn.Sequential(nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 1, groups=8),
                          nn.Conv2d(8, 8, 1, stride=2), nn.Sequential(nn.Linear(8, 4)))  # fmt: skip
    to_bf16x3(model)
    kinds = [type(model[i]).__name__ for i in range(4)] + [type(model[4][0]).__name__]
    assert kinds == ["Bf16x3Conv1x1", "Conv2d", "Conv2d", "Conv2d", "Bf16x3Linear"]


@pytest.mark.parametrize(
    "build,size", [(build_repvit_m23_encoder, 256), (build_tiny_vit_5m_encoder, 1024)], ids=["repvit", "mobilesam"]
)
def test_encoder_in_bf16x3_matches_float32(build, size):
    torch.manual_seed(0)
    encoder = build().eval()
    encoder = encoder.fuse() if hasattr(encoder, "fuse") else encoder
    image = torch.randn(1, 3, size, size)
    with torch.inference_mode():
        reference = encoder(image)
        out = to_bf16x3(encoder)(image)
    assert sum(isinstance(m, Bf16x3Linear) for m in encoder.modules()) > 20
    assert 0 < relative_error(out, reference) <= 1e-4


def test_compiled_split_keeps_the_low_term():
    """Inductor must not fold the split's round trip away: that would leave plain bfloat16's 1e-3 error."""
    torch.manual_seed(0)
    linear = nn.Linear(64, 32)
    x = torch.randn(256, 64)
    with torch.inference_mode():
        reference = linear(x)
        out = torch.compile(Bf16x3Linear(linear.weight, linear.bias))(x)
    assert relative_error(out, reference) < 1e-5


def test_bf16x3_precision_needs_cuda_and_a_pytorch_backend():
    with pytest.raises(UnsupportedSetting, match="needs a CUDA device"):
        check_precision("bf16x3", "eager", torch.device("cpu"))
    with pytest.raises(UnsupportedSetting, match="does not see"):
        check_precision("bf16x3", "onnxruntime", torch.device("cuda"))
    with pytest.raises(UnsupportedSetting, match="needs a CUDA device"):
        optimise_encoder(nn.Linear(2, 2), "eager", "bf16x3", torch.device("cpu"))


def test_bf16x3_needs_a_pytorch_with_the_mixed_product(monkeypatch):
    monkeypatch.setattr("models.backends.has_bf16_product", lambda: False)
    with pytest.raises(UnsupportedSetting, match="PyTorch 2.8 or later"):
        check_precision("bf16x3", "cudagraphs", torch.device("cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("backend", ["eager", "channels_last", "cudagraphs"])
def test_cuda_bf16x3_encoder_matches_float32(backend):
    use_full_float32()  # the reference is full float32 (as every run: models.loading sets it for the process)
    torch.manual_seed(0)
    encoder = build_repvit_m23_encoder().eval().fuse().cuda()
    encoder.img_size = 1024
    image = torch.randn(1, 3, 1024, 1024, device="cuda")
    with torch.inference_mode():
        reference = encoder(image)
        out = optimise_encoder(encoder, backend, "bf16x3", torch.device("cuda"))(image)
    assert 0 < relative_error(out, reference) <= 1e-4
