"""The bench's protocol parameters, each with the file of the official code that fixes it.

Sources (BSR bench = the BSDS500 release's ``bench/benchmarks``; pdollar/edges = Piotr Dollar's Structured
Edge toolbox, which states it reproduces the BSR bench exactly and adds R50):

- ``DEFAULT_THRESHOLD_COUNT = 99``: ``nthresh = 99`` default in BSR ``evaluation_bdry_image.m`` and
  ``thrs = 99`` in pdollar/edges ``edgesEvalImg.m``. (``bench/test_benchs.m`` runs its ucm2 and png tests with
  ``nthresh = 5``; the segs tests use one "threshold" per segmentation.)
- ``DEFAULT_MAX_DIST = 0.0075``: ``maxDist = 0.0075`` default in ``evaluation_bdry_image.m`` / ``edgesEvalImg.m``;
  a fraction of the image diagonal.
- ``OUTLIER_COST = 100``: default ``outlierCost`` of BSR ``correspondPixels`` (a multiple of maxDist); it only
  makes unmatched pixels cost far more than any match, so the optimum maximises the matched count.
- thresholds: ``thresh = linspace(1/(nthresh+1), 1-1/(nthresh+1), nthresh)'`` in ``evaluation_bdry_image.m``
  (same in ``edgesEvalImg.m``); a map pixel is "on" at threshold t when ``pb >= t``.
- thinning: ``bwmorph(bmap, 'thin', inf)`` in ``evaluation_bdry_image.m`` (``thinpb = 1`` default).
"""

from __future__ import annotations

import math

import numpy as np

from evals.bsds.matlab_ranges import matlab_linspace

DEFAULT_THRESHOLD_COUNT = 99
DEFAULT_MAX_DIST = 0.0075
OUTLIER_COST = 100.0


def bench_thresholds(count: int = DEFAULT_THRESHOLD_COUNT) -> np.ndarray:
    """``linspace(1/(K+1), 1-1/(K+1), K)`` with MATLAB's linspace arithmetic (see ``matlab_ranges``)."""
    if count < 1:
        raise ValueError(f"threshold count must be >= 1, got {count}")
    return matlab_linspace(1.0 / (count + 1), 1.0 - 1.0 / (count + 1), count)


def max_dist_pixels(shape: tuple[int, int], max_dist: float = DEFAULT_MAX_DIST) -> float:
    """Match radius in pixels: ``maxDist * sqrt(rows1*rows2 + cols1*cols2)`` (BSR ``correspondPixels.cc``)."""
    rows, cols = shape
    return max_dist * math.sqrt(rows * rows + cols * cols)


def match_offsets(radius_px: float) -> np.ndarray:
    """All integer offsets (dy, dx) with ``dx*dx + dy*dy <= radius_px**2``, nearest first.

    BSR ``match.cc`` (``matchEdgeMaps``) scans a ``ceil(maxDist)`` window and keeps a pair unless
    ``d2 > maxDist*maxDist``: the distance is Euclidean and the bound is inclusive. For a 321x481 BSDS image
    the radius is 4.337 px, so offsets up to squared length 18 (e.g. (3, 3)) are matchable.
    """
    reach = math.ceil(radius_px)
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    squared = dy * dy + dx * dx
    keep = squared <= radius_px * radius_px
    order = np.lexsort((dx[keep], dy[keep], squared[keep]))
    return np.stack([dy[keep][order], dx[keep][order]], axis=1).astype(np.int64)
