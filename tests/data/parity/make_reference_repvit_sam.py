"""Make `repvit_sam_f64.npz` / `.json`: the official RepViT-SAM's outputs with its image encoder in float64.

    PYTHONPATH=/work/ref/repvit_sam /work/refvenv/bin/python tests/data/parity/make_reference_repvit_sam.py

/work/ref/repvit_sam is the `sam/` folder of THU-MIG/RepViT at commit 298f420, the commit of the shared float32 arrays
`repvit_sam.npz` (`git archive 298f420 sam/repvit_sam | tar -x --strip-components=1`), so that `import repvit_sam` is
the official package. Protocol (tests/data/parity/README.md): the official builder `sam_model_registry["repvit"]`
(unfused: the official predictor runs the training-time branches as they are), weights from the key names
(tests/parity_weights.py), eval mode; the image encoder converted to float64 (input cast to float64, embedding cast
back to float32); prompt encoder, decoder and predictor as the official code runs them, in float32. Inputs: those of
`sam_vit_b.npz`. Every 4th row and column of the maps is kept.

The state-dict layout is checked against the committed `repvit_sam_layout.tsv` (the shared one), not written again.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/parity_weights.py
from parity_weights import parity_state_dict  # noqa: E402

REFERENCE = "repvit_sam_f64"
LAYOUT = "repvit_sam"
REPOSITORY = "THU-MIG/RepViT"
COMMIT = "298f42075eda5d2e6102559fad260c970769d34e"  # the export in /work/ref/repvit_sam
SUBDIR = "sam/repvit_sam"
REGISTRY_KEY = "repvit"
STRIDE = 4
INPUTS = ("image", "point_coords", "point_labels", "points2_coords", "points2_labels", "box")
THREADS = 2


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


def main() -> None:
    torch.set_num_threads(THREADS)
    from repvit_sam import SamPredictor, sam_model_registry

    sam = sam_model_registry[REGISTRY_KEY]()
    committed = (HERE / f"{LAYOUT}_layout.tsv").read_text().splitlines()
    if layout_lines(sam) != committed:
        raise SystemExit(f"the official layout differs from {LAYOUT}_layout.tsv")
    sam.load_state_dict(parity_state_dict(sam), strict=True)
    sam.eval()
    sam.image_encoder = Float64Encoder(sam.image_encoder)
    sam.eval()

    inputs = np.load(HERE / "sam_vit_b.npz")
    ref = {k: inputs[k] for k in INPUTS}
    predictor = SamPredictor(sam)
    out: dict[str, np.ndarray] = {}
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

    arrays = dict(ref)
    arrays["input_size"] = out.pop("input_size")
    arrays["features"] = out.pop("features")[:, :, ::STRIDE, ::STRIDE]
    for prompt in ("point", "box", "combo"):
        arrays[f"{prompt}.iou"] = out[f"{prompt}.iou"]
        arrays[f"{prompt}.logits"] = out[f"{prompt}.logits"][:, ::STRIDE, ::STRIDE]
        arrays[f"{prompt}.low_res"] = out[f"{prompt}.low_res"][:, ::STRIDE, ::STRIDE]
    arrays["stride"] = np.array(STRIDE)
    np.savez_compressed(HERE / f"{REFERENCE}.npz", **arrays)

    record = {
        "reference": REFERENCE,
        "official": {"repository": REPOSITORY, "commit": COMMIT, "package": SUBDIR,
                     "registry_key": REGISTRY_KEY, "predictor": "repvit_sam.SamPredictor"},  # fmt: skip
        "command": "PYTHONPATH=/work/ref/repvit_sam /work/refvenv/bin/python "
                   "tests/data/parity/make_reference_repvit_sam.py",  # fmt: skip
        "torch": torch.__version__,
        "numpy": np.__version__,
        "threads": THREADS,
        "weights": "tests/parity_weights.py (seed 20251125), loaded strictly into the unfused official model",
        "layout": f"equal to {LAYOUT}_layout.tsv",
        "precision": "image encoder float64 (input cast to float64, embedding to float32); the rest float32",
        "inputs": "sam_vit_b.npz",
        "stride": STRIDE,
        "protocol": "set_image -> features; point, multimask -> point.*; box, one mask -> box.*; points2 + box + "
                    "point.low_res[argmax(point.iou)] as mask_input, one mask -> combo.*; all predict(..., "
                    "return_logits=True)",  # fmt: skip
        "differs_from_protocol": "nothing",
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
    }
    (HERE / f"{REFERENCE}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {REFERENCE}.npz / .json")


if __name__ == "__main__":
    main()
