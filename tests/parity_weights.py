"""Deterministic weights derived from each state-dict key, the rule of `shared/parity/init_rule.py`.

The official reference outputs in tests/data/parity were computed with weights made by this rule, so an
implementation with the official key layout that loads them must reproduce those outputs. The rule (seed,
per-leaf distributions) is restated here so the tests need nothing outside the repository.
"""
from __future__ import annotations

import math
import zlib

import torch

SEED = 20251125


def parity_tensor(key: str, shape: tuple, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    if not dtype.is_floating_point:
        return torch.zeros(shape, dtype=dtype)
    gen = torch.Generator().manual_seed(zlib.crc32(key.encode()) ^ SEED)
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "running_mean":
        t = 0.1 * torch.randn(shape, generator=gen)
    elif leaf == "running_var":
        t = 0.5 + torch.rand(shape, generator=gen)
    elif leaf == "weight" and len(shape) == 1:
        t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        if key.endswith(".m.2.bn.weight"):  # RepViT's residual-closing BatchNorm, damped (see init_rule.py)
            t = 0.3 * t
    elif leaf == "weight":
        t = torch.randn(shape, generator=gen) / math.sqrt(math.prod(shape[1:]))
    elif leaf == "bias":
        t = 0.02 * torch.randn(shape, generator=gen)
    elif key.endswith("positional_encoding_gaussian_matrix"):
        t = torch.randn(shape, generator=gen)
    else:
        t = 0.1 * torch.randn(shape, generator=gen)
    return t.to(dtype)


def parity_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Weights for every entry of `model.state_dict()`, by key, shape and dtype alone."""
    return {k: parity_tensor(k, tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}
