"""Morphological thinning as MATLAB's ``bwmorph(bw, 'thin', inf)``, for one map or a stack of maps at once.

Source of the requirement: BSR ``bench/benchmarks/evaluation_bdry_image.m`` thins every thresholded map
(``bmap = double(bwmorph(bmap, 'thin', inf))``). MATLAB documents 'thin' as the two-subiteration parallel
algorithm of Guo and Hall (1989), as written in Lam, Lee and Suen, "Thinning methodologies - a comprehensive
survey", IEEE PAMI 14(9), p. 879; ``skimage.morphology.thin`` implements the same algorithm. Pixels outside
the image count as background (MATLAB's ``bwlookup`` pads with zeros).

With the neighbours of p numbered x1..x8 counter-clockwise from east (x1 = E, x2 = NE, x3 = N, x4 = NW,
x5 = W, x6 = SW, x7 = S, x8 = SE, x9 = x1), a foreground pixel is deleted in a subiteration when

- G1: exactly one i in 1..4 has ``x(2i-1) == 0 and (x(2i) or x(2i+1))``;
- G2: ``2 <= min(n1, n2) <= 3`` with ``n1 = sum_k (x(2k-1) or x(2k))``, ``n2 = sum_k (x(2k) or x(2k+1))``;
- G3 (first subiteration): ``(x2 or x3 or not x8) and x1`` is false;
  G3' (second subiteration): ``(x6 or x7 or not x4) and x5`` is false.

Deletions of a subiteration are decided on the map as it was before it (parallel); the two subiterations
repeat until a full iteration deletes nothing.

Verified: equal to ``skimage.morphology.thin`` on random maps and on thresholded soft maps (tests), and
thinning the bench's ``seg2bdry(Segmentation)`` reproduces every ``groundTruth{k}.Boundaries`` of the 200
BSDS500 test images exactly (1063 of 1063 annotations), which is how the BSDS authors made them in MATLAB.
(pyEdgeEval's ``binary_thin`` stops as soon as a first subiteration deletes nothing, skipping the second: it
leaves 1-15 extra pixels at 8 of 99 thresholds of a Sobel map, where this module, skimage and MATLAB agree.)

Speed: low thresholds of a soft map give large blobs that need ~50 iterations, so the kernel (numba) only
revisits pixels next to a deletion of the two previous subiterations. A pixel whose 8-neighbourhood did not
change since subiteration s-2 was judged at s-2 by the same rule on the same neighbourhood and kept, so it is
kept again; the result is identical to thinning each map by full passes, at a cost that follows the number of
deleted pixels rather than (iterations x image size).
"""

from __future__ import annotations

import numba
import numpy as np

from evals.bsds.frames import Frames, frames_from_maps

# (dy, dx) of the neighbours x1..x8: E, NE, N, NW, W, SW, S, SE; bit k-1 of a neighbourhood code is xk.
NEIGHBOUR_OFFSETS = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1))


def _deletion_table(subiteration: int) -> np.ndarray:
    """Table over the 256 neighbourhood codes: 1 where the (foreground) centre pixel is deleted."""
    codes = np.arange(256)
    x = [None] + [(codes >> k) & 1 for k in range(8)]  # x[1]..x[8]
    x.append(x[1])  # x9 = x1
    crossings = sum((1 - x[2 * i - 1]) & (x[2 * i] | x[2 * i + 1]) for i in range(1, 5))
    n1 = sum(x[2 * k - 1] | x[2 * k] for k in range(1, 5))
    n2 = sum(x[2 * k] | x[2 * k + 1] for k in range(1, 5))
    smaller = np.minimum(n1, n2)
    g1 = crossings == 1
    g2 = (smaller >= 2) & (smaller <= 3)
    if subiteration == 0:
        g3 = ((x[2] | x[3] | (1 - x[8])) & x[1]) == 0
    else:
        g3 = ((x[6] | x[7] | (1 - x[4])) & x[5]) == 0
    return (g1 & g2 & g3).astype(np.uint8)


DELETION_TABLES = np.stack([_deletion_table(0), _deletion_table(1)])  # (2, 256)


