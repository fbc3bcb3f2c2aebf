"""`--task seginw` end to end: 25 generated datasets in the SegInW layout, per-dataset mask AP and their mean.

A model that answers each prompted box with that annotation's ground-truth mask must score AP 100 on every dataset
(from `--seginw-boxes gt` and from box files alike); a missing dataset or box file is an error naming it; subsets,
oracles and other detectors are labelled runs; the bundled sample runs through `evals.engine.execute` with the toy
model, prompted by the boxes of a tiny Grounding-DINO (tests/test_grounding_dino.py).
"""
from __future__ import annotations

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
from evals.engine import Run, execute
from evals.errors import DataError, UsageError
from evals.protocols.box_prompts.mask_ap import mask_ap
from evals.registry import task_class
from evals.seginw.datasets import ANNOTATION_FILE, SEGINW_DATASETS, SPLIT
from evals.seginw.reference import PAPER_MEAN_AP, REFERENCE_AP
from evals.seginw.sample_data import SAMPLE_DATASETS, annotation_content, synthetic_image
from evals.seginw.task import SegInWTask
from evals.store import decode_prediction
from models.prompt_model import MaskPrediction
from tests.fakes import toy_prompt_model

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "datasets" / "sample"
W, H = 64, 48
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools + numpy 2


