"""Command-line options and recorded parameters shared by the box-prompted mask AP tasks (COCO, SegInW).

Both tasks add their options to the one parser of run_eval.py; the shared ones are added by whichever task comes
first, so that `--mask-selection refine` applies to both in `--task all`.
"""
from __future__ import annotations

import argparse
from typing import Any

from ...errors import UsageError
from .mask_ap import IMPLEMENTATIONS, IOU_TYPE, MAX_DETS, default_implementation
from .protocol import DEFAULT_BOX_BATCH, DEFAULT_MASK_SELECTION, MASK_SELECTIONS, MASK_THRESHOLD


def add_mask_protocol_arguments(group: Any) -> None:
    """Add the shared options to `group` (a parser or an argument group) unless another task has added them."""
    options = (
        ("--mask-selection", dict(choices=MASK_SELECTIONS, default=DEFAULT_MASK_SELECTION,
                                  help="best: multimask output, highest predicted IoU (TinySAM / EfficientViT-SAM); "
                                       "single: one-mask output; refine: best, then a second decoder pass with its "
                                       "logits as mask input (SAM paper D.4) (default best)")),
        ("--box-batch", dict(type=int, default=DEFAULT_BOX_BATCH,
                             help=f"boxes per mask-decoder call (default {DEFAULT_BOX_BATCH})")),
        ("--coco-eval", dict(choices=IMPLEMENTATIONS, default=default_implementation(),
                             help="COCOeval implementation; both give the same 12 numbers (to 1e-15) (default "
                                  "faster-coco-eval when installed)")),
    )  # fmt: skip
    for flag, kwargs in options:
        try:
            group.add_argument(flag, **kwargs)
        except argparse.ArgumentError:  # added already by another box-prompted task
            pass


def decoding_params(args: argparse.Namespace) -> dict[str, Any]:
    """How boxes become masks (sources: protocol.py, prompts.py, dataset.py), recorded in the results."""
    if args.box_batch < 1:
        raise UsageError(f"--box-batch must be positive, got {args.box_batch}")
    return {
        "mask_selection": args.mask_selection,
        "box_batch": args.box_batch,
        "box_format": "COCO [x, y, w, h] -> [x, y, x + w, y + h], not clipped",
        "mask_threshold": MASK_THRESHOLD,
        "image_decoding": "cv2.imread, BGR -> RGB",
    }


def evaluation_params(args: argparse.Namespace) -> dict[str, Any]:
    """How masks are scored (source: metric.py), recorded in the results."""
    return {"iou_type": IOU_TYPE, "max_dets": list(MAX_DETS), "bbox_dropped_before_loadRes": True,
            "coco_eval": args.coco_eval}  # fmt: skip
