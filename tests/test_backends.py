"""Every image-encoder backend computes what the eager module computes (1e-4 relative)."""
from __future__ import annotations

import pytest
import torch

from models.errors import UnsupportedSetting
from models.backends import TensorFloat32, accelerate, check_precision, use_full_float32, with_precision
from models.repvit import build_repvit_m23_encoder

SIZE = 256  # RepViT is fully convolutional up to its neck: a small input keeps the test fast


@pytest.fixture(scope="module")
def encoder_and_reference():
    torch.manual_seed(0)
    encoder = build_repvit_m23_encoder().eval().fuse()
    encoder.img_size = SIZE
    image = torch.randn(1, 3, SIZE, SIZE)
    with torch.inference_mode():
        return encoder, image, encoder(image)


@pytest.mark.parametrize("backend", ["channels_last", "onnxruntime"])
def test_backend_matches_eager(backend, encoder_and_reference, tmp_path):
    encoder, image, reference = encoder_and_reference
    accelerated = accelerate(encoder, backend, torch.device("cpu"), example=image, onnx_dir=tmp_path)
    assert accelerated.img_size == SIZE
    with torch.inference_mode():
        out = accelerated(image)
    assert out.shape == reference.shape
    assert float((out - reference).abs().max() / reference.abs().max()) <= 1e-4


@pytest.mark.slow
def test_compile_matches_eager(encoder_and_reference):
    encoder, image, reference = encoder_and_reference
    with torch.inference_mode():
        out = accelerate(encoder, "compile", torch.device("cpu"))(image)
    assert float((out - reference).abs().max() / reference.abs().max()) <= 1e-4


def test_unknown_backend_is_an_error(encoder_and_reference):
    with pytest.raises(UnsupportedSetting, match="unknown backend"):
        accelerate(encoder_and_reference[0], "tensorrt", torch.device("cpu"))


def test_bf16_autocast_returns_float32_close_to_fp32(encoder_and_reference):
    encoder, image, reference = encoder_and_reference
    low = with_precision(encoder, "bf16", "eager", torch.device("cpu"))
    assert low.img_size == SIZE
    with torch.inference_mode():
        out = low(image)
    assert out.dtype == torch.float32 and out.shape == reference.shape
    error = float((out - reference).abs().max() / reference.abs().max())
    assert 0 < error < 0.1  # 8 bits of mantissa: it moves, a little (the drift is measured in BENCHMARKS.md)


def test_fp32_precision_is_the_module_itself(encoder_and_reference):
    encoder = encoder_and_reference[0]
    assert with_precision(encoder, "fp32", "onnxruntime", torch.device("cpu")) is encoder


@pytest.mark.parametrize(
    "precision,backend,device,message",
    [
        ("fp16", "eager", "cpu", "needs a CUDA device"),
        ("tf32", "compile", "cpu", "needs a CUDA device"),
        ("bf16", "onnxruntime", "cpu", "does not see"),
        ("bf16", "onnxruntime", "cuda", "does not see"),
        ("fp8", "eager", "cuda", "unknown precision"),
    ],
)
def test_unsupported_precisions_are_errors(precision, backend, device, message):
    with pytest.raises(UnsupportedSetting, match=message):
        check_precision(precision, backend, torch.device(device))


@pytest.fixture
def tf32_flags():
    """Restores PyTorch's TF32 flags after a test, through their own setters: they are properties of torch's backend
    modules, which monkeypatch's delattr-based undo cannot restore on every pytest and torch."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    before = cudnn.allow_tf32, matmul.allow_tf32
    yield cudnn, matmul
    cudnn.allow_tf32, matmul.allow_tf32 = before


def test_full_float32_turns_tf32_off(tf32_flags):
    cudnn, matmul = tf32_flags
    cudnn.allow_tf32, matmul.allow_tf32 = True, True  # PyTorch's default for cuDNN convolutions, and a user's choice
    use_full_float32()
    assert torch.backends.cudnn.allow_tf32 is False and torch.backends.cuda.matmul.allow_tf32 is False


def test_tf32_wrapper_enables_tf32_only_inside_the_encoder(tf32_flags):
    cudnn, matmul = tf32_flags
    cudnn.allow_tf32, matmul.allow_tf32 = False, False
    seen = []

    class Probe(torch.nn.Module):
        img_size = SIZE

        def forward(self, x):
            seen.append((torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32))
            return x

    TensorFloat32(Probe())(torch.zeros(1))
    assert seen == [(True, True)]
    assert torch.backends.cudnn.allow_tf32 is False and torch.backends.cuda.matmul.allow_tf32 is False
