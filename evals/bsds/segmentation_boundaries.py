"""Boundary map of a label image, as the bench's ``seg2bdry(seg, 'imageSize')`` computes it.

Source: BSR ``bench/benchmarks/seg2bdry.m``. It marks label changes on a double-size grid (edgels between
vertically and horizontally adjacent pixels, plus the junction points between them), copies the second
row/column of that grid onto its border, and ``'imageSize'`` keeps ``bdry(3:2:end, 3:2:end)``. Worked out on
that grid, pixel (i, j) of the result (0-based) is on when:

- i < H-1 and j < W-1: ``seg[i,j] != seg[i,j+1]`` or ``seg[i+1,j] != seg[i+1,j+1]`` or
  ``seg[i,j] != seg[i+1,j]`` or ``seg[i,j+1] != seg[i+1,j+1]`` (the junction point below-right of the pixel);
- last row, j < W-1: ``seg[H-1,j] != seg[H-1,j+1]``; last column, i < H-1: ``seg[i,W-1] != seg[i+1,W-1]``;
- the bottom-right pixel: never.

This is how the BSDS500 ``groundTruth{k}.Boundaries`` were made from ``groundTruth{k}.Segmentation``; the tests
check that identity on the bench data.
"""

from __future__ import annotations

import numpy as np


def segmentation_boundaries(segmentation: np.ndarray) -> np.ndarray:
    """Boolean (H, W) boundary map of an integer (H, W) label image, ``seg2bdry(seg, 'imageSize')``."""
    seg = np.asarray(segmentation)
    if seg.ndim != 2:
        raise ValueError(f"a segmentation must be a 2-D label image, got shape {seg.shape}")
    horizontal = seg[:, :-1] != seg[:, 1:]  # (H, W-1): label change between (i, j) and (i, j+1)
    vertical = seg[:-1, :] != seg[1:, :]  # (H-1, W): label change between (i, j) and (i+1, j)
    boundaries = np.zeros(seg.shape, dtype=bool)
    boundaries[:-1, :-1] = horizontal[:-1] | horizontal[1:] | vertical[:, :-1] | vertical[:, 1:]
    boundaries[-1, :-1] = horizontal[-1]
    boundaries[:-1, -1] = vertical[:, -1]
    return boundaries
