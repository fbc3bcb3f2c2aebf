"""Frames and masks at SAM-PT's working size (1024 px longest side) and back to the annotation's size.

sam_pt/vos_eval/data/video_reader.py (VideoReader with longest_size=1024, vos_eval_root.yaml): a frame goes through
segment_anything's `ResizeLongestSide(1024).apply_image` (PIL bilinear) and a first-frame mask through
`F.interpolate(mode='nearest')` to `ResizeLongestSide.get_preprocess_shape`; point tracking and SAM both work on
those frames. SamPt.forward (sam_pt/modeling/sam_pt.py) then resizes each object's logits to the output size with
`F.interpolate(mode='bilinear', align_corners=False)` (DAVIS 480p: 480 x 854 from 576 x 1024).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.utils.transforms import ResizeLongestSide

from ...images import open_pil
from .options import LONGEST_SIDE


def working_size(height: int, width: int) -> tuple[int, int]:
    """(H, W) of a height x width frame resized to LONGEST_SIDE on its longest side."""
    return ResizeLongestSide.get_preprocess_shape(height, width, LONGEST_SIDE)


def read_working_frame(path: Path) -> np.ndarray:
    """A JPEG frame as H x W x 3 uint8 RGB at the working size (a missing, truncated or undecodable file is a
    DataError naming it, evals/images.py)."""
    rgb = np.asarray(open_pil(path).convert("RGB"))
    return ResizeLongestSide(LONGEST_SIDE).apply_image(rgb)


def resize_mask_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A binary mask resized to `size` (H, W) by nearest neighbour, as torch's F.interpolate(mode='nearest')."""
    resized = F.interpolate(torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None], size, mode="nearest")
    return resized[0, 0].numpy() > 0.5


def resize_logits(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """H x W logits resized to `size` (H', W') bilinearly (align_corners=False)."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits[None, None].float(), size, mode="bilinear", align_corners=False)[0, 0]
