"""`--task coco` end to end: layout, box prompts, mask selection, and the engine with a ground-truth-mask model.

A model that answers each ground-truth box with that annotation's ground-truth mask must score AP 100 with
`--boxes gt` (crowd regions are not prompted and COCOeval ignores them); with the toy model (the real SAM decoder
behind a trivial encoder) the bundled sample data runs through `evals.engine.execute` to a results JSON.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pycocotools.coco import COCO

from evals import cli
from evals.base import DatasetLayoutError
from evals.coco.task import CocoTask
from evals.engine import Run, execute
from evals.errors import DataError, UsageError
from evals.protocols.box_prompts.options import add_mask_protocol_arguments, decoding_params
from evals.protocols.box_prompts.prompts import BoxPrompt, attach_prompts, read_detection_prompts
from evals.protocols.coco_format.dataset import read_coco_images, read_rgb
from evals.protocols.coco_format.rle import decode_mask
from evals.store import decode_prediction
from models.prompt_model import MaskPrediction
from tests.fakes import toy_prompt_model

DATA = Path(__file__).parent / "data" / "coco_tiny_val2017"
ANNOTATIONS = DATA / "annotations" / "instances_val2017.json"
SAMPLE_DATA = Path(__file__).resolve().parent.parent / "datasets" / "sample"
NON_CROWD = 804  # of the 815 annotations of the 80 images
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools + numpy 2


def xyxy(bbox) -> tuple[float, ...]:
    x, y, w, h = bbox
    return (x, y, x + w, y + h)


class GroundTruthMaskModel:
    """The prompt interface, answering a ground-truth box with its annotation's mask (looked up by image size and
    box). Multimask output puts the true mask at a varying index with the highest predicted IoU and wrong masks
    beside it; the low-res logits carry a marker (10 * box + mask index) so a refinement pass can be checked."""

    def __init__(self, annotation_file: Path):
        with contextlib.redirect_stdout(io.StringIO()):
            self.coco = COCO(str(annotation_file))
        self.by_box = {}
        for ann in self.coco.dataset["annotations"]:
            image = self.coco.imgs[ann["image_id"]]
            key = (image["height"], image["width"], *xyxy(ann["bbox"]))
            assert key not in self.by_box
            self.by_box[key] = ann
        self.provenance = {"model": "gt_masks", "display": "GT masks", "trained": False, "checkpoint_sha256": None,
                           "fused": False, "backend": "eager"}  # fmt: skip
        self.batches: list[tuple[int, bool, bool]] = []  # (boxes, multimask_output, mask_input given)
        self.prompted: list[dict] = []
        self.size: tuple[int, int] | None = None

    def set_image(self, image: np.ndarray) -> None:
        self.size = image.shape[:2]

    def predict(self, point_coords=None, point_labels=None, boxes=None, mask_input=None, multimask_output=True):
        self.batches.append((len(boxes), multimask_output, mask_input is not None))
        anns = [self.by_box[(*self.size, *(float(v) for v in box))] for box in boxes]
        # int8 logits (+1 inside, -1 outside): thresholded at 0 as float ones, a quarter of the memory traffic
        truth = torch.from_numpy(np.stack([self.coco.annToMask(ann) for ann in anns]).astype(np.int8) * 2 - 1)
        count = len(boxes)
        if not multimask_output:
            if mask_input is not None:  # refinement: the best first-pass mask's low-res logits come back
                assert mask_input.shape == (count, 1, 256, 256)
                for b in range(count):
                    assert torch.all(mask_input[b, 0] == 10 * b + b % 3)
            else:
                self.prompted.extend(anns)
            return MaskPrediction(truth[:, None], torch.full((count, 1), 0.9), torch.zeros(count, 1, 256, 256))
        self.prompted.extend(anns)
        logits = torch.full((count, 3, *truth.shape[1:]), -1, dtype=torch.int8)  # wrong masks: empty ...
        iou = torch.tensor([[0.5, 0.2, 0.4]]).repeat(count, 1)
        for b in range(count):
            logits[b, (b + 1) % 3] = 1  # ... and the whole image
            logits[b, b % 3] = truth[b]
            iou[b, b % 3] = 0.9
        low_res = (
            (10 * torch.arange(count)[:, None] + torch.arange(3)[None])
            .float()[..., None, None]
            .expand(count, 3, 256, 256)
        )
        return MaskPrediction(logits, iou, low_res.clone())


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    """A data root with the 80 images' annotations and blank images of their sizes (the fake ignores pixels)."""
    root = tmp_path_factory.mktemp("data")
    (root / "coco" / "annotations").mkdir(parents=True)
    (root / "coco" / "val2017").mkdir()
    shutil.copyfile(ANNOTATIONS, root / "coco" / "annotations" / "instances_val2017.json")
    for image in json.loads(ANNOTATIONS.read_text())["images"]:
        cv2.imwrite(
            str(root / "coco" / "val2017" / image["file_name"]),
            np.zeros((image["height"], image["width"], 3), np.uint8),
        )
    return root


