"""SAM-PT's query points: where on the first-frame mask of each object the tracked points start.

As sam_pt/utils/query_points.py and SamPt.extract_query_points (sam_pt/modeling/sam_pt.py), v1:
- positives: k-medoids of the mask's pixels (extract_kmedoid_points): a random subsample of at most 1800 pixels,
  clustered into 8 with scikit-learn-extra 0.3.0's KMedoids defaults (euclidean, method 'alternate', init
  'heuristic', max_iter 300; SAM-PT pins scikit-learn-extra==0.3.0); the medoids are the points. Fewer pixels
  than points: the pixels repeated.
- negatives: the 'mixed' selection (extract_mixed_points) on the complement of the object's mask: n // 4 k-medoid
  points, n // 3 Shi-Tomasi corners and the rest random pixels (extract_random_mask_points); for SAM-PT's one
  negative that is a single uniformly random background pixel (other objects' pixels count as background).
- order: the positives of every object first, then the negatives (the order SAM-PT draws its random numbers in);
  an object's points are its positives followed by its negatives. Coordinates are (x, y) of pixel indices.
- an empty mask gives points at (0, 0) (SAM-PT warns and returns zeros).
Randomness: SAM-PT seeds torch's global generator once per run (seed_all(72)) and draws with torch.randperm, so
its exact draws depend on everything run before; here a numpy generator seeded with 72 at the start of every video
draws the same kinds of numbers in the same order, so a sequence's points do not depend on the other sequences.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

# scikit-learn-extra 0.3.0, KMedoids defaults (sklearn_extra/cluster/_k_medoids.py).
KMEDOIDS_MAX_ITER = 300


def kmedoids(points: np.ndarray, n_clusters: int, max_iter: int = KMEDOIDS_MAX_ITER) -> np.ndarray:
    """Indices of `n_clusters` medoids of `points` (M x D): the 'alternate' (Voronoi iteration) k-medoids of
    scikit-learn-extra with its 'heuristic' initialisation -- the n points of smallest total distance to all
    others -- alternating nearest-medoid assignment and, per cluster, the member of smallest total distance to the
    other members (adopted only when strictly better) until the medoids stop changing."""
    distances = cdist(points, points).astype(np.float32)  # scikit-learn-extra keeps float32 input in float32
    medoids = np.argpartition(distances.sum(axis=1), n_clusters - 1)[:n_clusters]
    for _ in range(max_iter):
        previous = medoids.copy()
        labels = np.argmin(distances[medoids, :], axis=0)
        for cluster in range(n_clusters):
            members = np.flatnonzero(labels == cluster)
            if not len(members):
                continue
            costs = distances[np.ix_(members, members)].sum(axis=1)
            best = int(np.argmin(costs))
            if costs[best] < costs[np.flatnonzero(members == medoids[cluster])[0]]:
                medoids[cluster] = members[best]
        if np.array_equal(previous, medoids):
            break
    return medoids


def _mask_pixels_yx(mask: np.ndarray) -> np.ndarray:
    return np.argwhere(mask).astype(np.float32)  # row-major (y, x), as torch's mask.nonzero()


def _repeated(pixels: np.ndarray, n: int) -> np.ndarray:
    return np.tile(pixels, (n // len(pixels) + 1, 1))[:n]


def kmedoid_points(mask: np.ndarray, n: int, rng: np.random.Generator, subsample: int) -> np.ndarray:
    """n x 2 (x, y): k-medoids of at most `subsample` random pixels of `mask` (extract_kmedoid_points)."""
    pixels = _mask_pixels_yx(mask)
    if len(pixels) == 0:
        return np.zeros((n, 2), dtype=np.float32)
    if len(pixels) < n:
        chosen = _repeated(pixels, n)
    else:
        pixels = pixels[rng.permutation(len(pixels))[:subsample]]
        chosen = pixels[kmedoids(pixels, n)]
    return np.ascontiguousarray(chosen[:, ::-1])


def random_points(mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n x 2 (x, y): distinct uniformly random pixels of `mask` (extract_random_mask_points)."""
    pixels = _mask_pixels_yx(mask)
    if len(pixels) == 0:
        return np.zeros((n, 2), dtype=np.float32)
    chosen = _repeated(pixels, n) if len(pixels) < n else pixels[rng.permutation(len(pixels))[:n]]
    return np.ascontiguousarray(chosen[:, ::-1])


def mixed_points(mask: np.ndarray, n: int, rng: np.random.Generator, subsample: int) -> np.ndarray:
    """n x 2 (x, y): n // 4 k-medoid points, n // 3 Shi-Tomasi corners, the rest random (extract_mixed_points)."""
    n_kmedoids, n_corners = n // 4, n // 3
    if n_corners:
        raise NotImplementedError("'mixed' selection of 3 or more points needs Shi-Tomasi corners (not implemented)")
    parts = [kmedoid_points(mask, n_kmedoids, rng, subsample)] if n_kmedoids else []
    parts.append(random_points(mask, n - n_kmedoids, rng))
    return np.concatenate(parts).astype(np.float32)


def object_query_points(masks: list[np.ndarray], positive: int, negative: int, rng: np.random.Generator,
                        subsample: int) -> np.ndarray:  # fmt: skip
    """K x (positive + negative) x 2 (x, y) query points for the K objects' first-frame masks."""
    positives = [kmedoid_points(mask, positive, rng, subsample) for mask in masks]
    negatives = [mixed_points(~mask, negative, rng, subsample) if negative else np.zeros((0, 2), np.float32)
                 for mask in masks]  # fmt: skip
    points = [np.concatenate([p, n]) for p, n in zip(positives, negatives)]
    return np.stack(points).astype(np.float32) if points else np.zeros((0, positive + negative, 2), np.float32)
