"""`--task seginw` against sam-hq's `seginw/test_ap_on_seginw.py` (the paper's SegInW protocol, 'single' mask per box)
with fixed boxes in place of Grounding-DINO's, on the bundled SegInW-layout sample, with the same (parity) weights.

The reference (tests/data/protocols/seginw, made by make_reference.py there: the script's own `main` per dataset,
its detector shimmed to return the fixed boxes of boxes/<Dataset>.json, SAM ViT-B in float64) holds per detection the
sha256 of the mask's RLE, its area, category and score, and each dataset's 12 segm COCOeval numbers. Here our task
runs as `run_eval.py --task seginw --seginw-boxes tests/data/protocols/seginw/boxes --seginw-datasets
Synthetic-Shapes,Synthetic-Blobs` runs it (`evals.engine.execute`: SegInWTask's datasets and prompts, the box
protocol with its default 'single', the prediction store, SegInWEvaluator), on tests/float64_network.py's float64
`vit_b`, with the default box batch (all boxes of an image in one call, as the script). Asserted: every detection's
mask has the reference's RLE exactly, the same category and score (to 1e-6: the script's scores pass through
float32), and each dataset's AP numbers equal the script's.

Slow only: SAM ViT-B's encoder in float64 costs ~20 s a image on two cores (tests/test_protocol_parity_coco.py has a
default-run check of the shared box protocol).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import cli
from evals.engine import Run, execute, prepare
from evals.seginw.task import SegInWTask
from evals.store import decode_prediction, sample_file
from tests.test_parity import fixed_threads  # noqa: F401  (pins CI's thread count)
from tests.test_protocol_parity_coco import SCORE_TOLERANCE, assert_same_detections, float64_parity_model

DATA = Path(__file__).parent / "data" / "protocols" / "seginw"
SAMPLE_ROOT = Path(__file__).resolve().parent.parent / "datasets" / "sample"
MODEL = "vit_b"
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools + numpy 2


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((DATA / "sam_vit_b.json").read_text())


def test_reference_boxes_are_the_committed_ones(reference):
    # The script saved one detection per fixed box, with its category and score (float32 in the script).
    for name, recorded in reference["datasets"].items():
        boxes = json.loads((DATA / "boxes" / f"{name}.json").read_text())
        by_image = sorted(boxes, key=lambda d: d["image_id"])  # the script's dataset order: sorted ids; stable
        assert [(d["image_id"], d["category_id"]) for d in by_image] == [
            (d["image_id"], d["category_id"]) for d in recorded["detections"]]
        assert all(ours["score"] == pytest.approx(theirs["score"], abs=SCORE_TOLERANCE)
                   for ours, theirs in zip(by_image, recorded["detections"]))  # fmt: skip


@pytest.mark.slow
def test_single_masks_and_ap_equal_sam_hq_script(reference, tmp_path):
    names = list(reference["datasets"])
    argv = ["--seginw-boxes", str(DATA / "boxes"), "--seginw-datasets", ",".join(names), "--coco-eval", "pycocotools"]
    task = SegInWTask(SegInWTask.params_from_args(cli.build_parser().parse_args(argv)))
    assert task.params.mask_selection == "single"  # the paper's, sam-hq's multimask_output=False
    run = Run(task=task, run_name=MODEL, out=tmp_path, data_root=SAMPLE_ROOT)
    dataset = prepare(run)
    metrics = execute(run, float64_parity_model(MODEL), dataset)["metrics"]
    for name in names:
        ref = reference["datasets"][name]
        samples = sorted((s for s in dataset.samples if s.id.startswith(f"{name}/")), key=lambda s: s.data.image.image_id)
        ours = []
        for sample in samples:
            ours += decode_prediction(sample_file(run.store_dir, sample.id, "the store").read_bytes())["detections"]
        assert_same_detections(ours, ref["detections"])
        for key, value in zip(("AP", "AP50", "AP75", "APs", "APm", "APl"), ref["stats"]):
            expected = None if value < 0 else pytest.approx(100 * value, abs=1e-9)
            assert metrics["datasets"][name][key] == expected, (name, key)
