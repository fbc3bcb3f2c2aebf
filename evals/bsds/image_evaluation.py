"""Counts of one image: ``[cntR, sumR, cntP, sumP]`` per threshold, as BSR ``evaluation_bdry_image.m``.

Per threshold t (BSR ``bench/benchmarks/evaluation_bdry_image.m``; pdollar/edges ``edgesEvalImg.m``):

- soft map (a float image, or ``ucm2(3:2:end, 3:2:end)``): machine map ``pb >= t`` for the thresholds
  ``linspace(1/(K+1), 1-1/(K+1), K)``;
- segmentations (``segs``): machine map k is ``seg2bdry(segs{k}, 'imageSize')`` and the "thresholds" are 1..n;
  the bench overrides the requested threshold count with the number of segmentations;
- each machine map is thinned (``bwmorph(bmap, 'thin', inf)``; ``thinpb = 1`` by default), then matched with
  each annotator's boundaries (see ``matching``).

Difference from the MATLAB bench, measured on its own test data (``bench/test_benchs.m``, 5 images, 5
thresholds or segmentations; ``tests/test_bsds_benchmark.py``): our matching is exact and deterministic, the
bench's CSA is randomised. Over test_1..test_4 (ucm2, png, segs, segs), |ours - MATLAB| is at most 1.3e-4 for
ODS, 3.7e-4 for OIS, 1.2e-4 for AP, 5.6e-4 for any line of ``eval_bdry.txt``, 8.6e-4 for any per-threshold
R/P/F and 1.3e-3 for any per-image R/P/F (mean over all compared values 2.8e-4). The bench's own spread is of
the same size: test_3 and test_4 run the same boundary evaluation on the same segs and differ by up to 1.9e-4
(``eval_bdry.txt``), 5.6e-4 (per threshold) and 7.1e-4 (per image). Our recall is never below MATLAB's (CSA
can only miss the maximum); precision moves by a few pixels either way (see ``matching``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evals.bsds.frames import Frames, frames_from_maps, frames_from_soft_map
from evals.bsds.matching import frame_correspondence_counts, match_reach
from evals.bsds.protocol import DEFAULT_MAX_DIST, DEFAULT_THRESHOLD_COUNT, bench_thresholds
from evals.bsds.segmentation_boundaries import segmentation_boundaries
from evals.bsds.thinning import thin_frames


def is_segmentations(prediction) -> bool:
    """Segmentations are given as a list/tuple of label images; a soft map is one 2-D array."""
    return isinstance(prediction, (list, tuple))


def image_thresholds(prediction, thresholds: int | Sequence[float] = DEFAULT_THRESHOLD_COUNT) -> np.ndarray:
    """The thresholds the bench uses for this prediction: 1..n for n segmentations, else the soft-map ones."""
    if is_segmentations(prediction):
        return np.arange(1, len(prediction) + 1, dtype=np.float64)
    if np.isscalar(thresholds):
        return bench_thresholds(int(thresholds))
    return np.asarray(thresholds, dtype=np.float64).ravel()


def machine_frames(prediction, thresholds: int | Sequence[float], margin: int) -> Frames:
    """The machine boundary maps (before thinning) of a prediction, in frames with the given margin."""
    if is_segmentations(prediction):
        if len(prediction) == 0:
            raise ValueError("no segmentations given")
        return frames_from_maps(np.stack([segmentation_boundaries(s) for s in prediction]), margin)
    soft = np.asarray(prediction, dtype=np.float64)
    if soft.ndim != 2:
        raise ValueError(f"a soft boundary map must be 2-D, got shape {soft.shape}")
    return frames_from_soft_map(soft, image_thresholds(prediction, thresholds), margin)


def evaluate_image(
    prediction,
    gt_boundaries: Sequence[np.ndarray],
    thresholds: int | Sequence[float] = DEFAULT_THRESHOLD_COUNT,
    max_dist: float = DEFAULT_MAX_DIST,
    thin: bool = True,
) -> np.ndarray:
    """(K, 4) int64 counts ``[cntR, sumR, cntP, sumP]`` of one image, rows in ``image_thresholds`` order.

    ``prediction``: a 2-D float soft map in [0, 1] (also a ucm2 already reduced to image size), or a
    list/tuple of 2-D label images (segmentations). ``gt_boundaries``: one boundary map per annotator.
    ``thresholds``: a count K (bench thresholds) or explicit values; ignored for segmentations.
    ``max_dist``: match tolerance as a fraction of the image diagonal. ``thin``: the bench's ``thinpb``.
    """
    shape = np.shape(prediction[0] if is_segmentations(prediction) else prediction)
    if len(shape) != 2:
        raise ValueError(f"prediction maps must be 2-D, got shape {shape}")
    for boundaries in gt_boundaries:
        if np.shape(boundaries) != shape:
            raise ValueError(f"ground truth is {np.shape(boundaries)}, the prediction is {shape}")
    frames = machine_frames(prediction, thresholds, margin=max(1, match_reach(shape, max_dist)))
    if thin:
        thin_frames(frames)
    return frame_correspondence_counts(frames, gt_boundaries, max_dist)
