"""Make the SAM 2 / SAM 2.1 parity references with the official code (facebookresearch/sam2).

    cd /tmp && PYTHONPATH=/work/ref/sam2 /work/refvenv/bin/python /work/main/tests/data/parity/make_reference_sam2.py [VARIANT ...]

/work/ref/sam2 is a work tree of github.com/facebookresearch/sam2 (commit below; `sam2/` is its package, PyPI `sam2`
1.1.0 holds the same files). Run it from outside the repository's parent directory (sam2's build_sam.py refuses a
`sam2/sam2` shadow). VARIANT: any of the keys of VARIANTS (default: all); `--layout-only` writes the layouts alone.

For each variant:
1. the official builder `build_sam2(config, ckpt_path=None, device="cpu")` (its defaults, apply_postprocessing=True)
   -> `<variant>_layout.tsv`;
2. weights derived from the key names (tests/parity_weights.py), loaded strictly;
3. the official image encoder (Hiera trunk + FPN neck) in float64 (input cast to float64, every output level cast
   back to float32); everything else in float32 as the official code runs it;
4. the official `SAM2ImagePredictor` on the shared inputs of sam_vit_b.npz: `features` (`get_image_embedding()`);
   the point prompt with multimask output -> `point.*`; the box, one mask -> `box.*`; points2 + box + the low-res
   logits of the best point output, one mask -> `combo.*`; `*.logits` raw logits at the original size
   (`return_logits=True`);
5. for sam2.1_hiera_t also the official `SAM2AutomaticMaskGenerator` with AMG_PARAMS (filters and NMS off) ->
   `amg.*` (records in the generator's order);
6. every 4th row / column of `features`, `*.logits` and `*.low_res`, the inputs whole -> `<variant>.npz`;
   provenance -> `<variant>.json`.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "tests"))
from parity_weights import parity_state_dict  # noqa: E402

import sam2  # noqa: E402  (the official repository's package, through PYTHONPATH)
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator  # noqa: E402
from sam2.build_sam import build_sam2  # noqa: E402
from sam2.sam2_image_predictor import SAM2ImagePredictor  # noqa: E402

OFFICIAL = Path(sam2.__file__).resolve().parents[1]
STRIDE = 4
INPUTS = ("image", "point_coords", "point_labels", "points2_coords", "points2_labels", "box", "input_size")
VARIANTS = {f"sam2.1_hiera_{s}": f"configs/sam2.1/sam2.1_hiera_{s}.yaml" for s in ("t", "s", "b+", "l")}
VARIANTS |= {f"sam2_hiera_{s}": f"configs/sam2/sam2_hiera_{s}.yaml" for s in ("t", "s", "b+", "l")}
WITH_OUTPUTS = ("sam2.1_hiera_t", "sam2.1_hiera_s", "sam2.1_hiera_b+", "sam2.1_hiera_l", "sam2_hiera_t")
AMG_VARIANT = "sam2.1_hiera_t"
AMG_PARAMS = dict(points_per_side=4, points_per_batch=8, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                  box_nms_thresh=1.0)  # fmt: skip


def official_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(OFFICIAL), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
    except (subprocess.CalledProcessError, FileNotFoundError):
        return (OFFICIAL / "COMMIT").read_text().strip() if (OFFICIAL / "COMMIT").is_file() else "unknown"


def write_layout(model: torch.nn.Module, path: Path) -> None:
    lines = []
    for key, value in model.state_dict().items():
        shape = "x".join(str(s) for s in value.shape) if value.dim() else "scalar"
        lines.append(f"{key}\t{shape}\t{str(value.dtype).removeprefix('torch.')}")
    path.write_text("\n".join(lines) + "\n")


def cast(out, dtype):
    """The encoder's output (a dict of tensors and lists of tensors) in `dtype`, same structure."""
    if isinstance(out, torch.Tensor):
        return out.to(dtype)
    if isinstance(out, dict):
        return {k: cast(v, dtype) for k, v in out.items()}
    return type(out)(cast(o, dtype) for o in out)


