"""Make the HQ-SAM parity references with the official code (SysCV/sam-hq).

    PYTHONPATH=/work/ref/hq_sam /work/refvenv/bin/python tests/data/parity/make_reference_hq_sam.py [VARIANT ...]

/work/ref/hq_sam is a work tree of github.com/SysCV/sam-hq (commit below); its `segment_anything` package is the
HQ-SAM code (PyPI `segment-anything-hq` 0.3 is the same code, see models/families/hq_sam.py). VARIANT: any of
sam_hq_vit_tiny sam_hq_vit_b sam_hq_vit_l sam_hq_vit_h (default: all); `--layout-only` writes the layouts alone.

For each variant:
1. the official builder (`sam_model_registry[...]`, no checkpoint) -> `<reference>_layout.tsv`;
2. weights derived from the key names (tests/parity_weights.py), loaded strictly, then `.eval()` once more: the
   official TinyViT caches its attention biases when `.eval()` is called, and the official builder calls it before
   any weights are loaded (the official demo `demo/demo_hqsam_light.py` calls `sam.eval()` after loading, as here);
3. the official image encoder in float64 (input cast to float64, the embedding and every intermediate embedding cast
   back to float32); prompt encoder and HQ mask decoder in float32 as the official code runs them;
4. the official `SamPredictor` on the shared inputs of sam_vit_b.npz, `hq_token_only` at the predictor's default
   (False: the HQ mask added to SAM's mask, which the official evaluation also uses for COCO-style box prompts):
   `features`; the point prompt with multimask output -> `point.*`; the box, one mask -> `box.*`; points2 + box +
   the low-res logits of the best point output, one mask -> `combo.*`; and, for the `hq_token_only` setting, the box
   with `hq_token_only=True` -> `box_hq_only.*`. `*.logits` are the raw logits at the original size
   (`return_logits=True`).
   HQ-SAM's decoder answers a multimask request with ONE mask (the best of SAM's three by predicted IoU, plus the HQ
   mask), so `point.*` holds one mask, not three.
5. every 4th row / column of `features`, `*.logits` and `*.low_res`, the inputs whole -> `<reference>.npz`;
   provenance -> `<reference>.json`.
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

import segment_anything  # noqa: E402  (the HQ-SAM repository's package, through PYTHONPATH)
from segment_anything import SamPredictor, sam_model_registry  # noqa: E402

OFFICIAL = Path(segment_anything.__file__).resolve().parents[1]
STRIDE = 4
INPUTS = ("image", "point_coords", "point_labels", "points2_coords", "points2_labels", "box", "input_size")
# reference name -> official registry key
VARIANTS = {"sam_hq_vit_tiny": "vit_tiny", "sam_hq_vit_b": "vit_b", "sam_hq_vit_l": "vit_l", "sam_hq_vit_h": "vit_h"}


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
    """The encoder's outputs (a tensor, or nested tuples / lists of tensors) in `dtype`, same structure."""
    if isinstance(out, torch.Tensor):
        return out.to(dtype)
    return type(out)(cast(o, dtype) for o in out)


class Float64Encoder(torch.nn.Module):
    """The official image encoder computing in float64; float32 outputs (embedding, intermediate embeddings)."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder.double()
        self.img_size = encoder.img_size  # read by SamPredictor and Sam.postprocess_masks

    def forward(self, x):
        return cast(self.encoder(x.double()), torch.float32)


def run(reference: str, key: str, layout_only: bool) -> None:
    torch.manual_seed(0)
    sam = sam_model_registry[key]()
    write_layout(sam, HERE / f"{reference}_layout.tsv")
    if layout_only:
        return
    sam.load_state_dict(parity_state_dict(sam), strict=True)
    sam.eval()  # refresh TinyViT's cached attention biases from the loaded weights (see the docstring)
    sam.image_encoder = Float64Encoder(sam.image_encoder)
    predictor = SamPredictor(sam)
    shared = np.load(HERE / "sam_vit_b.npz")
    out = {k: shared[k] for k in INPUTS}
    started = time.time()
    with torch.no_grad():
        predictor.set_image(shared["image"])
        out["features"] = predictor.features.numpy()
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
        out["box_hq_only.logits"], out["box_hq_only.iou"], out["box_hq_only.low_res"] = predictor.predict(
            box=shared["box"], multimask_output=False, return_logits=True, hq_token_only=True
        )
    seconds = time.time() - started
    out["features"] = out["features"][:, :, ::STRIDE, ::STRIDE]
    for name in [k for k in out if k.endswith((".logits", ".low_res"))]:
        out[name] = np.ascontiguousarray(out[name][:, ::STRIDE, ::STRIDE])
    out["stride"] = np.array(STRIDE)
    np.savez_compressed(HERE / f"{reference}.npz", **{k: np.asarray(v) for k, v in out.items()})
    info = {
        "reference": reference,
        "official_repository": "https://github.com/SysCV/sam-hq",
        "official_commit": official_commit(),
        "official_code": f"segment_anything/ of SysCV/sam-hq: build_sam.py sam_model_registry[{key!r}], predictor.py SamPredictor",
        "torch": torch.__version__,
        "command": f"PYTHONPATH=/work/ref/hq_sam {Path(sys.executable)} tests/data/parity/make_reference_hq_sam.py {reference}",
        "weights": "tests/parity_weights.py (key-derived), strict load, then sam.eval() (refreshes TinyViT's attention-bias cache)",
        "image_encoder": "float64 (input cast to float64, embedding and intermediate embeddings cast back to float32)",
        "prompt_encoder_and_decoder": "float32",
        "hq_token_only": "False (SamPredictor default) for point/box/combo; True for box_hq_only",
        "stride": STRIDE,
        "seconds": round(seconds, 1),  # wall time of the predictor calls, on a shared 2-core machine
        "differences_from_protocol": [
            "HQ-SAM's mask decoder returns one mask for multimask_output=True (the best of SAM's three by predicted "
            "IoU, plus the HQ mask): point.* holds one mask",
            "extra arrays box_hq_only.*: the box prompt with hq_token_only=True",
        ],
    }
    (HERE / f"{reference}.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"{reference}: {seconds:.1f} s", flush=True)


def main(argv: list[str]) -> None:
    layout_only = "--layout-only" in argv
    names = [a for a in argv if not a.startswith("--")] or list(VARIANTS)
    assert (OFFICIAL / "segment_anything" / "modeling" / "mask_decoder_hq.py").is_file(), (
        f"{OFFICIAL} is not the HQ-SAM repository: set PYTHONPATH=/work/ref/hq_sam"
    )
    torch.set_num_threads(2)
    for name in names:
        run(name, VARIANTS[name], layout_only)


if __name__ == "__main__":
    main(sys.argv[1:])
