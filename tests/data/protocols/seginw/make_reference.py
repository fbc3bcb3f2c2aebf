"""Make the SegInW protocol reference: what sam-hq's own `seginw/test_ap_on_seginw.py` writes for fixed boxes on the
bundled SegInW-layout sample datasets, with the shared-init parity weights.

    /work/refvenv/bin/python tests/data/protocols/seginw/make_reference.py inputs   # boxes/<Dataset>.json
    /work/refvenv/bin/python tests/data/protocols/seginw/make_reference.py          # sam_vit_b.json

Inputs (`inputs`, deterministic): for each dataset of DATASETS (datasets/sample/seginw: real SegInW is not
redistributable; the layout, `valid/_annotations_min1cat.coco.json` with categories numbered from 0, is the real one),
`boxes/<Dataset>.json`, fixed detections in the format `run_eval.py --detect seginw` writes (COCO results, image_id,
category_id, bbox [x, y, w, h], score, best first within an image), standing in for Grounding-DINO's top 100: every
annotation's box jittered (about 5% of its size, 2 decimals), one in five with another category, plus three false
positives per image, one reaching past the image border (neither side clips).

Reference: SysCV/sam-hq @ fb181f8 (/work/ref/hq_sam), `seginw/test_ap_on_seginw.py`, its `main(args)` run once per
dataset as test_seginw.sh runs it (`-c GroundingDINO/groundingdino/config/GroundingDINO_SwinB.py --anno_path
<Dataset>/valid/_annotations_min1cat.coco.json --image_dir <Dataset>/valid/`, plus `--save_json`, the file read back
here), with sam-hq's own seginw/segment_anything and GroundingDINO packages first on sys.path. Its loop runs as is:
its CocoDetection dataset and DataLoader, `cv2.imread` + BGR -> RGB, `predictor.set_image`,
`predictor.transform.apply_boxes_torch`, `predict_torch(multimask_output=False)`, CocoGroundingEvaluator (RLEs,
per-image evaluation, accumulate, summarize).
Shims:
- the detector (network weights unreachable here): `load_model` returns a module whose output nothing reads, and
  `PostProcessSeginw` returns, image after image in the dataset's order, the fixed boxes of boxes/<Dataset>.json as
  the real one returns Grounding-DINO's: float32 xyxy boxes ([x, y, x + w, y + h], summed in float64 as
  evals/protocols/box_prompts/prompts.py does), float32 scores, and as labels the index of the category in the annotation file's
  list (its positive-map row; here equal to the category id). `groundingdino.models` and
  `groundingdino.util.get_tokenlizer` (the detector and its BERT tokenizer, transformers) are empty modules.
- the model: test_seginw.sh runs SAM ViT-H (`build_sam`); `build_sam` here builds ViT-B (`build_sam_vit_b` of the
  same package: the same classes and predictor, a third of the encoder's cost) with the parity weights
  (tests/parity_weights.py), run in float64 (tests/float64_network.py) so that the masks do not depend on the CPU.
  Our row `vit_b` is the same network.
- `device="cpu"`, `num_workers=0`; the evaluator is subclassed to keep its segm COCOeval (the "Final results").

Output (`sam_vit_b.json`): per dataset, the detections the script saved (image by image in its dataset's order, each
image's in box order): RLE size, area and the sha256 of its `counts`, category and score; and the 12 segm stats.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[2]
sys.path.insert(0, str(TESTS))  # parity_weights.py, float64_network.py
from float64_network import float64_network  # noqa: E402
from parity_weights import parity_state_dict  # noqa: E402
from reference_driver import stub_module, mask_record  # noqa: E402

SAMPLE = TESTS.parent / "datasets" / "sample" / "seginw"
DATASETS = ("Synthetic-Shapes", "Synthetic-Blobs")
BOXES = HERE / "boxes"
REPOSITORY = "SysCV/sam-hq"
COMMIT = "fb181f8eff6d0c01b47921ced472e8cdaa69a71d"
CHECKOUT = Path("/work/ref/hq_sam/seginw")
CONFIG = CHECKOUT / "GroundingDINO" / "groundingdino" / "config" / "GroundingDINO_SwinB.py"
SEED = 18
JITTER = 0.05
OTHER_CATEGORY = 0.2
THREADS = 2
COMMAND = "/work/refvenv/bin/python tests/data/protocols/seginw/make_reference.py"


def annotation_file(name: str) -> Path:
    return SAMPLE / name / "valid" / "_annotations_min1cat.coco.json"


def make_inputs() -> None:
    rng = np.random.default_rng(SEED)
    BOXES.mkdir(exist_ok=True)
    for name in DATASETS:
        content = json.loads(annotation_file(name).read_text())
        category_ids = [c["id"] for c in content["categories"]]
        detections = []
        for image in content["images"]:
            width, height = image["width"], image["height"]
            boxes = [(a["bbox"], a["category_id"]) for a in content["annotations"] if a["image_id"] == image["id"]]
            boxes.append(([0.7 * width, 0.6 * height, 0.5 * width, 0.5 * height], category_ids[0]))  # past the border
            boxes.append(([0.05 * width, 0.1 * height, 0.3 * width, 0.2 * height], category_ids[-1]))
            boxes.append(([0.0, 0.0, float(width), float(height)], category_ids[0]))  # the whole image
            entries = []
            for (x, y, w, h), category in boxes:
                x, y = x + JITTER * w * rng.standard_normal(), y + JITTER * h * rng.standard_normal()
                w, h = w * (1 + JITTER * rng.standard_normal()), h * (1 + JITTER * rng.standard_normal())
                if rng.random() < OTHER_CATEGORY:
                    category = int(rng.choice(category_ids))
                bbox = [round(float(v), 2) for v in (x, y, max(w, 1.0), max(h, 1.0))]
                entries.append({"image_id": image["id"], "category_id": category, "bbox": bbox,
                                "score": float(rng.uniform(0.05, 0.99))})  # fmt: skip
            detections += sorted(entries, key=lambda d: -d["score"])  # best first, as the detector's top k
        (BOXES / f"{name}.json").write_text(json.dumps(detections) + "\n")
        print(name, len(detections), "detections")


def import_script():
    sys.path[:0] = [str(CHECKOUT), str(CHECKOUT / "GroundingDINO")]
    stub_module("groundingdino.models", build_model=None)
    stub_module("groundingdino.util.get_tokenlizer", get_tokenlizer=lambda name: None)
    import test_ap_on_seginw as script

    from segment_anything import build_sam_vit_b  # sam-hq's seginw/segment_anything

    def build_parity_sam(checkpoint=None):
        sam = build_sam_vit_b()
        sam.load_state_dict(parity_state_dict(sam), strict=True)
        return float64_network(sam)

    script.build_sam = build_parity_sam
    script.load_model = lambda config, checkpoint, device="cuda": NoDetector()
    return script


class NoDetector(torch.nn.Module):
    """Stands in for Grounding-DINO: its output goes to PostProcessSeginw only, which returns the fixed boxes."""

    def forward(self, images, captions=None):
        return None


def run_dataset(script, name: str, workdir: Path) -> tuple[list[dict], list[float]]:
    content = json.loads(annotation_file(name).read_text())
    category_index = {c["id"]: i for i, c in enumerate(content["categories"])}
    fixed = json.loads((BOXES / f"{name}.json").read_text())
    order = sorted(image["id"] for image in content["images"])  # torchvision CocoDetection: sorted image ids
    queue = []
    for image_id in order:
        entries = [d for d in fixed if d["image_id"] == image_id]
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (d["bbox"] for d in entries)]
        queue.append({"scores": torch.tensor([d["score"] for d in entries], dtype=torch.float32),
                      "labels": torch.tensor([category_index[d["category_id"]] for d in entries]),
                      "boxes": torch.tensor(boxes, dtype=torch.float64).to(torch.float32)})  # fmt: skip

    class FixedBoxes(torch.nn.Module):
        def __init__(self, num_select=300, coco_api=None, tokenlizer=None):
            super().__init__()

        def forward(self, outputs, target_sizes, not_to_xyxy=False):
            return [queue.pop(0)]

    evaluators = []

    class RecordingEvaluator(script.CocoGroundingEvaluator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            evaluators.append(self)

    script.PostProcessSeginw = FixedBoxes
    script.CocoGroundingEvaluator = RecordingEvaluator
    folder = SAMPLE / name / "valid"
    args = argparse.Namespace(config_file=str(CONFIG), checkpoint_path="unused: the detector is shimmed",
                              device="cpu", num_select=100, anno_path=str(annotation_file(name)),
                              image_dir=f"{folder}/", num_workers=0, sam_checkpoint=None, sam_hq_checkpoint=None,
                              use_sam_hq=False, save_json=True)  # fmt: skip
    os.chdir(workdir)  # --save_json writes seginw_output/sam/seginw-<Dataset>_val.json there
    with torch.no_grad():
        script.main(args)
    assert not queue
    saved = json.loads((workdir / "seginw_output" / "sam" / f"seginw-{name}_val.json").read_text())
    return saved, evaluators[0].coco_eval["segm"].stats.tolist()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", nargs="?", choices=("inputs", "reference"), default="reference")
    if parser.parse_args().what == "inputs":
        make_inputs()
        return
    torch.set_num_threads(THREADS)
    script = import_script()
    out = {"datasets": {}}
    start = time.perf_counter()
    for name in DATASETS:
        with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(io.StringIO()) as printed:
            saved, stats = run_dataset(script, name, Path(scratch))
        out["datasets"][name] = {"detections": [mask_record(d) for d in saved], "stats": stats,
                                 "printed": printed.getvalue().splitlines()[-14:]}  # fmt: skip
        print(f"{name}: {len(saved)} detections, segm AP {stats[0]:.6f}")
    out["reference"] = {
        "repository": REPOSITORY, "commit": COMMIT, "script": "seginw/test_ap_on_seginw.py (main), as test_seginw.sh",
        "command": COMMAND, "model": "build_sam_vit_b + parity weights (tests/parity_weights.py), float64 "
                                     "(tests/float64_network.py); our row vit_b",
        "torch": torch.__version__, "threads": THREADS, "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    (HERE / "sam_vit_b.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
