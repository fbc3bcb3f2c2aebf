"""Strict loading of official checkpoint files.

Never falls back to random weights: a missing file, an unreadable file, a checkpoint of another model, or any
missing or unexpected key is an error that says what is wrong and what to do.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from .registry import MODELS, OTHER_SIGNATURES, ModelSpec


class CheckpointError(RuntimeError):
    pass


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: str | Path, spec: ModelSpec) -> dict[str, torch.Tensor]:
    """The state dict inside an official checkpoint file (a plain dict, or one wrapped under `model`)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint for {spec.name!r} not found at {path}.\n"
            f"Download the official {spec.checkpoint_file} from {spec.url}\n"
            f"and put it at {path} (or pass --checkpoint PATH)."
        )
    try:
        # weights_only: an official checkpoint is a dict of tensors; refuse to unpickle arbitrary objects.
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {type(err).__name__}: {err}") from err
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict (a mapping of parameter names to tensors)")
    return obj


def identify(state_dict: dict[str, torch.Tensor]) -> str | None:
    """Which known model a state dict belongs to, by its signature key and shape; None when none matches."""
    candidates = {spec.display + f" (--model {spec.name})": spec.signature for spec in MODELS.values()}
    candidates.update(OTHER_SIGNATURES)
    for label, (key, shape) in candidates.items():
        if key in state_dict and tuple(state_dict[key].shape) == shape:
            return label
    return None


def load_strict(model: nn.Module, state_dict: dict[str, torch.Tensor], spec: ModelSpec, source: str) -> None:
    """Load `state_dict` into `model`, refusing anything but an exact match of keys and shapes."""
    key, shape = spec.signature
    if key not in state_dict or tuple(state_dict[key].shape) != shape:
        other = identify(state_dict)
        what = f"it looks like {other}" if other else "it matches no known SAM-family model"
        raise CheckpointError(f"{source} is not a {spec.display} checkpoint: {what}")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        k for k in set(expected) & set(state_dict) if tuple(expected[k].shape) != tuple(state_dict[k].shape)
    )
    if missing or unexpected or mismatched:
        lines = [f"{source} does not match the official {spec.display} layout:"]
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if keys:
                shown = ", ".join(keys[:10]) + (f", ... ({len(keys)} in all)" if len(keys) > 10 else "")
                lines.append(f"  {label} keys: {shown}")
        raise CheckpointError("\n".join(lines))
    model.load_state_dict(state_dict, strict=True)
