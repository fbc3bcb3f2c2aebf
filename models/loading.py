"""Building a registered model: its network from the official checkpoint (strict), then the prompt interface."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .backends import check_precision, optimise_encoder, use_full_float32
from .checkpoint import load_strict, read_state_dict, sha256_file
from .prompt_model import PromptModel
from .registry import model_variant


def build_untrained(name: str) -> nn.Module:
    """The variant's network with its constructors' initialisation (seeded: untrained runs are reproducible)."""
    torch.manual_seed(0)
    return model_variant(name).build().eval()


def build_model(
    name: str,
    checkpoint: str | Path | None = None,
    device: str | torch.device = "cpu",
    fuse: bool = True,
    random_init: bool = False,
) -> nn.Module:
    """The network of model `name` from its official checkpoint (strict key layout), in eval mode.

    fuse: fold re-parameterisable branches (RepViT's BatchNorms and parallel depthwise branches) into single
        convolutions after loading; the outputs equal the unfused model's to float rounding. Ignored for models
        without such branches.
    random_init: skip the checkpoint and keep untrained weights (recorded loudly in `network.provenance`).
    """
    variant = model_variant(name)
    network = build_untrained(name)
    if random_init:
        provenance = {"checkpoint": None, "checkpoint_sha256": None, "trained": False}
    else:
        path = Path(checkpoint) if checkpoint is not None else variant.default_checkpoint
        load_strict(network, read_state_dict(path, variant), variant, source=str(path))
        provenance = {"checkpoint": str(path), "checkpoint_sha256": sha256_file(path), "trained": True}
    fused = bool(fuse and variant.fuse is not None)
    if fused:
        network = variant.fuse(network)
    network.provenance = {"model": variant.name, "display": variant.display, "family": variant.family.name,
                          "official_code": variant.family.official, "fused": fused, **provenance}  # fmt: skip
    return network.to(device).eval()


def load_prompt_model(
    name: str,
    checkpoint: str | Path | None = None,
    device: str = "cpu",
    fuse: bool = True,
    backend: str = "eager",
    untrained: bool = False,
    precision: str = "fp32",
) -> PromptModel:
    """The model as every task drives it: `build_model` plus the chosen image-encoder backend and precision."""
    check_precision(precision, backend, torch.device(device))  # before the minutes of loading, not after
    use_full_float32()  # the decoder always, and the encoder unless `precision` says otherwise
    variant = model_variant(name)
    network = build_model(name, checkpoint=checkpoint, device=device, fuse=fuse, random_init=untrained)
    provenance = {**network.provenance, "backend": backend, "precision": precision}
    model = variant.prompt_model(network, provenance)
    if backend != "eager" or precision != "fp32":
        model.encoder = optimise_encoder(model.encoder, backend, precision, model.device,
                                         example=model.encoder_example(), capabilities=model.capabilities)  # fmt: skip
    return model
