"""Make the COCO box-prompt protocol references: what TinySAM's and EfficientViT-SAM's own COCO scripts write for
fixed detections on real COCO images, with the shared-init parity weights.

    /work/refvenv/bin/python tests/data/protocols/coco/make_reference.py inputs        # annotations.json, detections.json
    /work/refvenv/bin/python tests/data/protocols/coco/make_reference.py tinysam       # tinysam.json
    /work/refvenv/bin/python tests/data/protocols/coco/make_reference.py efficientvit  # efficientvit_sam_l0.json

Inputs (`inputs`, deterministic): IMAGES, real COCO val2017 images of ../shared/data/coco_tiny_val2017 (a landscape,
a portrait, a small one, and one whose
object covers 95% of it: the noise-like masks of untrained weights cover about half an image, so only such an object
gives the AP a non-zero value); `annotations.json`, their records and annotations copied from
tests/data/coco_tiny_val2017 (all 80 categories), the ground truth both scripts score against; `detections.json`, a
stand-in for the ViTDet-H file both scripts read (COCO results: image_id, category_id, bbox [x, y, w, h], score),
grouped by image as the real files are: every non-crowd annotation's box jittered (about 5% of its size, 2 decimals),
one in five with another category, plus two false positives per image, one of them reaching past the image border
(neither script clips), with scores in 0.05..0.99.

References, each run through the script's own functions on those inputs:
- TinySAM (xinghaochen/TinySAM @ 11589bc, /work/ref/tinysam): `eval/tinysam_zero_shot_ins_eval.py`,
  `eval_zero_shot("coco", images/, annotations.json, detections.json, checkpoint)`, in a scratch working directory
  (it writes coco_res_tinysam.json there, the file read back here). The model is the script's own
  (`sam_model_registry["vit_t"](checkpoint=...)`), the checkpoint a state dict of the parity weights
  (tests/parity_weights.py).
- EfficientViT-SAM (mit-han-lab/efficientvit @ de7d773, /work/ref/efficientvit_sam):
  applications/efficientvit_sam/eval_efficientvit_sam_model.py with `--prompt_type box_from_detector`: its
  `eval_dataset("coco", images/, "box_from_detector", annotations.json, detections.json)`, the DataLoader of its
  `__main__` (batch 1, its collate_fn, in order, no workers), `run_box_from_detector`, then `evaluate`. The model is
  `create_efficientvit_sam_model("efficientvit-sam-l0", pretrained=False)` with the parity weights loaded (strict),
  as `__main__` would build it with pretrained weights.
Shims, none on the prediction path: both networks run in float64 (tests/float64_network.py: every layer, the
prompts still through each predictor's float32 coordinate transform), so that the masks do not depend on the CPU;
TinySAM's `sam_model_registry["vit_t"]` is wrapped to apply it after the script's own build; for EfficientViT-SAM
`lvis`, `onnx` and `onnxsim` (LVIS evaluation and export only) are empty modules, `.cuda(rank)` returns the model on
the CPU, `sync_output` (torch.distributed all_gather) returns this process's list, WORLD_SIZE=1. To read the AP
each script prints, TinySAM's `COCOeval` is a subclass that records itself and EfficientViT-SAM's
`evaluate_predictions_on_coco` is wrapped to keep the COCOeval it returns.

Outputs (`<reference>.json`): per detection of detections.json, in file order, the mask the script wrote: its RLE's
size, area and the sha256 of its `counts` string (the masks of untrained weights are noise-like, ~40 KB of RLE
each), with the detection's category and score as the script wrote them; the 12 COCOeval stats; provenance.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
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

TINY_ANNOTATIONS = TESTS / "data" / "coco_tiny_val2017" / "annotations" / "instances_val2017.json"
IMAGE_DIR = TESTS.parents[1] / "shared" / "data" / "coco_tiny_val2017" / "val2017"
IMAGES = (532481, 349184, 404484, 521601)  # 640x426 (10 objects), 428x640 (9), 320x240 (5), 640x480 (2)
ANNOTATIONS = HERE / "annotations.json"
DETECTIONS = HERE / "detections.json"
SEED = 18
JITTER = 0.05
OTHER_CATEGORY = 0.2
THREADS = 2
REFERENCES = {
    "tinysam": {
        "repository": "xinghaochen/TinySAM", "commit": "11589bc1d98c16cff046c31d5ad4cd90a30f0897",
        "checkout": "/work/ref/tinysam", "paths": ["/work/ref/tinysam", "/work/ref/tinysam/eval"],
        "script": "eval/tinysam_zero_shot_ins_eval.py (eval_zero_shot)", "model": "tinysam",
    },
    "efficientvit": {
        "repository": "mit-han-lab/efficientvit", "commit": "de7d7733cc0329f391b33f1f459271562ec27bd5",
        "checkout": "/work/ref/efficientvit_sam",
        "paths": ["/work/ref/efficientvit_sam", "/work/ref/efficientvit_sam/applications/efficientvit_sam"],
        "script": "applications/efficientvit_sam/eval_efficientvit_sam_model.py --prompt_type box_from_detector "
                  "(eval_dataset, run_box_from_detector, evaluate)",
        "model": "efficientvit_sam_l0",
    },
}  # fmt: skip


def make_inputs() -> None:
    content = json.loads(TINY_ANNOTATIONS.read_text())
    images = [image for image in content["images"] if image["id"] in IMAGES]
    images.sort(key=lambda image: IMAGES.index(image["id"]))
    annotations = [a for a in content["annotations"] if a["image_id"] in IMAGES]
    subset = {key: content[key] for key in content if key not in ("images", "annotations")}
    ANNOTATIONS.write_text(json.dumps({**subset, "images": images, "annotations": annotations}) + "\n")

    rng = np.random.default_rng(SEED)
    category_ids = [c["id"] for c in content["categories"]]
    detections = []
    for image in images:
        width, height = image["width"], image["height"]
        boxes = [(a["bbox"], a["category_id"]) for a in annotations if a["image_id"] == image["id"] and not a["iscrowd"]]
        boxes.append(([0.6 * width, 0.5 * height, 0.55 * width, 0.3 * height], category_ids[0]))  # past the border
        boxes.append(([0.1 * width, 0.1 * height, 0.2 * width, 0.25 * height], category_ids[1]))
        for (x, y, w, h), category in boxes:
            x, y = x + JITTER * w * rng.standard_normal(), y + JITTER * h * rng.standard_normal()
            w, h = w * (1 + JITTER * rng.standard_normal()), h * (1 + JITTER * rng.standard_normal())
            if rng.random() < OTHER_CATEGORY:
                category = int(rng.choice(category_ids))
            bbox = [round(float(v), 2) for v in (x, y, max(w, 1.0), max(h, 1.0))]
            score = float(rng.uniform(0.05, 0.99))
            detections.append({"image_id": image["id"], "category_id": category, "bbox": bbox, "score": score})
    DETECTIONS.write_text(json.dumps(detections) + "\n")
    print(len(images), "images,", len(annotations), "annotations,", len(detections), "detections")


def image_folder(workdir: Path) -> Path:
    """The chosen images alone in a folder (EfficientViT-SAM's dataset lists its image folder)."""
    folder = workdir / "val2017"
    folder.mkdir()
    for image in json.loads(ANNOTATIONS.read_text())["images"]:
        (folder / image["file_name"]).symlink_to(IMAGE_DIR / image["file_name"])
    return folder


def run_tinysam(workdir: Path) -> tuple[list[dict], list[float]]:
    import tinysam_zero_shot_ins_eval as script

    official_build = script.sam_model_registry["vit_t"]
    script.sam_model_registry = {"vit_t": lambda checkpoint: float64_network(official_build(checkpoint=checkpoint))}
    checkpoint = workdir / "tinysam_parity.pth"
    untrained = official_build()
    torch.save(parity_state_dict(untrained), checkpoint)
    evaluations = []

    class RecordingCOCOeval(script.COCOeval):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            evaluations.append(self)

    script.COCOeval = RecordingCOCOeval
    os.chdir(workdir)  # the script writes coco_res_tinysam.json into the working directory
    images = image_folder(workdir)
    with torch.no_grad():
        script.eval_zero_shot("coco", f"{images}/", str(ANNOTATIONS), str(DETECTIONS), str(checkpoint))
    written = json.loads((workdir / "coco_res_tinysam.json").read_text())
    return written, evaluations[0].stats.tolist()


def run_efficientvit(workdir: Path) -> tuple[list[dict], list[float]]:
    os.environ["WORLD_SIZE"] = "1"
    for name in ("onnx", "onnxsim"):  # efficientvit's export helpers import them at import time
        stub_module(name, simplify=None)
    stub_module("lvis", LVIS=None, LVISEval=None, LVISResults=None)
    import eval_efficientvit_sam_model as script
    from efficientvit.sam_model_zoo import create_efficientvit_sam_model
    from torch.utils.data import DataLoader

    model = create_efficientvit_sam_model("efficientvit-sam-l0", pretrained=False)
    model.load_state_dict(parity_state_dict(model), strict=True)
    float64_network(model)
    model.cuda = lambda *a, **k: model  # the script calls efficientvit_sam.cuda(local_rank)
    script.sync_output = lambda world_size, output: output
    evaluations = []
    evaluate_on_coco = script.evaluate_predictions_on_coco

    def recording_evaluate(*args, **kwargs):
        evaluations.append(evaluate_on_coco(*args, **kwargs))
        return evaluations[-1]

    script.evaluate_predictions_on_coco = recording_evaluate
    dataset = script.eval_dataset("coco", str(image_folder(workdir)), "box_from_detector", str(ANNOTATIONS),
                                  str(DETECTIONS))  # fmt: skip
    loader = DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, num_workers=0,
                        collate_fn=script.collate_fn)  # fmt: skip
    with torch.no_grad():
        results = script.run_box_from_detector(model, loader, 0)
    script.evaluate(results, "box_from_detector", "coco", str(ANNOTATIONS))
    # run_box_from_detector writes each mask into the dataset's own detection dicts: read them in file order.
    return copy.deepcopy(dataset.source_json_file), evaluations[0].stats.tolist()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("inputs", *REFERENCES))
    args = parser.parse_args()
    if args.what == "inputs":
        make_inputs()
        return
    torch.set_num_threads(THREADS)
    reference = REFERENCES[args.what]
    sys.path[:0] = reference["paths"]
    run = run_tinysam if args.what == "tinysam" else run_efficientvit
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(io.StringIO()) as printed:
        written, stats = run(Path(scratch))
    seconds = time.perf_counter() - start
    detections = json.loads(DETECTIONS.read_text())
    assert len(written) == len(detections)
    for ours, theirs in zip(detections, written):  # the scripts keep the file's order, category and score
        assert (ours["image_id"], ours["category_id"], ours["score"]) == tuple(
            theirs[k] for k in ("image_id", "category_id", "score"))
    out = {
        "reference": {
            **{k: reference[k] for k in ("repository", "commit", "script")},
            "command": f"/work/refvenv/bin/python tests/data/protocols/coco/make_reference.py {args.what}",
            "weights": "tests/parity_weights.py (shared/parity init rule); network in float64 "
                       "(tests/float64_network.py)",
            "torch": torch.__version__, "threads": THREADS, "seconds": round(seconds, 1),
        },
        "model": reference["model"],
        "detections": [mask_record(d) for d in written],
        "stats": stats,
        "printed": printed.getvalue().splitlines()[-12:],  # the script's COCOeval summary
    }  # fmt: skip
    name = "tinysam" if args.what == "tinysam" else "efficientvit_sam_l0"
    (HERE / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"{name}: {len(written)} detections, AP {stats[0]:.6f}, {seconds:.0f} s")


if __name__ == "__main__":
    main()
