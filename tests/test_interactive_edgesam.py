"""The `edgesam` interactive protocol (evals/interactive/edgesam.py) against EdgeSAM's own evaluation script.

tests/data/interactive/edgesam/reference.json was made by make_reference.py beside it: the official
`evaluation/eval_mIoU.py` main() on 11 real COCO val2017 images with the official EdgeSAM built with the parity
weights (image encoder in float64), every prompt's annotation id, clicks and boxes (1024 frame) and per-iteration
IoU recorded. Our protocol, driving our EdgeSAM PromptModel with the same weights, must pick the same annotations,
give the same clicks bit for bit and reach the same IoUs.
"""
from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from evals.protocols.coco_format.dataset import read_coco_images
from evals.interactive.edgesam import (
    EdgeSamRandom,
    Frame,
    _decode,
    _first_clicks,
    _refine_clicks,
    dataset_images,
    distance_transform,
    mask_center,
    protocol_problem,
    read_image,
    run_edgesam,
)
from evals.interactive.edgesam_params import EdgeSamParams
from evals.interactive.instances import AnnotatedImage, Instance, read_instances
from tests.test_parity import fixed_threads, parity_prompt_model  # noqa: F401  (autouse: 2 threads, as the reference)

ROOT = Path(__file__).resolve().parent
REFERENCE = ROOT / "data" / "interactive" / "edgesam" / "reference.json"
ANNOTATIONS = ROOT / "data" / "coco_tiny_val2017" / "annotations" / "instances_val2017.json"
IMAGES = ROOT.parents[1] / "shared" / "data" / "coco_tiny_val2017" / "val2017"
QUICK = ("point_center", 2)  # the default run: this configuration on the reference's first 2 images
IOU_TOLERANCE = 1e-6  # in %


def reference() -> dict:
    return json.loads(REFERENCE.read_text())


def params_of(arguments: str) -> EdgeSamParams:
    """EdgeSamParams from the script's recorded arguments (their `--point-from point`: no first click)."""
    words = arguments.split()

    def value(option: str) -> str:
        return words[words.index(option) + 1]

    point_from = value("--point-from")
    return EdgeSamParams(
        prompt=value("--prompt-types").strip("[]'"),
        point_from="mask-center" if point_from == "point" else point_from,
        refine_iter=int(value("--refine-iter")),
        num_multimask_outputs=int(value("--num-multimask-outputs")),
        multimask_select=value("--multimask-select"),
        max_prompts=int(value("--max-prompt-bs")),
        seed=0,
    )


@pytest.fixture(scope="module")
def reference_images() -> list[AnnotatedImage]:
    """The reference's images, in its dataset order, with all their annotations."""
    if not IMAGES.is_dir():
        pytest.skip(f"the COCO images of the reference are not here: {IMAGES}")
    images = {a.image.image_id: a for a in read_instances(ANNOTATIONS, read_coco_images(ANNOTATIONS, IMAGES))}
    return [images[i] for i in reference()["reference"]["image_ids"]]


@pytest.fixture(scope="module")
def model():
    return parity_prompt_model("edgesam", float64=True)


def check_against_reference(model, images: list[AnnotatedImage], name: str, count: int) -> None:
    config = reference()["configs"][name]
    params = params_of(config["arguments"])
    state = EdgeSamRandom(params.seed)  # one run: the generators pass through the images in dataset order
    for (index, annotated), theirs in zip(dataset_images(images[:count]), config["images"][:count]):
        assert theirs["image_id"] == annotated.image.image_id and theirs["dataset_index"] == index
        pixels = read_image(annotated.image.path)
        records = run_edgesam(model, pixels, annotated.instances, params, random_state=state, dataset_index=index)
        frame = Frame(*pixels.shape[:2])
        assert [r["annotation_id"] for r in records] == [p["annotation_id"] for p in theirs["prompts"]]
        for ours, prompt in zip(records, theirs["prompts"]):
            where = f"{name}, annotation {prompt['annotation_id']}"
            clicks = [[*frame.to_frame(x, y), label] for x, y, label in ours["clicks"]]
            assert clicks == [[x, y, int(label)] for x, y, label in prompt["clicks"]], where
            box = ours["box"] and [*frame.to_frame(*ours["box"][:2]), *frame.to_frame(*ours["box"][2:])]
            assert box == prompt["box"], where
            assert [v is None for v in ours["ious"]] == [v is None for v in prompt["ious"]], where
            np.testing.assert_allclose([v for v in ours["ious"] if v is not None],
                                       [100 * v for v in prompt["ious"] if v is not None],
                                       rtol=0, atol=IOU_TOLERANCE, err_msg=where)  # fmt: skip