# --- generated data -----------------------------------------------------------------------------------------------
def write_dataset(root: Path, name: str, index: int, first_annotation_id: int = 1) -> None:
    """Two 64x48 images with two rectangles each; boxes differ between datasets (so a box names its annotation)."""
    folder = root / "seginw" / name / SPLIT
    folder.mkdir(parents=True)
    images, annotations = [], []
    for image_id in range(2):
        cv2.imwrite(str(folder / f"{image_id}.png"), np.zeros((H, W, 3), np.uint8))
        images.append({"id": image_id, "file_name": f"{image_id}.png", "height": H, "width": W})
        for k in range(2):
            x, y, w, h = 2 + index, 3 + 20 * k + image_id, 10 + k, 8 + image_id
            annotations.append({"id": first_annotation_id + len(annotations), "image_id": image_id, "category_id": k,
                                "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0,
                                "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})  # fmt: skip
    categories = [{"id": 0, "name": "thing", "supercategory": name},
                  {"id": 1, "name": "other thing", "supercategory": name}]  # fmt: skip
    content = {"images": images, "annotations": annotations, "categories": categories}
    (folder / ANNOTATION_FILE).write_text(json.dumps(content))


@pytest.fixture(scope="module")
def seginw_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    for index, name in enumerate(SEGINW_DATASETS):
        write_dataset(root, name, index)
    return root


class GroundTruthMaskModel:
    """The prompt interface, answering a ground-truth box with its annotation's mask (looked up by image size and
    box over all datasets under `root`)."""

    def __init__(self, root: Path):
        self.by_box = {}
        for path in sorted((root / "seginw").glob(f"*/{SPLIT}/{ANNOTATION_FILE}")):
            with contextlib.redirect_stdout(io.StringIO()):
                coco = COCO(str(path))
            for ann in coco.dataset["annotations"]:
                image = coco.imgs[ann["image_id"]]
                x, y, w, h = ann["bbox"]
                key = (image["height"], image["width"], float(x), float(y), float(x + w), float(y + h))
                assert key not in self.by_box
                self.by_box[key] = coco.annToMask(ann)
        self.provenance = {"model": "gt_masks", "display": "GT masks", "trained": False, "checkpoint_sha256": None,
                           "fused": False, "backend": "eager"}  # fmt: skip
        self.calls: list[tuple[int, bool]] = []

    def set_image(self, image: np.ndarray) -> None:
        self.size = image.shape[:2]

    def predict(self, point_coords=None, point_labels=None, boxes=None, mask_input=None, multimask_output=True):
        self.calls.append((len(boxes), multimask_output))
        masks = [self.by_box[(*self.size, *map(float, box))] for box in boxes]
        truth = torch.from_numpy(np.stack(masks).astype(np.int8))
        logits = (truth * 2 - 1)[:, None]
        if multimask_output:  # the true mask first, an empty one beside it
            logits = torch.cat([logits, -torch.ones_like(logits), -torch.ones_like(logits)], dim=1)
        count = logits.shape[1]
        iou = torch.tensor([0.9, 0.1, 0.1][:count]).repeat(len(boxes), 1)
        return MaskPrediction(logits, iou, torch.zeros(len(boxes), count, 256, 256))


def seginw_task(*argv: str) -> SegInWTask:
    return SegInWTask(SegInWTask.params_from_args(cli.build_parser().parse_args(list(argv))))


def run(task: SegInWTask, root: Path, out: Path, model, external: Path | None = None) -> dict:
    return execute(Run(task=task, run_name="model", out=out, data_root=root, external_predictions=external), model)


def ground_truth_box_files(root: Path, directory: Path, names=SEGINW_DATASETS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        content = json.loads((root / "seginw" / name / SPLIT / ANNOTATION_FILE).read_text())
        detections = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.5}
                      for a in content["annotations"]]  # fmt: skip
        (directory / f"{name}.json").write_text(json.dumps(detections))
    return directory


# --- the metric and the protocol ------------------------------------------------------------------------------------
def test_ground_truth_masks_give_ap_100_on_each_dataset_and_in_the_mean(seginw_root, tmp_path):
    model = GroundTruthMaskModel(seginw_root)
    task = seginw_task("--seginw-boxes", "gt")
    assert task.variant() == "gt-boxes" and not task.paper_comparable()
    results = run(task, seginw_root, tmp_path, model)
    metrics = results["metrics"]
    assert metrics["mean_AP"] == 100.0 and metrics["num_datasets"] == 25 and metrics["num_images"] == 50
    assert list(metrics["datasets"]) == list(SEGINW_DATASETS)
    for name, per_dataset in metrics["datasets"].items():
        assert per_dataset["AP"] == 100.0 and per_dataset["num_detections"] == 4
        assert per_dataset["reference_AP"] == REFERENCE_AP[name]
        assert per_dataset["AP_minus_reference"] == pytest.approx(100.0 - REFERENCE_AP[name])
        assert per_dataset["ground_truth_has_annotation_id_0"] is False
    assert metrics["reference"]["mean_AP"] == 48.7
    assert metrics["reference"]["mean_AP_of_these_datasets"] == pytest.approx(48.716)
    assert {multi for _, multi in model.calls} == {False}  # sam-hq: multimask_output=False
    protocol = results["provenance"]["protocol"]
    assert protocol["oracle"] is True and protocol["mask_selection"] == "single" and len(protocol["datasets"]) == 25
    assert results["provenance"]["dataset"]["num_samples"] == 50
    stored = sorted(p.relative_to(tmp_path / "seginw" / "model.predictions").as_posix()
                    for p in (tmp_path / "seginw" / "model.predictions").rglob("*.npz"))  # fmt: skip
    assert stored[:2] == ["Airplane-Parts/0.npz", "Airplane-Parts/1.npz"] and len(stored) == 50


def test_box_files_are_the_paper_protocol_and_recorded(seginw_root, tmp_path):
    boxes = ground_truth_box_files(seginw_root, tmp_path / "boxes")
    task = seginw_task("--seginw-boxes", str(boxes))
    assert task.variant() is None and task.paper_comparable()
    assert task.params.paper_boxes is None  # no provenance.json: made elsewhere, not judged
    assert all(len(entry.sha256) == 64 for entry in task.params.boxes_files.values())
    metrics = run(task, seginw_root, tmp_path / "out", GroundTruthMaskModel(seginw_root))["metrics"]
    assert metrics["mean_AP"] == 100.0 and all(m["AP"] == 100.0 for m in metrics["datasets"].values())
    provenance = {"datasets": {name: {"sha256": entry.sha256, "protocol": {"num_select": 100},
                                      "detector": {"backbone": "Swin-T"}}
                               for name, entry in task.params.boxes_files.items()}}  # fmt: skip
    (boxes / "provenance.json").write_text(json.dumps(provenance))
    assert seginw_task("--seginw-boxes", str(boxes)).variant() == "other-detector"
    for entry in provenance["datasets"].values():
        entry["detector"]["backbone"] = "Swin-B"
    (boxes / "provenance.json").write_text(json.dumps(provenance))
    other = seginw_task("--seginw-boxes", str(boxes))
    assert other.params.paper_boxes is True and other.variant() is None


def test_labelled_variants():
    assert seginw_task("--seginw-boxes", "gt", "--seginw-mask-selection", "best").variant() == "gt-boxes+mask-best"
    subset = seginw_task("--seginw-boxes", "gt", "--seginw-datasets", "Fruits, Hand")
    assert subset.variant() == "gt-boxes+subset-Fruits,Hand"
    many = seginw_task("--seginw-boxes", "gt", "--seginw-datasets", ",".join(SEGINW_DATASETS[:5])).variant()
    assert many.startswith("gt-boxes+subset-5-") and len(many) == len("gt-boxes+subset-5-") + 8
    reordered = seginw_task("--seginw-boxes", "gt", "--seginw-datasets", ",".join(reversed(SEGINW_DATASETS)))
    assert reordered.variant() == "gt-boxes"  # all 25, in any order
    assert seginw_task("--seginw-boxes", "gt", "--mask-selection", "refine").params.mask_selection == "single"
    for bad in ("", "Fruits,Fruits", "../x"):
        with pytest.raises(UsageError):
            seginw_task("--seginw-boxes", "gt", "--seginw-datasets", bad)


def test_missing_datasets_and_box_files_are_named(seginw_root, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(seginw_root / "seginw", partial / "seginw", ignore=shutil.ignore_patterns("Cows", "Trash"))
    with pytest.raises(DatasetLayoutError, match=r"2 of the 25 SegInW datasets are missing.*Cows, Trash") as info:
        seginw_task("--seginw-boxes", "gt").load_dataset(partial)
    message = str(info.value)
    assert "--seginw-datasets Airplane-Parts," in message and "_annotations_min1cat.coco.json" in message
    subset = seginw_task("--seginw-boxes", "gt", "--seginw-datasets", "Fruits,Hand").load_dataset(partial / "seginw")
    assert [s.id for s in subset.samples] == ["Fruits/0", "Fruits/1", "Hand/0", "Hand/1"]
    boxes = ground_truth_box_files(seginw_root, tmp_path / "boxes", names=SEGINW_DATASETS[:-1])
    (missing,) = [r.describe() for r in seginw_task("--seginw-boxes", str(boxes)).requirements(seginw_root)
                  if not r.is_met()]  # fmt: skip
    assert "Watermelon.json" in missing and f"--detect seginw --data-root {seginw_root}" in missing
    default = [r for r in seginw_task().requirements(seginw_root) if not r.is_met()]  # boxes/seginw, not there
    assert [str(r.path) for r in default] == ["boxes/seginw"] and "--out boxes/seginw" in default[0].source
    unknown_image = {"image_id": 99, "category_id": 0, "bbox": [0, 0, 1, 1], "score": 1}
    (boxes / "Fruits.json").write_text(json.dumps([unknown_image]))
    task = seginw_task("--seginw-boxes", str(boxes), "--seginw-datasets", "Fruits")
    with pytest.raises(DataError, match="Fruits.json does not match Fruits"):
        task.load_dataset(seginw_root)


def test_subset_means_over_its_datasets(seginw_root, tmp_path):
    task = seginw_task("--seginw-boxes", "gt", "--seginw-datasets", "Rail,Chicken")
    metrics = run(task, seginw_root, tmp_path, GroundTruthMaskModel(seginw_root))["metrics"]
    assert list(metrics["datasets"]) == ["Rail", "Chicken"] and metrics["mean_AP"] == 100.0
    assert metrics["reference"]["mean_AP_of_these_datasets"] == pytest.approx((8.7 + 84.5) / 2)


def test_other_methods_masks_from_per_dataset_files(seginw_root, tmp_path):
    predictions = tmp_path / "predictions"
    predictions.mkdir()
    for index, name in enumerate(SEGINW_DATASETS):
        content = json.loads((seginw_root / "seginw" / name / SPLIT / ANNOTATION_FILE).read_text())
        masks = [{"image_id": a["image_id"], "category_id": a["category_id"], "segmentation": a["segmentation"],
                  "score": 0.9} for a in content["annotations"]]  # fmt: skip (polygons: converted to RLE)
        file_name = f"seginw-{name}_val.json" if index % 2 else f"{name}.json"  # sam-hq's --save_json name, or ours
        (predictions / file_name).write_text(json.dumps(masks))
    task = seginw_task("--predictions", str(predictions))
    assert task.params.prompts.startswith("none") and len(task.params.predictions_files) == 25
    metrics = run(task, seginw_root, tmp_path / "out", None, external=predictions)["metrics"]
    assert metrics["mean_AP"] == 100.0
    (predictions / "seginw-Bottles_val.json").unlink()
    with pytest.raises(DataError, match="Bottles"):
        seginw_task("--predictions", str(predictions))


def test_annotation_id_0_is_never_matched_as_in_pycocotools(tmp_path):
    """Roboflow exports number annotations from 0; COCOeval counts a match with id 0 as none (see metric.py)."""
    write_dataset(tmp_path, "Fruits", 0, first_annotation_id=0)
    task = seginw_task("--seginw-boxes", "gt", "--seginw-datasets", "Fruits")
    metrics = run(task, tmp_path, tmp_path / "out", GroundTruthMaskModel(tmp_path))["metrics"]["datasets"]["Fruits"]
    assert metrics["ground_truth_has_annotation_id_0"] is True and metrics["AP"] < 100.0
    store = tmp_path / "out" / "seginw" / "model.predictions"
    detections = [dict(d, image_id=int(p.stem)) for p in sorted((store / "Fruits").glob("*.npz"))
                  for d in decode_prediction(p.read_bytes())["detections"]]  # fmt: skip
    annotation = tmp_path / "seginw" / "Fruits" / SPLIT / ANNOTATION_FILE
    oracle = mask_ap(annotation, detections, [0, 1], "pycocotools")
    assert metrics["AP"] == pytest.approx(oracle["AP"], abs=1e-12)


# --- registry, sample data, Grounding-DINO boxes through the engine -----------------------------------------------
def test_registered_with_the_papers_column():
    assert task_class("seginw") is SegInWTask
    (column,) = SegInWTask.columns
    assert column.key == "mean_AP" and column.label == "SegInW mean AP" and column.paper == PAPER_MEAN_AP
    assert column.section == "Instance segmentation (COCO) and SegInW"


def test_bundled_sample_data_is_the_generators():
    for name in SAMPLE_DATASETS:
        folder = SAMPLE_DATA / "seginw" / name / SPLIT
        content = json.loads((folder / ANNOTATION_FILE).read_text())
        assert content == annotation_content(name)
        for record in content["images"]:
            bundled = cv2.cvtColor(cv2.imread(str(folder / record["file_name"])), cv2.COLOR_BGR2RGB)
            generated = synthetic_image(name, record["id"])[0]
            smooth = [cv2.blur(image, (5, 5)).astype(int) for image in (bundled, generated)]  # JPEG loses the noise
            assert np.abs(smooth[0] - smooth[1]).mean() < 2
    assert sum(p.stat().st_size for p in (SAMPLE_DATA / "seginw").rglob("*") if p.is_file()) < 300_000


def test_sample_data_end_to_end_with_grounding_dino_boxes(tmp_path, monkeypatch):
    """The tiny random Grounding-DINO's boxes (top 2 per image, to keep the decoder's CPU time small) prompt the toy
    model (the real SAM decoder) on the bundled sample, through the engine, and a second run resumes."""
    from evals.detectors.grounding_dino import GroundingDinoDetector
    from evals.seginw.detect import detect_seginw
    from tests.test_grounding_dino import save_tiny_grounding_dino

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    weights = save_tiny_grounding_dino(tmp_path / "weights")
    detector = GroundingDinoDetector.load(weights, "cpu")
    names = tuple(SAMPLE_DATASETS)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny model's small kernels: see tests/test_grounding_dino.py
    try:
        detect_seginw(SAMPLE_DATA, weights, tmp_path / "boxes", names, num_select=2, detector=detector)
    finally:
        torch.set_num_threads(threads)
    task = seginw_task("--seginw-boxes", str(tmp_path / "boxes"), "--seginw-datasets", ",".join(names))
    assert task.params.paper_boxes is False  # not Swin-B, not top 100
    assert task.variant() == "other-detector+subset-Synthetic-Shapes,Synthetic-Blobs"
    results = run(task, SAMPLE_DATA, tmp_path / "out", toy_prompt_model())
    metrics = results["metrics"]
    assert list(metrics["datasets"]) == list(names) and metrics["num_images"] == 4 and metrics["num_detections"] == 8
    assert 0.0 <= metrics["mean_AP"] <= 100.0 and metrics["reference"]["mean_AP_of_these_datasets"] is None
    detector_record = results["provenance"]["protocol"]["boxes_detector"]["Synthetic-Shapes"]["detector"]
    assert detector_record["weights_sha256"] == detector.provenance["weights_sha256"]
    written = json.loads((tmp_path / "out" / "seginw" / "model.json").read_text())
    assert written["metrics"] == metrics and written["variant"] == task.variant()
    resumed = run(task, SAMPLE_DATA, tmp_path / "out", toy_prompt_model())
    assert resumed["metrics"] == metrics and resumed["provenance"]["timings"]["resumed_samples"] == 4
