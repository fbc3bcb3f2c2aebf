"""EfficientViT-SAM (models/efficientvit.py, models/families/efficientvit_sam.py) against the official code's outputs.

References: tests/data/parity/efficientvit_sam_<variant>.* made by make_reference_efficientvit_sam.py with
mit-han-lab/efficientvit (official zoo builder and `EfficientViTSamPredictor`, image encoder in float64), through
the standard protocol (tests.test_parity.official_protocol). The L0 reference also holds the official automatic
mask generator's records (`amg.*`, see AMG_PARAMS).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models import build_model, build_untrained
from models.checkpoint import CheckpointError
from models.registry import model_variant
from tests.test_parity import fixed_threads  # noqa: F401  (the autouse fixture: 2 threads)
from tests.test_parity import DATA, TOLERANCE, official_protocol, parity_prompt_model, read_layout, relative_error

VARIANTS = ("l0", "l1", "l2", "xl0", "xl1")
REFERENCES = {f"efficientvit_sam_{v}": f"efficientvit_sam_{v}" for v in VARIANTS}
INPUTS = {"image", "point_coords", "point_labels", "points2_coords", "points2_labels", "box", "input_size", "stride"}
# The official automatic mask generator's call in make_reference_efficientvit_sam.py (filters and NMS off, one
# crop layer).
AMG_PARAMS = dict(points_per_side=4, points_per_batch=16, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                  box_nms_thresh=1.0, crop_n_layers=1, crop_nms_thresh=1.0,
                  crop_n_points_downscale_factor=2)  # fmt: skip


@pytest.mark.parametrize("name", list(REFERENCES))
def test_state_dict_layout_is_official(name):
    with torch.device("meta"):
        network = build_untrained(name)
    ours = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    assert ours == read_layout(REFERENCES[name])


def check_outputs(name: str) -> dict[str, float]:
    ref = np.load(DATA / f"{REFERENCES[name]}.npz")
    model = parity_prompt_model(name, float64=True)
    ours = official_protocol(model, ref)
    assert set(ours) == {k for k in ref.files if k not in INPUTS and not k.startswith("amg.")}
    assert tuple(model.predictor.input_size) == tuple(ref["input_size"])
    errors = {key: relative_error(ours[key], ref[key]) for key in ours}
    assert max(errors.values()) <= TOLERANCE, errors
    return errors


def test_efficientvit_sam_l0_outputs_match_official_code():
    check_outputs("efficientvit_sam_l0")


@pytest.mark.slow
@pytest.mark.parametrize("name", [f"efficientvit_sam_{v}" for v in VARIANTS[1:]])
def test_outputs_match_official_code(name):
    check_outputs(name)


@pytest.mark.slow  # five float64 encoder runs (the image and four crops)
def test_automatic_masks_match_official_generator():
    ref = np.load(DATA / "efficientvit_sam_l0.npz")
    model = parity_prompt_model("efficientvit_sam_l0", float64=True)
    with torch.inference_mode():
        records = model.generate(ref["image"], **AMG_PARAMS)
    assert len(records) == len(ref["amg.predicted_iou"])
    iou = np.array([r["predicted_iou"] for r in records])
    stability = np.array([r["stability_score"] for r in records])
    assert relative_error(iou, ref["amg.predicted_iou"]) <= TOLERANCE
    assert np.abs(stability - ref["amg.stability_score"]).max() <= 1e-3
    np.testing.assert_allclose([r["area"] for r in records], ref["amg.area"], rtol=1e-3)
    np.testing.assert_allclose([r["bbox"] for r in records], ref["amg.bbox"], atol=1)
    np.testing.assert_allclose([r["point_coords"][0] for r in records], ref["amg.point_coords"], atol=1e-9)
    np.testing.assert_array_equal([r["crop_box"] for r in records], ref["amg.crop_box"])


def test_official_checkpoint_format_loads(tmp_path):
    # The official loader (load_state_dict_from_file) takes the state dict under "state_dict" if there, else the file.
    torch.manual_seed(1)
    state = {k: v + torch.rand_like(v) if v.is_floating_point() else v
             for k, v in build_untrained("efficientvit_sam_l0").state_dict().items()}  # fmt: skip
    path = tmp_path / "efficientvit_sam_l0.pt"
    torch.save({"state_dict": state}, path)
    loaded = build_model("efficientvit_sam_l0", checkpoint=path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    torch.save(state, path)  # a plain state dict
    build_model("efficientvit_sam_l0", checkpoint=path)


def _signature_file(tmp_path, name: str, *extra: str):
    """A file holding variant `name`'s signature key (and `extra` keys of its layout), zeros."""
    key, shape = model_variant(name).signature
    layout = read_layout(REFERENCES[name])
    path = tmp_path / f"{name}.pt"
    torch.save({k: torch.zeros(layout[k]) for k in (key, *extra)}, path)
    return path


def test_checkpoint_of_another_variant_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match=r"not a EfficientViT-SAM-L0 checkpoint.*EfficientViT-SAM-XL0"):
        build_model("efficientvit_sam_l0", checkpoint=_signature_file(tmp_path, "efficientvit_sam_xl0"))
    # Nested layouts: L0's keys are all in L1's. An L0 file named as L1 lacks L1's signature (its neck's last block);
    with pytest.raises(CheckpointError, match=r"not a EfficientViT-SAM-L1 checkpoint.*EfficientViT-SAM-L0"):
        build_model("efficientvit_sam_l1", checkpoint=_signature_file(tmp_path, "efficientvit_sam_l0"))
    # an L1 file named as L0 has L0's signature too, and is refused by the strict key check.
    l0_key = model_variant("efficientvit_sam_l0").signature[0]
    path = _signature_file(tmp_path, "efficientvit_sam_l1", l0_key)
    unexpected = r"(?s)EfficientViT-SAM-L0 layout.*unexpected keys: image_encoder\.neck\.middle\.op_list\.7"
    with pytest.raises(CheckpointError, match=unexpected):
        build_model("efficientvit_sam_l0", checkpoint=path)


def test_signatures_are_distinct():
    signatures = [model_variant(name).signature for name in REFERENCES]
    assert len(set(signatures)) == len(signatures)
    for name, (key, shape) in zip(REFERENCES, signatures):
        assert read_layout(REFERENCES[name])[key] == shape


def test_prompt_interface_and_sizes():
    model = parity_prompt_model("efficientvit_sam_l0")
    assert model.capabilities.encoder_input_size == 512 and model.encoder_example().shape == (1, 3, 512, 512)
    image = np.load(DATA / "efficientvit_sam_l0.npz")["image"]
    points = np.array([[[240.0, 160.0]], [[100.0, 50.0]]])
    with torch.inference_mode():
        model.set_image(image)
        multi = model.predict(point_coords=points, point_labels=np.ones((2, 1)))
        as_torch = model.predict(point_coords=torch.tensor(points), point_labels=torch.ones(2, 1),
                                 boxes=None, multimask_output=True)  # fmt: skip
    assert model.embedding().shape == (1, 256, 64, 64)
    assert model.predictor.input_size == (683, 1024)  # the 1024 prompt frame, while the encoder saw 342 x 512
    assert multi.logits.shape == (2, 3, 321, 481) and multi.low_res.shape == (2, 3, 256, 256)
    assert multi.iou.shape == (2, 3)
    assert torch.allclose(as_torch.logits, multi.logits, atol=1e-4)
    with torch.device("meta"):
        xl1 = build_untrained("efficientvit_sam_xl1")
    assert xl1.image_size == (1024, 1024) and xl1.image_encoder.img_size == 1024
