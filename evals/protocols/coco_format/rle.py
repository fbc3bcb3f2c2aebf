"""Masks as COCO run-length encodings (compressed RLE, ``counts`` a str), the results format's `segmentation`.

Encoding as the references do (TinySAM eval/tinysam_zero_shot_ins_eval.py:
``mask_util.encode(np.array(mask, order="F", dtype="uint8"))`` then ``counts.decode("utf-8")``; EfficientViT-SAM's
eval script the same on ``mask[:, :, None]``), at the image's original resolution. Encoding N masks at once (an
H x W x N Fortran array) gives the same RLEs as one at a time.
"""
from __future__ import annotations

import numpy as np

# pycocotools is imported where it is used: the command line imports the task modules, and --help must not wait for it.


def encode_masks(masks: np.ndarray) -> list[dict]:
    """N x H x W boolean masks -> N compressed RLEs ``{"size": [H, W], "counts": str}``."""
    from pycocotools import mask as mask_util

    if masks.ndim != 3:
        raise ValueError(f"expected N x H x W masks, got shape {masks.shape}")
    if len(masks) == 0:
        return []
    rles = mask_util.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    return [{"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("utf-8")} for rle in rles]


def decode_mask(rle: dict) -> np.ndarray:
    """A compressed RLE -> H x W boolean mask."""
    from pycocotools import mask as mask_util

    counts = rle["counts"]
    return mask_util.decode({"size": rle["size"], "counts": counts.encode() if isinstance(counts, str) else counts}) > 0


def compressed_rle(segmentation, height: int, width: int) -> dict:
    """Any COCO segmentation (polygons, uncompressed RLE with a list of counts, or compressed RLE with str or bytes
    counts) -> compressed RLE with str counts, of size `height` x `width` (another size is an error).

    Results files of other methods may hold any of these; COCO.loadRes takes only compressed RLE for masks
    ("now only support compressed RLE format as segmentation results"), so they are converted here, with the same
    pycocotools calls as COCO.annToRLE uses for ground truth (frPyObjects, then merge for polygons).
    """
    from pycocotools import mask as mask_util

    if isinstance(segmentation, list):  # polygons [[x0, y0, x1, y1, ...], ...]
        rle = mask_util.merge(mask_util.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        rle = mask_util.frPyObjects(segmentation, height, width)
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), (str, bytes)):
        rle = segmentation
    else:
        raise ValueError(f"not a COCO segmentation: {str(segmentation)[:200]}")
    size = [int(s) for s in rle["size"]]
    if size != [height, width]:
        raise ValueError(f"segmentation of size {size[1]}x{size[0]} for an image of {width}x{height}")
    counts = rle["counts"]
    return {"size": size, "counts": counts.decode("utf-8") if isinstance(counts, bytes) else counts}
