"""Every image-encoder backend computes what the eager module computes (1e-4 relative)."""
from __future__ import annotations

import pytest
import torch

from models.backends import accelerate
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


@pytest.mark.parametrize("backend", ["channels_last", "jit", "onnxruntime"])
def test_backend_matches_eager(backend, encoder_and_reference, tmp_path):
    encoder, image, reference = encoder_and_reference
    accelerated = accelerate(encoder, backend, torch.device("cpu"), onnx_dir=tmp_path)
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
    with pytest.raises(ValueError, match="unknown backend"):
        accelerate(encoder_and_reference[0], "tensorrt", torch.device("cpu"))
