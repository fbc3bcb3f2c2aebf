"""The four SAM-family models of the RepViT-SAM paper behind one builder.

    from models import build_sam
    sam = build_sam("repvit")                      # weights/repvit_sam.pt, strict
    sam = build_sam("vit_b", checkpoint="x.pth")   # any path
    sam = build_sam("repvit", random_init=True)    # untrained weights, for demos and tests only

Each returns a `segment_anything.modeling.Sam` in eval mode; `sam.provenance` records what was loaded.
"""
from __future__ import annotations

from pathlib import Path

import torch
from segment_anything.modeling import Sam

from .backends import BACKENDS, PRECISIONS, check_precision, optimise_encoder, use_full_float32
from .checkpoint import CheckpointError, load_strict, read_state_dict, sha256_file
from .prompt_model import MaskPrediction, PromptModel
from .registry import MODELS, ModelSpec, model_spec
from .sam_assembly import assemble_sam

__all__ = [
    "BACKENDS", "MODELS", "PRECISIONS", "CheckpointError", "MaskPrediction", "ModelSpec", "PromptModel",
    "build_sam", "build_untrained", "load_prompt_model", "model_spec",
]  # fmt: skip


def build_untrained(name: str) -> Sam:
    """The model's architecture with its constructors' initialisation; no file is read."""
    return assemble_sam(model_spec(name).build_encoder())


def build_sam(
    name: str,
    checkpoint: str | Path | None = None,
    device: str | torch.device = "cpu",
    fuse: bool = True,
    random_init: bool = False,
) -> Sam:
    """Build model `name` from its official checkpoint (strict key layout) in eval mode.

    fuse: fold re-parameterisable branches (RepViT's BatchNorms and parallel depthwise branches) into single
        convolutions after loading; the outputs equal the unfused model's to float rounding. Ignored for models
        without such branches.
    random_init: skip the checkpoint and keep untrained weights (recorded loudly in `sam.provenance`).
    """
    spec = model_spec(name)
    if random_init:
        torch.manual_seed(0)  # untrained runs are reproducible
    sam = build_untrained(name)
    if random_init:
        provenance = {"checkpoint": None, "checkpoint_sha256": None, "trained": False}
    else:
        path = Path(checkpoint) if checkpoint is not None else spec.default_checkpoint
        load_strict(sam, read_state_dict(path, spec), spec, source=str(path))
        provenance = {"checkpoint": str(path), "checkpoint_sha256": sha256_file(path), "trained": True}
    fused = bool(fuse and spec.reparameterizable)
    if fused:
        sam.image_encoder = sam.image_encoder.fuse()
    sam.provenance = {"model": spec.name, "display": spec.display, "fused": fused, **provenance}
    return sam.to(device).eval()


def load_prompt_model(
    name: str,
    checkpoint: str | Path | None = None,
    device: str = "cpu",
    fuse: bool = True,
    backend: str = "eager",
    untrained: bool = False,
    precision: str = "fp32",
) -> PromptModel:
    """The model as every task drives it: `build_sam` plus the chosen image-encoder backend and precision."""
    check_precision(precision, backend, torch.device(device))  # before the minutes of loading, not after
    use_full_float32()  # the decoder always, and the encoder unless `precision` says otherwise
    sam = build_sam(name, checkpoint=checkpoint, device=device, fuse=fuse, random_init=untrained)
    sam.image_encoder = optimise_encoder(sam.image_encoder, backend, precision, sam.device)
    sam.provenance["backend"] = backend
    sam.provenance["precision"] = precision
    return PromptModel(sam)