class Float64Encoder(torch.nn.Module):
    """The official image encoder computing in float64, handing float32 feature levels on."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder.double()

    def forward(self, x):
        return cast(self.encoder(x.double()), torch.float32)


def run(name: str, config: str, layout_only: bool) -> None:
    torch.manual_seed(0)
    model = build_sam2(config, ckpt_path=None, device="cpu", mode="eval")
    write_layout(model, HERE / f"{name}_layout.tsv")
    if layout_only or name not in WITH_OUTPUTS:
        return
    model.load_state_dict(parity_state_dict(model), strict=True)
    model.eval()
    model.image_encoder = Float64Encoder(model.image_encoder)
    predictor = SAM2ImagePredictor(model)
    shared = np.load(HERE / "sam_vit_b.npz")
    out = {k: shared[k] for k in INPUTS}
    started = time.time()
    with torch.no_grad():
        predictor.set_image(shared["image"])
        out["features"] = predictor.get_image_embedding().numpy()
        calls = {
            "point": dict(point_coords=shared["point_coords"], point_labels=shared["point_labels"], multimask_output=True),
            "box": dict(box=shared["box"], multimask_output=False),
        }
        for prompt, kwargs in calls.items():
            out[f"{prompt}.logits"], out[f"{prompt}.iou"], out[f"{prompt}.low_res"] = predictor.predict(
                **kwargs, return_logits=True
            )
        best = out["point.low_res"][int(np.argmax(out["point.iou"]))]
        out["combo.logits"], out["combo.iou"], out["combo.low_res"] = predictor.predict(
            point_coords=shared["points2_coords"], point_labels=shared["points2_labels"], box=shared["box"],
            mask_input=best[None], multimask_output=False, return_logits=True,
        )  # fmt: skip
        if name == AMG_VARIANT:
            records = SAM2AutomaticMaskGenerator(model, **AMG_PARAMS).generate(shared["image"])
            out["amg.predicted_iou"] = np.array([r["predicted_iou"] for r in records])
            out["amg.stability_score"] = np.array([r["stability_score"] for r in records])
            out["amg.area"] = np.array([r["area"] for r in records])
            out["amg.bbox"] = np.array([r["bbox"] for r in records])
            out["amg.point_coords"] = np.array([r["point_coords"][0] for r in records])
            out["amg.crop_box"] = np.array([r["crop_box"] for r in records])
            out["amg.segmentation"] = np.packbits(np.stack([r["segmentation"] for r in records]), axis=-1)
    seconds = time.time() - started
    out["features"] = out["features"][:, :, ::STRIDE, ::STRIDE]
    for key in [k for k in out if k.endswith((".logits", ".low_res"))]:
        out[key] = np.ascontiguousarray(out[key][:, ::STRIDE, ::STRIDE])
    out["stride"] = np.array(STRIDE)
    np.savez_compressed(HERE / f"{name}.npz", **{k: np.asarray(v) for k, v in out.items()})
    info = {
        "reference": name,
        "official_repository": "https://github.com/facebookresearch/sam2",
        "official_commit": official_commit(),
        "official_code": f"sam2/build_sam.py build_sam2({config!r}), sam2_image_predictor.py SAM2ImagePredictor"
        + (", automatic_mask_generator.py SAM2AutomaticMaskGenerator" if name == AMG_VARIANT else ""),
        "torch": torch.__version__,
        "command": f"cd /tmp && PYTHONPATH=/work/ref/sam2 {Path(sys.executable)} {REPO}/tests/data/parity/make_reference_sam2.py {name}",
        "weights": "tests/parity_weights.py (key-derived), strict load",
        "image_encoder": "float64 (input cast to float64, every feature level cast back to float32)",
        "prompt_encoder_and_decoder": "float32",
        "amg_params": AMG_PARAMS if name == AMG_VARIANT else None,
        "stride": STRIDE,
        "seconds": round(seconds, 1),  # wall time of the predictor calls, on a shared 2-core machine
    }
    (HERE / f"{name}.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"{name}: {seconds:.1f} s", flush=True)


def main(argv: list[str]) -> None:
    layout_only = "--layout-only" in argv
    names = [a for a in argv if not a.startswith("--")] or list(VARIANTS)
    torch.set_num_threads(2)
    for name in names:
        run(name, VARIANTS[name], layout_only)


if __name__ == "__main__":
    main(sys.argv[1:])
