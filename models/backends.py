"""Inference backends for the image encoder, the part that dominates run time.

Every backend computes the same function as the eager module (checked to 1e-4 relative in tests/test_backends.py);
they differ only in speed. Chosen with `--backend`, recorded in the results.
    eager          the PyTorch module as built
    channels_last  NHWC memory format: faster convolutions on CPU (oneDNN) and on tensor cores
    compile        torch.compile (Inductor)
    cudagraphs     torch.compile with CUDA graphs (CUDA only): one graph replay instead of hundreds of kernel launches,
                   which is what a batch-1 convolutional encoder on a fast GPU otherwise waits on
    onnxruntime    ONNX export (torch.export-based exporter) run by ONNX Runtime (CPU, or CUDA when available)

Precision (`--precision`) is separate. `fp32` is the reference: full float32, also on CUDA (see
`use_full_float32`). `bf16x3` (CUDA) computes the encoder's weight products on bfloat16 tensor cores split into
three terms (models/bf16x3.py): float32 to ~1e-5, checked to 1e-4 against fp32 like a backend. `tf32` lets the
encoder's float32 convolutions and matrix products use TF32 tensor cores (CUDA). `bf16` / `fp16` run the encoder
under `torch.autocast` (matrix products and convolutions in 16 bits, normalisations and softmax kept in float32 by
autocast's op lists). Each hands a float32 embedding to the float32 prompt encoder and mask decoder. tf32, bf16 and
fp16 change the numbers: their drift against fp32 on the parity inputs is measured by
benchmarks/precision_drift.py (BENCHMARKS.md).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from .bf16x3 import has_bf16_product, to_bf16x3
from .errors import UnsupportedSetting
from .capabilities import Capabilities
from .settings import BACKENDS, PRECISIONS
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class EncoderWrapper(nn.Module):
    """An image encoder run another way; keeps the `img_size` attribute SamPredictor reads (where it has one)."""

    def __init__(self, module: nn.Module, img_size: int | None = None):
        super().__init__()
        self.module = module
        self.img_size = getattr(module, "img_size", None) if img_size is None else img_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


class ChannelsLast(EncoderWrapper):
    def __init__(self, module: nn.Module):
        super().__init__(module.to(memory_format=torch.channels_last))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.contiguous(memory_format=torch.channels_last)).contiguous()


class CudaGraphs(EncoderWrapper):
    def __init__(self, module: nn.Module):
        super().__init__(torch.compile(module, mode="reduce-overhead"), getattr(module, "img_size", None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The graph writes every replay's output into the same buffer: a copy keeps this embedding valid after the
        # next image is encoded.
        return self.module(x).clone()


class OnnxRuntimeModule(nn.Module):
    """An exported module run by ONNX Runtime, callable like the torch module it came from."""

    def __init__(self, onnx_path: Path, img_size: int | None, device: torch.device):
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


def export_onnx(module: nn.Module, args: tuple, path: Path, input_names: list[str], output_names: list[str],
                dynamic_shapes: dict | None = None, strict: bool = False) -> Path:  # fmt: skip
    """`module(*args)` as an ONNX graph: torch.export, then PyTorch's ONNX exporter (the TorchScript-based one is
    deprecated). Exported here rather than by torch.onnx.export, which on failure of its first attempt retries in
    the other mode and prints the whole graph: `strict` picks the mode that works for the module."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode(False), torch.no_grad():
        program = torch.export.export(module.eval(), args, dynamic_shapes=dynamic_shapes, strict=strict)
        torch.onnx.export(program, (), str(path), input_names=input_names, output_names=output_names, dynamo=True,
                          verbose=False)  # fmt: skip
    return path


