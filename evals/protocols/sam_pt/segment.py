"""SAM-PT's per-frame core: tracked points of each object -> SAM prompts -> one mask (or none) per object.

As SamPt._apply_sam_to_trajectories in sam_pt/modeling/sam_pt.py (SysCV/sam-pt, v1 c17ab94), with its options in
`SamPtOptions` (options.py) so that other protocols reuse it (the UVO task: no refinement, no negatives from other
objects; its track scores are evals/uvo/vis.py's `sam_pt_track_score`):

Prompts of an object on a frame (prepare_points):
- its own visible points, the first `positive_points` labelled 1 (foreground), the rest 0 (background);
- with negatives_from_other_objects and more than one object in its group: the visible positive points of the
  group's other objects, labelled 0.
A point is visible where the tracker says so and it is not within 1% of the frame's size from the border
(`hide_points_near_border`, SamPt._track_points' OUTSIDE_FRAME).

Mask of an object on a frame (predict_mask), all SAM calls single-mask (multimask_output=False):
1. no prompt point at all (own or other objects'): empty mask, and SAM is not asked (no IoU);
2. with negative points in the protocol: SAM on the positive prompt points alone, then SAM on all prompt points
   with the first call's low-res logits as mask input (without: one call on all prompt points);
3. refinement, `refinement_iterations` times (12 in SAM-PT v1): the box around the current mask (logits > 0,
   [x_min, y_min, x_max, y_max] of its pixels), the prompt points and the last low-res logits; stops early when
   the mask has fewer than 2 pixels;
4. the mask is dropped (empty) when SAM's predicted IoU of the final mask is below `iou_threshold` (0.7).
Note: SAM-PT empties a mask only when *no* prompt point is visible; an object whose own positives are all hidden
still gets a mask from its negatives (its first call then has no points) if SAM's IoU passes the threshold.

The frame's embedding is computed once (`model.set_image`) and reused by every object and every call.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models.prompt_model import PromptModel

from .options import SamPtOptions


@dataclass(frozen=True)
class ObjectPrompt:
    coords: np.ndarray  # M x 2 float32 (x, y) in pixels of the frame
    labels: np.ndarray  # M int: 1 foreground, 0 background


@dataclass(frozen=True)
class ObjectMask:
    logits: torch.Tensor | None  # H x W at the frame's size (mask = logits > 0); None: empty mask
    iou: float | None  # SAM's predicted IoU of the final mask; None when SAM was not asked (no visible point)


def hide_points_near_border(trajectories: np.ndarray, visibilities: np.ndarray, height: int, width: int,
                            margin: float) -> np.ndarray:  # fmt: skip
    """Visibilities with points closer than `margin` x the frame's size to its border (or outside it) hidden."""
    x = trajectories[..., 0] / width
    y = trajectories[..., 1] / height
    inside = (x >= margin) & (x <= 1 - margin) & (y >= margin) & (y <= 1 - margin)
    return visibilities & inside


def object_groups(n_objects: int, group_size: int) -> list[range]:
    """Objects go through SAM-PT in groups (vos_eval_root.yaml masks_batch_size, 5 in v1), in id order."""
    return [range(start, min(start + group_size, n_objects)) for start in range(0, n_objects, group_size)]


def object_prompts(trajectories: np.ndarray, visibilities: np.ndarray, options: SamPtOptions) -> list[ObjectPrompt]:
    """Prompts of every object on one frame from its tracked points (K x P x 2) and visibilities (K x P)."""
    n_objects, n_points = visibilities.shape
    own_labels = (np.arange(n_points) < options.positive_points).astype(int)
    prompts = []
    for group in object_groups(n_objects, options.object_group_size):
        for k in group:
            coords = [trajectories[k][visibilities[k]]]
            labels = [own_labels[visibilities[k]]]
            if options.negatives_from_other_objects and len(group) > 1:
                for other in group:
                    if other != k:
                        shown = visibilities[other, : options.positive_points]
                        coords.append(trajectories[other, : options.positive_points][shown])
                        labels.append(np.zeros(int(shown.sum()), dtype=int))
            prompts.append(ObjectPrompt(np.concatenate(coords).astype(np.float32), np.concatenate(labels)))
    return prompts


def _box_around(mask: torch.Tensor) -> np.ndarray:
    """1 x 4 [x_min, y_min, x_max, y_max] of the mask's pixels (pixel indices, as SAM-PT takes them)."""
    rows = torch.nonzero(mask.any(dim=1))[:, 0]
    columns = torch.nonzero(mask.any(dim=0))[:, 0]
    return np.array([[columns[0].item(), rows[0].item(), columns[-1].item(), rows[-1].item()]], dtype=np.float32)


def segment_object(model: PromptModel, prompt: ObjectPrompt, options: SamPtOptions) -> ObjectMask:
    """SAM-PT's mask of one object on the frame set last on `model` (steps 1-4 of the module docstring)."""
    if len(prompt.coords) == 0:
        return ObjectMask(None, None)
    # numpy prompts, scaled to SAM's input in float64 then float32, as sam_pt.py's predict_mask scales its points
    # (`transform.apply_coords`, then torch.as_tensor(dtype=torch.float)). Its refinement box goes in unscaled, ours
    # with the points: the same at SAM-PT's 1024-px working size, where the scale is exactly 1 (options.LONGEST_SIDE).
    coords, labels = prompt.coords[None], prompt.labels[None]
    if options.negative_points > 0:
        positive = prompt.labels == 1
        first = model.predict(coords[:, positive], labels[:, positive], multimask_output=False)
        out = model.predict(coords, labels, mask_input=first.low_res, multimask_output=False)
    else:
        out = model.predict(coords, labels, multimask_output=False)
    for _ in range(options.refinement_iterations):
        mask = out.logits[0, 0] > 0
        if int(mask.sum()) < 2:
            break
        out = model.predict(coords, labels, boxes=_box_around(mask), mask_input=out.low_res, multimask_output=False)
    iou = float(out.iou[0, 0])
    if iou < options.iou_threshold:
        return ObjectMask(None, iou)
    return ObjectMask(out.logits[0, 0].detach().cpu(), iou)


def segment_frame(model: PromptModel, frame: np.ndarray, prompts: list[ObjectPrompt],
                  options: SamPtOptions) -> list[ObjectMask]:  # fmt: skip
    """Every object's mask on `frame` (H x W x 3 uint8 RGB), one image embedding for all of them."""
    if all(len(p.coords) == 0 for p in prompts):
        return [ObjectMask(None, None) for _ in prompts]
    model.set_image(frame)
    return [segment_object(model, prompt, options) for prompt in prompts]
