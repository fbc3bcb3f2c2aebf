"""Box prompts -> SAM masks: the protocol of box-prompted zero-shot instance segmentation, each choice with its source.

References: the SAM paper (Kirillov et al. 2023, arXiv:2304.02643), appendix D.4 "Zero-Shot Instance Segmentation";
TinySAM eval/tinysam_zero_shot_ins_eval.py (xinghaochen/TinySAM); EfficientViT-SAM
applications/efficientvit_sam/eval_efficientvit_sam_model.py, ``run_box_from_detector`` (mit-han-lab/efficientvit).

One image embedding per image (``set_image``), then every box of the image through the prompt encoder and mask
decoder, `box_batch` boxes at a time. TinySAM's and EfficientViT-SAM's scripts decode one box per call through
``SamPredictor.predict``, sam-hq's SegInW script all boxes of an image in one ``predict_torch`` call; batching changes
nothing but floating-point summation order inside the decoder's matrix products. The boxes reach the model as the
task's reference hands them to its predictor (`BOX_TYPES`), which sets the precision of their scaling to the 1024
input.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..coco_format.rle import encode_masks
from .prompts import BoxPrompt

if TYPE_CHECKING:  # torch is imported where it is used: the command line imports this module for its option values
    import torch

    from models.prompt_model import PromptModel

# Which mask of the decoder becomes the detection's mask (`--mask-selection`):
#   best    multimask output (3 masks), keep the one with the highest predicted IoU: TinySAM
#           (``predictor.predict(box=...)``, multimask_output defaults to True; ``masks[np.argmax(ious)]``) and
#           EfficientViT-SAM (``predict_mask_from_box``: ``multimask_output=True``,
#           ``masks[iou_predictions.argmax()]``).
#           The default: the protocol of the public COCO eval scripts of the efficient SAM variants above.
#   single  one mask (``multimask_output=False``): SAM's output token for unambiguous prompts.
#   refine  the SAM paper, appendix D.4: "We apply an additional mask refinement iteration by feeding the most
#           confident predicted mask, together with the box prompt, back to the mask decoder to produce the final
#           prediction": 'best', then a second decoder pass with the same box and the chosen mask's 256x256
#           low-resolution logits as ``mask_input``. The paper does not say whether that pass is multimask; we take
#           its single-mask output (SAM's own choice for a prompt that is no longer ambiguous: the predictor's
#           docstring advises multimask_output=False for multiple prompts).
MASK_SELECTIONS = ("best", "single", "refine")
DEFAULT_MASK_SELECTION = "best"
# segment_anything Sam.mask_threshold = 0.0: SamPredictor.predict returns ``masks > mask_threshold`` on the logits
# upscaled to the original image size (Sam.postprocess_masks), which is what both references encode.
MASK_THRESHOLD = 0.0
# The array type a reference script gives its predictor the boxes in, and so how PromptModel.predict scales them to the
# 1024 input: "numpy", as ``SamPredictor.predict(box=...)`` (``apply_boxes`` in float64, then float32); "torch", as
# ``predict_torch`` after ``apply_boxes_torch`` (float32). The two differ in the last float32 bit of a coordinate, which
# can flip a mask pixel (TinySAM's COCO script on the parity weights: one pixel of one of 34 masks).
BOX_TYPES = ("numpy", "torch")
# Boxes per decoder call. Only memory depends on it: SamPredictor's postprocessing upsamples every output mask to
# 1024 x 1024 float32 before cropping, i.e. 64 boxes x 3 masks x 4 MiB = 0.8 GB transient with multimask output.
DEFAULT_BOX_BATCH = 64


def segment_image(model: PromptModel, image: np.ndarray | None, prompts: Sequence[BoxPrompt], mask_selection: str,
                  box_batch: int, box_type: str) -> list[dict]:  # fmt: skip
    """The detections of one image (see `segment_boxes`); an image without prompts is not embedded at all."""
    if not prompts:
        return []
    model.set_image(image)
    return segment_boxes(model, prompts, mask_selection, box_batch, box_type)


def segment_boxes(model: PromptModel, prompts: Sequence[BoxPrompt], mask_selection: str, box_batch: int,
                  box_type: str) -> list[dict]:  # fmt: skip
    """One detection per prompt, in order: ``{bbox, category_id, score, segmentation}`` with the prompt's box,
    category and score and the mask as a compressed RLE at the image's resolution; the boxes go to the model as
    `box_type` arrays (`BOX_TYPES`). `set_image` must have been called on the prompts' image."""
    if mask_selection not in MASK_SELECTIONS:
        raise ValueError(f"unknown mask selection {mask_selection!r}; one of {', '.join(MASK_SELECTIONS)}")
    if box_batch < 1:
        raise ValueError(f"box batch must be positive, got {box_batch}")
    if box_type not in BOX_TYPES:
        raise ValueError(f"unknown box type {box_type!r}; one of {', '.join(BOX_TYPES)}")
    detections = []
    for start in range(0, len(prompts), box_batch):
        chunk = prompts[start : start + box_batch]
        boxes = np.array([prompt.xyxy for prompt in chunk], dtype=np.float64)
        masks = _decode_masks(model, _as_box_type(boxes, box_type), mask_selection)
        for prompt, rle in zip(chunk, encode_masks(masks)):
            detection = {"bbox": list(prompt.bbox), "category_id": prompt.category_id, "score": prompt.score}
            detections.append({**detection, "segmentation": rle})
    return detections


def _as_box_type(boxes: np.ndarray, box_type: str) -> np.ndarray | torch.Tensor:
    if box_type == "numpy":
        return boxes
    import torch

    return torch.from_numpy(boxes)  # apply_boxes_torch rounds them to float32 first: a detector's float32 boxes


def _decode_masks(model: PromptModel, boxes: np.ndarray | torch.Tensor, mask_selection: str) -> np.ndarray:
    """B x H x W boolean masks for B boxes (x0, y0, x1, y1)."""
    import torch

    if mask_selection == "single":
        return _binarize(model.predict(boxes=boxes, multimask_output=False).logits[:, 0])
    first = model.predict(boxes=boxes, multimask_output=True)
    best = first.iou.argmax(dim=1)  # the first maximum on ties, as np.argmax
    rows = torch.arange(len(boxes), device=best.device)
    if mask_selection == "best":
        return _binarize(first.logits[rows, best])
    # (The first pass's full-resolution logits are computed for nothing here: PromptModel.predict always returns them.)
    refined = model.predict(boxes=boxes, mask_input=first.low_res[rows, best].unsqueeze(1), multimask_output=False)
    return _binarize(refined.logits[:, 0])


def _binarize(logits: torch.Tensor) -> np.ndarray:
    return (logits > MASK_THRESHOLD).cpu().numpy()
