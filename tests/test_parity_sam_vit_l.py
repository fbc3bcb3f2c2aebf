"""SAM ViT-L (models/families/sam.py `vit_l`): our state-dict layout equals the official one
(tests/data/parity/sam_vit_l_layout.tsv, made by make_reference_sam_vit_l.py with segment-anything 1.0's
`build_sam_vit_l`)."""
from __future__ import annotations

import torch

from models import build_untrained, model_variant
from tests.test_parity import read_layout


def test_vit_l_layout_is_official():
    with torch.device("meta"):
        network = build_untrained("vit_l")
    ours = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    official = read_layout("sam_vit_l")
    assert ours == official
    key, shape = model_variant("vit_l").signature
    assert official[key] == shape
