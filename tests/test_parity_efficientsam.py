"""EfficientSAM (models/efficient_sam.py, models/families/efficientsam.py) against the official code's outputs.

References: tests/data/parity/efficient_sam_vitt.* and efficient_sam_vits.*, made by make_reference_efficientsam.py
with yformer/EfficientSAM (official image encoder in float64); efficient_sam_vitt_everything.npz: the official
notebook's segment-everything on the same model and image (5x5 grid, thresholds lowered for the parity weights).
EfficientSAM has no mask input and takes boxes as two corner points, so its protocol (`efficientsam_protocol`) differs
from tests.test_parity.official_protocol in `combo` (points2 + box, no mask input) and in the single-mask outputs (the
best of the 3 by predicted IoU, as the official examples take them).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models import build_model, build_untrained
from models.checkpoint import CheckpointError
from tests.parity_weights import parity_state_dict
from tests.test_parity import fixed_threads  # noqa: F401  (autouse: the parity thread count)
from tests.test_parity import DATA, THREADS, TOLERANCE, parity_prompt_model, read_layout, relative_error

REFERENCES = {"efficientsam_ti": "efficient_sam_vitt", "efficientsam_s": "efficient_sam_vits"}


def efficientsam_protocol(model, ref, set_image: bool = True) -> dict[str, np.ndarray]:
    """make_reference_efficientsam.py's calls, through our PromptModel (`set_image=False`: the image is set)."""
    stride = int(ref["stride"])
    out = {}
    with torch.inference_mode():
        if set_image:
            model.set_image(ref["image"])
        out["features"] = model.embedding()
        calls = {
            "point": dict(point_coords=ref["point_coords"][None], point_labels=ref["point_labels"][None],
                          multimask_output=True),
            "box": dict(boxes=ref["box"][None], multimask_output=False),
            # The reference's combo: points2 then the box's corners in one query (no mask input).
            "combo": dict(point_coords=ref["points2_coords"][None], point_labels=ref["points2_labels"][None],
                          boxes=ref["box"][None], multimask_output=False),  # fmt: skip
        }
        for prompt, kwargs in calls.items():
            p = model.predict(**kwargs)
            out[f"{prompt}.logits"], out[f"{prompt}.iou"] = p.logits[0], p.iou[0]
            out[f"{prompt}.low_res"] = p.low_res[0]
    out = {k: v.cpu().numpy() for k, v in out.items()}
    out["features"] = out["features"][:, :, ::stride, ::stride]
    for prompt in ("point", "box", "combo"):
        out[f"{prompt}.logits"] = out[f"{prompt}.logits"][:, ::stride, ::stride]
        out[f"{prompt}.low_res"] = out[f"{prompt}.low_res"][:, ::stride, ::stride]
    return out


@pytest.fixture(scope="module")
def ti():
    """EfficientSAM-Ti with the parity weights, its encoder in float64, the parity image set: the module's one
    encoder pass (about 17 s on 2 cores)."""
    ref = np.load(DATA / "efficient_sam_vitt.npz")
    model = parity_prompt_model("efficientsam_ti", float64=True)
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    with torch.inference_mode():
        model.set_image(ref["image"])
    torch.set_num_threads(before)
    return model, ref


@pytest.mark.parametrize("name", list(REFERENCES))
def test_state_dict_layout_is_official(name):
    with torch.device("meta"):
        network = build_untrained(name)
    ours = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    assert ours == read_layout(REFERENCES[name])


def check_outputs(ours: dict[str, np.ndarray], ref) -> dict[str, float]:
    assert set(ours) == set(ref.files) - {"image", "point_coords", "point_labels", "points2_coords", "points2_labels",
                                          "box", "input_size", "stride"}  # fmt: skip
    errors = {key: relative_error(ours[key], ref[key]) for key in ours}
    assert max(errors.values()) <= TOLERANCE, errors
    return errors


def test_efficientsam_ti_outputs_match_official_code(ti):
    model, ref = ti
    check_outputs(efficientsam_protocol(model, ref, set_image=False), ref)  # measured: 0.0 (bit-identical)


