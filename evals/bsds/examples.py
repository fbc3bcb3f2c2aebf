"""The report's BSDS examples: each image ranked by its own F, drawn as image / edge map / human boundaries.

The score is the bench's per-image F (``eval_bdry_img.txt``, the `per_sample` F of the results): the image's counts
at the run's thresholds (image_evaluation.py), then the best F along its interpolated PR curve (summary.py) -- the
number OIS averages. It equals the run's `per_sample["F"]` of the image.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import visual
from .image_evaluation import evaluate_image, image_thresholds, is_segmentations
from .io import read_ground_truth
from .segmentation_boundaries import segmentation_boundaries
from .summary import best_interpolated_f, recall_precision_f


def image_f(edges, ground_truth: Path, thresholds: int, max_dist: float, thin: bool) -> float:
    counts = evaluate_image(edges, read_ground_truth(ground_truth), thresholds, max_dist, thin)
    recall, precision, _ = recall_precision_f(*counts.T)
    return best_interpolated_f(image_thresholds(edges, thresholds), recall, precision)[3]


def soft_edges(edges) -> np.ndarray:
    """A soft map as it is; segmentations (an external .mat) as the fraction of them with a boundary at a pixel."""
    if is_segmentations(edges):
        return np.mean([segmentation_boundaries(s) for s in edges], axis=0)
    return np.asarray(edges, dtype=np.float64)


def draw(image_path: Path, ground_truth: Path, edges) -> dict[str, np.ndarray]:
    annotators = read_ground_truth(ground_truth)
    consensus = np.mean(annotators, axis=0)  # fraction of the annotators who drew a boundary there
    image = visual.read_rgb(image_path)
    soft = soft_edges(edges)
    if soft.size and soft.max() > 0:
        predicted = ("predicted edges (soft map)", visual.grey_map(soft, invert=True))
    else:  # an all-zero map: said in words, not drawn as a blank page
        shape = soft.shape if soft.ndim == 2 and soft.size else consensus.shape
        predicted = ("predicted edges: none (all zero)", visual.no_mask(*shape, text="no edges"))
    return {
        "image": image if image is not None else visual.blank(*consensus.shape),
        predicted[0]: predicted[1],
        f"human boundaries ({len(annotators)} annotators, darker = more agree)": visual.grey_map(consensus, invert=True),
    }
