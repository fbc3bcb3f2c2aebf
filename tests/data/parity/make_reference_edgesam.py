"""Make the EdgeSAM parity reference with the official code (chongzhou96/EdgeSAM, package `edge_sam`).

    PYTHONPATH=/work/ref/edgesam /work/refvenv/bin/python tests/data/parity/make_reference_edgesam.py [--layout-only]

/work/ref/edgesam is a work tree of github.com/chongzhou96/EdgeSAM (commit in /work/ref/edgesam/COMMIT, exported with
`git archive`, so it has no .git); the official code also needs `yacs` and `loralib` (pip, imported at module level,
unused at inference). `edge_sam/modeling/sam.py` imports mmdet / mmengine / `projects.EfficientDet` at module level
for an optional detection head that `build_edge_sam` never builds (rpn_head=None); this script puts empty stand-ins
for those modules in `sys.modules` (they raise if anything instantiates them), so the official inference code runs
unchanged. One reference, `edge_sam`, serves both released checkpoints (edge_sam.pth, edge_sam_3x.pth): the official
README says the variants differ only in their training data, and `sam_model_registry["edge_sam"]` builds both.

Steps:
1. `sam_model_registry["edge_sam"]()` (no checkpoint; RepViT-M1, fuse=True, bicubic upsampling) ->
   `edge_sam_layout.tsv`;
2. weights derived from the key names (tests/parity_weights.py), loaded strictly; eval mode;
3. the official image encoder in float64 (input cast to float64, embedding cast back to float32); prompt encoder and
   mask decoder in float32 as the official code runs them;
4. the official `SamPredictor` on the shared inputs of sam_vit_b.npz, with `return_logits=True` and otherwise the
   official `predict` defaults (num_multimask_outputs=3, use_stability_score=False): `features`; the point prompt,
   3 masks -> `point.*`; the box, num_multimask_outputs=1 -> `box.*`; points2 + box + the low-res logits of the best
   point output, num_multimask_outputs=1 -> `combo.*`. EdgeSAM-only options: the point prompt with
   num_multimask_outputs=4 and use_stability_score=True (the official web demo's setting) -> `point4.*`;
5. the official `SamAutomaticMaskGenerator` on the same image with `AMG_PARAMS` (below; the rest at their
   defaults) -> `amg.*`: per record, in the generator's order, `predicted_iou`, `stability_score`, `area`, `bbox`
   (XYWH), `point_coords`, `crop_box`, and the masks' every 4th row and column (`amg.segmentation`, np.packbits of
   each mask's booleans, row-major). The parameters suit the parity weights, whose masks are speckled and span the
   whole image: score thresholds inside the range of their scores, so both filters remove masks, and NMS off
   (SAM's 0.7 would keep one of these full-image boxes);
6. every 4th row / column of `features`, `*.logits` and `*.low_res`, the inputs whole -> `edge_sam.npz`; provenance
   -> `edge_sam.json`.
"""
from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "tests"))
from parity_weights import parity_state_dict  # noqa: E402

REFERENCE = "edge_sam"
STRIDE = 4
AMG_PARAMS = {"points_per_side": 4, "pred_iou_thresh": 0.1, "stability_score_thresh": 0.02, "box_nms_thresh": 1.0}
INPUTS = ("image", "point_coords", "point_labels", "points2_coords", "points2_labels", "box", "input_size")
AMG_FIELDS = ("predicted_iou", "stability_score", "area", "bbox", "point_coords", "crop_box")


class _Unavailable:
    """Stand-in for the detection-head classes the official Sam imports but never builds at inference."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("mmdet is not installed: the parity reference builds EdgeSAM without a detection head")


def stand_in_detection_modules() -> None:
    def module(name: str, **attributes) -> None:
        stand_in = types.ModuleType(name)
        stand_in.__dict__.update(attributes)
        sys.modules[name] = stand_in

    module("mmdet")
    module("mmdet.models")
    module("mmdet.models.dense_heads", RPNHead=_Unavailable, CenterNetUpdateHead=_Unavailable)
    module("mmdet.models.necks", FPN=_Unavailable)
    module("mmengine", ConfigDict=_Unavailable)
    module("projects")
    module("projects.EfficientDet", efficientdet=types.SimpleNamespace(BiFPN=_Unavailable,
                                                                       EfficientDetSepBNHead=_Unavailable))  # fmt: skip


stand_in_detection_modules()
import edge_sam  # noqa: E402  (the official package, through PYTHONPATH)
from edge_sam import SamAutomaticMaskGenerator, SamPredictor, sam_model_registry  # noqa: E402

OFFICIAL = Path(edge_sam.__file__).resolve().parents[1]


def official_commit() -> str:
    path = OFFICIAL / "COMMIT"
    return path.read_text().strip() if path.is_file() else "unknown"


def write_layout(model: torch.nn.Module, path: Path) -> None:
    lines = []
    for key, value in model.state_dict().items():
        shape = "x".join(str(s) for s in value.shape) if value.dim() else "scalar"
        lines.append(f"{key}\t{shape}\t{str(value.dtype).removeprefix('torch.')}")
    path.write_text("\n".join(lines) + "\n")


class Float64Encoder(torch.nn.Module):
    """The official image encoder computing in float64, handing a float32 embedding on."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder.double()
        self.img_size = encoder.img_size  # read by SamPredictor and Sam.preprocess / postprocess_masks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.double()).float()


