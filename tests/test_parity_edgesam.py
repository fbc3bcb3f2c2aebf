"""EdgeSAM (models/families/edgesam.py) against the official code's outputs (tests/data/parity/edge_sam.*).

The reference was made by tests/data/parity/make_reference_edgesam.py with the official `edge_sam` package: its
predictor (official defaults, and the 4-mask / stability-score option) and its automatic mask generator, image encoder
in float64. Both variants share the architecture (they differ in training data only), so one reference serves both.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models import build_model, build_untrained, model_variant
from models.checkpoint import CheckpointError
from models.families.edgesam import EdgeSamPredictor
from tests.parity_weights import parity_state_dict
from tests.test_parity import (
    DATA,
    TOLERANCE,
    fixed_threads,  # noqa: F401  (autouse fixture: 2 threads, as the reference)
    official_protocol,
    parity_prompt_model,
    read_layout,
    relative_error,
)

REFERENCE = "edge_sam"
VARIANTS = ("edgesam", "edgesam_3x")
AMG_SCORES = ("predicted_iou", "stability_score")
AMG_EXACT = ("area", "bbox", "point_coords", "crop_box")  # exact on the machine that made the reference


@pytest.fixture(scope="module")
def reference():
    return np.load(DATA / f"{REFERENCE}.npz")


@pytest.mark.parametrize("name", VARIANTS)
def test_state_dict_layout_is_official(name):
    network = build_untrained(name)
    assert {k: tuple(v.shape) for k, v in network.state_dict().items()} == read_layout(REFERENCE)
    key, shape = model_variant(name).signature
    assert read_layout(REFERENCE)[key] == shape


def test_variants_share_signature_and_reference():
    # Same key layout: the checkpoint's file name is the only thing that tells edge_sam.pth from edge_sam_3x.pth.
    assert model_variant("edgesam").signature == model_variant("edgesam_3x").signature
    info = json.loads((DATA / f"{REFERENCE}.json").read_text())
    assert set(info["variants"]) == set(VARIANTS)


def edgesam_protocol(model, ref) -> dict[str, np.ndarray]:
    """The reference script's calls through our PromptModel: the shared protocol with the official predictor's
    defaults, then the point prompt with 4 masks scored by stability (`point4.*`), then the automatic masks."""
    out = official_protocol(model, ref)
    stride = int(ref["stride"])
    with torch.inference_mode():
        model.configure(num_multimask_outputs=4, use_stability_score=True)
        try:
            p = model.predict(point_coords=ref["point_coords"][None], point_labels=ref["point_labels"][None])
        finally:
            model.configure(num_multimask_outputs=3, use_stability_score=False)
    out["point4.logits"] = p.logits[0, :, ::stride, ::stride].cpu().numpy()
    out["point4.iou"] = p.iou[0].cpu().numpy()
    out["point4.low_res"] = p.low_res[0, :, ::stride, ::stride].cpu().numpy()
    return out


def check_predictor(name: str, ref) -> dict[str, float]:
    model = parity_prompt_model(name, float64=True)
    assert model.capabilities.multimask_outputs == 3
    ours = edgesam_protocol(model, ref)
    assert ours["point.logits"].shape[0] == 3 and ours["point4.logits"].shape[0] == 4
    errors = {key: relative_error(ours[key], ref[key]) for key in ours}
    assert max(errors.values()) <= TOLERANCE, errors
    return errors


def check_automatic_masks(name: str, ref) -> None:
    """Our `generate` against the official generator's records. On the machine that made the reference they are
    identical; elsewhere a logit within float32 rounding of a threshold could move a pixel or a near-tie in order, so
    records are matched by (point, area) and compared to a pixel-level tolerance."""
    params = json.loads((DATA / f"{REFERENCE}.json").read_text())["amg_params"]
    model = parity_prompt_model(name, float64=True)
    records = model.generate(ref["image"], **params)
    stride, count = int(ref["stride"]), len(ref["amg.area"])
    assert len(records) == count > 0
    ours = {field: np.array([r[field] for r in records]) for field in AMG_SCORES + AMG_EXACT}
    masks = np.stack([r["segmentation"][::stride, ::stride] for r in records])
    ours["segmentation"] = np.packbits(masks.reshape(count, -1), axis=1)
    theirs = {field: ref[f"amg.{field}"] for field in ours}
    order = {}
    for side, values in (("ours", ours), ("theirs", theirs)):
        points = values["point_coords"].reshape(count, 2)
        order[side] = np.lexsort((values["area"], points[:, 1], points[:, 0]))
    ours = {k: v[order["ours"]] for k, v in ours.items()}
    theirs = {k: v[order["theirs"]] for k, v in theirs.items()}
    np.testing.assert_array_equal(ours["point_coords"], theirs["point_coords"])
    np.testing.assert_array_equal(ours["crop_box"], theirs["crop_box"])
    np.testing.assert_allclose(ours["bbox"], theirs["bbox"], rtol=0, atol=1)
    np.testing.assert_allclose(ours["area"], theirs["area"], rtol=1e-4, atol=2)
    for field in AMG_SCORES:
        np.testing.assert_allclose(ours[field], theirs[field], rtol=0, atol=1e-4, err_msg=field)
    differing = np.unpackbits(ours["segmentation"] ^ theirs["segmentation"], axis=1).sum(axis=1)
    assert differing.max() <= 2, differing


def test_predictor_matches_official_code(reference):
    check_predictor("edgesam", reference)


def test_automatic_masks_match_official_code(reference):
    check_automatic_masks("edgesam", reference)


@pytest.mark.slow
def test_3x_matches_official_code(reference):
    check_predictor("edgesam_3x", reference)
    check_automatic_masks("edgesam_3x", reference)


def test_amg_scores_masks_by_low_res_stability():
    """What EdgeSAM's generator changes from SAM's: its predictor scores 3 masks per point by low-res stability."""
    model = parity_prompt_model("edgesam")
    predictor = model.generator_class(model.network).predictor
    assert isinstance(predictor, EdgeSamPredictor) and predictor.model is model.network
    options = (predictor.num_multimask_outputs, predictor.use_stability_score, predictor.stability_score_offset)
    assert options == (3, True, 1.0)
    assert (model.predictor.num_multimask_outputs, model.predictor.use_stability_score) == (3, False)


def test_configure_rejects_other_mask_counts():
    model = parity_prompt_model("edgesam")
    with pytest.raises(ValueError, match="num_multimask_outputs"):
        model.configure(num_multimask_outputs=2)
    assert model.configure(num_multimask_outputs=4).capabilities.multimask_outputs == 4


def test_official_checkpoint_format_loads(tmp_path):
    # The released files are plain state dicts (scripts/convert_weights.py saves one, build_edge_sam loads one).
    network = build_untrained("edgesam")
    state = parity_state_dict(network)
    path = tmp_path / "edge_sam_3x.pth"
    torch.save(state, path)
    loaded = build_model("edgesam_3x", checkpoint=path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    assert loaded.provenance["fused"] is False  # EdgeSAM runs its encoder unfolded, as the official predictor
    del state["image_encoder.fuse_stage3.op_list.0.weight"]
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="not a EdgeSAM-3x checkpoint"):
        build_model("edgesam_3x", checkpoint=path)
