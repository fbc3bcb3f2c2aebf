"""Make the salient-object oracle reference: what SAM-Not-Perfect's own scripts choose on real SOD maps and masks,
with SAM ViT-B under the shared-init parity weights.

    PYTHONPATH=/work/ref/sam_not_perfect:/work/ref/sam_not_perfect/scripts \
        /work/refvenv/bin/python tests/data/protocols/sod/make_reference.py

/work/ref/sam_not_perfect is an export (`git archive`) of LiuTingWed/SAM-Not-Perfect at commit
cf40652ff4f2413b1ad2be0928d183fb6dc320d3. Its two scripts run, unchanged, each through its own `main`:
- scripts/amg.py: `main(args)` with the arguments of AMG_ARGUMENTS (its own parser): the repository's vendored
  `segment_anything` (identical to PyPI segment-anything 1.0; first on PYTHONPATH, so the script imports it)
  builds `sam_model_registry["vit_b"](checkpoint=...)` from a state dict of the parity weights
  (tests/parity_weights.py), `SamAutomaticMaskGenerator(sam, output_mode="binary_mask", **amg_kwargs)` runs on each
  image as cv2.imread + BGR -> RGB reads it, and `write_masks_to_folder` writes `<stem>/<i>.png` (mask * 255) and
  `metadata.csv`;
- scripts/sam_dice_f1_mae.py: `main()` over those folders against the masks: `find_best_dice` per image (the mask
  with the best Dice; MAE 1 and no file when none has Dice > 0), then the logged averages.
Inputs: the 3 pairs of tests/data/sod_pysodmetrics (real data from lartpang/PySODMetrics' tests): the 8-bit saliency
maps `preds/*.png` serve as the images (cv2.imread reads them as 3 equal channels; no SOD image with its ground truth
may be redistributed, these come with theirs) and `masks/*.png` as the ground truth: an ECSSD mask (0/255), a
PASCAL-S mask with intermediate values (the reference keeps gt > max / 2) and an empty SOC mask stored as RGB
(no mask can reach Dice > 0: the reference's MAE-1 rule). Each map has its mask's size, as DUTS-TE pairs do.
AMG parameters: points_per_side 8 (the test's CPU budget; default 32), pred_iou_thresh 0.3, stability_score_thresh
0.0, box_nms_thresh 1.0, the rest SamAutomaticMaskGenerator's defaults. Why: untrained weights predict IoUs spread
over about -0.7..0.7 and decode noise-like masks whose stability score is ~0 (median 0, max ~0.07 on these
images), so the defaults 0.88 / 0.95 keep no mask; and the bounding box of a noise-like mask spans the image, so box
NMS at the default 0.7 leaves one or two. These settings leave ~10% of the 192 candidates to choose from.

Shims, none on the mask or selection path: the image encoder the script's registry builds runs in float64 between
float32 input and output (as tests/test_parity.py runs ours), so that the embedding does not depend on the CPU;
prompt encoder, mask decoder and the generator run in float32 as the script runs them (a float64 decoder would hand
torchvision's NMS float64 scores beside float32 boxes, which it refuses); amg.py's hard-coded output root
(`/home/david/PycharmProjects/SAM-Not-Perfect/sam_output/`) is redirected into a scratch folder by the `os` the
script sees (its `makedirs` and `path.join` map that prefix; everything else is the real `os`); its input folder
`../datasets/<dataset_name>/test_images` is laid out (symlinks) next to the scratch working directory. Recorded by
wrapping names, not by editing code: sam_dice_f1_mae.py's `find_best_dice` (its return values per folder), and
each mask's Dice by the script's own `binary_loader`, `normalize_pil` and `dice_coefficient` (to show that the best
is unique, so os.listdir order, the reference's tie-break, cannot matter).

Outputs: `reference.json`: the parameters, per image the AMG records as metadata.csv holds them, the sha256 of each
mask as binary_loader reads it (uint8 bytes, row-major), each mask's Dice, and the choice (file index, Dice, F1, MAE,
the chosen map's sha256); the logged averages; provenance. `amg_output/<QUICK_STEM>/`: the amg.py output folder of
the smallest image, verbatim, which the default test scores through `--predictions DIR --sod-protocol oracle`.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[2]
sys.path.insert(0, str(TESTS))  # parity_weights.py
from parity_weights import parity_state_dict  # noqa: E402

REPOSITORY = "LiuTingWed/SAM-Not-Perfect"
COMMIT = "cf40652ff4f2413b1ad2be0928d183fb6dc320d3"
COMMAND = ("PYTHONPATH=/work/ref/sam_not_perfect:/work/ref/sam_not_perfect/scripts /work/refvenv/bin/python "
           "tests/data/protocols/sod/make_reference.py")  # fmt: skip
SOURCE = TESTS / "data" / "sod_pysodmetrics"
DATASET = "PySODMetrics"  # the `--dataset_name` amg.py reads ../datasets/<name>/test_images of
MODEL = "vit_b"
AMG_ARGUMENTS = {"points_per_side": 8, "pred_iou_thresh": 0.3, "stability_score_thresh": 0.0, "box_nms_thresh": 1.0}
QUICK_STEM = "0001"  # the smallest pair (400 x 267): its amg.py folder is kept for the default test
HARD_CODED_OUTPUT = "/home/david/PycharmProjects/SAM-Not-Perfect/sam_output/"  # amg.py main()
THREADS = 2


class Float64Encoder(torch.nn.Module):
    """The official image encoder in float64 between float32 input and output (tests/test_parity.py's, which the
    test runs): the embedding no longer depends on the CPU's summation order."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder.double()
        self.img_size = encoder.img_size  # read by SamPredictor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.double()).float()