def coco_task(*argv: str) -> CocoTask:
    return CocoTask(CocoTask.params_from_args(cli.build_parser().parse_args(list(argv))))


def run(task: CocoTask, root: Path, out: Path, model, limit=None) -> dict:
    return execute(Run(task=task, run_name="model", out=out, data_root=root, limit=limit), model)


def test_ground_truth_boxes_with_ground_truth_masks_give_ap_100(tiny_root, tmp_path):
    model = GroundTruthMaskModel(ANNOTATIONS)
    results = run(coco_task("--boxes", "gt", "--box-batch", "16"), tiny_root, tmp_path, model)
    metrics = results["metrics"]
    assert (metrics["AP"], metrics["APs"], metrics["APm"], metrics["APl"]) == (100.0, 100.0, 100.0, 100.0)
    assert metrics["coco_eval"]["AP50"] == metrics["coco_eval"]["AP75"] == metrics["coco_eval"]["AR100"] == 1.0
    assert metrics["num_images"] == 80 and metrics["num_detections"] == NON_CROWD
    assert len(model.prompted) == NON_CROWD and not any(ann["iscrowd"] for ann in model.prompted)
    assert max(boxes for boxes, _, _ in model.batches) == 16 and all(multi for _, multi, _ in model.batches)
    protocol = results["provenance"]["protocol"]
    assert protocol["oracle"] is True and protocol["mask_selection"] == "best" and "note" not in protocol
    assert "ORACLE" in results["provenance"]["protocol_notes"]["oracle"]
    assert json.loads((tmp_path / "coco" / "model.json").read_text())["metrics"]["AP"] == 100.0


@pytest.mark.parametrize("selection", ["single", "refine"])
def test_single_and_refined_masks(tiny_root, tmp_path, selection):
    model = GroundTruthMaskModel(ANNOTATIONS)
    metrics = run(coco_task("--boxes", "gt", "--mask-selection", selection), tiny_root, tmp_path, model, limit=12)[
        "metrics"
    ]
    assert metrics["AP"] == 100.0 and metrics["num_images"] == 12
    if selection == "single":
        assert {(multi, given) for _, multi, given in model.batches} == {(False, False)}
    else:  # each batch: a multimask pass, then a single-mask pass fed the best mask's logits
        assert [(multi, given) for _, multi, given in model.batches[:2]] == [(True, False), (False, True)]
        assert len(model.batches) % 2 == 0