def test_matches_official_script_on_two_images(model, reference_images):
    check_against_reference(model, reference_images, *QUICK)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(reference()["configs"]))
def test_matches_official_script(model, reference_images, name):
    check_against_reference(model, reference_images, name, len(reference_images))


@pytest.mark.slow
def test_frozen_clicks_replace_sampled_ones(model, reference_images):
    """A run from a prompt file (the records' clicks, original coordinates) repeats the run that wrote it, whatever
    the generators' state."""
    annotated = reference_images[1]  # 2 prompts
    pixels = read_image(annotated.image.path)
    params = EdgeSamParams(point_from="mask-rand", refine_iter=2)
    first = run_edgesam(model, pixels, annotated.instances, params, random_state=EdgeSamRandom(0))
    frozen = {r["annotation_id"]: r["clicks"] for r in first}
    again = run_edgesam(model, pixels, annotated.instances, params, frozen, random_state=EdgeSamRandom(7))
    assert again == first
    assert run_edgesam(model, pixels, annotated.instances, params, random_state=EdgeSamRandom(7)) != first


# ------------------------------------------------------------------------------------------- hand-solved helpers


def square(size: int, top: int, left: int, side: int) -> torch.Tensor:
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_mask_center_of_squares_and_border_strip():
    assert mask_center(square(40, 10, 20, 5)) == (22, 12)  # the unique deepest pixel
    assert mask_center(square(40, 10, 20, 4)) == (21, 11)  # four tie: the first in row-major order
    assert mask_center(torch.zeros(40, 40, dtype=torch.bool)) == (0, 0)  # get_centroid_from_mask's argmax of zeros
    # A strip 3 wide on the left edge, rows 10-20: the padding makes the edge background, so the middle column is
    # deepest; of rows 12-18 (six reached neighbours each, 11 and 19 have seven) the first wins.
    strip = torch.zeros(40, 40, dtype=torch.bool)
    strip[10:21, 0:3] = True
    assert mask_center(strip) == (1, 12)


def test_mask_center_crop_equals_whole_image_transform():
    """The transform on the mask's box gives the whole (padded) image's values: same maximum, same first pixel."""
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        blobs = torch.rand(1, 1, 8, 8, generator=generator) > 0.6
        mask = torch.nn.functional.interpolate(blobs.float(), (96, 96), mode="bilinear")[0, 0] > 0.5
        padded = torch.nn.functional.pad(mask, (1, 1, 1, 1), value=False)
        whole = distance_transform((~padded).float()[None, None], iterations=98)[0, 0, 1:-1, 1:-1]
        y, x = divmod(int(whole.argmax()), 96)
        assert mask.any() and mask_center(mask) == (x, y)


def test_box_center_keeps_their_bug_and_fixed_is_the_centre():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])  # x0, y0, x1, y1 in the frame
    truth = torch.zeros(1, 1, 4, 4)
    theirs = _first_clicks("box-center", truth, boxes, [None], random.Random(0))
    fixed = _first_clicks("box-center-fixed", truth, boxes, [None], random.Random(0))
    assert theirs.tolist() == [[[15.0, 45.0]]]  # ((x0 + y0) / 2, (x1 + y1) / 2)
    assert fixed.tolist() == [[[20.0, 40.0]]]


def test_refine_clicks_sample_errors_at_decoder_size():
    valid = torch.ones(1, 1, 256, 256)
    valid[..., 200] = 0.5  # the frame's edge: the resized valid region is fractional there
    valid[..., 201:] = 0
    truth = torch.zeros(4, 1, 256, 256)
    truth[0, 0, 10:14, 20:24] = 1  # 16 missed pixels: a positive click among them
    truth[1, 0, 10:12, 20:24] = 1  # 8 missed pixels: fewer than 10, an ignored click
    truth[2, 0, :, 200] = 1  # missed on the edge column only (0.5 there): no false negative, an ignored click
    predicted = torch.full((4, 1, 256, 256), -1.0)
    predicted[3, 0, 0:12, 200] = 1.0  # predicted on the edge column only: 12 false positives
    truth_low = (truth > 0) * valid
    points, labels = _refine_clicks(predicted, truth_low, valid, [None] * 4, 1, torch.Generator().manual_seed(5))
    draws = torch.Generator().manual_seed(5)
    first, second = int(torch.randint(16, (1,), generator=draws)), int(torch.randint(12, (1,), generator=draws))
    y, x = 10 + first // 4, 20 + first % 4
    assert points[0].tolist() == [[4.0 * x, 4.0 * y]] and labels[0].tolist() == [1.0]  # 256 -> 1024 frame
    assert points[1].tolist() == points[2].tolist() == [[0.0, 0.0]] and labels[1:3].tolist() == [[-2.0], [-2.0]]
    assert points[3].tolist() == [[800.0, 4.0 * second]] and labels[3].tolist() == [0.0]


