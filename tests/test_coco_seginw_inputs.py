"""`--task coco`, `--task seginw` and `--detect seginw` on broken, missing or changed inputs, through the command line.

Every bad input ends in exit status 2 and one paragraph naming the file and what was expected, without a traceback
and without writing anything outside --out; everything a run lacks is listed in one message with where to get it;
a model without the outputs a protocol needs is refused before it loads; a stored prediction whose inputs changed,
or whose file is truncated, is predicted again. Data: copies of the bundled samples in tmp_path; the model: the
real SAM decoder behind a trivial encoder (tests/fakes.py) in place of the untrained one the command line builds.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import models
from evals import cli
from evals.coco.task import CocoTask
from evals.seginw.sample_data import write_sample_datasets
from evals.seginw.task import SegInWTask
from models.capabilities import Capabilities
from tests.fakes import toy_prompt_model

SAMPLE_COCO = Path(__file__).resolve().parent.parent / "datasets" / "sample" / "coco"
TINYSAM_URL = "https://github.com/xinghaochen/TinySAM/releases/download/2.0/coco_instances_results_vitdet.json"
EFFICIENTVIT_URL = "https://huggingface.co/mit-han-lab/efficientvit-sam/resolve/main/source_json_file/coco_vitdet.json"
SEGINW_URL = "https://huggingface.co/sam-hq-team/SegInW/resolve/main/seginw.zip"
FIRST, SECOND = "000000343937", "000000555009"  # the sample annotation file's first two images (2 and 9 objects)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools + numpy 2


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Work in tmp_path (relative defaults such as weights/ and boxes/seginw land there) with the toy model in place
    of the untrained network `--untrained` would build; the command line's --threads is undone afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(models, "load_prompt_model", lambda *args, **kwargs: toy_prompt_model())
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def coco_root(tmp_path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(SAMPLE_COCO, root / "coco", ignore=shutil.ignore_patterns("README.md"))
    return root


@pytest.fixture
def seginw_root(tmp_path) -> Path:
    root = tmp_path / "data"
    write_sample_datasets(root)
    return root


def annotations_path(root: Path) -> Path:
    return root / "coco" / "annotations" / "instances_val2017.json"


def edit_annotations(root: Path, change) -> None:
    path = annotations_path(root)
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


def gt_detections(root: Path) -> list[dict]:
    content = json.loads(annotations_path(root).read_text())
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.5}
            for a in content["annotations"] if not a["iscrowd"]]  # fmt: skip


def listing(root: Path, out: Path) -> list[tuple[str, int]]:
    """Every file and folder under `root` but `out`, with its size."""
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p != out and out not in p.parents)


def fails(capsys, tmp_path: Path, *argv: str) -> str:
    """Run the command line; it must fail with status 2, one 'error:' paragraph, no traceback, nothing written outside
    --out. Returns the message."""
    out = tmp_path / "out"
    before = listing(tmp_path, out)
    code = cli.main([*argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("error: ") == 1
    assert listing(tmp_path, out) == before
    return err[err.index("error: "):]


def coco_args(root: Path, *extra: str, limit: int = 1) -> list[str]:
    return ["--task", "coco", "--model", "mobilesam", "--untrained", "--data-root", str(root), "--limit", str(limit),
            "--threads", "1", *extra]  # fmt: skip (one thread: the decoder's small products, on a shared machine)


def seginw_args(root: Path, *extra: str) -> list[str]:
    return ["--task", "seginw", "--model", "mobilesam", "--untrained", "--data-root", str(root), "--limit", "1",
            "--threads", "1", "--seginw-datasets", "Synthetic-Shapes", *extra]  # fmt: skip


# --- COCO: the annotation file --------------------------------------------------------------------------------------
def test_an_annotation_without_bbox_is_named(capsys, tmp_path, coco_root):
    edit_annotations(coco_root, lambda content: content["annotations"][3].pop("bbox"))
    message = fails(capsys, tmp_path, *coco_args(coco_root, "--boxes", "gt"))
    assert f"{annotations_path(coco_root)}: annotations[3]" in message and "lacks 'bbox'" in message


def test_a_ground_truth_box_of_negative_width_is_refused(capsys, tmp_path, coco_root):
    def invert(content):
        content["annotations"][0]["bbox"][2] = -25.0

    edit_annotations(coco_root, invert)
    message = fails(capsys, tmp_path, *coco_args(coco_root, "--boxes", "gt"))
    assert f"{annotations_path(coco_root)}: annotations[0]" in message and "negative width (-25.0)" in message


def test_a_truncated_annotation_file_is_named_with_where_it_ends(capsys, tmp_path, coco_root):
    path = annotations_path(coco_root)
    path.write_bytes(path.read_bytes()[:12])  # '{"info": {"d' ...
    message = fails(capsys, tmp_path, *coco_args(coco_root, "--boxes", "gt"))
    assert f"{path}: not valid JSON" in message and "truncated" in message
    assert "annotations_trainval2017.zip" in message  # where a whole copy comes from


def test_an_image_size_other_than_the_annotations_and_a_bad_file_name(capsys, tmp_path, coco_root):
    def resize(content):
        content["images"][0]["width"] = 641

    edit_annotations(coco_root, resize)
    message = fails(capsys, tmp_path, *coco_args(coco_root, "--boxes", "gt"))
    assert f"{FIRST}.jpg: the image is 640x428 but the annotation file says 641x428" in message

    def escape(content):
        content["images"][0]["width"] = 640
        content["images"][1]["file_name"] = "../../secret.jpg"

    edit_annotations(coco_root, escape)
    message = fails(capsys, tmp_path, *coco_args(coco_root, "--boxes", "gt"))
    assert "images[1] (id 555009): file_name '../../secret.jpg' does not name a file inside" in message


# --- COCO: the boxes file -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change,expected",
    [
        (lambda d: d[1]["bbox"].__setitem__(2, -3.0),
         "negative width (-3.0); expected [x, y, width, height] with positive width and height"),
        (lambda d: d[0]["bbox"].__setitem__(3, 0), "has zero height (0)"),
        (lambda d: d[2].pop("score"), "detection #2 lacks one of image_id, category_id, bbox, score"),
        (lambda d: d[0].__setitem__("image_id", 12345), "detections for 1 images that the annotation file"),
    ],
)
def test_bad_detections_are_named(capsys, tmp_path, coco_root, change, expected):
    detections = gt_detections(coco_root)
    change(detections)
    boxes = tmp_path / "data" / "vitdet.json"
    boxes.write_text(json.dumps(detections))
    message = fails(capsys, tmp_path, *coco_args(coco_root, "--boxes", str(boxes)))
    assert str(boxes) in message and expected in message


def test_a_truncated_boxes_file_is_named(capsys, tmp_path, coco_root):
    boxes = tmp_path / "data" / "coco" / "coco_instances_results_vitdet.json"  # the default place: no --boxes
    boxes.write_text(json.dumps(gt_detections(coco_root))[:100])
    message = fails(capsys, tmp_path, *coco_args(coco_root))
    assert f"{boxes}: not valid JSON" in message and "truncated" in message and TINYSAM_URL in message


def test_another_methods_mask_of_the_wrong_size_is_named(capsys, tmp_path, coco_root):
    masks = [{"image_id": 343937, "category_id": 1, "score": 0.9,
              "segmentation": {"size": [10, 10], "counts": "0d1"}}]  # fmt: skip (the image is 428 x 640)
    predictions = tmp_path / "data" / "masks.json"
    predictions.write_text(json.dumps(masks))
    message = fails(capsys, tmp_path, "--task", "coco", "--model", "other", "--data-root", str(coco_root),
                    "--predictions", str(predictions), "--limit", "1")  # fmt: skip
    assert f"{predictions}: image 343937: segmentation of size 10x10 for an image of 640x428" in message


# --- COCO: the images ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "damage,expected",
    [
        (lambda data: np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8).tobytes(),
         "not an image OpenCV can decode"),
        (lambda data: data[: len(data) // 2], "truncated JPEG"),
    ],
)  # fmt: skip
def test_a_broken_jpeg_is_named(capsys, tmp_path, coco_root, damage, expected):
    image = coco_root / "coco" / "val2017" / f"{FIRST}.jpg"
    image.write_bytes(damage(image.read_bytes()))
    message = fails(capsys, tmp_path, *coco_args(coco_root, "--boxes", "gt"))
    assert f"{image}: {expected}" in message


# --- everything missing, in one message -----------------------------------------------------------------------------
def test_everything_a_run_lacks_is_listed_in_one_message(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    message = fails(capsys, tmp_path, "--task", "coco,seginw", "--model", "mobilesam", "--data-root", str(empty))
    problems = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(problems) == 6, message
    checkpoint, images, annotations, boxes, seginw, seginw_boxes = problems
    assert "mobile_sam.pt" in checkpoint
    assert f"{empty}/coco/val2017" in images and "http://images.cocodataset.org/zips/val2017.zip" in images
    assert (f"{empty}/coco/annotations/instances_val2017.json" in annotations
            and "http://images.cocodataset.org/annotations/annotations_trainval2017.zip" in annotations)  # fmt: skip
    assert f"at {empty}/coco/coco_instances_results_vitdet.json" in boxes
    assert TINYSAM_URL in boxes and EFFICIENTVIT_URL in boxes and "--boxes gt" in boxes
    assert "the 25 SegInW datasets" in seginw and f"at {empty}/seginw" in seginw and SEGINW_URL in seginw
    assert "at boxes/seginw" in seginw_boxes and "at boxes/seginw/" not in seginw_boxes  # the folder: all missing
    assert f"python run_eval.py --detect seginw --data-root {empty}" in seginw_boxes and "--out boxes/seginw" in seginw_boxes


def test_detection_lists_the_dataset_and_the_detector_weights(capsys, tmp_path):
    message = fails(capsys, tmp_path, "--detect", "seginw", "--data-root", str(tmp_path / "none"),
                    "--detector-weights", str(tmp_path / "gd"))  # fmt: skip
    assert SEGINW_URL in message and f"{tmp_path / 'gd'}" in message
    assert "https://huggingface.co/IDEA-Research/grounding-dino-base" in message


def test_missing_capabilities_are_named_before_the_model_loads(capsys, tmp_path, coco_root, monkeypatch):
    lacking = Capabilities(multimask_outputs=1, mask_input=False)
    task = CocoTask(CocoTask.params_from_args(cli.build_parser().parse_args(["--boxes", "gt", "--mask-selection",
                                                                             "refine"])))  # fmt: skip
    multimask, mask_input = task.capability_problems(lacking)
    assert "--mask-selection refine keeps the one of the 3 with the highest predicted IoU" in multimask
    assert "this model gives 1" in multimask and "mask input (--mask-selection refine" in mask_input
    best = CocoTask(task.params.replace(mask_selection="best"))
    assert len(best.capability_problems(lacking)) == 1
    assert CocoTask(task.params.replace(mask_selection="single")).capability_problems(lacking) == []
    assert best.capability_problems(Capabilities()) == []
    seginw = SegInWTask(SegInWTask.params_from_args(cli.build_parser().parse_args(["--seginw-boxes", "gt"])))
    assert seginw.capability_problems(lacking) == []  # the paper's single-mask output
    seginw.params = seginw.params.replace(mask_selection="best")
    assert "--seginw-mask-selection best" in seginw.capability_problems(lacking)[0]

    original = cli.model_variant
    monkeypatch.setattr(cli, "model_variant", lambda name: dataclasses.replace(original(name), capabilities=lacking))
    message = fails(capsys, tmp_path, *coco_args(coco_root, "--boxes", "gt", "--mask-selection", "refine"))
    assert "coco needs mask input (--mask-selection refine" in message and "which MobileSAM lacks" in message


# --- SegInW -------------------------------------------------------------------------------------------------------
def test_seginw_broken_annotation_box_file_and_image_are_named(capsys, tmp_path, seginw_root):
    folder = seginw_root / "seginw" / "Synthetic-Shapes" / "valid"
    annotation = folder / "_annotations_min1cat.coco.json"
    whole = annotation.read_bytes()
    annotation.write_bytes(whole[:300])
    message = fails(capsys, tmp_path, *seginw_args(seginw_root, "--seginw-boxes", "gt"))
    assert f"{annotation}: not valid JSON" in message and SEGINW_URL in message
    annotation.write_bytes(whole)

    boxes = tmp_path / "data" / "boxes"
    boxes.mkdir()
    content = json.loads(whole)
    detections = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.5}
                  for a in content["annotations"]]  # fmt: skip
    detections[2]["bbox"][3] = -1
    (boxes / "Synthetic-Shapes.json").write_text(json.dumps(detections))
    message = fails(capsys, tmp_path, *seginw_args(seginw_root, "--seginw-boxes", str(boxes)))
    assert f"{boxes / 'Synthetic-Shapes.json'}: detection #2" in message and "negative height (-1)" in message

    image = folder / content["images"][0]["file_name"]
    image.write_bytes(image.read_bytes()[:-200])
    message = fails(capsys, tmp_path, *seginw_args(seginw_root, "--seginw-boxes", "gt"))
    assert f"{image}: truncated JPEG" in message


# --- stored predictions: changed inputs and truncated files are predicted again -------------------------------------
def results(out: Path, task: str, run: str) -> dict:
    return json.loads((out / task / f"{run}.json").read_text())


def test_changed_images_and_truncated_predictions_are_predicted_again(capsys, tmp_path, coco_root):
    """The paper's protocol from a boxes file (one box on each of the first two images, to keep the decoder's CPU
    time small)."""
    boxes, seen = tmp_path / "data" / "vitdet.json", set()
    detections = [d for d in gt_detections(coco_root) if d["image_id"] not in seen and not seen.add(d["image_id"])]
    boxes.write_text(json.dumps(detections))
    out = tmp_path / "out"
    argv = [*coco_args(coco_root, "--boxes", str(boxes), limit=2), "--out", str(out)]
    assert cli.main(argv) == 0
    first = results(out, "coco", "mobilesam")
    assert first["provenance"]["timings"]["predicted_samples"] == 2 and first["metrics"]["num_detections"] == 2

    image = coco_root / "coco" / "val2017" / f"{SECOND}.jpg"
    cv2.imwrite(str(image), cv2.flip(cv2.imread(str(image)), 1))  # same size, other pixels
    capsys.readouterr()
    assert cli.main(argv) == 0
    timings = results(out, "coco", "mobilesam")["provenance"]["timings"]
    assert timings["predicted_samples"] == 1 and timings["resumed_samples"] == 1
    assert timings["repredicted_samples"] == {"inputs_changed": 1, "unreadable": 0}
    assert "1 stored predictions made from inputs that have changed since are predicted again: 555009.npz" in (
        capsys.readouterr().err
    )

    stored = out / "coco" / "mobilesam.predictions" / "343937.npz"
    stored.write_bytes(stored.read_bytes()[:50])
    assert cli.main(argv) == 0
    again = results(out, "coco", "mobilesam")
    assert again["provenance"]["timings"]["repredicted_samples"] == {"inputs_changed": 0, "unreadable": 1}
    assert "1 stored predictions unreadable are predicted again: 343937.npz" in capsys.readouterr().err
    assert again["metrics"]["num_detections"] == 2 and again["provenance"]["timings"]["predicted_samples"] == 1


def test_seginw_changed_image_is_predicted_again(capsys, tmp_path, seginw_root):
    out = tmp_path / "out"
    argv = [*seginw_args(seginw_root, "--seginw-boxes", "gt"), "--out", str(out)]
    assert cli.main(argv) == 0
    run = "mobilesam.gt-boxes+subset-Synthetic-Shapes"
    assert results(out, "seginw", run)["provenance"]["timings"]["predicted_samples"] == 1
    image = seginw_root / "seginw" / "Synthetic-Shapes" / "valid" / "synthetic-shapes_00.jpg"
    cv2.imwrite(str(image), cv2.flip(cv2.imread(str(image)), 0))
    capsys.readouterr()
    assert cli.main(argv) == 0
    timings = results(out, "seginw", run)["provenance"]["timings"]
    assert timings["repredicted_samples"] == {"inputs_changed": 1, "unreadable": 0} and timings["predicted_samples"] == 1
    assert "predicted again: 0.npz" in capsys.readouterr().err


def test_sample_files_are_the_image_and_the_prompts_source(tmp_path, coco_root, seginw_root):
    boxes = tmp_path / "vitdet.json"
    boxes.write_text(json.dumps([d for d in gt_detections(coco_root) if d["image_id"] != 555009]))
    task = CocoTask(CocoTask.params_from_args(cli.build_parser().parse_args(["--boxes", str(boxes)])))
    samples = {s.id: s for s in task.load_dataset(coco_root).samples}
    assert task.sample_files(samples["343937"]) == [coco_root / "coco" / "val2017" / f"{FIRST}.jpg", boxes]
    assert task.sample_files(samples["555009"]) == [boxes]  # no prompts: its image is never read
    oracle = CocoTask(task.params.replace(prompts="ground truth"))
    assert oracle.sample_files(samples["343937"])[1] == annotations_path(coco_root)

    argv = ["--seginw-boxes", "gt", "--seginw-datasets", "Synthetic-Blobs"]
    seginw = SegInWTask(SegInWTask.params_from_args(cli.build_parser().parse_args(argv)))
    sample = seginw.load_dataset(seginw_root).samples[1]
    folder = seginw_root / "seginw" / "Synthetic-Blobs" / "valid"
    assert seginw.sample_files(sample) == [folder / "synthetic-blobs_01.jpg", folder / "_annotations_min1cat.coco.json"]