def test_detections_keep_their_category_and_score(tiny_root, tmp_path):
    annotations = json.loads(ANNOTATIONS.read_text())["annotations"]
    image_ids = [image["id"] for image in json.loads(ANNOTATIONS.read_text())["images"][:3]]
    detections = [
        {"image_id": ann["image_id"], "category_id": 1 + i % 5, "bbox": ann["bbox"], "score": 0.01 * i, "segmentation": []}
        for i, ann in enumerate(a for a in annotations if a["image_id"] in image_ids and not a["iscrowd"])
    ]  # fmt: skip
    boxes_file = tmp_path / "coco_instances_results_vitdet.json"
    boxes_file.write_text(json.dumps(detections))
    task = coco_task("--boxes", str(boxes_file))
    assert task.params.prompts == "detections" and task.params.oracle is False
    assert len(task.params.boxes_sha256) == 64
    run(task, tiny_root, tmp_path / "out", GroundTruthMaskModel(ANNOTATIONS), limit=3)
    store = tmp_path / "out" / "coco" / "model.predictions"
    stored = [
        d for image_id in image_ids for d in decode_prediction((store / f"{image_id}.npz").read_bytes())["detections"]
    ]
    assert [(d["category_id"], d["score"], d["bbox"]) for d in stored] == [
        (d["category_id"], d["score"], d["bbox"]) for d in detections
    ]


def test_detection_prompts_are_grouped_by_image_in_file_order(tmp_path):
    path = tmp_path / "dets.json"
    path.write_text(json.dumps([
        {"image_id": 7, "category_id": 3, "bbox": [10.5, 20.0, 30.0, 40.25], "score": 0.9},
        {"image_id": 5, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.1},
        {"image_id": 7, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.95},
    ]))  # fmt: skip
    prompts = read_detection_prompts(path)
    assert prompts[7] == (BoxPrompt((10.5, 20.0, 30.0, 40.25), 3, 0.9), BoxPrompt((1, 2, 3, 4), 2, 0.95))
    assert prompts[7][0].xyxy == (10.5, 20.0, 40.5, 60.25)
    images = read_coco_images(ANNOTATIONS, DATA / "val2017")
    with pytest.raises(DataError, match="another split"):
        attach_prompts(images, prompts)
    first = images[0].image_id
    attached = attach_prompts(images, {first: prompts[7]})
    assert attached[0].prompts == prompts[7] and attached[1].prompts == ()


def test_an_image_without_prompts_is_not_embedded(tiny_root, tmp_path):
    class NoImages(GroundTruthMaskModel):
        def set_image(self, image):
            raise AssertionError("embedded an image with nothing to segment")

    boxes_file = tmp_path / "none.json"
    boxes_file.write_text("[]")
    metrics = run(coco_task("--boxes", str(boxes_file)), tiny_root, tmp_path, NoImages(ANNOTATIONS), limit=2)["metrics"]
    assert metrics["AP"] == 0.0 and metrics["num_detections"] == 0


def test_wrong_layout_and_missing_boxes_are_clear_errors(tmp_path, tiny_root):
    with pytest.raises(DatasetLayoutError, match=r"annotations/instances_val2017.json"):
        coco_task("--boxes", "gt").load_dataset(tmp_path)
    missing = coco_task("--boxes", str(tmp_path / "missing.json")).requirements(tiny_root)  # named, not raised
    assert [r.describe() for r in missing if not r.is_met()] == [missing[-1].describe()]
    assert "missing.json" in missing[-1].describe() and "coco_vitdet.json" in missing[-1].describe()
    assert "--boxes gt" in missing[-1].describe()
    assert cli.main(["--task", "coco", "--model", "repvit", "--predictions", str(tmp_path / "none.json")]) == 2
    broken = tmp_path / "broken"
    shutil.copytree(tiny_root / "coco" / "annotations", broken / "annotations")
    (broken / "val2017").mkdir()
    with pytest.raises(DatasetLayoutError, match="80 of 80 images"):
        coco_task("--boxes", "gt").load_dataset(broken)  # the data root may be the coco folder itself


def test_an_image_of_another_size_is_an_error(tiny_root):
    image = read_coco_images(ANNOTATIONS, tiny_root / "coco" / "val2017")[0]
    assert read_rgb(image).shape == (image.height, image.width, 3)
    with pytest.raises(DataError, match="annotation file says"):
        read_rgb(type(image)(**{**image.__dict__, "height": image.height + 1}))