def float64_encoder(sam: torch.nn.Module) -> torch.nn.Module:
    sam.image_encoder = Float64Encoder(sam.image_encoder)
    return sam


def public(module) -> dict:
    return {name: getattr(module, name) for name in dir(module) if not name.startswith("__")}


def redirected_os(output_root: Path) -> types.SimpleNamespace:
    """`os` as amg.py uses it, with its hard-coded output root mapped to `output_root`."""

    def redirect(path):
        path = str(path)
        return str(output_root) + "/" + path[len(HARD_CODED_OUTPUT):] if path.startswith(HARD_CODED_OUTPUT) else path

    path_module = types.SimpleNamespace(**public(os.path))
    path_module.join = lambda *parts: redirect(os.path.join(*parts))
    module = types.SimpleNamespace(**public(os))
    module.path = path_module
    module.makedirs = lambda name, *args, **kwargs: os.makedirs(redirect(name), *args, **kwargs)
    return module


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def run_amg(work: Path, checkpoint: Path) -> Path:
    """amg.py's main on ../datasets/DATASET/test_images; returns its output folder (one sub-folder per image)."""
    import amg as script  # scripts/amg.py, through PYTHONPATH

    official_build = script.sam_model_registry[MODEL]
    script.sam_model_registry = {MODEL: lambda checkpoint: float64_encoder(official_build(checkpoint=checkpoint))}
    script.os = redirected_os(work / "sam_output")
    argv = ["--dataset_name", DATASET, "--model_type", MODEL, "--checkpoint", str(checkpoint), "--device", "cpu"]
    for name, value in AMG_ARGUMENTS.items():
        argv += ["--" + name.replace("_", "-"), str(value)]
    script.main(script.parser.parse_args(argv))
    return work / "sam_output" / DATASET / MODEL


