"""Strict loading of official checkpoint files.

Never falls back to random weights: a missing file, an unreadable file, a checkpoint of another model, or any
missing or unexpected key is an error that says what is wrong and what to do.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from .errors import SamzeroError
from .registry import ModelVariant, identify


class CheckpointError(SamzeroError):
    """A checkpoint file that is missing, unreadable, of another model or of another layout."""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def missing_checkpoint_message(variant: ModelVariant, path: Path) -> str:
    return f"checkpoint for {variant.name!r} not found at {path}: {variant.how_to_get()}, put it at {path} (or pass --checkpoint PATH)"


def read_state_dict(path: str | Path, variant: ModelVariant) -> dict[str, torch.Tensor]:
    """The state dict inside an official checkpoint file (a plain dict, or one wrapped under the variant's key)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(missing_checkpoint_message(variant, path))
    try:
        # weights_only: an official checkpoint is a dict of tensors; refuse to unpickle arbitrary objects.
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {type(err).__name__}: {err}") from err
    if variant.state_dict_key is not None and isinstance(obj, dict) and isinstance(obj.get(variant.state_dict_key), dict):
        obj = obj[variant.state_dict_key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict (a mapping of parameter names to tensors)")
    return obj


def load_strict(model: nn.Module, state_dict: dict[str, torch.Tensor], variant: ModelVariant, source: str) -> None:
    """Load `state_dict` into `model`, refusing anything but an exact match of keys and shapes."""
    key, shape = variant.signature
    if key not in state_dict or tuple(state_dict[key].shape) != shape:
        others = identify(state_dict)
        what = f"it looks like {' or '.join(others)}" if others else "it matches no known SAM-family model"
        raise CheckpointError(f"{source} is not a {variant.display} checkpoint: {what}")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        k for k in set(expected) & set(state_dict) if tuple(expected[k].shape) != tuple(state_dict[k].shape)
    )
    if missing or unexpected or mismatched:
        others = [label for label in identify(state_dict) if not label.endswith(f"(--model {variant.name})")]
        hint = f" (its keys also fit {' or '.join(others)})" if others else ""
        lines = [f"{source} does not match the official {variant.display} layout{hint}:"]
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if keys:
                shown = ", ".join(keys[:10]) + (f", ... ({len(keys)} in all)" if len(keys) > 10 else "")
                lines.append(f"  {label} keys: {shown}")
        raise CheckpointError("\n".join(lines))
    model.load_state_dict(state_dict, strict=True)
