"""Strict, loud checkpoint loading: every way a checkpoint can be wrong is an error that says what to do."""
from __future__ import annotations

import hashlib

import pytest
import torch

from models import CheckpointError, build_model, build_untrained


@pytest.fixture(scope="module")
def mobilesam_state():
    torch.manual_seed(0)
    return build_untrained("mobilesam").state_dict()


@pytest.fixture
def checkpoint(tmp_path, mobilesam_state):
    path = tmp_path / "mobile_sam.pt"
    torch.save(mobilesam_state, path)
    return path


def test_official_plain_state_dict_loads_and_records_sha256(checkpoint, mobilesam_state):
    sam = build_model("mobilesam", checkpoint=checkpoint)
    assert sam.provenance["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert sam.provenance["trained"] is True and not sam.training
    key = "mask_decoder.iou_prediction_head.layers.0.weight"
    assert torch.equal(sam.state_dict()[key], mobilesam_state[key])


def test_state_dict_wrapped_under_model_key_loads(tmp_path, mobilesam_state):
    path = tmp_path / "wrapped.pt"
    torch.save({"model": mobilesam_state, "epoch": 3}, path)
    assert build_model("mobilesam", checkpoint=path).provenance["trained"]


def test_missing_file_names_the_official_url(tmp_path):
    with pytest.raises(CheckpointError, match=r"(?s)not found.*mobile_sam\.pt.*https://"):
        build_model("mobilesam", checkpoint=tmp_path / "nope.pt")


def test_truncated_file_is_an_error(tmp_path, checkpoint):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match="cannot read"):
        build_model("mobilesam", checkpoint=truncated)


def test_not_a_state_dict_is_an_error(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="does not hold a state dict"):
        build_model("mobilesam", checkpoint=path)


def test_checkpoint_of_another_model_is_named(tmp_path):
    path = tmp_path / "repvit_sam.pt"
    torch.save({"image_encoder.features.0.0.c.weight": torch.zeros(40, 3, 3, 3)}, path)
    with pytest.raises(CheckpointError, match=r"not a MobileSAM checkpoint: it looks like RepViT-SAM \(--model repvit\)"):
        build_model("mobilesam", checkpoint=path)
    torch.save({"image_encoder.pos_embed": torch.zeros(1, 64, 64, 1024)}, path)
    with pytest.raises(CheckpointError, match=r"looks like ViT-L-SAM \(--model vit_l\)"):
        build_model("vit_b", checkpoint=path)


def test_missing_and_unexpected_keys_are_listed(tmp_path, mobilesam_state):
    state = dict(mobilesam_state)
    del state["mask_decoder.iou_token.weight"]
    state["mask_decoder.extra.weight"] = torch.zeros(1)
    path = tmp_path / "edited.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as err:
        build_model("mobilesam", checkpoint=path)
    assert "missing keys: mask_decoder.iou_token.weight" in str(err.value)
    assert "unexpected keys: mask_decoder.extra.weight" in str(err.value)


def test_shape_mismatch_is_listed(tmp_path, mobilesam_state):
    state = dict(mobilesam_state)
    state["mask_decoder.iou_token.weight"] = torch.zeros(2, 256)
    path = tmp_path / "reshaped.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="shape mismatch keys: mask_decoder.iou_token.weight"):
        build_model("mobilesam", checkpoint=path)


def test_untrained_is_recorded(tmp_path):
    sam = build_model("mobilesam", random_init=True)
    assert sam.provenance["trained"] is False and sam.provenance["checkpoint"] is None


def test_weights_readme_names_every_model_file_and_url():
    from pathlib import Path

    from models.registry import all_variants

    readme = (Path(__file__).resolve().parent.parent / "weights" / "README.md").read_text()
    for variant in all_variants():
        assert f"| `{variant.name}` | `{variant.checkpoint}` | {variant.url} |" in readme
