"""MobileSAM's TinyViT encoder (models/tiny_vit.py) beyond the parity test: the attention-bias pitfalls.

The official Attention caches its gathered bias table when switched to eval mode, so weights loaded after
`.eval()` leave a stale table (2.6e-2 relative error at 1024 with the parity weights, zero biases cached).
Ours gathers the table in every forward.
"""
from __future__ import annotations

import itertools

import pytest
import torch

from models.tiny_vit import build_tiny_vit_5m_encoder, relative_position_index
from tests.parity_weights import parity_state_dict

# Any side divisible by 16 works (windows are zero-padded as in the official code); 128 keeps this fast and still
# pads every attention stage: sides 16 -> 21 (window 7), 8 -> 14 (window 14), 8 -> 14 (window 7).
SIDE = 128


def official_bias_index(window_size: int) -> torch.Tensor:
    """The official construction: number each offset (|dy|, |dx|) by first appearance over all point pairs."""
    points = list(itertools.product(range(window_size), repeat=2))
    offsets: dict[tuple[int, int], int] = {}
    idxs = []
    for p1 in points:
        for p2 in points:
            offset = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
            idxs.append(offsets.setdefault(offset, len(offsets)))
    return torch.tensor(idxs).view(len(points), len(points))


@pytest.mark.parametrize("window_size", [7, 14])
def test_bias_index_matches_official_enumeration(window_size):
    assert torch.equal(relative_position_index(window_size), official_bias_index(window_size))


def encode(encoder: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return encoder(x)


def test_weights_loaded_after_eval_take_effect():
    x = torch.randn(1, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(0))
    encoder = build_tiny_vit_5m_encoder().eval()
    before = encode(encoder, x)  # a forward in eval mode: where a cached bias table would be in use
    # Parity weights differ from the constructor's everywhere, attention biases included (zeros at init).
    weights = parity_state_dict(encoder)
    encoder.load_state_dict(weights, strict=True)
    after = encode(encoder, x)

    fresh = build_tiny_vit_5m_encoder()
    fresh.load_state_dict(weights, strict=True)
    expected = encode(fresh.eval(), x)

    assert after.shape == (1, 256, SIDE // 16, SIDE // 16)
    assert not torch.allclose(after, before)
    assert torch.equal(after, expected)


def test_bias_change_alone_after_eval_takes_effect():
    # Only the bias table changes, so a stale gather would leave the output exactly as it was.
    x = torch.randn(1, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(1))
    encoder = build_tiny_vit_5m_encoder()
    weights = parity_state_dict(encoder)
    encoder.load_state_dict(weights, strict=True)
    encoder.eval()
    before = encode(encoder, x)
    with torch.no_grad():
        encoder.layers[2].blocks[0].attn.attention_biases.add_(1.0)
    assert not torch.equal(encode(encoder, x), before)


def test_train_eval_round_trip_keeps_outputs():
    x = torch.randn(1, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(2))
    encoder = build_tiny_vit_5m_encoder()
    encoder.load_state_dict(parity_state_dict(encoder), strict=True)
    first = encode(encoder.eval(), x)
    encoder.train()
    encoder.eval()
    assert torch.equal(encode(encoder, x), first)
    assert not any("idxs" in key for key in encoder.state_dict())  # derived, never loaded
