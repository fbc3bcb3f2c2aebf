"""Per-object masks of a frame -> one object-id map, as SAM-PT writes its DAVIS results.

sam_pt/modeling/sam_pt.py (SamPt.forward) resizes each object's logits to the output size (bilinear,
align_corners=False); sam_pt/vos_eval/eval.py stacks a background channel of zero logits before the objects
(`torch.zeros_like` + the objects' logits), applies softmax over the channels (F.softmax(logits, dim=1) on frames x
channels x H x W) and takes the argmax. So a pixel belongs to the object with the largest logit when that logit is
above 0, else to the background; a tie goes to the lower channel (torch.argmax returns the first maximum), i.e. to
the background or the lower object id. The softmax is applied as there, not skipped: in float32 it can round two
close logits to one probability, which hands the pixel to the lower channel where the logits alone would not.
A dropped mask (SAM-PT: logits of -inf) takes no pixel.
"""
from __future__ import annotations

import numpy as np
import torch

from .frames import resize_logits
from .segment import ObjectMask


def merge_object_masks(masks: list[ObjectMask], size: tuple[int, int]) -> np.ndarray:
    """uint8 H x W id map at `size` (H, W): 0 background, k + 1 for masks[k]."""
    channels = torch.full((len(masks) + 1, *size), -torch.inf)
    channels[0] = 0.0
    for k, mask in enumerate(masks):
        if mask.logits is not None:
            channels[k + 1] = resize_logits(mask.logits, size)
    probabilities = torch.softmax(channels[None], dim=1)[0]  # SAM-PT's layout: 1 frame x channels x H x W
    return torch.argmax(probabilities, dim=0).to(torch.uint8).numpy()
