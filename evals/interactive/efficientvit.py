"""The `efficientvit` protocol: box and click prompt mIoU as EfficientViT-SAM's evaluation script runs it.

Source: mit-han-lab/efficientvit de7d773, `applications/efficientvit_sam/eval_efficientvit_sam_model.py`
(`run_box`, `run_point`, `predict_mask_from_box`, `predict_mask_from_point`, `ann_to_mask`) with
`sam_eval_utils.py` (`iou`, `get_iou_metric`, `Clicker`). Each choice, with the line it follows:
- objects: every annotation of the image with `area >= 1` (`if ann["area"] < 1: continue`), crowd regions
  included; the ground truth is `ann_to_mask` (pycocotools frPyObjects / merge / decode, `Instance.mask`);
- box mode: the annotation's box `[x, y, x + w, y + h]` (`bbox_xywh_to_xyxy`), multimask output, the mask of the
  highest predicted IoU (`masks[iou_predictions.argmax()]`, the first on ties);
- point mode: the RITM clicker (clicker.py) on the ground truth and the previous prediction (empty before the first
  click); every click so far is sent each round (positive 1 / negative 0), multimask output, the mask of the highest
  predicted IoU; no mask is fed back; the script's k-click number is the IoU after the k-th click, so one run of N
  clicks gives every k <= N (the click sequence does not depend on N);
- IoU: `intersection / (union + 1e-7) * 100` on the boolean masks at the image's resolution (`iou`).
What is ours: the objects of an image are decoded together, `batch` at a time (one decoder call per round for all
of them; the reference decodes one object at a time). With batch 1 the calls are the reference's own and the
results identical; batched, the decoder's matrix products sum in another order and a few mask pixels may flip (on
the 42 reference objects: the same clicks, IoUs within 8e-6 percentage points; tests/test_interactive.py).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..protocols.coco_format.rle import encode_masks
from .clicker import Click, Clicker
from .instances import Instance

if TYPE_CHECKING:
    from models.prompt_model import PromptModel

MIN_AREA = 1.0  # `if ann["area"] < 1: continue`
MASK_THRESHOLD = 0.0  # the predictors' `masks > mask_threshold` (segment_anything Sam.mask_threshold)


@dataclass(frozen=True)
class FrozenPrompts:
    """One object's prompts read back from a prompt file: they replace the box and the clicker's clicks."""

    box: tuple[float, float, float, float] | None
    clicks: tuple[tuple[int, int, int], ...]  # (x, y, label)


def iou_percent(prediction: np.ndarray, ground_truth: np.ndarray) -> float:
    """`sam_eval_utils.iou`, in the same operations."""
    intersection = np.count_nonzero(prediction & ground_truth)
    union = np.count_nonzero(prediction | ground_truth)
    return float(intersection / (union + 1e-7)) * 100


def run_efficientvit(
    model: PromptModel,
    instances: Sequence[Instance],
    height: int,
    width: int,
    prompts: Sequence[str] = ("box", "point"),
    clicks: int = 5,
    batch: int = 16,
    frozen: dict[int, FrozenPrompts] | None = None,
) -> list[dict]:
    """One record per prompted object of the image set last (`model.set_image`), in the annotation file's order:
    ``{annotation_id, area, iscrowd, box, box_iou, box_mask, clicks: [[x, y, label], ...], ious: [IoU after each
    click], mask}`` (IoUs in %, masks as compressed RLEs: the box's and the last click's)."""
    objects = [instance for instance in instances if instance.area >= MIN_AREA]
    frozen = frozen or {}
    records = []
    for start in range(0, len(objects), batch):
        chunk = objects[start : start + batch]
        truths = np.stack([instance.mask(height, width) for instance in chunk])
        chunk_records = [
            {"annotation_id": o.annotation_id, "area": o.area, "iscrowd": o.iscrowd, "box": None, "box_iou": None,
             "box_mask": None, "clicks": [], "ious": [], "mask": None}
            for o in chunk
        ]  # fmt: skip
        if "box" in prompts:
            boxes = np.array([_box(o, frozen.get(o.annotation_id)) for o in chunk], dtype=np.float64)
            masks = _best_masks(model, boxes=boxes)
            for record, box, mask, truth in zip(chunk_records, boxes, masks, truths):
                record.update(box=box.tolist(), box_iou=iou_percent(mask, truth))
            for record, rle in zip(chunk_records, encode_masks(masks)):
                record["box_mask"] = rle
        if "point" in prompts and clicks > 0:
            _click_rounds(model, chunk, truths, chunk_records, clicks, frozen)
        records += chunk_records
    return records


def _box(instance: Instance, frozen: FrozenPrompts | None) -> tuple[float, float, float, float]:
    if frozen is not None and frozen.box is not None:
        return frozen.box
    return instance.xyxy  # bbox_xywh_to_xyxy: Python floats, then np.array (float64)


def _click_rounds(model, chunk, truths, records, clicks: int, frozen: dict[int, FrozenPrompts]) -> None:
    clickers = [Clicker(truth) for truth in truths]
    predictions = np.zeros_like(truths)
    for round_index in range(clicks):
        for i, (instance, clicker) in enumerate(zip(chunk, clickers)):
            given = frozen.get(instance.annotation_id)
            if given is not None:
                if len(given.clicks) <= round_index:
                    raise ValueError(f"the prompt file gives {len(given.clicks)} clicks for annotation "
                                     f"{instance.annotation_id}; this run makes {clicks}")  # fmt: skip
                x, y, label = given.clicks[round_index]
                clicker.add(Click(int(x), int(y), bool(label)))
            else:
                clicker.next_click(predictions[i])
        coords = np.array([[(c.x, c.y) for c in clicker.clicks] for clicker in clickers], dtype=np.float64)
        labels = np.array([[c.label for c in clicker.clicks] for clicker in clickers])
        predictions = _best_masks(model, point_coords=coords, point_labels=labels)
        for record, prediction, truth in zip(records, predictions, truths):
            record["ious"].append(iou_percent(prediction, truth))
    for record, clicker in zip(records, clickers):
        record["clicks"] = [[c.x, c.y, c.label] for c in clicker.clicks]
    for record, rle in zip(records, encode_masks(predictions)):
        record["mask"] = rle


def _best_masks(model: PromptModel, **prompts) -> np.ndarray:
    """B x H x W bool: of each prompt's multimask outputs, the one with the highest predicted IoU."""
    import torch

    with torch.inference_mode():
        # numpy prompts, scaled in float64 then float32: predict_mask_from_box / _from_point call predictor.predict
        # (EfficientViTSamPredictor.predict, SamPredictor's for the other families) with numpy arrays.
        prediction = model.predict(**prompts, multimask_output=True)
        best = prediction.iou.argmax(dim=1)
        rows = torch.arange(len(best), device=best.device)
        return (prediction.logits[rows, best] > MASK_THRESHOLD).cpu().numpy()
