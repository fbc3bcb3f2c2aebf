"""The davis task (SAM-PT on DAVIS 2017): query points, the per-frame core, merging, the whole protocol on three real
DAVIS sequences with the lk tracker and a ground-truth oracle model, --predictions, and the real SAM decoder."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from PIL import Image

from evals.base import DatasetLayoutError
from evals.davis.evaluate import count_objects
from evals.davis.export_results import export_results
from evals.protocols.sam_pt.frames import read_working_frame, resize_logits, resize_mask_nearest, working_size
from evals.davis.io import open_davis, write_palette_mask
from evals.protocols.sam_pt.merge import merge_object_masks
from evals.protocols.sam_pt.options import SamPtOptions
from evals.protocols.sam_pt.query_points import kmedoid_points, kmedoids, mixed_points, object_query_points
from evals.protocols.sam_pt.segment import (
    ObjectMask,
    ObjectPrompt,
    hide_points_near_border,
    object_prompts,
    segment_frame,
    segment_object,
)
from evals.davis.task import DavisParams, DavisTask
from evals.engine import Run, execute
from evals.store import decode_prediction
from evals.trackers import TrackerUnavailable, tracker_params
from models.prompt_model import MaskPrediction
from tests.fakes import toy_prompt_model

SAMPLE = Path(__file__).parent / "data" / "davis2016_sample"
SEQUENCES = ["blackswan", "dog", "libby"]
FRAMES_PER_SEQUENCE = 8  # JPEGs bundled in tests/data (0000[0-7].jpg)
DEMO_DATA = Path(__file__).resolve().parent.parent / "datasets" / "sample"


# ---------------------------------------------------------------- query points


def blob_mask(shape=(120, 160)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return ((yy - 60) ** 2 / 40**2 + (xx - 70) ** 2 / 55**2) <= 1


def test_kmedoids_matches_a_hand_solved_case():
    points = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [13.0]])
    assert sorted(kmedoids(points, 2).tolist()) == [1, 4]  # medoids 1.0 and 11.0


def test_kmedoid_points_lie_in_the_mask_and_are_deterministic():
    mask = blob_mask()
    points = kmedoid_points(mask, 8, np.random.default_rng(72), 1800)
    assert points.shape == (8, 2) and points.dtype == np.float32
    xs, ys = points[:, 0].astype(int), points[:, 1].astype(int)
    assert np.array_equal(points, np.round(points)) and mask[ys, xs].all()  # medoids are mask pixels, (x, y)
    assert len({tuple(p) for p in points.tolist()}) == 8
    again = kmedoid_points(mask, 8, np.random.default_rng(72), 1800)
    assert np.array_equal(points, again)
    # Spread over the object: medoids on both halves of the ellipse.
    assert (points[:, 0] < 70).any() and (points[:, 0] > 70).any()


def test_kmedoid_points_of_tiny_and_empty_masks():
    tiny = np.zeros((10, 10), dtype=bool)
    tiny[2, 3] = tiny[5, 7] = True
    points = kmedoid_points(tiny, 8, np.random.default_rng(72), 1800)
    assert {tuple(p) for p in points.tolist()} == {(3.0, 2.0), (7.0, 5.0)}  # pixels repeated
    assert not kmedoid_points(np.zeros((4, 4), bool), 8, np.random.default_rng(0), 1800).any()


def test_negative_point_is_a_random_background_pixel():
    mask = blob_mask()
    for seed in range(5):
        (negative,) = mixed_points(~mask, 1, np.random.default_rng(seed), 1800)
        assert not mask[int(negative[1]), int(negative[0])]
    with pytest.raises(NotImplementedError, match="Shi-Tomasi"):
        mixed_points(~mask, 3, np.random.default_rng(0), 1800)


def test_object_query_points_layout_positives_then_negatives():
    first, second = blob_mask(), np.zeros((120, 160), bool)
    second[5:20, 120:150] = True
    points = object_query_points([first, second], 8, 1, np.random.default_rng(72), 1800)
    assert points.shape == (2, 9, 2)
    for mask, object_points in zip((first, second), points):
        inside = mask[object_points[:, 1].astype(int), object_points[:, 0].astype(int)]
        assert inside[:8].all() and not inside[8]


# ---------------------------------------------------------------- prompts, border, merge


def test_prompts_take_visible_points_and_other_objects_positives_as_negatives():
    trajectories = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)  # 2 objects x (2 positives + 1 negative)
    visibilities = np.array([[True, False, True], [True, True, False]])
    options = SamPtOptions(positive_points=2, negative_points=1)
    first, second = object_prompts(trajectories, visibilities, options)
    np.testing.assert_array_equal(first.coords, [[0, 1], [4, 5], [6, 7], [8, 9]])
    assert first.labels.tolist() == [1, 0, 0, 0]  # own positive, own negative, the other's 2 visible positives
    np.testing.assert_array_equal(second.coords, [[6, 7], [8, 9], [0, 1]])
    assert second.labels.tolist() == [1, 1, 0]  # the other's hidden positive and its negative are not used
    alone = SamPtOptions(positive_points=2, negatives_from_other_objects=False)
    assert object_prompts(trajectories, visibilities, alone)[0].labels.tolist() == [1, 0]
    in_groups_of_one = object_prompts(trajectories, visibilities, SamPtOptions(positive_points=2, object_group_size=1))
    assert in_groups_of_one[1].labels.tolist() == [1, 1]


def test_points_within_one_percent_of_the_border_are_hidden():
    trajectories = np.array([[[4.9, 50], [5.0, 50], [495.5, 50], [50, 0.9], [50, 99.2], [50, 50]]], dtype=np.float32)
    visible = hide_points_near_border(trajectories, np.ones((1, 6), bool), height=100, width=500, margin=0.01)
    assert visible.tolist() == [[False, True, False, False, False, True]]  # hidden: x / 500 < 0.01 or > 0.99, ...


def test_merge_gives_each_pixel_to_the_largest_positive_logit():
    a = torch.tensor([[2.0, 2.0, -1.0, 0.0], [1.0, 3.0, 0.5, 0.0]])
    b = torch.tensor([[1.0, 2.0, 3.0, 0.0], [-2.0, 4.0, -0.5, 0.0]])
    ids = merge_object_masks([ObjectMask(a, 0.9), ObjectMask(b, 0.9), ObjectMask(None, 0.1)], (2, 4))
    assert ids.tolist() == [[1, 1, 2, 0], [1, 2, 1, 0]]  # ties to the lower id; logit 0 ties the background
    assert ids.dtype == np.uint8
    resized = merge_object_masks([ObjectMask(torch.ones(4, 8), 0.9)], (2, 4))
    assert resized.tolist() == [[1] * 4] * 2


def test_merge_takes_the_argmax_of_sam_pts_softmax_not_of_the_logits():
    """Two adjacent float32 logits whose softmax rounds to one probability: SAM-PT's argmax (eval.py: softmax, then
    argmax) gives the pixel to the lower object, where the logits alone would give it to the higher one."""
    low = torch.tensor([[0.25979673862457275]])
    high = torch.tensor([[0.25979676842689514]])
    assert high.item() > low.item()
    assert merge_object_masks([ObjectMask(low, 0.9), ObjectMask(high, 0.9)], (1, 1)).tolist() == [[1]]


def test_a_dropped_mask_takes_no_pixel_after_sam_pts_resize_as_in_ours():
    """SAM-PT gives a dropped mask logits of -inf at the working size and resizes them bilinearly to the output size
    (sam_pt.py), where ours leaves the channel at -inf. Upsampling -inf would make NaNs (a zero weight times -inf),
    and SAM-PT's softmax would spread them over every object of the pixel; downsampling, as from DAVIS's working
    frames (1024 px on the longest side) to 480p, keeps -inf everywhere, so the two merges agree."""
    for height, width in [(480, 854), (854, 480)]:  # DAVIS 2017's frame size, and a portrait one
        dropped = resize_logits(torch.full(working_size(height, width), -torch.inf), (height, width))
        assert bool(torch.all(dropped == -torch.inf))
    kept = torch.zeros(height, width)
    kept[: height // 2] = 1.0
    ids = merge_object_masks([ObjectMask(kept, 0.9), ObjectMask(None, 0.1)], (height, width))
    sam_pt = torch.softmax(torch.stack([torch.zeros(height, width), kept, dropped])[None], dim=1)[0].argmax(0)
    assert np.array_equal(ids, sam_pt.numpy())


# ---------------------------------------------------------------- the per-frame core with a scripted model


class ScriptedModel:
    """Answers every predict with a fixed square mask and IoU; records the calls."""

    def __init__(self, iou: float, mask_pixels: int = 100):
        self.iou, self.calls, self.images = iou, [], 0
        self.logits = torch.full((1, 1, 40, 60), -5.0)
        side = int(mask_pixels**0.5)
        self.logits[0, 0, 10 : 10 + side, 20 : 20 + side] = 5.0

    def set_image(self, image):
        self.images += 1

    def predict(self, point_coords=None, point_labels=None, boxes=None, mask_input=None, multimask_output=True):
        self.calls.append({"coords": point_coords, "labels": point_labels, "boxes": boxes, "mask_input": mask_input,
                           "multimask": multimask_output})  # fmt: skip
        return MaskPrediction(self.logits.clone(), torch.tensor([[self.iou]]), torch.full((1, 1, 256, 256), 0.5))


PROMPT = ObjectPrompt(np.array([[25.0, 12.0], [28.0, 15.0], [5.0, 35.0]], np.float32), np.array([1, 1, 0]))


def test_core_runs_two_passes_then_refines_with_the_mask_box():
    model = ScriptedModel(iou=0.9)
    result = segment_object(model, PROMPT, SamPtOptions(refinement_iterations=12))
    assert len(model.calls) == 2 + 12 and not any(call["multimask"] for call in model.calls)
    first, second, refine = model.calls[0], model.calls[1], model.calls[2]
    assert first["labels"].tolist() == [[1, 1]] and first["mask_input"] is None and first["boxes"] is None
    assert second["labels"].tolist() == [[1, 1, 0]] and second["mask_input"] is not None
    assert refine["boxes"].tolist() == [[20, 10, 29, 19]]  # x_min, y_min, x_max, y_max of the 10x10 mask
    assert refine["labels"].tolist() == [[1, 1, 0]] and refine["mask_input"] is not None
    assert result.iou == pytest.approx(0.9) and (result.logits > 0).sum() == 100


def test_core_drops_masks_below_the_iou_threshold():
    kept = segment_object(ScriptedModel(iou=0.71), PROMPT, SamPtOptions(refinement_iterations=1))
    dropped = segment_object(ScriptedModel(iou=0.69), PROMPT, SamPtOptions(refinement_iterations=1))
    assert kept.logits is not None and kept.iou == pytest.approx(0.71)
    assert dropped.logits is None and dropped.iou == pytest.approx(0.69)
    # SAM's IoU is float32: 0.7 there is 0.69999999, below the threshold (SAM-PT compares the same way).
    assert segment_object(ScriptedModel(iou=0.7), PROMPT, SamPtOptions(refinement_iterations=0)).logits is None


def test_core_without_visible_points_asks_nothing():
    model = ScriptedModel(iou=0.99)
    empty = ObjectPrompt(np.zeros((0, 2), np.float32), np.zeros(0, int))
    masks = segment_frame(model, np.zeros((40, 60, 3), np.uint8), [empty, empty], SamPtOptions())
    assert [(m.logits, m.iou) for m in masks] == [(None, None), (None, None)]
    assert model.images == 0 and not model.calls


def test_core_refinement_stops_on_a_tiny_mask_and_embeds_once_per_frame():
    model = ScriptedModel(iou=0.9, mask_pixels=1)
    masks = segment_frame(model, np.zeros((40, 60, 3), np.uint8), [PROMPT, PROMPT], SamPtOptions())
    assert [m.iou for m in masks] == [pytest.approx(0.9)] * 2 and model.images == 1  # one embedding for both objects
    assert len(model.calls) == 2 * 2  # no refinement: the mask has fewer than 2 pixels
    without_negatives = ScriptedModel(iou=0.9)
    segment_object(without_negatives, PROMPT, SamPtOptions(negative_points=0, refinement_iterations=0))
    assert len(without_negatives.calls) == 1 and without_negatives.calls[0]["mask_input"] is None


def test_core_with_the_real_sam_decoder_handles_negative_only_prompts():
    model = toy_prompt_model()
    model.set_image(np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8))
    negatives_only = ObjectPrompt(np.array([[10.0, 10.0]], np.float32), np.array([0]))
    result = segment_object(model, negatives_only, SamPtOptions(refinement_iterations=1, iou_threshold=-1.0))
    assert result.logits.shape == (96, 160)
    result = segment_object(model, PROMPT, SamPtOptions(refinement_iterations=1, iou_threshold=-1.0))
    assert result.logits.shape == (96, 160) and isinstance(result.iou, float)


# ---------------------------------------------------------------- the whole protocol on real DAVIS sequences


def make_davis_tree(root: Path, n_frames: int = FRAMES_PER_SEQUENCE) -> Path:
    """The first `n_frames` frames of the three sample sequences in the DAVIS 2017 layout."""
    davis = root / "DAVIS"
    for sequence in SEQUENCES:
        for kind, suffix in (("JPEGImages", "jpg"), ("Annotations", "png")):
            folder = davis / kind / "480p" / sequence
            folder.mkdir(parents=True)
            for t in range(n_frames):
                shutil.copyfile(SAMPLE / kind / "480p" / sequence / f"{t:05d}.{suffix}", folder / f"{t:05d}.{suffix}")
    (davis / "ImageSets" / "2017").mkdir(parents=True)
    (davis / "ImageSets" / "2017" / "val.txt").write_text("\n".join(SEQUENCES) + "\n")
    return davis


def image_key(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


class GroundTruthOracle:
    """A stand-in for SAM that knows the annotations: `set_image` recognises the frame, `predict` answers with the
    ground-truth mask of the object under most of the positive prompt points (empty when that is background),
    with the share of positive points on it as predicted IoU. Tracking errors therefore show in J&F."""

    provenance: ClassVar[dict] = {"model": "gt_oracle", "display": "GT oracle", "trained": False, "checkpoint_sha256": None,
                  "fused": False, "backend": "eager"}  # fmt: skip
    device = torch.device("cpu")

    def __init__(self, davis_root: Path):
        self.frames: dict[str, np.ndarray] = {}
        for sequence in open_davis(davis_root, "val"):
            for name in sequence.frame_names:
                frame = read_working_frame(davis_root / "JPEGImages" / "480p" / sequence.name / f"{name}.jpg")
                ids = sequence.read_annotation(name)
                working = np.zeros(frame.shape[:2], np.uint8)
                for k in range(1, count_objects(sequence) + 1):
                    working[resize_mask_nearest(ids == k, frame.shape[:2])] = k
                self.frames[image_key(frame)] = working
        self.ids = None

    def set_image(self, image: np.ndarray) -> None:
        self.ids = self.frames[image_key(image)]

    def predict(self, point_coords=None, point_labels=None, boxes=None, mask_input=None, multimask_output=True):
        height, width = self.ids.shape
        positives = point_coords[0][point_labels[0] == 1]
        object_id, share = 0, 0.0
        if len(positives):
            xs = np.clip(np.round(positives[:, 0]).astype(int), 0, width - 1)
            ys = np.clip(np.round(positives[:, 1]).astype(int), 0, height - 1)
            values, counts = np.unique(self.ids[ys, xs], return_counts=True)
            object_id, share = int(values[counts.argmax()]), counts.max() / len(positives)
        mask = torch.from_numpy(self.ids == object_id) if object_id else torch.zeros(height, width, dtype=torch.bool)
        logits = torch.where(mask, 8.0, -8.0)[None, None]
        iou = torch.tensor([[share if object_id else 0.0]])
        return MaskPrediction(logits, iou, torch.zeros(1, 1, 256, 256))


@pytest.fixture(scope="module")
def protocol_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("davis")
    davis = make_davis_tree(root)
    task = DavisTask(DavisTask.sam_pt_params("lk"))
    results = execute(Run(task=task, run_name="gt_oracle", out=root / "out", data_root=root), GroundTruthOracle(davis))
    return root, davis, results


def test_whole_protocol_with_lk_and_a_ground_truth_oracle(protocol_run):
    _, _, results = protocol_run
    metrics = results["metrics"]
    assert metrics["num_sequences"] == 3 and metrics["num_objects"] == 3
    assert metrics["J&F"] > 80 and metrics["J"] > 80 and metrics["F"] > 80
    assert metrics["J&F"] == pytest.approx((metrics["J"] + metrics["F"]) / 2)
    protocol = results["provenance"]["protocol"]
    assert protocol["tracker"]["tracker"] == "lk" and "BASELINE TRACKER" in results["provenance"]["protocol_notes"]["note"]
    assert results["variant"] == "lk" and results["paper_comparable"] is False
    sam_pt = protocol["sam_pt"]
    assert sam_pt["positive_points"] == 8 and sam_pt["refinement_iterations"] == 12 and sam_pt["seed"] == 72


def test_stored_prediction_is_the_davis_results_format(protocol_run):
    root, davis, _ = protocol_run
    stored = decode_prediction((root / "out" / "davis" / "gt_oracle.predictions" / "dog.npz").read_bytes())
    assert stored["masks"].shape == (FRAMES_PER_SEQUENCE, 480, 854) and stored["masks"].dtype == np.uint8
    assert stored["frame_names"] == [f"{t:05d}" for t in range(FRAMES_PER_SEQUENCE)]
    first = (np.asarray(Image.open(davis / "Annotations" / "480p" / "dog" / "00000.png")) > 127).astype(np.uint8)
    assert np.array_equal(stored["masks"][0], first)  # frame 0 is the given annotation
    assert stored["query_points"].shape == (1, 9, 2) and stored["working_size"] == [576, 1024]
    assert stored["trajectories"].shape == (FRAMES_PER_SEQUENCE, 1, 9, 2)
    assert stored["visibilities"].shape == (FRAMES_PER_SEQUENCE, 1, 9) and stored["visibilities"].dtype == bool
    assert len(stored["ious"]) == FRAMES_PER_SEQUENCE and stored["ious"][0] == [None]


def test_exported_pngs_score_the_same_through_predictions(protocol_run, tmp_path):
    root, _, results = protocol_run
    exported = tmp_path / "results"
    assert export_results(root / "out" / "davis" / "gt_oracle.predictions", exported) == sorted(SEQUENCES)
    with Image.open(exported / "libby" / "00003.png") as image:
        assert image.mode == "P"
    task = DavisTask(DavisTask.params_from_args(_namespace(predictions=exported)))
    rescored = execute(Run(task=task, run_name="exported", out=tmp_path / "out", data_root=root,
                           external_predictions=exported), None)  # fmt: skip
    for key in ("J&F", "J", "F"):
        assert rescored["metrics"][key] == pytest.approx(results["metrics"][key], abs=1e-12)


def _namespace(**values):
    import argparse

    defaults = {"predictions": None, "tracker": "lk", "tracker_checkpoint": None, "refinement_iterations": 12,
                "positive_points": None, "source_resolution": "480p"}  # fmt: skip
    return argparse.Namespace(**{**defaults, **values})


# ---------------------------------------------------------------- --predictions: the official numbers


def test_osvos_results_reproduce_the_official_evaluation(tmp_path):
    davis = tmp_path / "DAVIS"
    (davis / "Annotations").mkdir(parents=True)
    (davis / "Annotations" / "480p").symlink_to((SAMPLE / "Annotations" / "480p").resolve())
    (davis / "ImageSets" / "2017").mkdir(parents=True)
    (davis / "ImageSets" / "2017" / "val.txt").write_text("\n".join(SEQUENCES) + "\n")
    osvos = SAMPLE / "osvos_results"
    task = DavisTask(DavisTask.params_from_args(_namespace(predictions=osvos)))
    results = execute(Run(task=task, run_name="osvos", out=tmp_path / "out", data_root=tmp_path,
                          external_predictions=osvos), None)  # fmt: skip
    expected = json.loads((SAMPLE / "expected_official_eval.json").read_text())["global"]
    metrics = results["metrics"]
    assert metrics["J&F"] == pytest.approx(100 * expected["J&F-Mean"], abs=1e-9)
    assert metrics["J"] == pytest.approx(100 * expected["J-Mean"], abs=1e-9)
    assert metrics["F"] == pytest.approx(100 * expected["F-Mean"], abs=1e-9)
    assert metrics["J-Decay"] == pytest.approx(100 * expected["J-Decay"], abs=1e-9)
    # per object, grouped by sequence: their mean is the official number, and its interval holds it
    per_sample = metrics["per_sample"]
    assert per_sample["group"] == [name.rsplit("_", 1)[0] for name in per_sample["id"]]
    for key in ("J&F", "J", "F"):
        assert np.mean(per_sample[key]) == pytest.approx(metrics[key], abs=1e-9)
        low, high = metrics[f"{key}_ci95"]
        assert low <= metrics[key] <= high and low < high
    assert results["provenance"]["protocol"] == {"masks_from": "predictions", "source_resolution": "480p",
                                                 "predictions_dir": str(osvos)}  # fmt: skip


# ---------------------------------------------------------------- the real SAM path, data layout, options


def test_toy_sam_on_the_demo_clip_through_the_engine(tmp_path):
    task = DavisTask(DavisTask.sam_pt_params("lk", refinement_iterations=0))
    results = execute(Run(task=task, run_name="toy", out=tmp_path, data_root=DEMO_DATA), toy_prompt_model())
    assert results["provenance"]["dataset"]["num_samples"] == 1 and 0 <= results["metrics"]["J&F"] <= 100
    stored = decode_prediction((tmp_path / "davis" / "toy.predictions" / "blackswan.npz").read_bytes())
    assert stored["masks"].shape == (5, 480, 854) and set(np.unique(stored["masks"])) <= {0, 1}
    assert all(isinstance(iou, float) for frame in stored["ious"][1:] for iou in frame if iou is not None)


def test_demo_clip_has_the_davis_2017_layout():
    (sequence,) = open_davis(DEMO_DATA / "DAVIS", "val")
    assert sequence.name == "blackswan" and len(sequence.frame_names) == 5
    assert sequence.annotation_format == "davis2017" and count_objects(sequence) == 1
    assert working_size(480, 854) == (576, 1024)


def test_missing_dataset_and_tracker_weights_are_clear_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="ImageSets/2017/val.txt"):
        DavisTask(DavisTask.sam_pt_params("lk")).load_dataset(tmp_path)
    davis = make_davis_tree(tmp_path, n_frames=3)
    (davis / "JPEGImages" / "480p" / "dog" / "00001.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match="frame.*missing"):
        DavisTask(DavisTask.sam_pt_params("lk")).load_dataset(tmp_path)
    with pytest.raises(TrackerUnavailable, match="reference_model"):
        DavisTask.sam_pt_params("pips", tmp_path / "no_weights")


def test_variants_name_every_departure_from_the_defaults(monkeypatch):
    monkeypatch.setattr("evals.davis.task.tracker_params", lambda name, *_: tracker_params(name, require_weights=False))
    assert DavisTask(DavisTask.sam_pt_params("pips")).variant() is None
    assert DavisTask(DavisTask.sam_pt_params("pips")).paper_comparable()
    mobilesam_setting = DavisTask(DavisTask.sam_pt_params("pips", refinement_iterations=3))
    assert mobilesam_setting.variant() == "refine3" and mobilesam_setting.paper_comparable()
    demo = DavisTask(DavisTask.sam_pt_params(*DEMO_SETTINGS))
    assert demo.variant() == "lk.refine3" and not demo.paper_comparable()
    cotracker = DavisTask(DavisTask.sam_pt_params("cotracker", source_resolution="full"))
    assert cotracker.params.sam_pt.positive_points == 16 and cotracker.variant() == "cotracker.src-full"
    assert DavisTask(DavisTask.sam_pt_params("pips", positive_points=16)).variant() == "pos16"
    assert DavisTask(DavisParams(masks_from="predictions", predictions_dir="x")).variant() is None


DEMO_SETTINGS = ("lk", None, 3)


def test_demo_arguments_parse_to_the_demo_settings():
    from evals import cli

    args = cli.build_parser().parse_args(["--task", "davis", "--model", "repvit", *DavisTask.demo_args])
    assert (args.tracker, args.tracker_checkpoint, args.refinement_iterations) == DEMO_SETTINGS


def test_options_follow_sam_pt_per_tracker_and_refuse_unsupported_values():
    assert DavisTask.sam_pt_params("lk", refinement_iterations=3).sam_pt.refinement_iterations == 3
    with pytest.raises(ValueError):
        SamPtOptions(negative_points=3)
    with pytest.raises(ValueError):
        SamPtOptions(refinement_iterations=-1)
    from evals.protocols.sam_pt.options import POSITIVE_POINTS_FOR_TRACKER

    assert POSITIVE_POINTS_FOR_TRACKER == {"pips": 8, "cotracker": 16, "lk": 8}


def test_write_palette_round_trip_of_a_multi_object_frame(tmp_path):
    ids = np.zeros((20, 30), np.uint8)
    ids[2:8, 3:9], ids[10:15, 12:25] = 1, 2
    write_palette_mask(tmp_path / "x.png", ids)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x.png")), ids)