@pytest.mark.slow
def test_efficientsam_s_outputs_match_official_code():
    ref = np.load(DATA / "efficient_sam_vits.npz")
    check_outputs(efficientsam_protocol(parity_prompt_model("efficientsam_s", float64=True), ref), ref)  # 0.0


def test_official_checkpoint_format_loads(tmp_path):
    # The official files wrap the state dict as {"model": state_dict} (build_efficient_sam's state_dict["model"]).
    network = build_untrained("efficientsam_ti")
    state = parity_state_dict(network)
    path = tmp_path / "efficient_sam_vitt.pt"
    torch.save({"model": state}, path)
    loaded = build_model("efficientsam_ti", checkpoint=path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    torch.save(state, path)  # a plain state dict is accepted too
    build_model("efficientsam_ti", checkpoint=path)
    with pytest.raises(CheckpointError, match="EfficientSAM-Ti"):
        build_model("efficientsam_s", checkpoint=path)


def test_missing_vits_checkpoint_names_the_zip(tmp_path):
    with pytest.raises(CheckpointError, match=r"efficient_sam_vits\.pt\.zip"):
        build_model("efficientsam_s", checkpoint=tmp_path / "efficient_sam_vits.pt")


def test_prompt_interface(ti):
    model, _ = ti
    with torch.inference_mode():
        multi = model.predict(point_coords=np.array([[[240.0, 160.0]], [[100.0, 50.0]]]), point_labels=np.ones((2, 1)))
        single = model.predict(point_coords=np.array([[[240.0, 160.0]], [[100.0, 50.0]]]), point_labels=np.ones((2, 1)),
                               multimask_output=False)  # fmt: skip
    assert multi.logits.shape == (2, 3, 321, 481) and multi.low_res.shape == (2, 3, 256, 256)
    assert multi.iou.shape == (2, 3)
    assert single.logits.shape == (2, 1, 321, 481) and single.iou.shape == (2, 1)
    best = multi.iou.argmax(dim=1)
    assert torch.equal(single.iou[:, 0], multi.iou[torch.arange(2), best])
    assert torch.equal(single.low_res[:, 0], multi.low_res[torch.arange(2), best])
    assert torch.allclose(single.logits[:, 0], multi.logits[torch.arange(2), best])
    with pytest.raises(ValueError, match="mask input"):
        model.predict(point_coords=np.array([[[240.0, 160.0]]]), point_labels=np.ones((1, 1)),
                      mask_input=multi.low_res[:1, :1])  # fmt: skip
    assert model.capabilities.mask_input is False and model.capabilities.multimask_outputs == 3


def test_generate_equals_official_notebook(ti, monkeypatch):
    # The notebook's segment-everything (official code) vs ours, same model and image, the reference's settings; the
    # embedding of the image set by the fixture (equal to the official one: the output test) instead of a second pass.
    model, ref = ti
    monkeypatch.setattr(model, "_embed", lambda image: model.features)
    everything = np.load(DATA / "efficient_sam_vitt_everything.npz")
    shape = tuple(everything["shape"])
    official = np.unpackbits(everything["masks"], axis=1, count=shape[1] * shape[2]).reshape(shape).astype(bool)
    settings = {k: everything[k].item() for k in ("points_per_side", "pred_iou_thresh", "stability_score_thresh",
                                                  "stability_score_offset", "box_nms_thresh", "min_mask_region_area")}
    # points_per_batch 7: the notebook decodes all 25 points at once; batching must not change the masks.
    records = model.generate(ref["image"], points_per_batch=7, **settings)
    ours = np.stack([record["segmentation"] for record in records])
    assert ours.shape == official.shape and np.array_equal(ours, official)
    for record in records:
        assert set(record) == {"segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score",
                               "crop_box"}  # fmt: skip
        assert record["segmentation"].dtype == bool and record["area"] == int(record["segmentation"].sum())
        assert record["crop_box"] == [0, 0, 481, 321]
        assert record["predicted_iou"] > settings["pred_iou_thresh"]
    with pytest.raises(ValueError, match="crop"):
        model.generate(ref["image"], crop_n_layers=1)
    with pytest.raises(TypeError, match="unexpected"):
        model.generate(ref["image"], points_per_sid=4)
