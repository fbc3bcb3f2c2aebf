"""Inference backends for the image encoder, the part that dominates run time.

Every backend computes the same function as the eager module (checked to 1e-4 relative in tests/test_backends.py);
they differ only in speed. Chosen with `--backend`, recorded in the results.
    eager          the PyTorch module as built
    channels_last  NHWC memory format: faster convolutions on CPU (oneDNN) and on tensor cores
    jit            TorchScript trace, frozen and `optimize_for_inference` (oneDNN conv fusion on CPU)
    compile        torch.compile (Inductor)
    onnxruntime    ONNX export run by ONNX Runtime (CPU, or CUDA when available)
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

BACKENDS = ("eager", "channels_last", "jit", "compile", "onnxruntime")


class ChannelsLast(nn.Module):
    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module.to(memory_format=torch.channels_last)
        self.img_size = module.img_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.contiguous(memory_format=torch.channels_last)).contiguous()


class OnnxRuntimeModule(nn.Module):
    """An exported module run by ONNX Runtime, callable like the torch module it came from."""

    def __init__(self, onnx_path: Path, img_size: int, device: torch.device):
        super().__init__()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        self.img_size = img_size
        self.onnx_path = onnx_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (out,) = self.session.run(None, {self.input_name: x.detach().cpu().numpy()})
        return torch.from_numpy(out).to(x.device)


def export_onnx(module: nn.Module, example: torch.Tensor, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            module, (example,), str(path), input_names=["image"], output_names=["embedding"],
            opset_version=17, dynamo=False,
        )  # fmt: skip
    return path


def accelerate(encoder: nn.Module, backend: str, device: torch.device, onnx_dir: Path | None = None) -> nn.Module:
    """The image encoder run by `backend` (input: B x 3 x img_size x img_size)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    encoder = encoder.eval()
    if backend == "eager":
        return encoder
    if backend == "channels_last":
        return ChannelsLast(encoder)
    example = torch.zeros(1, 3, encoder.img_size, encoder.img_size, device=device)
    if backend == "compile":
        compiled = torch.compile(encoder)
        compiled.img_size = encoder.img_size
        return compiled
    if backend == "jit":
        with torch.no_grad():
            traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(encoder, example)))
        return _with_img_size(traced, encoder.img_size)
    onnx_dir = Path(onnx_dir or tempfile.mkdtemp(prefix="samzero-onnx-"))
    path = export_onnx(encoder, example, onnx_dir / "image_encoder.onnx")
    return OnnxRuntimeModule(path, encoder.img_size, device)


class _with_img_size(nn.Module):
    """Give a scripted module the `img_size` attribute SamPredictor reads."""

    def __init__(self, module, img_size: int):
        super().__init__()
        self.module = module
        self.img_size = img_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)
