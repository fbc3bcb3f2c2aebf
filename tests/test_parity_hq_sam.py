"""HQ-SAM (models/families/hq_sam.py) against the official code's outputs (tests/data/parity/sam_hq_*, made by
tests/data/parity/make_reference_hq_sam.py with SysCV/sam-hq), through the PromptModel tasks drive."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import models.families.hq_sam as hq_sam
from models import build_model, build_untrained, model_variant
from models.checkpoint import CheckpointError
from models.registry import identify
from tests.parity_weights import parity_state_dict
from tests.test_parity import (
    DATA,
    TOLERANCE,
    fixed_threads,  # noqa: F401  (autouse fixture: 2 threads)
    official_protocol,
    parity_prompt_model,
    read_layout,
    relative_error,
)

REFERENCES = {"hq_vit_tiny": "sam_hq_vit_tiny", "hq_vit_b": "sam_hq_vit_b", "hq_vit_l": "sam_hq_vit_l",
              "hq_vit_h": "sam_hq_vit_h"}  # fmt: skip
WIDTHS = {"hq_vit_tiny": 160, "hq_vit_b": 768, "hq_vit_l": 1024, "hq_vit_h": 1280}
BIG = ("hq_vit_l", "hq_vit_h")


def hq_parity_model(name: str):
    return parity_prompt_model(name, float64=True)  # Float64Encoder casts the intermediate embeddings back too


def hq_protocol(model, ref) -> dict[str, np.ndarray]:
    """The reference script's calls: the shared protocol (hq_token_only=False), then the box with hq_token_only=True."""
    assert model.hq_token_only is False
    out = official_protocol(model, ref)
    stride = int(ref["stride"])
    model.hq_token_only = True
    try:
        with torch.inference_mode():
            p = model.predict(boxes=ref["box"][None], multimask_output=False)
    finally:
        model.hq_token_only = False
    out["box_hq_only.logits"] = p.logits[0, :, ::stride, ::stride].numpy()
    out["box_hq_only.iou"] = p.iou[0].numpy()
    out["box_hq_only.low_res"] = p.low_res[0, :, ::stride, ::stride].numpy()
    return out


def check_outputs(name: str) -> dict[str, float]:
    ref = np.load(DATA / f"{REFERENCES[name]}.npz")
    ours = hq_protocol(hq_parity_model(name), ref)
    outputs = [k for k in ref.files if k.startswith(("features", "point.", "box.", "combo.", "box_hq_only."))]
    assert sorted(ours) == sorted(outputs)
    errors = {key: relative_error(ours[key], ref[key]) for key in outputs}
    assert max(errors.values()) <= TOLERANCE, errors
    return errors


@pytest.mark.parametrize("name", list(REFERENCES))
def test_state_dict_layout_is_official(name):
    if name in BIG:
        with torch.device("meta"):
            network = build_untrained(name)
    else:
        network = build_untrained(name)
    ours = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    assert ours == read_layout(REFERENCES[name])


def test_signatures_tell_the_variants_apart():
    # Each HQ signature is an HQ-decoder key (absent from SAM / MobileSAM checkpoints) with the encoder's width.
    for name, reference in REFERENCES.items():
        key, shape = model_variant(name).signature
        assert read_layout(reference)[key] == shape == (WIDTHS[name], 256, 2, 2)
        for other in ("sam_vit_b", "mobile_sam", "repvit_sam", *[r for r in REFERENCES.values() if r != reference]):
            assert read_layout(other).get(key) != shape, (name, other)
    layout = {k: torch.empty(s, device="meta") for k, s in read_layout("sam_hq_vit_b").items()}
    assert "HQ-SAM ViT-B (--model hq_vit_b)" in identify(layout)
    assert not any("HQ-SAM" in v for v in identify({k: torch.empty(s, device="meta")
                                                     for k, s in read_layout("sam_vit_b").items()}))  # fmt: skip


