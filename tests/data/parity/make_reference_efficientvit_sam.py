"""Make `efficientvit_sam_<variant>.npz` / `.json` / `_layout.tsv`: the official EfficientViT-SAM's outputs.

    PYTHONPATH=/work/ref/efficientvit_sam /work/refvenv/bin/python \
        tests/data/parity/make_reference_efficientvit_sam.py [l0 l1 l2 xl0 xl1] [--layout-only]

/work/ref/efficientvit_sam is an export of mit-han-lab/efficientvit at commit de7d773 (`efficientvit/` and
`applications/`), so that `import efficientvit` is the official package. Protocol (tests/data/parity/README.md):
1. the official zoo builder `create_efficientvit_sam_model("efficientvit-sam-<variant>", pretrained=False)` (which
   sets eps 1e-6 on every norm); its state-dict layout -> `efficientvit_sam_<variant>_layout.tsv`;
2. weights from the key names (tests/parity_weights.py), loaded strictly; eval mode;
3. the image encoder converted to float64 (input cast to float64, embedding cast back to float32); prompt encoder,
   decoder and predictor as the official code runs them, in float32;
4. the official `EfficientViTSamPredictor` on the inputs of `sam_vit_b.npz`: set_image -> features; the point with
   multimask output -> point.*; the box, one mask -> box.*; points2 + box + the best point low-res logits as mask
   input, one mask -> combo.*; every call `predict(..., return_logits=True)`; for L0 also the official
   `EfficientViTSamAutomaticMaskGenerator` with AMG_PARAMS (filters and NMS off, one crop layer) -> amg.*;
5. every 4th row and column of the maps, the inputs whole, `input_size` (the image's size in the 1024 prompt
   frame) -> `efficientvit_sam_<variant>.npz`, and a json record.
`--layout-only` stops after step 1 (for variants whose float64 run is too slow to keep).

Import shims (they do not touch the SAM code path): the official package imports `onnx` and `onnxsim` at import
time for its export helpers (efficientvit/apps/utils/export.py); empty stand-in modules are registered for them
here. `omegaconf` (imported by the package's other applications) was pip-installed into the reference venv.
"""
from __future__ import annotations

import importlib.machinery
import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/parity_weights.py
from parity_weights import parity_state_dict  # noqa: E402

REPOSITORY = "mit-han-lab/efficientvit"
COMMIT = "de7d7733cc0329f391b33f1f459271562ec27bd5"  # the export in /work/ref/efficientvit_sam
VARIANTS = ("l0", "l1", "l2", "xl0", "xl1")
STRIDE = 4
INPUTS = ("image", "point_coords", "point_labels", "points2_coords", "points2_labels", "box")
THREADS = 2
AMG_VARIANTS = ("l0",)  # the official automatic mask generator is recorded for these (tests: AMG_PARAMS there too)
AMG_PARAMS = dict(points_per_side=4, points_per_batch=16, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                  box_nms_thresh=1.0, crop_n_layers=1, crop_nms_thresh=1.0,
                  crop_n_points_downscale_factor=2)  # fmt: skip
COMMAND = ("PYTHONPATH=/work/ref/efficientvit_sam /work/refvenv/bin/python "
           "tests/data/parity/make_reference_efficientvit_sam.py")  # fmt: skip


def stub_export_modules() -> None:
    for name in ("onnx", "onnxsim"):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__spec__ = importlib.machinery.ModuleSpec(name, None)
            sys.modules[name] = module
    sys.modules["onnxsim"].simplify = None