def amg_arrays(records: list[dict]) -> dict[str, np.ndarray]:
    out = {f"amg.{field}": np.array([r[field] for r in records]) for field in AMG_FIELDS}
    masks = np.stack([r["segmentation"][::STRIDE, ::STRIDE] for r in records])
    out["amg.segmentation"] = np.packbits(masks.reshape(len(records), -1), axis=1)
    return out


def main(layout_only: bool) -> None:
    assert (OFFICIAL / "edge_sam" / "modeling" / "rep_vit.py").is_file(), f"{OFFICIAL} is not the EdgeSAM repository"
    torch.set_num_threads(2)
    torch.manual_seed(0)
    sam = sam_model_registry["edge_sam"]()
    write_layout(sam, HERE / f"{REFERENCE}_layout.tsv")
    if layout_only:
        return
    sam.load_state_dict(parity_state_dict(sam), strict=True)
    sam.eval()
    sam.image_encoder = Float64Encoder(sam.image_encoder)
    predictor = SamPredictor(sam)
    shared = np.load(HERE / "sam_vit_b.npz")
    out = {k: shared[k] for k in INPUTS}
    started = time.time()
    with torch.no_grad():
        predictor.set_image(shared["image"])
        out["features"] = predictor.features.numpy()
        point = dict(point_coords=shared["point_coords"], point_labels=shared["point_labels"])
        calls = {
            "point": dict(**point),  # the official defaults: num_multimask_outputs=3, use_stability_score=False
            "box": dict(box=shared["box"], num_multimask_outputs=1),
            "point4": dict(**point, num_multimask_outputs=4, use_stability_score=True),
        }
        for prompt, kwargs in calls.items():
            out[f"{prompt}.logits"], out[f"{prompt}.iou"], out[f"{prompt}.low_res"] = predictor.predict(
                **kwargs, return_logits=True
            )
        best = out["point.low_res"][int(np.argmax(out["point.iou"]))]
        out["combo.logits"], out["combo.iou"], out["combo.low_res"] = predictor.predict(
            point_coords=shared["points2_coords"], point_labels=shared["points2_labels"], box=shared["box"],
            mask_input=best[None], num_multimask_outputs=1, return_logits=True,
        )  # fmt: skip
        predictor_seconds = time.time() - started
        records = SamAutomaticMaskGenerator(sam, **AMG_PARAMS).generate(shared["image"])
    seconds = time.time() - started
    out["features"] = out["features"][:, :, ::STRIDE, ::STRIDE]
    for name in [k for k in out if k.endswith((".logits", ".low_res"))]:
        out[name] = np.ascontiguousarray(out[name][:, ::STRIDE, ::STRIDE])
    out["stride"] = np.array(STRIDE)
    out.update(amg_arrays(records))
    np.savez_compressed(HERE / f"{REFERENCE}.npz", **{k: np.asarray(v) for k, v in out.items()})
    info = {
        "reference": REFERENCE,
        "variants": {"edgesam": "edge_sam.pth", "edgesam_3x": "edge_sam_3x.pth"},
        "official_repository": "https://github.com/chongzhou96/EdgeSAM",
        "official_commit": official_commit(),
        "official_code": "edge_sam (build_sam.py sam_model_registry['edge_sam'], predictor.py SamPredictor, "
                         "automatic_mask_generator.py SamAutomaticMaskGenerator)",
        "torch": torch.__version__,
        "command": f"PYTHONPATH=/work/ref/edgesam {Path(sys.executable)} tests/data/parity/make_reference_edgesam.py",
        "weights": "tests/parity_weights.py (key-derived), strict load, eval mode",
        "image_encoder": "float64 (input cast to float64, embedding cast back to float32)",
        "prompt_encoder_and_decoder": "float32",
        "stand_ins": "mmdet, mmengine, projects.EfficientDet: empty modules (imported by edge_sam/modeling/sam.py "
                     "for a detection head that build_edge_sam does not build); yacs 0.1.8 and loralib 0.1.2 "
                     "installed from PyPI",
        "stride": STRIDE,
        "amg_params": AMG_PARAMS,
        "amg_records": len(records),
        "predictor_seconds": round(predictor_seconds, 1),
        "seconds": round(seconds, 1),
        "differences_from_protocol": [
            "EdgeSAM's predict takes num_multimask_outputs (1, 3, 4) instead of multimask_output: point.* uses the "
            "official default 3 (= SAM's multimask output), box.* and combo.* use 1 (= SAM's single mask)",
            "extra arrays point4.*: the point prompt with num_multimask_outputs=4 and use_stability_score=True "
            "(point4.iou holds stability scores of the low-res logits)",
            "extra arrays amg.*: the official automatic mask generator (amg_params, other arguments at their "
            "defaults) on the shared image; amg.segmentation is np.packbits of every 4th row and column of each mask",
        ],
    }
    (HERE / f"{REFERENCE}.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"{REFERENCE}: {seconds:.1f} s ({predictor_seconds:.1f} s predictor), {len(records)} AMG records", flush=True)


if __name__ == "__main__":
    main("--layout-only" in sys.argv[1:])
