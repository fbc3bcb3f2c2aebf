"""Make `reference.json`: EdgeSAM's own point / box prompt mIoU script on real COCO annotations, every prompt recorded.

    PYTHONPATH=/work/ref/edgesam /work/refvenv/bin/python tests/data/interactive/edgesam/make_reference.py [--images N]

/work/ref/edgesam is an export of chongzhou96/EdgeSAM at commit b53372c (`git archive`). The script's own `main(args)`
of evaluation/eval_mIoU.py runs, unchanged, once per configuration (CONFIGS), with their COCODataset, DataLoader,
sampler, prompt sampling and IoU, on
- the model: the script's `build_sam_from_config` of CONFIG_FILE (rep_vit_m1, fuse, bicubic upsampling: the
  network of `sam_model_registry["edge_sam"]`, which our parity test uses, with the batched prompt encoder and mask
  decoder) loading the weights derived from the key names
  (tests/parity_weights.py) from a file the script reads with --checkpoint; the script loads it with strict=False, the
  driver makes that load strict. The image encoder computes in float64 between float32 input and output, as the
  parity drivers run it (the embedding of an image is computed once and reused by the later configurations); prompt
  encoder and mask decoder in float32;
- the data: 11 of the 80 real COCO val2017 images of /work/shared/data/coco_tiny_val2017 (IMAGE_IDS, in that order:
  two small ones first, so that a quick test can start where the script's random stream starts; landscape and
  portrait, 640 and 500 pixels wide, one with a crowd region, four with more than 8 annotations) with all their
  annotations from tests/data/coco_tiny_val2017 (file order), written as an annotation file of those images and laid
  out as the script's dataset reads them (`datasets/coco/trainval/<file>` symlinks and
  `datasets/coco/annotations/instances_val2017.json` in a temporary working directory); `--images N` runs the
  first N (the script's own `--num-samples N`).
Environment: /work/refvenv with torch 2.14.1 (as the project's), mmengine 0.10.3 and kornia 0.7.1 installed from PyPI
with --no-deps (EdgeSAM's requirements.txt pins kornia 0.7.1; mmengine's dataset, dist and ProgressBar run as they
are), plus yacs, loralib, pycocotools.
Shims, none on the evaluation path: `mmdet` (the RPN / detection head classes the model file imports, and
`bbox_overlaps`, used only by the script's RPN path) and `projects.EfficientDet` are empty stand-ins;
`torch.utils.tensorboard.SummaryWriter` (used only with --vis) is a stand-in; `Tensor.cuda()` returns the tensor
(the script moves every batch to CUDA), `--device cpu`.
Python's `random`, which the script's mask-rand sampling draws from but never seeds, is seeded with PYTHON_SEED
before each configuration; torch's generator is seeded by the script itself (`torch.manual_seed(0)`, and the
dataset's `torch.manual_seed(idx)` for images with more than --max-prompt-bs annotations).

Recorded by wrapping names, not by editing code: the dataset's picks (a COCODataset subclass that records the
`torch.randint` draw of its prompt sampling and maps the picked rows to annotation ids), every prompt-encoder call
(a forward pre-hook: the points and labels, and the boxes, of each refine iteration, in the 1024 frame in which the
script gives them), the per-iteration IoU lists the script passes to `collect_results` (before NaN dropping), each
`random.randint` draw, and the mean IoU lines the script writes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[2]
sys.path.insert(0, str(TESTS))  # parity_weights.py
from parity_weights import parity_state_dict  # noqa: E402
from reference_driver import stub_module  # noqa: E402

REPOSITORY = "chongzhou96/EdgeSAM"
ANNOTATIONS = TESTS / "data" / "coco_tiny_val2017" / "annotations" / "instances_val2017.json"
IMAGES = TESTS.parents[1] / "shared" / "data" / "coco_tiny_val2017" / "val2017"
CONFIG_FILE = "training/configs/rep_vit_m1_fuse_enc_dec_4m_ft_bp_iter2b_sa_distill.yaml"
IMAGE_IDS = (208901, 333956, 532481, 184324, 454661, 402433, 359937, 184321, 478721, 416256, 125952)
THREADS = 2
PYTHON_SEED = 0
COMMAND = "PYTHONPATH=/work/ref/edgesam /work/refvenv/bin/python tests/data/interactive/edgesam/make_reference.py"
# name -> the script's options (beyond the common ones in `arguments`)
CONFIGS = {
    "point_center": "--prompt-types point --point-from mask-center --refine-iter 3 --num-multimask-outputs 1",
    "point_center_4score": "--prompt-types point --point-from mask-center --refine-iter 3 --num-multimask-outputs 4 "
                           "--multimask-select score",
    "box_4score": "--prompt-types box --num-multimask-outputs 4 --multimask-select score",
    "point_rand": "--prompt-types point --point-from mask-rand --refine-iter 3 --num-multimask-outputs 1",
    "point_boxcenter_3oracle_max8": "--prompt-types point --point-from box-center --refine-iter 2 "
                                    "--num-multimask-outputs 3 --multimask-select oracle --max-prompt-bs 8",
    "box_4area_refine": "--prompt-types box --refine-iter 2 --num-multimask-outputs 4 --multimask-select area",
}  # fmt: skip


class _Unavailable:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("a stand-in: the reference runs EdgeSAM without its RPN / detection head")


def install_stand_ins() -> None:
    stub_module("mmdet")
    stub_module("mmdet.models")
    stub_module("mmdet.models.dense_heads", RPNHead=_Unavailable, CenterNetUpdateHead=_Unavailable)
    stub_module("mmdet.models.necks", FPN=_Unavailable)
    stub_module("mmdet.structures")
    stub_module("mmdet.structures.bbox", bbox_overlaps=_Unavailable)
    stub_module("projects")
    stub_module("projects.EfficientDet", efficientdet=types.SimpleNamespace(BiFPN=_Unavailable,
                                                                           EfficientDetSepBNHead=_Unavailable))
    stub_module("torch.utils.tensorboard", SummaryWriter=_Unavailable)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self


class Float64Encoder(torch.nn.Module):
    """The official encoder in float64 between float32 input and output; each distinct input is encoded once."""

    def __init__(self, encoder: torch.nn.Module, cache: dict):
        super().__init__()
        self.encoder = encoder.double()
        self.img_size = encoder.img_size  # read by the script
        self.cache = cache

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = hashlib.sha256(x.contiguous().numpy().tobytes()).hexdigest()
        if key not in self.cache:
            self.cache[key] = self.encoder(x.double()).float()
        return self.cache[key]


def link_dataset(root: Path) -> None:
    content = json.loads(ANNOTATIONS.read_text())
    images = {image["id"]: image for image in content["images"]}
    subset = {
        "images": [images[i] for i in IMAGE_IDS],
        "annotations": [a for a in content["annotations"] if a["image_id"] in IMAGE_IDS],
        "categories": content["categories"],
    }
    (root / "datasets/coco/trainval").mkdir(parents=True)
    (root / "datasets/coco/annotations").mkdir(parents=True)
    (root / "datasets/coco/annotations/instances_val2017.json").write_text(json.dumps(subset))
    for image in subset["images"]:
        (root / "datasets/coco/trainval" / image["file_name"]).symlink_to(IMAGES / image["file_name"])


def exact(value: float) -> float | None:
    return None if math.isnan(value) else value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=len(IMAGE_IDS))
    options = parser.parse_args()
    torch.set_num_threads(THREADS)
    install_stand_ins()
    import evaluation.eval_mIoU as script  # the official script, through PYTHONPATH

    official = Path(script.__file__).resolve().parents[1]
    commit = (official / "COMMIT").read_text().strip()
    work = Path(tempfile.mkdtemp(prefix="edgesam_ref_"))
    link_dataset(work)
    checkpoint = work / "parity_weights.pth"
    embeddings: dict = {}
    record: dict = {}

    build = script.build_sam_from_config

    def build_recording(config, **kwargs):
        sam = build(config, **kwargs)
        if not checkpoint.exists():
            torch.save(parity_state_dict(sam), checkpoint)

        def load_strict(state_dict, strict=False):
            result = torch.nn.Module.load_state_dict(sam, state_dict, strict=True)
            sam.image_encoder = Float64Encoder(sam.image_encoder, embeddings)
            sam.prompt_encoder.register_forward_pre_hook(record_prompts, with_kwargs=True)
            return result

        sam.load_state_dict = load_strict
        return sam

    def record_prompts(module, args, kwargs):
        points, boxes = kwargs["points"], kwargs["boxes"]
        record["calls"].append({
            "points": None if points is None else points[0].tolist(),
            "labels": None if points is None else points[1].tolist(),
            "boxes": None if boxes is None else boxes.tolist(),
            "dtypes": [str(points[0].dtype), str(points[1].dtype)] if points is not None else None,
        })  # fmt: skip

    class RecordingCOCODataset(script.COCODataset):
        def __getitem__(self, idx):
            image_info, annotations = self.data[idx]
            draws = []
            randint = torch.randint

            def recording_randint(*args, **kwargs):
                draws.append(randint(*args, **kwargs))
                return draws[-1]

            torch.randint = recording_randint
            try:
                out = super().__getitem__(idx)
            finally:
                torch.randint = randint
            rows = draws[0].tolist() if draws else list(range(len(annotations)))
            record["images"].append({"dataset_index": idx, "image_id": image_info["id"],
                                     "file_name": image_info["file_name"],
                                     "annotation_ids": [annotations[r]["id"] for r in rows]})  # fmt: skip
            return out

    def recording_collect_results(results, size, device):
        record["ious"].append([[exact(v) for v in t.tolist()] for t in results])
        return collect_results(results, size, device)

    randint = random.randint

    def recording_python_randint(a, b):
        record["python_draws"].append([a, b, randint(a, b)])
        return record["python_draws"][-1][2]

    collect_results = script.collect_results
    script.build_sam_from_config = build_recording
    script.COCODataset = RecordingCOCODataset
    script.collect_results = recording_collect_results
    random.randint = recording_python_randint

    common = (f"{official / CONFIG_FILE} --dataset coco --checkpoint {checkpoint} --num-samples {options.images} "
              "--img-bs 1 --device cpu --out-name means.txt")  # fmt: skip
    results, timings = {}, {}
    os.chdir(work)
    for name, config in CONFIGS.items():
        argv = f"{common} {config}".split()
        if "--max-prompt-bs" not in argv:
            argv += ["--max-prompt-bs", "-1"]  # their COCO runs (scripts/eval_mIoU.sh): every annotation
        args = script.parser.parse_args(argv)
        record.update(calls=[], images=[], ious=[], python_draws=[])
        means = work / "output/mIoU/means.txt"
        means.unlink(missing_ok=True)
        random.seed(PYTHON_SEED)
        started = time.perf_counter()
        script.main(args)
        timings[name] = round(time.perf_counter() - started, 1)
        results[name] = assemble(args, record, means.read_text().splitlines())
        print(name, timings[name], "s", results[name]["means"], flush=True)

    out = {
        "reference": {
            "repository": REPOSITORY, "commit": commit, "script": "evaluation/eval_mIoU.py main(args)",
            "command": f"{COMMAND} --images {options.images}", "image_ids": IMAGE_IDS[: options.images],
            "common_arguments": common.replace(str(official) + "/", "").replace(str(checkpoint), "<parity weights>"),
            "python_random_seed": PYTHON_SEED, "torch": torch.__version__, "threads": THREADS,
            "seconds": timings,
            "note": "the first configuration's time includes the float64 image encoder; later ones reuse its "
                    "embeddings",
            "frames": "clicks and boxes as the script gives them to the prompt encoder: the 1024 frame of the "
                      "resized image ((x, y), before the prompt encoder's +0.5); IoUs as fractions (the script's "
                      "cal_iou, float32), null where NaN; means: the script's printed lines (in %)",
        },
        "configs": results,
    }  # fmt: skip
    (HERE / "reference.json").write_text(json.dumps(out, separators=(",", ":")) + "\n")


def assemble(args, record: dict, means: list[str]) -> dict:
    """Per image, per prompt: annotation id, box (1024 frame), clicks [x, y, label] (iteration i was given the first
    i + 1 of them with a point prompt, the first i with a box), IoU of each iteration."""
    iterations = args.refine_iter
    assert len(record["calls"]) == len(record["images"]) * iterations
    images = []
    for index, image in enumerate(record["images"]):
        calls = record["calls"][index * iterations : (index + 1) * iterations]
        last = calls[-1]
        prompts = []
        for row, annotation_id in enumerate(image["annotation_ids"]):
            clicks = [] if last["points"] is None else [
                [x, y, label] for (x, y), label in zip(last["points"][row], last["labels"][row])
            ]  # fmt: skip
            for i, call in enumerate(calls):  # each iteration was given the first clicks of the last one's
                given = [] if call["points"] is None else [
                    [x, y, label] for (x, y), label in zip(call["points"][row], call["labels"][row])
                ]  # fmt: skip
                assert len(given) == i + ("point" in args.prompt_types) and clicks[: len(given)] == given
                assert call["boxes"] == last["boxes"]
            prompts.append({
                "annotation_id": annotation_id,
                "box": None if last["boxes"] is None else last["boxes"][row],
                "clicks": clicks,
                "ious": [record["ious"][i][index][row] for i in range(iterations)],
            })  # fmt: skip
        images.append({k: image[k] for k in ("dataset_index", "image_id", "file_name")} | {"prompts": prompts})
    return {
        "arguments": " ".join(f"--{k.replace('_', '-')} {v}" for k, v in sorted(vars(args).items())
                              if k in ("prompt_types", "point_from", "refine_iter", "num_multimask_outputs",
                                       "multimask_select", "max_prompt_bs")),
        "python_draws": record["python_draws"],
        "point_dtypes": record["calls"][0]["dtypes"] if record["calls"] else None,
        "means": means,
        "images": images,
    }  # fmt: skip


if __name__ == "__main__":
    main()
