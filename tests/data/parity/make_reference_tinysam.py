"""Make `tinysam.npz` / `.json`, `tinysam_amg.json` and `tinysam_layout.tsv` with the official TinySAM code.

    PYTHONPATH=/work/ref/tinysam /work/refvenv/bin/python tests/data/parity/make_reference_tinysam.py

/work/ref/tinysam is xinghaochen/TinySAM at commit 11589bc (`git archive`), so that `import tinysam` is the official
package. Protocol (tests/data/parity/README.md): the official builder `sam_model_registry["vit_t"]`, weights from the
key names (tests/parity_weights.py), eval mode (after loading: it refreshes TinyViT's cached attention biases); the
image encoder converted to float64 (input cast to float64, embedding cast back to float32); prompt encoder, decoder,
predictor and generator as the official code runs them, in float32. Inputs: those of `sam_vit_b.npz`.

What differs from the protocol: TinySAM's decoder has no single-mask output (its MaskDecoder.forward and
SamPredictor.predict take no `multimask_output`; they always return the three multimask masks), so `box.*` and
`combo.*` hold the three masks the official predictor returns for those prompts (the protocol asks for one).

Automatic masks (`tinysam_amg.json`, arrays `amg.*` in the npz): the official `SamHierarchicalMaskGenerator
.hierarchical_generate` on the same image with AMG_PARAMS below. The key-derived weights give predicted IoUs in
about -0.9..1.2, logits in about -3..3 and stability scores (offset 1) below 0.3, so the official thresholds
(0.88, 0.95, high_score_thresh 8.5) would keep no mask; AMG_PARAMS lower them so that masks survive both passes and the
coverage map skips some second-pass points but not all. The masks are noise-like and every one's box is the whole
image, so box NMS below 1.0 would keep a single mask: box_nms_thresh 1.0 keeps them all (sorted by predicted IoU, as
NMS returns them). Recorded: the masks (`amg.masks`, bit-packed, row-major, `amg.mask_shape`) and their records in
`tinysam_amg.json`; the coverage map of the first pass (`amg.covered`, pixels where a kept mask's logit exceeds
high_score_thresh) and the second pass's points (`amg.dense_points`, what the official code passes to
`set_point_grids`); the generator's default arguments (in the json).
"""
from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/parity_weights.py
from parity_weights import parity_state_dict  # noqa: E402

REFERENCE = "tinysam"
REPOSITORY = "xinghaochen/TinySAM"
COMMIT = "11589bc1d98c16cff046c31d5ad4cd90a30f0897"  # the export in /work/ref/tinysam
REGISTRY_KEY = "vit_t"
STRIDE = 4
INPUTS = ("image", "point_coords", "point_labels", "points2_coords", "points2_labels", "box")
THREADS = 2
AMG_PARAMS = {
    "points_per_side": 8,  # first pass 2 x 2 points, second pass up to 4 x 15
    "pred_iou_thresh": 0.8,
    "stability_score_thresh": 0.5,
    "stability_score_offset": 0.1,
    "high_score_thresh": 0.6,
    "box_nms_thresh": 1.0,
}