class Float64Encoder(torch.nn.Module):
    """The official image encoder in float64 between float32 input and output."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.double()).float()


def layout_lines(model: torch.nn.Module) -> list[str]:
    lines = []
    for key, value in model.state_dict().items():
        shape = "x".join(str(s) for s in value.shape) if value.dim() else "scalar"
        lines.append(f"{key}\t{shape}\t{str(value.dtype).removeprefix('torch.')}")
    return lines


def run(variant: str, layout_only: bool) -> None:
    from efficientvit.models.efficientvit.sam import EfficientViTSamAutomaticMaskGenerator, EfficientViTSamPredictor
    from efficientvit.sam_model_zoo import create_efficientvit_sam_model

    reference = f"efficientvit_sam_{variant}"
    zoo_name = f"efficientvit-sam-{variant}"
    model = create_efficientvit_sam_model(zoo_name, pretrained=False)
    (HERE / f"{reference}_layout.tsv").write_text("\n".join(layout_lines(model)) + "\n")
    print(f"wrote {reference}_layout.tsv")
    if layout_only:
        return
    model.load_state_dict(parity_state_dict(model), strict=True)
    model.eval()
    model.image_encoder = Float64Encoder(model.image_encoder)
    model.eval()

    inputs = np.load(HERE / "sam_vit_b.npz")
    ref = {k: inputs[k] for k in INPUTS}
    predictor = EfficientViTSamPredictor(model)
    out: dict[str, np.ndarray] = {}
    start = time.perf_counter()
    with torch.no_grad():
        predictor.set_image(ref["image"])
        out["features"] = predictor.features.cpu().numpy()
        out["input_size"] = np.array(predictor.input_size)
        calls = {
            "point": dict(point_coords=ref["point_coords"], point_labels=ref["point_labels"], multimask_output=True),
            "box": dict(box=ref["box"], multimask_output=False),
        }
        for prompt, kwargs in calls.items():
            logits, iou, low_res = predictor.predict(**kwargs, return_logits=True)
            out[f"{prompt}.logits"], out[f"{prompt}.iou"], out[f"{prompt}.low_res"] = logits, iou, low_res
        best = out["point.low_res"][int(np.argmax(out["point.iou"]))]
        logits, iou, low_res = predictor.predict(
            point_coords=ref["points2_coords"], point_labels=ref["points2_labels"], box=ref["box"],
            mask_input=best[None], multimask_output=False, return_logits=True,
        )  # fmt: skip
        out["combo.logits"], out["combo.iou"], out["combo.low_res"] = logits, iou, low_res
    seconds = time.perf_counter() - start
    amg = {}
    if variant in AMG_VARIANTS:
        records = EfficientViTSamAutomaticMaskGenerator(model, **AMG_PARAMS).generate(ref["image"])
        amg = {
            "amg.predicted_iou": np.array([r["predicted_iou"] for r in records], dtype=np.float64),
            "amg.stability_score": np.array([r["stability_score"] for r in records], dtype=np.float64),
            "amg.area": np.array([r["area"] for r in records], dtype=np.int64),
            "amg.bbox": np.array([r["bbox"] for r in records], dtype=np.float64),
            "amg.point_coords": np.array([r["point_coords"][0] for r in records], dtype=np.float64),
            "amg.crop_box": np.array([r["crop_box"] for r in records], dtype=np.int64),
        }

    arrays = dict(ref)
    arrays["input_size"] = out.pop("input_size")
    arrays["features"] = out.pop("features")[:, :, ::STRIDE, ::STRIDE]
    for prompt in ("point", "box", "combo"):
        arrays[f"{prompt}.iou"] = out[f"{prompt}.iou"]
        arrays[f"{prompt}.logits"] = out[f"{prompt}.logits"][:, ::STRIDE, ::STRIDE]
        arrays[f"{prompt}.low_res"] = out[f"{prompt}.low_res"][:, ::STRIDE, ::STRIDE]
    arrays["stride"] = np.array(STRIDE)
    arrays.update(amg)
    np.savez_compressed(HERE / f"{reference}.npz", **arrays)

    record = {
        "reference": reference,
        "official": {"repository": REPOSITORY, "commit": COMMIT,
                     "builder": f"efficientvit.sam_model_zoo.create_efficientvit_sam_model({zoo_name!r}, "
                                "pretrained=False)",
                     "predictor": "efficientvit.models.efficientvit.sam.EfficientViTSamPredictor"},  # fmt: skip
        "command": f"{COMMAND} {variant}",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "threads": THREADS,
        "seconds": round(seconds, 1),
        "weights": "tests/parity_weights.py (seed 20251125), loaded strictly into the official model",
        "layout": f"{reference}_layout.tsv (written from the same model)",
        "precision": "image encoder float64 (input cast to float64, embedding to float32); the rest float32",
        "encoder_input_side": int(model.image_size[1]),
        "prompt_frame_side": int(model.image_size[0]),
        "inputs": "sam_vit_b.npz",
        "stride": STRIDE,
        "protocol": "set_image -> features; point, multimask -> point.*; box, one mask -> box.*; points2 + box + "
                    "point.low_res[argmax(point.iou)] as mask_input, one mask -> combo.*; all predict(..., "
                    "return_logits=True)",  # fmt: skip
        "differs_from_protocol": "nothing; import shims only: empty `onnx` / `onnxsim` modules (export helpers the "
                                 "package imports), `omegaconf` installed",  # fmt: skip
        "amg": ({"generator": "efficientvit.models.efficientvit.sam.EfficientViTSamAutomaticMaskGenerator",
                 "params": AMG_PARAMS, "image": "sam_vit_b.npz image", "records": len(amg["amg.area"]),
                 "arrays": "amg.*: each record's predicted_iou, stability_score, area, bbox (XYWH), point_coords[0], "
                           "crop_box, in the generator's order"} if amg else None),  # fmt: skip
        "input_size": "the image's size in the 1024 prompt frame (predictor.input_size), as in sam_vit_b.npz",
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
    }
    (HERE / f"{reference}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {reference}.npz / .json ({seconds:.1f} s)")


def main(argv: list[str]) -> None:
    torch.set_num_threads(THREADS)
    stub_export_modules()
    layout_only = "--layout-only" in argv
    variants = [a for a in argv if not a.startswith("--")] or list(VARIANTS)
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    for variant in variants:
        run(variant, layout_only)


if __name__ == "__main__":
    main(sys.argv[1:])