def accelerate(encoder: nn.Module, backend: str, device: torch.device, example: torch.Tensor | None = None,
               onnx_dir: Path | None = None) -> nn.Module:  # fmt: skip
    """The image encoder run by `backend`. `example`: an input of the shape it will see (1 x 3 x S x S), which the
    ONNX export (onnxruntime) needs."""
    if backend not in BACKENDS:
        raise UnsupportedSetting(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    encoder = encoder.eval()
    if backend == "eager":
        return encoder
    if backend == "channels_last":
        return ChannelsLast(encoder)
    if backend == "cudagraphs":
        if device.type != "cuda":
            raise UnsupportedSetting("the cudagraphs backend needs a CUDA device")
        return CudaGraphs(encoder)
    if backend == "compile":
        compiled = torch.compile(encoder)
        compiled.img_size = getattr(encoder, "img_size", None)
        return compiled
    if example is None:
        raise ValueError(f"the {backend} backend exports the encoder: give an example input")
    onnx_dir = Path(onnx_dir or tempfile.mkdtemp(prefix="samzero-onnx-"))
    path = export_onnx(encoder, (example,), onnx_dir / "image_encoder.onnx", ["image"], ["embedding"])
    return OnnxRuntimeModule(path, getattr(encoder, "img_size", None), device)


class Autocast(EncoderWrapper):
    """The encoder under autocast in a 16-bit dtype; its embedding returns as float32 for the float32 decoder."""

    def __init__(self, module: nn.Module, dtype: torch.dtype, device_type: str):
        super().__init__(module)
        self.dtype = dtype
        self.device_type = device_type

    def forward(self, x: torch.Tensor):
        with torch.autocast(self.device_type, dtype=self.dtype):
            return to_float32(self.module(x))


def to_float32(out):
    """An encoder's output (a tensor, or nested tuples / lists / dicts of them: HQ-SAM's intermediate features, SAM 2's
    feature levels) in float32."""
    if isinstance(out, torch.Tensor):
        return out.float()
    if isinstance(out, dict):
        return {key: to_float32(value) for key, value in out.items()}
    return type(out)(to_float32(o) for o in out)


def use_full_float32() -> None:
    """Float32 convolutions and matrix products computed in full float32 on CUDA, for the whole process.

    PyTorch's default lets cuDNN run float32 convolutions on TF32 tensor cores (10-bit mantissas). Measured on an
    H200 (BENCHMARKS.md): that moved MobileSAM's outputs on the parity inputs by 3e-3 relative and RepViT-SAM's,
    whose parity weights drive activations to ~1e10, by more than 100%. So `--precision fp32` means float32, and
    TF32 is a choice of its own (`--precision tf32`)."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


class TensorFloat32(EncoderWrapper):
    """The encoder with TF32 tensor cores for its float32 convolutions and matrix products (CUDA)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
        matmul_before = matmul.allow_tf32
        matmul.allow_tf32 = True
        try:
            with cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark, deterministic=cudnn.deterministic,
                             allow_tf32=True):  # fmt: skip
                return self.module(x)
        finally:
            matmul.allow_tf32 = matmul_before


def check_precision(precision: str, backend: str, device: torch.device) -> None:
    if precision not in PRECISIONS:
        raise UnsupportedSetting(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return
    if backend == "onnxruntime":
        raise UnsupportedSetting(f"--precision {precision} changes how PyTorch runs the encoder (torch.autocast, TF32 flags, "
                         f"bf16x3 layers), which the {backend} backend does not see; use eager, channels_last, compile "
                         "or cudagraphs")  # fmt: skip
    if precision == "bf16x3" and device.type != "cuda":
        raise UnsupportedSetting("--precision bf16x3 needs a CUDA device (bfloat16 tensor cores with float32 output); on CPU "
                         "this PyTorch has no such product and bf16x3 would be slower than fp32")  # fmt: skip
    if precision == "bf16x3" and not has_bf16_product():
        raise UnsupportedSetting(f"--precision bf16x3 needs torch.mm(..., out_dtype=), which PyTorch {torch.__version__} "
                         "lacks; install PyTorch 2.8 or later")  # fmt: skip
    if precision == "tf32" and device.type != "cuda":
        raise UnsupportedSetting("--precision tf32 needs a CUDA device (TF32 is a mode of NVIDIA tensor cores)")
    if precision == "fp16" and device.type != "cuda":
        raise UnsupportedSetting("--precision fp16 needs a CUDA device (CPU kernels for fp16 convolutions are slow or "
                         "missing); use bf16 on CPU")  # fmt: skip


def with_precision(encoder: nn.Module, precision: str, backend: str, device: torch.device) -> nn.Module:
    """`encoder` (already given its backend) run in `precision`: the wrappers that set a mode around its forward."""
    check_precision(precision, backend, device)
    if precision == "tf32":
        return TensorFloat32(encoder)
    if precision in AUTOCAST_DTYPES:
        return Autocast(encoder, AUTOCAST_DTYPES[precision], device.type)
    return encoder  # fp32, and bf16x3 whose layers were replaced before the backend (optimise_encoder)


def optimise_encoder(
    encoder: nn.Module,
    backend: str,
    precision: str,
    device: torch.device,
    example: torch.Tensor | None = None,
    capabilities: Capabilities | None = None,
    onnx_dir: Path | None = None,
) -> nn.Module:
    """The image encoder as inference runs it: bf16x3 layers (which the backend must compile), the backend, then
    the precision's wrapper. `example`: an input of the encoder's shape (`PromptModel.encoder_example()`)."""
    check_precision(precision, backend, device)
    if capabilities is not None and not capabilities.encoder_returns_tensor and backend != "eager":
        raise UnsupportedSetting(f"--backend {backend} handles encoders that return one tensor; this model's encoder returns "
                         "several outputs (use --backend eager)")  # fmt: skip
    if precision == "bf16x3":
        encoder = to_bf16x3(encoder)
    return with_precision(accelerate(encoder, backend, device, example, onnx_dir), precision, backend, device)
