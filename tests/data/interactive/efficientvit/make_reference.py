"""Make `reference.json`: EfficientViT-SAM's own evaluation script's box and click results on real COCO annotations.

    PYTHONPATH=/work/ref/efficientvit_sam:/work/ref/efficientvit_sam/applications/efficientvit_sam \
        /work/refvenv/bin/python tests/data/interactive/efficientvit/make_reference.py [--images N]

/work/ref/efficientvit_sam is an export of mit-han-lab/efficientvit at commit de7d773. The script's own functions
run: `run_box(model, dataloader, 0)` and `run_point(model, dataloader, num_click, 0)` of
applications/efficientvit_sam/eval_efficientvit_sam_model.py, with its Clicker, iou and predictor, on
- the model: `create_efficientvit_sam_model("efficientvit-sam-l0", pretrained=False)` with the weights derived from
  the key names (tests/parity_weights.py, strict), the image encoder in float64 between float32 input and output
  (as tests/data/parity/make_reference_efficientvit_sam.py; the rest float32, as the official code runs it);
- the data: the first N images (annotation-file order) of the 80 real COCO val2017 images of
  ../shared/data/coco_tiny_val2017 with their annotations (tests/data/coco_tiny_val2017), as the script's dataset
  yields them ({"image_path", "anns": the image's annotations in file order}).
Shims, none on the evaluation path: `lvis` (imported for LVIS evaluation only) is an empty module; `.cuda(rank)`
returns the model on the CPU; `sync_output` (torch.distributed all_gather) returns this process's list;
WORLD_SIZE=1. To record what the script computes but does not return, two of its module-level names are wrapped:
`Clicker` (a subclass recording each click, and the IoU of the prediction each next click is made from, with the
script's own `iou`) and nothing else; the k-th click's IoU is thus the IoU of the prediction the (k+1)-th click was
computed from, and the last one is the script's returned IoU.
Recorded for num_click = 5 (clicks and the IoU after each), num_click = 1 and 3 (the returned IoU only: the click
sequence does not depend on num_click), and box mode.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[2]
sys.path.insert(0, str(TESTS))  # parity_weights.py
from parity_weights import parity_state_dict  # noqa: E402
from reference_driver import stub_module  # noqa: E402

REPOSITORY = "mit-han-lab/efficientvit"
COMMIT = "de7d7733cc0329f391b33f1f459271562ec27bd5"
ANNOTATIONS = TESTS / "data" / "coco_tiny_val2017" / "annotations" / "instances_val2017.json"
IMAGES = TESTS.parents[1] / "shared" / "data" / "coco_tiny_val2017" / "val2017"
THREADS = 2
CLICKS = (1, 3, 5)
COMMAND = ("PYTHONPATH=/work/ref/efficientvit_sam:/work/ref/efficientvit_sam/applications/efficientvit_sam "
           "/work/refvenv/bin/python tests/data/interactive/efficientvit/make_reference.py")  # fmt: skip


class Float64Encoder(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.double()).float()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=80)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    os.environ["WORLD_SIZE"] = "1"
    for name in ("onnx", "onnxsim"):  # efficientvit's export helpers import them at import time
        stub_module(name, simplify=None)
    stub_module("lvis", LVIS=None, LVISEval=None, LVISResults=None)
    import eval_efficientvit_sam_model as script
    from efficientvit.sam_model_zoo import create_efficientvit_sam_model

    model = create_efficientvit_sam_model("efficientvit-sam-l0", pretrained=False)
    model.load_state_dict(parity_state_dict(model), strict=True)
    model.image_encoder = Float64Encoder(model.image_encoder)
    model.eval()
    model.cuda = lambda *a, **k: model  # the script calls efficientvit_sam.cuda(local_rank)
    script.sync_output = lambda world_size, output: output

    recorded: list[dict] = []

    class RecordingClicker(script.Clicker):
        def __init__(self, gt_mask=None, **kwargs):
            super().__init__(gt_mask=gt_mask, **kwargs)
            self.record = {"ious": []}
            recorded.append(self.record)

        def make_next_click(self, pred_mask):
            if self.clicks_list:
                self.record["ious"].append(script.iou(pred_mask, self.gt_mask))
            super().make_next_click(pred_mask)
            click = self.clicks_list[-1]
            self.record.setdefault("clicks", []).append(
                [int(click.coords[1]), int(click.coords[0]), int(click.is_positive)])

    script.Clicker = RecordingClicker

    content = json.loads(ANNOTATIONS.read_text())
    images = content["images"][: args.images]
    data = [[{"image_path": str(IMAGES / image["file_name"]),
              "anns": [a for a in content["annotations"] if a["image_id"] == image["id"]]}] for image in images]
    prompted = [(image["id"], a["id"]) for image, [d] in zip(images, data) for a in d["anns"] if a["area"] >= 1]

    out = {"images": [image["id"] for image in images], "objects": [list(p) for p in prompted]}
    timings = {}
    with torch.no_grad():
        start = time.perf_counter()
        out["box_iou"] = [r["iou"] for r in script.run_box(model, data, 0)]
        timings["box"] = time.perf_counter() - start
        for clicks in CLICKS:
            recorded.clear()
            start = time.perf_counter()
            results = script.run_point(model, data, clicks, 0)
            timings[f"point{clicks}"] = time.perf_counter() - start
            out[f"point{clicks}_iou"] = [r["iou"] for r in results]
            if clicks == max(CLICKS):
                out["clicks"] = [r["clicks"] for r in recorded]
                out["click_ious"] = [r["ious"] + [res["iou"]] for r, res in zip(recorded, results)]
            assert len(results) == len(prompted) == len(recorded)
    out["reference"] = {
        "repository": REPOSITORY, "commit": COMMIT, "command": f"{COMMAND} --images {args.images}",
        "script": "applications/efficientvit_sam/eval_efficientvit_sam_model.py (run_box, run_point)",
        "model": "create_efficientvit_sam_model('efficientvit-sam-l0', pretrained=False) + parity weights, "
                 "image encoder in float64",
        "torch": torch.__version__, "threads": THREADS, "seconds": {k: round(v, 1) for k, v in timings.items()},
        "frames": "clicks are [x, y, label] pixel indices of the original image; IoUs in % (the script's iou)",
    }  # fmt: skip
    (HERE / "reference.json").write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print({k: round(v, 1) for k, v in timings.items()}, len(prompted), "objects")


if __name__ == "__main__":
    main()
