"""Command-line options and parameters shared by the box-prompted mask AP tasks (COCO, SegInW).

Both tasks add their options to the one parser of run_eval.py; the shared ones are added by whichever task comes
first, so that `--mask-selection refine` applies to both in `--task all`.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from ...errors import UsageError
from ...params import TaskParams, evaluation_only
from .mask_ap import IMPLEMENTATIONS, IOU_TYPE, MAX_DETS, default_implementation
from .protocol import DEFAULT_BOX_BATCH, DEFAULT_MASK_SELECTION, MASK_SELECTIONS, MASK_THRESHOLD

PREDICTIONS = "none: masks from --predictions"  # `prompts` of a run scoring another method's masks


@dataclass(frozen=True)
class BoxPromptParams(TaskParams):
    """The parameters COCO and SegInW share (each task's own extend them): where the prompts come from, how boxes
    become masks (sources: protocol.py, prompts.py) and how masks are scored (mask_ap.py)."""

    prompts: str = "detections"  # "detections", "ground truth" (an oracle) or PREDICTIONS (no model)
    oracle: bool = False
    ground_truth_score: float | None = None  # the score of every ground-truth prompt (oracle runs)
    mask_selection: str = DEFAULT_MASK_SELECTION
    box_batch: int = DEFAULT_BOX_BATCH
    mask_threshold: float = MASK_THRESHOLD
    iou_type: str = evaluation_only(IOU_TYPE)
    max_dets: tuple[int, ...] = evaluation_only(MAX_DETS)
    coco_eval: str = evaluation_only(default_implementation())  # which COCOeval scores: same numbers, same masks


def box_prompt_notes(params: BoxPromptParams, oracle_note: str) -> dict[str, str]:
    """How the shared protocol reads its inputs, in words (`Task.protocol_notes`); `oracle_note` for oracle runs."""
    notes = {"mask_ap": "the detections' bbox is dropped before COCO.loadRes, so only the masks are scored"}
    if params.prompts != PREDICTIONS:
        notes.update(box_format="COCO [x, y, w, h] -> [x, y, x + w, y + h], not clipped",
                     image_decoding="cv2.imread, BGR -> RGB")  # fmt: skip
    if params.oracle:
        notes["oracle"] = oracle_note
    return notes


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
    """The `BoxPromptParams` fields of how boxes become masks, from the command line."""
    if args.box_batch < 1:
        raise UsageError(f"--box-batch must be positive, got {args.box_batch}")
    return {"mask_selection": args.mask_selection, "box_batch": args.box_batch}


def evaluation_params(args: argparse.Namespace) -> dict[str, Any]:
    """The `BoxPromptParams` fields of how masks are scored, from the command line."""
    return {"coco_eval": args.coco_eval}