class Float64Encoder(torch.nn.Module):
    """The official encoder in float64 between float32 input and output; keeps `img_size` (SamPredictor reads it)."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder.double()
        self.img_size = encoder.img_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.double()).float()


def layout_lines(model: torch.nn.Module) -> list[str]:
    lines = []
    for key, value in model.state_dict().items():
        shape = "x".join(str(s) for s in value.shape) if value.dim() else "scalar"
        lines.append(f"{key}\t{shape}\t{str(value.dtype).removeprefix('torch.')}")
    return lines


def prompt_outputs(sam, ref: dict) -> dict[str, np.ndarray]:
    from tinysam import SamPredictor

    predictor = SamPredictor(sam)
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        predictor.set_image(ref["image"])
        out["features"] = predictor.features.cpu().numpy()
        out["input_size"] = np.array(predictor.input_size)
        calls = {
            "point": dict(point_coords=ref["point_coords"], point_labels=ref["point_labels"]),
            "box": dict(box=ref["box"]),  # three masks: the official predictor has no single-mask output
        }
        for prompt, kwargs in calls.items():
            logits, iou, low_res = predictor.predict(**kwargs, return_logits=True)
            out[f"{prompt}.logits"], out[f"{prompt}.iou"], out[f"{prompt}.low_res"] = logits, iou, low_res
        best = out["point.low_res"][int(np.argmax(out["point.iou"]))]
        logits, iou, low_res = predictor.predict(
            point_coords=ref["points2_coords"], point_labels=ref["points2_labels"], box=ref["box"],
            mask_input=best[None], return_logits=True,
        )  # fmt: skip
        out["combo.logits"], out["combo.iou"], out["combo.low_res"] = logits, iou, low_res
    return out


def hierarchical_masks(sam, image: np.ndarray) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """The official records, the first pass's coverage map (H x W) and the second pass's points (M x 2, 0..1)."""
    from tinysam import SamHierarchicalMaskGenerator

    generator = SamHierarchicalMaskGenerator(sam, **AMG_PARAMS)
    seen: dict[str, np.ndarray] = {}
    official_generate, official_set_point_grids = generator.generate, generator.set_point_grids

    def generate(image, need_high):  # records the coverage map the official first pass returns
        result = official_generate(image, need_high)
        if need_high:
            seen["covered"] = result[1].permute(1, 0).cpu().numpy().astype(bool)  # official: indexed [x, y]
        return result

    def set_point_grids(point_grids):  # records the second pass's points
        seen["dense_points"] = np.asarray(point_grids[0], dtype=np.float64)
        return official_set_point_grids(point_grids)

    generator.generate, generator.set_point_grids = generate, set_point_grids
    records = generator.hierarchical_generate(image)
    return records, seen["covered"], seen["dense_points"]


def main() -> None:
    torch.set_num_threads(THREADS)
    from tinysam import SamHierarchicalMaskGenerator, sam_model_registry

    sam = sam_model_registry[REGISTRY_KEY]()
    (HERE / f"{REFERENCE}_layout.tsv").write_text("\n".join(layout_lines(sam)) + "\n")
    sam.load_state_dict(parity_state_dict(sam), strict=True)
    sam.eval()
    sam.image_encoder = Float64Encoder(sam.image_encoder)
    sam.eval()

    inputs = np.load(HERE / "sam_vit_b.npz")
    ref = {k: inputs[k] for k in INPUTS}
    out = prompt_outputs(sam, ref)
    arrays = dict(ref)
    arrays["input_size"] = out.pop("input_size")
    arrays["features"] = out.pop("features")[:, :, ::STRIDE, ::STRIDE]
    for prompt in ("point", "box", "combo"):
        arrays[f"{prompt}.iou"] = out[f"{prompt}.iou"]
        arrays[f"{prompt}.logits"] = out[f"{prompt}.logits"][:, ::STRIDE, ::STRIDE]
        arrays[f"{prompt}.low_res"] = out[f"{prompt}.low_res"][:, ::STRIDE, ::STRIDE]
    arrays["stride"] = np.array(STRIDE)

    records, covered, dense_points = hierarchical_masks(sam, ref["image"])
    arrays["amg.covered"] = covered
    arrays["amg.dense_points"] = dense_points
    masks = np.stack([r["segmentation"] for r in records])
    arrays["amg.masks"] = np.packbits(masks.reshape(len(masks), -1), axis=1)
    arrays["amg.mask_shape"] = np.array(masks.shape[1:])
    np.savez_compressed(HERE / f"{REFERENCE}.npz", **arrays)
    amg = {
        "params": AMG_PARAMS,
        "records": [{k: v for k, v in r.items() if k != "segmentation"} for r in records],
    }
    (HERE / f"{REFERENCE}_amg.json").write_text(json.dumps(amg, indent=1) + "\n")

    signature = inspect.signature(SamHierarchicalMaskGenerator.__init__).parameters
    defaults = {name: p.default for name, p in signature.items() if name not in ("self", "model")}
    record = {
        "reference": REFERENCE,
        "official": {"repository": REPOSITORY, "commit": COMMIT, "package": "tinysam", "registry_key": REGISTRY_KEY,
                     "predictor": "tinysam.SamPredictor",
                     "generator": "tinysam.SamHierarchicalMaskGenerator.hierarchical_generate"},  # fmt: skip
        "command": "PYTHONPATH=/work/ref/tinysam /work/refvenv/bin/python tests/data/parity/make_reference_tinysam.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "threads": THREADS,
        "weights": "tests/parity_weights.py (seed 20251125), loaded strictly into the official model",
        "precision": "image encoder float64 (input cast to float64, embedding to float32); the rest float32",
        "inputs": "sam_vit_b.npz",
        "stride": STRIDE,
        "protocol": "set_image -> features; point -> point.*; box -> box.*; points2 + box + "
                    "point.low_res[argmax(point.iou)] as mask_input -> combo.*; all predict(..., return_logits=True)",
        "differs_from_protocol": "TinySAM's predictor has no multimask_output argument and always returns the three "
                                 "multimask masks: box.* and combo.* hold three masks, not one",  # fmt: skip
        "generator_defaults": defaults,
        "amg": {"params": AMG_PARAMS, "records": len(records), "dense_points": len(dense_points),
                "covered_pixels": int(covered.sum()), "file": f"{REFERENCE}_amg.json"},  # fmt: skip
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
    }
    (HERE / f"{REFERENCE}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {REFERENCE}.npz / .json / _amg.json / _layout.tsv: {len(records)} masks, "
          f"{len(dense_points)} second-pass points, {int(covered.sum())} covered pixels")  # fmt: skip


if __name__ == "__main__":
    main()
