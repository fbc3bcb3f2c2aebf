"""SAM 2 / SAM 2.1 (models/families/sam2.py) against the official code's outputs.

References: tests/data/parity/sam2*.{npz,json,tsv} made by make_reference_sam2.py with facebookresearch/sam2 (the
official `build_sam2`, `SAM2ImagePredictor` and `SAM2AutomaticMaskGenerator`, image encoder in float64), through the
standard protocol (tests.test_parity.official_protocol). Our family drives the same package; what these tests prove
is that our wrapper (batched prompts through `_predict`, the interface's coordinates, strict loading) gives what the
official predictor's own `predict` gives.
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

SIZES = ("t", "s", "b+", "l")
NAMES = [f"sam2.1_hiera_{s}" for s in SIZES] + [f"sam2_hiera_{s}" for s in SIZES]
WITH_OUTPUTS = ["sam2.1_hiera_t", "sam2.1_hiera_s", "sam2.1_hiera_b+", "sam2.1_hiera_l", "sam2_hiera_t"]
INPUTS = {"image", "point_coords", "point_labels", "points2_coords", "points2_labels", "box", "input_size", "stride"}
AMG_PARAMS = dict(points_per_side=4, points_per_batch=8, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                  box_nms_thresh=1.0)  # fmt: skip  (make_reference_sam2.py's call)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_layout_is_official(name):
    network = build_untrained(name)  # sam2's Hiera cannot be built on the meta device
    assert {k: tuple(v.shape) for k, v in network.state_dict().items()} == read_layout(name)


def check_outputs(name: str) -> None:
    ref = np.load(DATA / f"{name}.npz")
    model = parity_prompt_model(name, float64=True)
    ours = official_protocol(model, ref)
    assert set(ours) == {k for k in ref.files if k not in INPUTS and not k.startswith("amg.")}
    errors = {key: relative_error(ours[key], ref[key]) for key in ours}
    assert max(errors.values()) <= TOLERANCE, errors


def test_sam2_1_hiera_t_outputs_match_official_code():
    check_outputs("sam2.1_hiera_t")


@pytest.mark.slow
@pytest.mark.parametrize("name", WITH_OUTPUTS[1:])
def test_outputs_match_official_code(name):
    check_outputs(name)


@pytest.mark.slow  # a second float64 encoder pass (~18 s); the default run checks the predictor's outputs
def test_automatic_masks_match_official_generator():
    ref = np.load(DATA / "sam2.1_hiera_t.npz")
    model = parity_prompt_model("sam2.1_hiera_t", float64=True)
    with torch.inference_mode():
        records = model.generate(ref["image"], **AMG_PARAMS)
    assert len(records) == len(ref["amg.predicted_iou"]) > 0
    assert relative_error(np.array([r["predicted_iou"] for r in records]), ref["amg.predicted_iou"]) <= TOLERANCE
    assert np.abs(np.array([r["stability_score"] for r in records]) - ref["amg.stability_score"]).max() <= 1e-3
    np.testing.assert_allclose([r["point_coords"][0] for r in records], ref["amg.point_coords"], atol=1e-9)
    np.testing.assert_array_equal([r["crop_box"] for r in records], ref["amg.crop_box"])
    masks = np.stack([r["segmentation"] for r in records])
    official = np.unpackbits(ref["amg.segmentation"], axis=-1, count=masks.shape[-1]).astype(bool)
    # Logits within 1e-4 of each other may fall on either side of 0 at a few pixels; the masks are otherwise equal.
    assert (masks != official).mean() < 1e-4
    np.testing.assert_allclose([r["area"] for r in records], ref["amg.area"], rtol=1e-3)


def test_prompt_interface():
    model = parity_prompt_model("sam2.1_hiera_t")
    assert model.capabilities.encoder_returns_tensor is False
    assert model.encoder_example().shape == (1, 3, 1024, 1024)
    image = np.load(DATA / "sam2.1_hiera_t.npz")["image"]
    points = np.array([[[240.0, 160.0]], [[100.0, 50.0]]])
    boxes = np.array([[10.0, 20.0, 200.0, 150.0], [50.0, 60.0, 400.0, 300.0]])
    with torch.inference_mode():
        model.set_image(image)
        multi = model.predict(point_coords=points, point_labels=np.ones((2, 1)))
        single = [model.predict(point_coords=points[i : i + 1], point_labels=np.ones((1, 1))) for i in range(2)]
        boxed = model.predict(boxes=boxes, multimask_output=False)
        decoded = model.decode_once()()
    assert model.image_size == (321, 481) and model.embedding().shape == (1, 256, 64, 64)
    assert multi.logits.shape == (2, 3, 321, 481) and multi.low_res.shape == (2, 3, 256, 256)
    assert boxed.logits.shape == (2, 1, 321, 481) and boxed.iou.shape == (2, 1)
    # A batch of prompts answers as each prompt alone.
    for i in range(2):
        assert torch.allclose(multi.logits[i], single[i].logits[0], atol=1e-4)
    assert decoded[0].shape == (1, 3, 256, 256)


def _signature_file(tmp_path, name: str, source: str | None = None):
    """A file with `name`'s signature key and every key of `source`'s layout (default `name`), zeros."""
    layout = read_layout(source or name)
    path = tmp_path / f"{name}.pt"
    torch.save({"model": {k: torch.zeros(shape) for k, shape in layout.items()}}, path)
    return path


def test_official_checkpoint_format_loads(tmp_path):
    torch.manual_seed(1)
    state = {k: v + torch.rand_like(v) for k, v in build_untrained("sam2.1_hiera_t").state_dict().items()}
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": state}, path)
    loaded = build_model("sam2.1_hiera_t", checkpoint=path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    assert loaded.provenance["family"] == "sam2" and loaded.provenance["trained"] is True


def test_checkpoint_of_another_variant_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match=r"not a SAM 2.1 Hiera-T checkpoint.*SAM 2.1 Hiera-S"):
        build_model("sam2.1_hiera_t", checkpoint=_signature_file(tmp_path, "sam2.1_hiera_s"))
    # SAM 2 and SAM 2.1 of one size share the signature: a SAM 2 file lacks 2.1's keys, and the error names both.
    with pytest.raises(CheckpointError, match=r"(?s)Hiera-T layout \(its keys also fit SAM 2 Hiera-T.*missing keys: "
                                              r"no_obj_embed_spatial, obj_ptr_tpos_proj.bias"):  # fmt: skip
        build_model("sam2.1_hiera_t", checkpoint=_signature_file(tmp_path, "sam2_hiera_t"))


def test_signatures_are_distinct_across_sizes():
    for version in ("sam2.1_hiera_", "sam2_hiera_"):
        signatures = [model_variant(version + s).signature for s in SIZES]
        assert len(set(signatures)) == len(SIZES)
    layouts = {name: read_layout(name) for name in NAMES}
    size = {name: name.rsplit("_", 1)[1] for name in NAMES}
    for name in NAMES:
        key, shape = model_variant(name).signature
        assert layouts[name][key] == shape
        # No other size has this key with this shape.
        assert all(layouts[o].get(key) != shape for o in NAMES if size[o] != size[name])
