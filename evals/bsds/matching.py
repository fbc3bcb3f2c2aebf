"""Correspondence of machine boundary pixels with each annotator's boundary pixels, and the bench's counts.

What the bench computes (BSR ``bench/benchmarks/evaluation_bdry_image.m``; pdollar/edges ``edgesEvalImg.m``):
for every threshold and every annotator, ``correspondPixels(machine, gt, maxDist)`` matches machine pixels to
that annotator's pixels one-to-one; ``cntR`` sums the matched annotator pixels over annotators, ``sumR`` sums
the annotator pixels, ``cntP`` counts machine pixels matched to at least one annotator and ``sumP`` counts
machine pixels.

``correspondPixels`` (BSR ``correspondPixels.cc`` / ``match.cc``) solves a min-cost perfect assignment with
Goldberg's CSA: a pair of pixels within ``maxDist * diagonal`` (Euclidean, inclusive) costs its distance, an
unmatched pixel costs ``outlierCost * maxDist * diagonal`` = 100 x the radius, far more than any pair. Every
extra matched pair lowers the cost, so the optimum is a maximum-cardinality matching of the radius graph, with
the least total distance among those. CSA is given a random sparse graph of "outlier" edges (``kOfN``,
unseeded), so its result can miss the optimum by a few pixels and the MATLAB bench varies ~1e-3 between runs.

Here the matching is exact and deterministic: a maximum bipartite matching of the radius graph, so ``cntR``
equals the optimum's matched count (CSA can only fall short of it). ``cntP`` depends on which maximum matching
is taken (the union over annotators is not fixed by the sizes): taking the farthest free neighbour first
instead of the nearest moves ``cntP`` by ~1% on the bench's test images, so the search leans towards short
pairs, as the min-cost optimum does:

1. greedy by distance: for each offset, nearest first, every still unmatched annotator pixel takes the machine
   pixel at that offset if it is free;
2. augmenting paths from the still unmatched annotator pixels (depth-first, neighbours nearest first), in
   rounds: within a round, machine pixels visited by any search stay visited, so a round costs O(edges);
   rounds repeat while they augment. Augmenting never unmatches a pixel. A round that augments nothing leaves
   the matching unchanged, so its failed searches prove that no augmenting path is left: the matching is
   maximum (Berge).

Against the MATLAB outputs this keeps every compared value within 1.3e-3 (``image_evaluation``); the tests
check the matched count against ``scipy.optimize.linear_sum_assignment`` on small random cases.

On dense maps (e.g. an unsuppressed Sobel magnitude, whose thinned low thresholds are skeletons all over the
image) the bench's ``cntP`` is itself ill-determined: only reordering equally distant offsets in our search
moves it by up to 3% at a threshold (2685 to 2764 of 4029 machine pixels, BSDS test image 100007, t = 0.31).
There pyEdgeEval (the original CSA ``correspondPixels``) gives 2731, inside that range; summed over 99
thresholds our ``cntP`` is 0.43% below CSA's and ``cntR`` 0.02% above it. On edge-NMS maps and segmentations,
as in the bench's tests, the spread is ~0.1%.

Why not ``scipy.sparse.csgraph.maximum_bipartite_matching``: its Hopcroft-Karp never marks dead ends (scipy
issue #26147, exponential on layered graphs) and took 37 s on one block of these radius graphs; Dinic's
``maximum_flow`` took ~4 s per image. The graph is never built here: neighbours are read off the pixel grid
(numba kernel), and the neighbour list of an annotator pixel is made once per threshold for all annotators.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from evals.bsds.frames import Frames, frames_from_maps
from evals.bsds.protocol import DEFAULT_MAX_DIST, match_offsets, max_dist_pixels


def correspondence_counts(
    machine: np.ndarray, annotators: Sequence[np.ndarray], max_dist: float = DEFAULT_MAX_DIST
) -> np.ndarray:
    """Counts ``[cntR, sumR, cntP, sumP]`` for each map of a (K, H, W) machine stack against all annotators.

    ``machine``: (K, H, W) boolean stack, one (already thinned) boundary map per threshold.
    ``annotators``: G boundary maps (H, W), one per human annotator (``groundTruth{g}.Boundaries``).
    Returns a (K, 4) int64 array.
    """
    machine = np.asarray(machine)
    if machine.ndim != 3:
        raise ValueError(f"machine maps must be a (K, H, W) stack, got shape {machine.shape}")
    return frame_correspondence_counts(
        frames_from_maps(machine, match_reach(machine.shape[1:], max_dist)), annotators, max_dist
    )


def match_reach(shape: tuple[int, int], max_dist: float = DEFAULT_MAX_DIST) -> int:
    """Largest coordinate offset of a match: the frame margin that matching needs."""
    return int(np.abs(match_offsets(max_dist_pixels(shape, max_dist))).max())


def frame_correspondence_counts(
    frames: Frames, annotators: Sequence[np.ndarray], max_dist: float = DEFAULT_MAX_DIST
) -> np.ndarray:
    """``correspondence_counts`` of machine maps held in ``frames`` (margin >= ``match_reach``)."""
    height, width = frames.height, frames.width
    gt = [np.asarray(a) != 0 for a in annotators]
    for a in gt:
        if a.shape != (height, width):
            raise ValueError(f"an annotator map is {a.shape}, the machine maps are {(height, width)}")
    offsets = match_offsets(max_dist_pixels((height, width), max_dist))
    reach = int(np.abs(offsets).max())
    if frames.margin < reach:
        raise ValueError(f"frames need a margin of {reach} pixels for matching, have {frames.margin}")
    row, margin = frames.row, frames.margin
    flat_offsets = offsets[:, 0] * row + offsets[:, 1]
    # Annotator pixels as flat frame indices, annotator after annotator.
    gt_pixels = [(ys + margin) * row + xs + margin for ys, xs in (np.nonzero(a) for a in gt)]
    gt_start = np.zeros(len(gt) + 1, dtype=np.int64)
    gt_start[1:] = np.cumsum([p.size for p in gt_pixels])
    gt_flat = np.concatenate(gt_pixels).astype(np.int64) if gt_pixels else np.zeros(0, np.int64)
    _, gt_union = np.unique(gt_flat, return_inverse=True)  # the same pixel drawn by several annotators

    matched_gt, matched_machine = _match_all(
        frames.flat, row, reach, gt_flat, gt_union.astype(np.int64), gt_start, flat_offsets
    )
    counts = np.zeros((frames.data.shape[0], 4), dtype=np.int64)
    counts[:, 0] = matched_gt
    counts[:, 1] = gt_flat.size
    counts[:, 2] = matched_machine
    counts[:, 3] = frames.counts()
    return counts


@numba.njit(cache=True, nogil=True)
def _match_all(frames, width, reach, gt_flat, gt_union, gt_start, offsets):  # pragma: no cover - compiled
    """Per frame k: matched annotator pixels summed over annotators, and machine pixels matched to any.

    ``frames``: (K, size) flattened maps of row length ``width``, with a zero frame of ``reach`` pixels.
    ``gt_union``: for each annotator pixel, its index among the distinct annotator pixels: the neighbour list
    of a pixel, read off the grid the first time a search reaches it in a frame, serves every annotator.
    """
    n_frames, size = frames.shape
    n_offsets = offsets.shape[0]
    n_annotators = gt_start.shape[0] - 1
    matched_gt = np.zeros(n_frames, dtype=np.int64)
    matched_machine = np.zeros(n_frames, dtype=np.int64)
    node = np.full(size, -1, dtype=np.int32)  # machine node id of each grid pixel, -1 where none
    positions = np.empty(size, dtype=np.int64)
    partner = np.full(size, -1, dtype=np.int32)  # matched annotator pixel of each machine node
    matched_any = np.zeros(size, dtype=np.bool_)
    visited = np.zeros(size, dtype=np.int64)
    # Machine pixels per 16x16 block: an annotator pixel whose (2r+1)^2 box meets no occupied block has no
    # neighbour within the radius and is skipped (its box spans at most 2x2 blocks when 2r+1 <= 17).
    height = size // width
    block_shift = 4
    blocks = np.zeros(((height >> block_shift) + 2, (width >> block_shift) + 2), dtype=np.int32)
    max_gt = 0
    for g in range(n_annotators):
        max_gt = max(max_gt, gt_start[g + 1] - gt_start[g])
    gt_partner = np.empty(max_gt, dtype=np.int32)  # matched machine node of each annotator pixel
    pending = np.empty(max_gt, dtype=np.int64)  # annotator pixels still unmatched
    stack_gt = np.empty(max_gt + 1, dtype=np.int64)
    stack_next = np.empty(max_gt + 1, dtype=np.int64)
    stack_node = np.empty(max_gt + 1, dtype=np.int64)
    n_union = 0
    for i in range(gt_union.shape[0]):
        n_union = max(n_union, gt_union[i] + 1)
    adjacency = np.empty((n_union, n_offsets), dtype=np.int32)  # machine nodes near each pixel, nearest first
    degree = np.zeros(n_union, dtype=np.int64)
    listed = np.zeros(n_union, dtype=np.int64)  # frame (1-based) for which the list was made
    epoch = 0
    for k in range(n_frames):
        frame = frames[k]
        n_nodes = 0
        words = frame.view(np.uint64)
        for word in range(words.shape[0]):
            if words[word] == 0:
                continue
            for p in range(word * 8, word * 8 + 8):
                if frame[p]:
                    node[p] = n_nodes
                    positions[n_nodes] = p
                    n_nodes += 1
                    blocks[(p // width) >> block_shift, (p % width) >> block_shift] += 1
        if n_nodes == 0:
            continue
        for g in range(n_annotators):
            pixels = gt_flat[gt_start[g] : gt_start[g + 1]]
            union_ids = gt_union[gt_start[g] : gt_start[g + 1]]
            n_gt = pixels.shape[0]
            n_pending = 0
            for u in range(n_gt):
                gt_partner[u] = -1
                y, x = pixels[u] // width, pixels[u] % width
                top, bottom = (y - reach) >> block_shift, (y + reach) >> block_shift
                left, right = (x - reach) >> block_shift, (x + reach) >> block_shift
                if blocks[top, left] + blocks[top, right] + blocks[bottom, left] + blocks[bottom, right] > 0:
                    pending[n_pending] = u
                    n_pending += 1
            # 1. Greedy, nearest offsets first.
            for j in range(n_offsets):
                shift = offsets[j]
                kept = 0
                for i in range(n_pending):
                    u = pending[i]
                    v = node[pixels[u] + shift]
                    if v >= 0 and partner[v] < 0:
                        partner[v] = u
                        gt_partner[u] = v
                    else:
                        pending[kept] = u
                        kept += 1
                n_pending = kept
                if n_pending == 0:
                    break
            # 2. Augmenting paths (iterative DFS, nearest neighbours first) in rounds: within a round, nodes
            # visited by any search stay visited, so the searches of a round are vertex-disjoint and the round
            # costs O(edges); rounds repeat while they augment. A round without augmentation leaves the
            # matching unchanged, so its failed searches prove that no augmenting path is left: maximum.
            while n_pending > 0:
                epoch += 1
                augmented = False
                kept = 0
                for i in range(n_pending):
                    root = pending[i]
                    depth = 0
                    stack_gt[0] = root
                    stack_next[0] = 0
                    found = False
                    while depth >= 0 and not found:
                        u = stack_gt[depth]
                        j = stack_next[depth]
                        w = union_ids[u]
                        if listed[w] != k + 1:
                            listed[w] = k + 1
                            n_near = 0
                            for jj in range(n_offsets):
                                near = node[pixels[u] + offsets[jj]]
                                if near >= 0:
                                    adjacency[w, n_near] = near
                                    n_near += 1
                            degree[w] = n_near
                        if j == degree[w]:
                            depth -= 1
                            continue
                        stack_next[depth] = j + 1
                        v = adjacency[w, j]
                        if visited[v] == epoch:
                            continue
                        visited[v] = epoch
                        stack_node[depth] = v
                        if partner[v] < 0:
                            found = True
                        else:
                            depth += 1
                            stack_gt[depth] = partner[v]
                            stack_next[depth] = 0
                    if found:
                        for level in range(depth + 1):
                            u = stack_gt[level]
                            v = stack_node[level]
                            partner[v] = u
                            gt_partner[u] = v
                        augmented = True
                    else:
                        pending[kept] = root
                        kept += 1
                n_pending = kept
                if not augmented:
                    break
            for u in range(n_gt):
                v = gt_partner[u]
                if v >= 0:
                    matched_gt[k] += 1
                    matched_any[v] = True
                    partner[v] = -1
        for v in range(n_nodes):
            if matched_any[v]:
                matched_machine[k] += 1
                matched_any[v] = False
            p = positions[v]
            node[p] = -1
            blocks[(p // width) >> block_shift, (p % width) >> block_shift] = 0
    return matched_gt, matched_machine