def thin(image: np.ndarray) -> np.ndarray:
    """``bwmorph(image, 'thin', inf)`` of one 2-D map (nonzero = foreground); returns a bool array."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"thin expects a 2-D map, got shape {image.shape}")
    return thin_stack(image[None])[0]


def thin_stack(maps: np.ndarray) -> np.ndarray:
    """Thin each map of a (K, H, W) stack independently: ``bwmorph(maps[k], 'thin', inf)`` for every k."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"thin_stack expects a (K, H, W) stack, got shape {maps.shape}")
    frames = frames_from_maps(maps, margin=1)
    thin_frames(frames)
    return frames.maps()


def thin_frames(frames: Frames) -> None:
    """Thin every map of ``frames`` in place (margin >= 1: outside the image is background)."""
    if frames.margin < 1:
        raise ValueError("thinning needs a margin of at least one pixel")
    row = frames.row
    offsets = np.array([dy * row + dx for dy, dx in NEIGHBOUR_OFFSETS], dtype=np.int64)
    _thin_frames(frames.flat, row, offsets, DELETION_TABLES)


@numba.njit(cache=True, nogil=True)
def _queue(p, image, stamp, mark, candidates, n_candidates):  # pragma: no cover - compiled
    """Append foreground pixel ``p`` to ``candidates`` once per round ``mark``; returns the new count."""
    if image[p] and stamp[p] != mark:
        stamp[p] = mark
        candidates[n_candidates] = p
        n_candidates += 1
    return n_candidates


@numba.njit(cache=True, nogil=True)
def _thin_frames(frames, row, offsets, tables):  # pragma: no cover - compiled
    """Thin every padded, flattened map of ``frames`` (K, size) in place (a zero frame of >= 1 pixel)."""
    size = frames.shape[1]
    stamp = np.zeros(size, dtype=np.int64)  # last round that queued a pixel
    initial = np.empty(size, dtype=np.int64)
    candidates = np.empty(size, dtype=np.int64)
    fresh = np.empty(size, dtype=np.int64)  # pixels next to the last deletions: judged by one rule so far
    deleted = np.empty(size, dtype=np.int64)
    o0, o1, o2, o3, o4, o5, o6, o7 = (
        offsets[0],
        offsets[1],
        offsets[2],
        offsets[3],
        offsets[4],
        offsets[5],
        offsets[6],
        offsets[7],
    )
    mark = 0
    for k in range(frames.shape[0]):
        image = frames[k]
        # Only a pixel with a 4-neighbour in the background can satisfy G1.
        n_initial = 0
        words = image.view(np.uint64)
        for word in range(words.shape[0]):
            if words[word] == 0:
                continue
            for p in range(word * 8, word * 8 + 8):
                if image[p] and not (image[p - 1] and image[p + 1] and image[p - row] and image[p + row]):
                    initial[n_initial] = p
                    n_initial += 1
        candidates[:n_initial] = initial[:n_initial]
        n_candidates = n_initial
        n_fresh = 0
        subiteration = 0
        idle = 0
        while idle < 2:
            table = tables[subiteration & 1]
            n_deleted = 0
            for i in range(n_candidates):
                p = candidates[i]
                if image[p] == 0:
                    continue
                code = (
                    image[p + o0]
                    | (image[p + o1] << 1)
                    | (image[p + o2] << 2)
                    | (image[p + o3] << 3)
                    | (image[p + o4] << 4)
                    | (image[p + o5] << 5)
                    | (image[p + o6] << 6)
                    | (image[p + o7] << 7)
                )
                if table[code]:
                    deleted[n_deleted] = p
                    n_deleted += 1
            for i in range(n_deleted):
                image[deleted[i]] = 0
            idle = 0 if n_deleted else idle + 1
            # Next candidates: foreground 8-neighbours of these deletions (new neighbourhoods, to be judged by
            # both rules), the previous fresh pixels (judged by this rule only), and after the first
            # subiteration every initial candidate (not yet judged by the second rule).
            mark += 1
            n_candidates = 0
            for i in range(n_deleted):
                for b in range(8):
                    n_candidates = _queue(deleted[i] + offsets[b], image, stamp, mark, candidates, n_candidates)
            n_new = n_candidates
            for i in range(n_fresh):
                n_candidates = _queue(fresh[i], image, stamp, mark, candidates, n_candidates)
            if subiteration == 0:
                for i in range(n_initial):
                    n_candidates = _queue(initial[i], image, stamp, mark, candidates, n_candidates)
            fresh[:n_new] = candidates[:n_new]
            n_fresh = n_new
            subiteration += 1