@pytest.mark.parametrize("height,width", [(426, 640), (640, 428), (375, 500), (333, 500), (1200, 1600)])
def test_frame_coordinates_round_trip_exactly(height, width):
    frame = Frame(height, width)
    values = np.concatenate([np.arange(0, 1024, dtype=np.float32),
                             np.random.default_rng(0).uniform(0, 1024, 2000).astype(np.float32)])  # fmt: skip
    for value in values.tolist():
        assert frame.to_frame(*frame.to_original(value, value)) == (value, value)


def test_dataset_images_skip_images_with_only_crowd_regions():
    def image(image_id: int, *crowd: bool) -> AnnotatedImage:
        instances = tuple(Instance(i, 1, 10.0, (0, 0, 2, 2), c, []) for i, c in enumerate(crowd))
        return AnnotatedImage(SimpleNamespace(image_id=image_id), instances)

    images = [image(1, False, True), image(2, True), image(3), image(4, False)]
    assert [(i, a.image.image_id) for i, a in dataset_images(images)] == [(0, 1), (1, 4)]


def set_random_embedding(model) -> None:
    predictor = model.predictor
    predictor.features = torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(0))
    predictor.original_size, predictor.input_size, predictor.is_image_set = (512, 512), (1024, 1024), True


def test_ignored_click_embeds_as_zeros(model):
    """EdgeSAM's prompt encoder embeds label -2 as a zero token (edge_sam/modeling/prompt_encoder.py:91); SAM's
    would add the point's positional encoding."""
    predictor, sam = model.predictor, model.network
    set_random_embedding(model)
    coords, labels = torch.tensor([[[300.0, 400.0], [0.0, 0.0]]]), torch.tensor([[1, -2]])
    _, _, ours = predictor.predict_torch(coords, labels, multimask_output=False)
    with torch.inference_mode():
        sparse, dense = sam.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        zeroed = sparse.clone()
        zeroed[0, 1] = 0
        pe = sam.prompt_encoder.get_dense_pe()
        expected = sam.mask_decoder(predictor.features, pe, zeroed, dense, multimask_output=False)[0]
        sam_way = sam.mask_decoder(predictor.features, pe, sparse, dense, multimask_output=False)[0]
    assert torch.equal(ours, expected) and not torch.allclose(ours, sam_way)


def test_protocol_problem_names_what_the_model_lacks(model):
    assert protocol_problem(model, EdgeSamParams(num_multimask_outputs=4)) is None  # 4 = its single mask + its 3

    class OriginalCoordinatesOnly:
        capabilities = model.capabilities

        def predict(self, point_coords=None, point_labels=None, boxes=None, mask_input=None, multimask_output=True):
            raise AssertionError("not called")

    assert "original image coordinates only" in protocol_problem(OriginalCoordinatesOnly(), EdgeSamParams())
    with pytest.raises(ValueError, match="original image coordinates only"):
        run_edgesam(OriginalCoordinatesOnly(), np.zeros((4, 4, 3), np.uint8), [], EdgeSamParams())
    three_only = SimpleNamespace(set_resized_image=None, predict=model.predict,
                                 capabilities=replace(model.capabilities, single_mask_output=False))  # fmt: skip
    assert protocol_problem(three_only, EdgeSamParams(num_multimask_outputs=3)) is None
    assert "gives 3 masks per prompt and no single mask" in protocol_problem(three_only, EdgeSamParams())
    small = SimpleNamespace(set_resized_image=None, predict=model.predict,
                            capabilities=replace(model.capabilities, encoder_input_size=512))  # fmt: skip
    assert "frame is 1024 pixels" in protocol_problem(small, EdgeSamParams())


def test_four_masks_of_a_three_mask_model_equal_edgesams_own(model):
    """Without EdgeSAM's `configure`, 4 masks are the single mask then the three: the same values."""
    set_random_embedding(model)
    points, labels = torch.tensor([[[300.0, 400.0]], [[700.0, 100.0]]]), torch.ones(2, 1)
    own = _decode(model, 4, points, labels, None)
    plain = SimpleNamespace(predict=model.predict, capabilities=model.capabilities)  # a SAM-family model
    joined = _decode(plain, 4, points, labels, None)
    assert own.iou.shape == (2, 4) and model.capabilities.multimask_outputs == 3  # configured back
    for field in ("logits", "iou", "low_res"):
        assert torch.equal(getattr(own, field), getattr(joined, field)), field