def test_outputs_match_official_code():
    check_outputs("hq_vit_tiny")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hq_vit_b", "hq_vit_l"])  # hq_vit_h: layout only (its reference run takes hours here)
def test_outputs_match_official_code_big(name):
    check_outputs(name)


def test_prompt_model_interface():
    model = parity_prompt_model("hq_vit_tiny")
    assert model.capabilities.multimask_outputs == 1 and not model.capabilities.encoder_returns_tensor
    assert model.hq_token_only is hq_sam.HQ_TOKEN_ONLY is False
    assert model.provenance["hq_token_only"] is False
    example = model.encoder_example()
    assert tuple(example.shape) == (1, 3, 1024, 1024)
    with torch.inference_mode():
        embedding, interm = model.encoder(example)
        masks, iou = model.decode_once()()
    assert tuple(embedding.shape) == (1, 256, 64, 64)
    assert [tuple(t.shape) for t in interm] == [(1, 64, 64, 160)]  # what decode_once's random feature mimics
    assert tuple(masks.shape) == (1, 1, 256, 256) and tuple(iou.shape) == (1, 1)
    model.hq_token_only = True
    assert model.predictor.hq_token_only is True and model.provenance["hq_token_only"] is True


def test_vit_interm_embeddings_match_decoder_width():
    # decode_once builds the intermediate embedding from the decoder's fusion width: the ViT returns one per global
    # attention block, B x 64 x 64 x width (checked at a small input so it stays cheap).
    sam = hq_sam.build_hq_sam_vit(768, 12, 12, (2, 5, 8, 11), image_size=256)
    with torch.inference_mode():
        embedding, interm = sam.image_encoder(torch.zeros(1, 3, 256, 256))
    assert tuple(embedding.shape) == (1, 256, 16, 16)
    assert [tuple(t.shape) for t in interm] == [(1, 16, 16, 768)] * 4
    assert sam.mask_decoder.compress_vit_feat[0].in_channels == 768


def test_tiny_attention_bias_cache_follows_loaded_weights():
    # The official TinyViT caches its attention biases on .eval(); the prompt model refreshes them after loading.
    network = build_untrained("hq_vit_tiny")
    network.load_state_dict(parity_state_dict(network), strict=True)  # no .eval() after loading
    model = model_variant("hq_vit_tiny").prompt_model(network, {"model": "hq_vit_tiny"})
    attention = model.network.image_encoder.layers[1].blocks[0].attn
    assert torch.equal(attention.ab, attention.attention_biases[:, attention.attention_bias_idxs])


def test_official_checkpoint_loads(tmp_path):
    network = build_untrained("hq_vit_tiny")
    state = parity_state_dict(network)
    path = tmp_path / "sam_hq_vit_tiny.pth"
    torch.save(state, path)  # the official format: a plain state dict (build_sam.py: torch.load -> load_state_dict)
    loaded = build_model("hq_vit_tiny", checkpoint=path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    assert loaded.provenance["family"] == "hq_sam" and loaded.provenance["trained"]
    attention = loaded.image_encoder.layers[1].blocks[0].attn  # attention-bias cache refreshed after loading
    assert torch.equal(attention.ab, attention.attention_biases[:, attention.attention_bias_idxs])


def test_other_checkpoint_is_named(tmp_path):
    path = tmp_path / "sam_hq_vit_tiny.pth"
    torch.save(parity_state_dict(build_untrained("mobilesam")), path)
    with pytest.raises(CheckpointError, match="MobileSAM"):
        build_model("hq_vit_tiny", checkpoint=path)


def test_generate_runs_official_generator():
    model = parity_prompt_model("hq_vit_tiny")
    image = np.zeros((64, 96, 3), np.uint8)
    image[16:48, 24:72] = 200
    records = model.generate(image, points_per_side=2, pred_iou_thresh=-1e9, stability_score_thresh=-1e9)
    assert isinstance(records, list)
    for record in records:
        assert set(record) >= {"segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score",
                               "crop_box"}  # fmt: skip
