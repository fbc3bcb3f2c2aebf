"""Numeric drift of the image encoder in `--precision bf16x3|tf32|bf16|fp16` against float32, on the parity inputs.

    python benchmarks/precision_drift.py --device cuda [--models repvit mobilesam vit_b] [--precisions bf16 fp16]

Two weight sets per model: the parity weights (tests/parity_weights.py, derived from the official key layout; the
official reference outputs in tests/data/parity were made with them) and the constructors' initialisation (seed 0),
whose activations are of a more ordinary scale. Each model runs the parity protocol (SamPredictor: the image
embedding, then point, box and point+box+mask prompts) in float32 and in each other precision on the same device.
Printed per prompt kind: relative error (max |diff| / max |fp32|) of the embedding, the mask logits and the
predicted IoU, and the IoU of the binary masks (logits > 0) with float32's. The float32 row compares with the
official reference arrays instead.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from models import build_untrained  # noqa: E402
from models.backends import optimise_encoder, use_full_float32  # noqa: E402
from tests.test_parity import DATA, VARIANTS, official_protocol, parity_model, relative_error  # noqa: E402

PROMPTS = ("point", "box", "combo")


def mask_iou(ours: np.ndarray, ref: np.ndarray) -> float:
    a, b = ours > 0, ref > 0
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def drift(out: dict, ref: dict) -> dict[str, float]:
    row = {"features": relative_error(out["features"], ref["features"])}
    for prompt in PROMPTS:
        row[f"{prompt}.logits"] = relative_error(out[f"{prompt}.logits"], ref[f"{prompt}.logits"])
        row[f"{prompt}.iou"] = relative_error(out[f"{prompt}.iou"], ref[f"{prompt}.iou"])
        row[f"{prompt}.mask_iou"] = mask_iou(out[f"{prompt}.logits"], ref[f"{prompt}.logits"])
    return row


def build(name: str, weights: str):
    """RepViT fused, as it runs by default."""
    if weights == "parity":
        return parity_model(name, fuse=name == "repvit")
    torch.manual_seed(0)
    sam = build_untrained(name).eval()
    if name == "repvit":
        sam.image_encoder = sam.image_encoder.fuse()
    return sam


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="+", default=list(VARIANTS))
    parser.add_argument("--precisions", nargs="+", default=["bf16x3", "tf32", "bf16", "fp16"])
    parser.add_argument("--json", type=Path, help="also write every number here")
    args = parser.parse_args()
    device = torch.device(args.device)
    precisions = [p for p in args.precisions if p == "bf16" or device.type == "cuda"]
    use_full_float32()
    rows = []
    for name in args.models:
        reference = dict(np.load(DATA / f"{VARIANTS[name]}.npz"))
        for weights in ("parity", "init"):
            sam = build(name, weights).to(device)
            fp32 = official_protocol(sam, reference)
            if weights == "parity":
                rows.append({"model": name, "weights": weights, "precision": "fp32 vs official", **drift(fp32, reference)})
            encoder = sam.image_encoder
            for precision in precisions:
                sam.image_encoder = optimise_encoder(copy.deepcopy(encoder), "eager", precision, device)
                rows.append({"model": name, "weights": weights, "precision": precision,
                             **drift(official_protocol(sam, reference), fp32)})  # fmt: skip
    keys = ["features", *(f"{p}.{k}" for p in PROMPTS for k in ("logits", "iou", "mask_iou"))]
    print(f"device {args.device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), "
          f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}")  # fmt: skip
    print("| model | weights | precision | " + " | ".join(keys) + " |")
    print("|---|---|---|" + "---|" * len(keys))
    for row in rows:
        cells = [f"{row[k]:.3f}" if k.endswith("mask_iou") else f"{row[k]:.1e}" for k in keys]
        print(f"| {row['model']} | {row['weights']} | {row['precision']} | " + " | ".join(cells) + " |")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
