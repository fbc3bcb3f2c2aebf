"""UVO frames as SAM-PT's VIS evaluation reads them: RGB, shorter side 360 (longer side at most 1333).

detectron2's ResizeShortestEdge(360, 1333, "choice") at test time (augmentation.py build_augmentation, with
vis_eval_root.yaml's MIN_SIZE_TEST / MAX_SIZE_TEST): scale = 360 / shorter side, shrunk further if the longer side
would pass 1333, each side rounded (int(x + 0.5)), resized by PIL with bilinear interpolation (ResizeTransform).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..images import open_pil
from .protocol import MAX_LONGER_SIDE, SHORTER_SIDE


def working_size(height: int, width: int, shorter: int = SHORTER_SIDE, longest: int = MAX_LONGER_SIDE) -> tuple[int, int]:
    """(H, W) after detectron2's ResizeShortestEdge.get_output_shape."""
    scale = shorter / min(height, width)
    new_h, new_w = (shorter, scale * width) if height < width else (scale * height, shorter)
    if max(new_h, new_w) > longest:
        rescale = longest / max(new_h, new_w)
        new_h, new_w = new_h * rescale, new_w * rescale
    return int(new_h + 0.5), int(new_w + 0.5)


def read_working_frame(path: Path) -> np.ndarray:
    """A frame as H x W x 3 uint8 RGB at the working size (a missing, truncated or undecodable file is a DataError
    naming it, evals/images.py)."""
    rgb = open_pil(path).convert("RGB")
    height, width = working_size(rgb.height, rgb.width)
    if (height, width) != (rgb.height, rgb.width):
        rgb = rgb.resize((width, height), Image.BILINEAR)
    return np.asarray(rgb)
