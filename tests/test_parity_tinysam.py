"""TinySAM against the official code (xinghaochen/TinySAM @ 11589bc, tests/data/parity/make_reference_tinysam.py):
the state-dict layout, the predictor's outputs, the hierarchical automatic mask generator, checkpoint loading.

The predictor's outputs are compared with the official ones, image encoders in float64 on both sides
(tests/data/parity/README.md), at 1e-4 relative. TinySAM's predictor always returns three masks, so the box and
combined prompts are compared with multimask output (`tinysam_protocol`). The automatic masks are compared record by
record with the official `hierarchical_generate`'s on the same image, run with lowered thresholds (the key-derived
weights keep no mask at the official ones; see the reference script).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from segment_anything.utils.amg import build_point_grid

from models import build_model, build_untrained, model_variant
from models.families.tinysam import HIERARCHICAL_DEFAULTS, HierarchicalMaskGenerator, SingleMaskUnavailable
from tests.test_parity import (  # noqa: F401  (fixed_threads: the thread count of tests/test_parity.py)
    DATA,
    TOLERANCE,
    fixed_threads,
    parity_prompt_model,
    read_layout,
    relative_error,
)

REFERENCE = "tinysam"


@pytest.fixture(scope="module")
def reference():
    return np.load(DATA / f"{REFERENCE}.npz")


@pytest.fixture(scope="module")
def amg_reference():
    return json.loads((DATA / f"{REFERENCE}_amg.json").read_text())


class RepeatedInputEncoder(torch.nn.Module):
    """Hands back the last output when the input equals the last input (the predictor and the generator embed the
    same image): the tests embed the parity image once. Outputs are the wrapped encoder's, unchanged."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder
        self.img_size = encoder.img_size
        self.last: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.last is None or self.last[0].shape != x.shape or not torch.equal(self.last[0], x):
            self.last = (x.clone(), self.encoder(x))
        return self.last[1]


@pytest.fixture(scope="module")
def model():
    model = parity_prompt_model("tinysam", float64=True)
    model.encoder = RepeatedInputEncoder(model.encoder)
    return model


def test_state_dict_layout_is_official():
    with torch.device("meta"):
        ours = {k: tuple(v.shape) for k, v in build_untrained("tinysam").state_dict().items()}
    assert ours == read_layout(REFERENCE)


def test_layout_and_signature_equal_mobilesam():
    # The official TinySAM builds MobileSAM's network: the two checkpoints differ only in their values.
    assert read_layout(REFERENCE) == read_layout("mobile_sam")
    assert model_variant("tinysam").signature == model_variant("mobilesam").signature


def tinysam_protocol(model, ref) -> dict[str, np.ndarray]:
    """make_reference_tinysam.py's calls through our PromptModel: tests/test_parity.py's protocol with multimask output
    for every prompt (TinySAM's only output)."""
    stride = int(ref["stride"])
    out = {}
    with torch.inference_mode():
        model.set_image(ref["image"])
        out["features"] = model.embedding()[:, :, ::stride, ::stride]
        calls = {
            "point": dict(point_coords=ref["point_coords"][None], point_labels=ref["point_labels"][None]),
            "box": dict(boxes=ref["box"][None]),
        }
        for prompt, kwargs in calls.items():
            p = model.predict(**kwargs, multimask_output=True)
            out[f"{prompt}.logits"], out[f"{prompt}.iou"] = p.logits[0], p.iou[0]
            out[f"{prompt}.low_res"] = p.low_res[0]
        best = out["point.low_res"][int(out["point.iou"].argmax())]
        p = model.predict(point_coords=ref["points2_coords"][None], point_labels=ref["points2_labels"][None],
                          boxes=ref["box"][None], mask_input=best[None, None], multimask_output=True)  # fmt: skip
        out["combo.logits"], out["combo.iou"], out["combo.low_res"] = p.logits[0], p.iou[0], p.low_res[0]
    for prompt in ("point", "box", "combo"):
        out[f"{prompt}.logits"] = out[f"{prompt}.logits"][:, ::stride, ::stride]
        out[f"{prompt}.low_res"] = out[f"{prompt}.low_res"][:, ::stride, ::stride]
    return {k: v.cpu().numpy() for k, v in out.items()}


def test_outputs_match_official_code(model, reference):
    ours = tinysam_protocol(model, reference)
    errors = {key: relative_error(ours[key], reference[key]) for key in ours}
    assert max(errors.values()) <= TOLERANCE, errors


def test_single_mask_output_is_refused(model):
    with pytest.raises(SingleMaskUnavailable, match="no single-mask output"):
        model.predict(boxes=np.array([[0.0, 0.0, 10.0, 10.0]]), multimask_output=False)


def test_generator_defaults_are_official():
    official = json.loads((DATA / f"{REFERENCE}.json").read_text())["generator_defaults"]
    assert HIERARCHICAL_DEFAULTS == official


def test_second_pass_points_match_official(reference, amg_reference):
    # Step 2 alone, from the official first pass's coverage map: the same points in the same order.
    height, width = reference["image"].shape[:2]
    generator = HierarchicalMaskGenerator(predictor=None, **amg_reference["params"])
    sparse_grid = build_point_grid(amg_reference["params"]["points_per_side"] // 4)
    covered = torch.from_numpy(reference["amg.covered"])
    points = generator._uncovered_neighbours(sparse_grid, covered, (height, width))
    assert 0 < len(points) < 15 * len(sparse_grid)  # the coverage skips some points, not all
    assert np.array_equal(points, reference["amg.dense_points"])


def test_generate_matches_official_hierarchical_generator(model, reference, amg_reference):
    records = model.generate(reference["image"], **amg_reference["params"])
    official = amg_reference["records"]
    height, width = reference["amg.mask_shape"]
    official_masks = np.unpackbits(reference["amg.masks"], axis=1, count=height * width).reshape(-1, height, width)
    assert len(official) > 0 and len(records) == len(official)
    for ours, ref, ref_mask in zip(records, official, official_masks.astype(bool)):
        assert ours["point_coords"] == ref["point_coords"]
        assert ours["predicted_iou"] == pytest.approx(ref["predicted_iou"], abs=1e-4)
        assert ours["stability_score"] == pytest.approx(ref["stability_score"], abs=1e-3)
        assert np.count_nonzero(ours["segmentation"] != ref_mask) <= ref["area"] // 1000
        assert abs(ours["area"] - ref["area"]) <= ref["area"] // 1000
        assert np.allclose(ours["bbox"], ref["bbox"], atol=1)
        assert ours["crop_box"] == [0, 0, width, height]


def test_generator_refuses_what_it_cannot_do():
    for params in ({"crop_n_layers": 1}, {"points_per_side": None, "point_grids": [np.zeros((1, 2))]},
                   {"points_per_side": 2}, {"output_mode": "png"}):  # fmt: skip
        with pytest.raises(ValueError):
            HierarchicalMaskGenerator(predictor=None, **params)
    with pytest.raises(TypeError, match="high_score"):
        HierarchicalMaskGenerator(predictor=None, high_score=1.0)


def test_official_checkpoint_file_loads(tmp_path):
    # The official file is a plain state dict (build_sam_vit_t: load_state_dict(torch.load(f))).
    state_dict = build_untrained("tinysam").state_dict()
    path = tmp_path / "tinysam.pth"
    torch.save(state_dict, path)
    network = build_model("tinysam", checkpoint=path)
    loaded = network.state_dict()
    assert loaded.keys() == state_dict.keys()
    assert all(torch.equal(loaded[k], state_dict[k]) for k in state_dict)
    assert network.provenance["family"] == "tinysam"