def run_selection(output: Path, masks: Path, work: Path) -> tuple[dict, str]:
    """sam_dice_f1_mae.py's main over `output`; returns (per folder: what find_best_dice returned, each mask's Dice),
    and the log line of the averages."""
    sys.argv = ["sam_dice_f1_mae.py", "--root_folder", str(output), "--ground_truth_folder", str(masks),
                "--job_name", "parity"]  # fmt: skip
    script = importlib.import_module("sam_dice_f1_mae")  # parses sys.argv and makes ./results/<time>-parity
    official = script.find_best_dice
    choices: dict = {}

    def find_best_dice(prediction_folder, ground_truth_file, folder):
        best_dice, best_f_measure, best_file, best_mae = official(prediction_folder, ground_truth_file, folder)
        gt = script.binary_loader(ground_truth_file)
        dice = {}
        for name in os.listdir(prediction_folder):
            if name != "metadata.csv":
                mask = script.binary_loader(os.path.join(prediction_folder, name))
                pred, gt_01 = script.normalize_pil(pre=mask, gt=gt)
                dice[int(Path(name).stem)] = float(script.dice_coefficient(gt_01, pred))
        choices[folder] = {"best_dice": float(best_dice), "best_f1": float(best_f_measure), "best_file": best_file,
                           "best_mae": float(best_mae), "dice": [dice[i] for i in range(len(dice))]}  # fmt: skip
        return best_dice, best_f_measure, best_file, best_mae

    script.find_best_dice = find_best_dice
    script.main()
    log = next((work / "results").glob("*-parity")) / "infer_log.txt"
    last = log.read_text().strip().splitlines()[-1]
    return choices, last[last.index("Average"):]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    torch.set_num_threads(THREADS)
    import segment_anything

    vendored = Path(segment_anything.__file__).resolve().parents[1]
    if not (vendored / "scripts" / "amg.py").is_file():
        raise SystemExit(f"segment_anything comes from {vendored}, not the SAM-Not-Perfect export: set PYTHONPATH")
    started = time.time()
    root = Path(tempfile.mkdtemp(prefix="sod_ref_"))
    work = root / "work"  # the scripts' working directory: ../datasets/<name>/test_images, ./results
    images, masks = root / "datasets" / DATASET / "test_images", root / "datasets" / DATASET / "test_masks"
    for folder in (work, images, masks):
        folder.mkdir(parents=True)
    for path in sorted((SOURCE / "masks").glob("*.png")):
        (images / path.name).symlink_to(SOURCE / "preds" / path.name)
        (masks / path.name).symlink_to(path)
    checkpoint = root / "sam_vit_b_parity.pth"
    torch.save(parity_state_dict(segment_anything.sam_model_registry[MODEL]()), checkpoint)
    os.chdir(work)
    output = run_amg(work, checkpoint)
    choices, averages = run_selection(output, masks, work)

    from sam_dice_f1_mae import binary_loader  # the reference's reader of masks and ground truth

    records = {}
    for stem in sorted(choices):
        folder, choice = output / stem, choices[stem]
        with open(folder / "metadata.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        ground_truth = binary_loader(masks / f"{stem}.png")
        for row in rows:
            mask = binary_loader(folder / f"{row['id']}.png")
            if mask.size != ground_truth.size:
                raise SystemExit(f"{stem}: mask {mask.size} != ground truth {ground_truth.size}: record the resize")
            row["sha256"] = sha256(np.asarray(mask))
        best = choice["best_file"]
        best_index = None if best is None else int(Path(best).stem)
        if best_index is not None and choice["dice"].count(choice["best_dice"]) != 1:
            raise SystemExit(f"{stem}: the best Dice is tied; os.listdir order would decide")
        records[stem] = {
            "image_size_hw": list(np.asarray(ground_truth).shape),
            "masks": rows,
            "dice": choice["dice"],
            "chosen_index": best_index,
            "chosen_dice": choice["best_dice"],
            "chosen_f1": choice["best_f1"],
            "chosen_mae": choice["best_mae"],
            "chosen_map_sha256": None if best_index is None else rows[best_index]["sha256"],
        }  # fmt: skip
        print(f"{stem}: {len(rows)} masks, chosen {best_index}, Dice {choice['best_dice']:.4f}, "
              f"MAE {choice['best_mae']:.4f}")  # fmt: skip
    quick = HERE / "amg_output" / QUICK_STEM
    shutil.rmtree(quick, ignore_errors=True)
    shutil.copytree(output / QUICK_STEM, quick)
    reference = {
        "reference": f"{REPOSITORY}@{COMMIT}",
        "scripts": ["scripts/amg.py main(args)", "scripts/sam_dice_f1_mae.py main()"],
        "command": COMMAND,
        "model": f'sam_model_registry["{MODEL}"] (vendored segment_anything), tests/parity_weights.py, '
                 "image encoder in float64",
        "amg_arguments": AMG_ARGUMENTS,
        "inputs": "tests/data/sod_pysodmetrics: preds/<stem>.png as images, masks/<stem>.png as ground truth",
        "images": records,
        "logged_averages": averages,
        "mean_mae": float(np.mean([r["chosen_mae"] for r in records.values()])),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "threads": THREADS,
        "seconds": round(time.time() - started),
    }  # fmt: skip
    (HERE / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote reference.json and amg_output/{QUICK_STEM} in {reference['seconds']} s: {averages}")


if __name__ == "__main__":
    main()