def test_sample_data_end_to_end_with_the_real_decoder(tmp_path):
    """The bundled sample through the engine with SAM's decoder (refine: both decoder passes), one detection of
    each image (the decoder on CPU costs ~0.1-0.3 s a box)."""
    annotations = json.loads((SAMPLE_DATA / "coco" / "annotations" / "instances_val2017.json").read_text())
    detections = []
    for image in annotations["images"]:
        boxes = [a for a in annotations["annotations"] if a["image_id"] == image["id"] and not a["iscrowd"]][:1]
        detections += [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.5}
                       for a in boxes]  # fmt: skip
    boxes_file = tmp_path / "dets.json"
    boxes_file.write_text(json.dumps(detections))
    task = coco_task("--boxes", str(boxes_file), "--mask-selection", "refine", "--box-batch", "8")
    results = run(task, SAMPLE_DATA, tmp_path, toy_prompt_model())
    metrics = results["metrics"]
    assert metrics["num_images"] == 5 and metrics["num_detections"] == 5
    assert all(0.0 <= metrics[key] <= 100.0 for key in ("AP", "APs", "APm", "APl") if metrics[key] is not None)
    assert set(metrics["coco_eval"]) == {
        "AP",
        "AP50",
        "AP75",
        "APs",
        "APm",
        "APl",
        "AR1",
        "AR10",
        "AR100",
        "ARs",
        "ARm",
        "ARl",
    }
    written = json.loads((tmp_path / "coco" / "model.json").read_text())
    assert written["metrics"] == metrics and written["provenance"]["protocol"]["mask_selection"] == "refine"
    assert written["provenance"]["dataset"]["num_samples"] == 5
    images = {str(image.image_id): image for image in read_coco_images(
        SAMPLE_DATA / "coco" / "annotations" / "instances_val2017.json", SAMPLE_DATA / "coco" / "val2017")}  # fmt: skip
    for path in (tmp_path / "coco" / "model.predictions").glob("*.npz"):
        for detection in decode_prediction(path.read_bytes())["detections"]:
            image = images[path.stem]
            assert decode_mask(detection["segmentation"]).shape == (image.height, image.width)
    resumed = run(task, SAMPLE_DATA, tmp_path, toy_prompt_model())
    assert resumed["metrics"] == metrics and resumed["provenance"]["timings"]["resumed_samples"] == 5


def test_shared_options_survive_a_second_box_prompted_task():
    parser = argparse.ArgumentParser()
    add_mask_protocol_arguments(parser.add_argument_group("coco"))
    add_mask_protocol_arguments(parser.add_argument_group("seginw"))  # SegInW adds the same options
    args = parser.parse_args(["--mask-selection", "refine", "--box-batch", "3"])
    assert decoding_params(args)["mask_selection"] == "refine" and decoding_params(args)["box_batch"] == 3
    with pytest.raises(UsageError, match="positive"):
        decoding_params(parser.parse_args(["--box-batch", "0"]))


def test_only_parameters_fingerprint_the_stored_predictions():
    """The prose about the protocol is in its notes, and which COCOeval scores is evaluation-only: neither is part
    of what stored predictions are matched on; the mask selection is."""
    task = coco_task("--boxes", "gt", "--coco-eval", "pycocotools")
    fingerprinted = task.prediction_params()
    assert not {"note", "box_format", "image_decoding", "coco_eval", "iou_type", "max_dets"} & set(fingerprinted)
    assert "ORACLE" in task.protocol_notes()["oracle"] and task.protocol_notes()["box_format"].startswith("COCO [x, y")
    assert CocoTask(task.params.replace(coco_eval="faster-coco-eval")).prediction_params() == fingerprinted
    assert CocoTask(task.params.replace(mask_selection="single")).prediction_params() != fingerprinted
