"""`--task coco` against the COCO scripts that define its default `--mask-selection best`: TinySAM's
eval/tinysam_zero_shot_ins_eval.py and EfficientViT-SAM's eval_efficientvit_sam_model.py --prompt_type
box_from_detector, on the same detections file over real COCO images, with the same (parity) weights in float64.

The references (tests/data/protocols/coco, made by make_reference.py there: the scripts' own loops, each with the
model it builds) hold per detection the sha256 of the mask's RLE, its area, category and score, and the 12 COCOeval
numbers. Here our task runs as `run_eval.py --task coco --boxes detections.json --mask-selection best` runs it
(`evals.engine.execute`: CocoTask's dataset, prompts and `predict`, the prediction store, MaskAPEvaluator), on
tests/float64_network.py's float64 network of `tinysam` and `efficientvit_sam_l0`, with the default box batch (all
boxes of an image in one decoder call, where the scripts decode one box per call), the boxes given as numpy arrays
as both scripts give them (`CocoTask.box_type`: scaled in float64; in float32, one pixel of TinySAM's detection #11
differs). Asserted: every stored
detection's mask has the reference's RLE exactly, the same category and score (to 1e-6: they are the file's), and
the AP numbers equal the script's COCOeval stats.

`single` and `refine` have no reference script to test against: SAM's repository releases no COCO evaluation, and
neither TinySAM's (no single-mask output) nor EfficientViT-SAM's script decodes other than `best`; 'single' is the
decoding of sam-hq's SegInW script, tested there (tests/test_protocol_parity_seginw.py). 'refine' (SAM paper D.4)
exists in no released code.

The comparisons with the scripts are slow tests: the float64 image encoders cost ~45 CPU-seconds an image
(EfficientViT-L0, measured) on this project's 2-core machine, which a float32 encoder would save at the price of
masks that depend on the CPU's summation order. The default run checks only that the committed references were made
from the committed inputs.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from evals import cli
from evals.coco.task import CocoTask
from evals.engine import Run, execute, prepare
from evals.store import decode_prediction, sample_file
from models import model_variant
from tests.float64_network import float64_network
from tests.test_parity import fixed_threads, parity_network  # noqa: F401  (fixed_threads: pins CI's thread count)

DATA = Path(__file__).parent / "data" / "protocols" / "coco"
IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco_tiny_val2017" / "val2017"
SCORE_TOLERANCE = 1e-6
REFERENCES = {"tinysam": "tinysam", "efficientvit_sam_l0": "efficientvit_sam_l0"}  # our model -> reference file
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools + numpy 2


def reference(name: str) -> dict:
    return json.loads((DATA / f"{REFERENCES[name]}.json").read_text())


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """COCO's layout around the reference's annotation file and its real images (linked from ../shared)."""
    if not IMAGES.is_dir():
        pytest.skip(f"the COCO images of the reference are not here: {IMAGES}")
    root = tmp_path_factory.mktemp("coco_root")
    (root / "coco" / "annotations").mkdir(parents=True)
    (root / "coco" / "val2017").mkdir()
    shutil.copyfile(DATA / "annotations.json", root / "coco" / "annotations" / "instances_val2017.json")
    for image in json.loads((DATA / "annotations.json").read_text())["images"]:
        (root / "coco" / "val2017" / image["file_name"]).symlink_to(IMAGES / image["file_name"])
    return root


def float64_parity_model(name: str):
    provenance = {"model": name, "display": name, "trained": False, "checkpoint_sha256": None, "fused": False,
                  "backend": "eager", "precision": "fp64"}  # fmt: skip
    return model_variant(name).prompt_model(float64_network(parity_network(name)), provenance)


def run_task(name: str, root: Path, out: Path) -> tuple[list[dict], dict]:
    """Our task's stored detections (images in annotation-file order, each image's in file order) and metrics."""
    argv = ["--boxes", str(DATA / "detections.json"), "--mask-selection", "best", "--coco-eval", "pycocotools"]
    task = CocoTask(CocoTask.params_from_args(cli.build_parser().parse_args(argv)))
    run = Run(task=task, run_name=name, out=out, data_root=root)
    dataset = prepare(run)
    results = execute(run, float64_parity_model(name), dataset)
    detections = []
    for sample in dataset.samples:
        detections += decode_prediction(sample_file(run.store_dir, sample.id, "the store").read_bytes())["detections"]
    return detections, results["metrics"]


def assert_same_detections(ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs) > 0
    for index, (mine, ref) in enumerate(zip(ours, theirs)):
        rle = mine["segmentation"]
        where = f"detection #{index} (image {ref['image_id']})"
        assert rle["size"] == ref["size"], where
        assert hashlib.sha256(rle["counts"].encode()).hexdigest() == ref["counts_sha256"], where
        assert mine["category_id"] == ref["category_id"], where
        assert mine["score"] == pytest.approx(ref["score"], abs=SCORE_TOLERANCE), where


def test_reference_inputs_are_the_committed_ones():
    # Both references read the same two files; their detections are those of detections.json, in its order.
    detections = json.loads((DATA / "detections.json").read_text())
    for name in REFERENCES:
        recorded = reference(name)["detections"]
        assert [(d["image_id"], d["category_id"], d["score"]) for d in detections] == [
            (d["image_id"], d["category_id"], d["score"]) for d in recorded]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REFERENCES))
def test_best_masks_and_ap_equal_reference_script(name, data_root, tmp_path):
    ref = reference(name)
    ours, metrics = run_task(name, data_root, tmp_path)
    assert_same_detections(ours, ref["detections"])
    stats = dict(zip(("AP", "AP50", "AP75", "APs", "APm", "APl"), ref["stats"]))
    for key, value in stats.items():
        assert metrics[key] == (None if value < 0 else pytest.approx(100 * value, abs=1e-9)), key
