"""Machine maps with a zero margin, the layout that thinning and matching work on in place (no copies).

Each of the K maps is stored in a (H + 2m, W') uint8 frame with the map at rows/columns m.., zero elsewhere,
W' >= W + 2m rounded up so that a frame holds a whole number of 8-byte words (the kernels skip empty words).
The margin m must cover the widest neighbourhood used: 1 pixel for thinning, the match radius for matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Frames:
    data: np.ndarray  # (K, H + 2*margin, row) uint8, 0/1
    margin: int
    height: int
    width: int

    @property
    def row(self) -> int:
        return self.data.shape[2]

    @property
    def flat(self) -> np.ndarray:
        """(K, size) view used by the kernels."""
        return self.data.reshape(self.data.shape[0], -1)

    def maps(self) -> np.ndarray:
        """The (K, H, W) boolean maps."""
        m = self.margin
        return self.data[:, m : m + self.height, m : m + self.width].astype(bool)

    def counts(self) -> np.ndarray:
        """Foreground pixels of each map."""
        return self.flat.sum(axis=1, dtype=np.int64)


def empty_frames(count: int, height: int, width: int, margin: int) -> Frames:
    row = width + 2 * margin
    rows = height + 2 * margin
    while (rows * row) % 8:
        row += 1
    return Frames(np.zeros((count, rows, row), dtype=np.uint8), margin, height, width)


def frames_from_maps(maps: np.ndarray, margin: int) -> Frames:
    """Frames holding the (K, H, W) maps (nonzero = foreground)."""
    maps = np.asarray(maps)
    frames = empty_frames(maps.shape[0], maps.shape[1], maps.shape[2], margin)
    m = margin
    np.not_equal(maps, 0, out=frames.data[:, m : m + maps.shape[1], m : m + maps.shape[2]].view(bool))
    return frames


def frames_from_soft_map(soft: np.ndarray, thresholds: np.ndarray, margin: int) -> Frames:
    """Frames of ``soft >= t`` for each threshold t (BSR ``evaluation_bdry_image.m``: ``bmap = (pb>=thresh(t))``)."""
    frames = empty_frames(thresholds.size, soft.shape[0], soft.shape[1], margin)
    m = margin
    inner = frames.data[:, m : m + soft.shape[0], m : m + soft.shape[1]].view(bool)
    for k, t in enumerate(thresholds):
        np.greater_equal(soft, t, out=inner[k])
    return frames
