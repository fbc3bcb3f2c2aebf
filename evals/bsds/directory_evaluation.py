"""Evaluate a directory of predictions against a ``groundTruth`` directory, images in parallel.

Image list and order: every ``*.mat`` of the ground-truth directory, sorted by name (BSR ``boundaryBench.m``
lists the ground truth; ``collect_eval_bdry.m`` reads the per-image files in ``dir`` order, which is the
order of ``eval_bdry_img.txt``). The prediction of image ``name`` is ``name.mat``, else ``name.png``, else
``name.npy`` (``io.find_prediction``); a missing one is an error, as is a ground-truth/prediction size
mismatch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evals.parallel import process_pool
from evals.bsds.bench_files import write_bench_results, write_image_counts
from evals.bsds.image_evaluation import evaluate_image, image_thresholds
from evals.bsds.io import find_prediction, read_ground_truth, read_prediction
from evals.bsds.protocol import DEFAULT_MAX_DIST, DEFAULT_THRESHOLD_COUNT
from evals.bsds.summary import summarize


@dataclass
class DirectoryResult:
    names: list[str]  # image names, in evaluation order
    thresholds: np.ndarray  # (K,)
    counts: np.ndarray  # (N, K, 4) [cntR, sumR, cntP, sumP]
    summary: dict  # see summary.summarize


def _evaluate_one(job):
    prediction, gt_path, thresholds, max_dist, thin = job
    if isinstance(prediction, (str, Path)):
        prediction = read_prediction(prediction)
    counts = evaluate_image(prediction, read_ground_truth(gt_path), thresholds, max_dist, thin)
    return image_thresholds(prediction, thresholds), counts


def _warm_up() -> None:
    """Compile (or load from numba's cache) the kernels once, before worker processes are forked."""
    tiny = np.zeros((4, 4))
    tiny[1:3, 1:3] = 1
    evaluate_image(tiny, [tiny > 0], 2)


def evaluate_directory(
    prediction_dir: str | Path,
    gt_dir: str | Path,
    thresholds: int | Sequence[float] = DEFAULT_THRESHOLD_COUNT,
    max_dist: float = DEFAULT_MAX_DIST,
    thin: bool = True,
    workers: int | None = None,
    progress: bool = True,
    output_dir: str | Path | None = None,
) -> DirectoryResult:
    """Counts and scores of every image of ``gt_dir``, in ``workers`` processes (default: one per CPU).

    ``output_dir``: if given, also write the bench's files there (``<name>_ev1.txt`` per image and
    ``eval_bdry.txt``, ``eval_bdry_img.txt``, ``eval_bdry_thr.txt``).
    """
    prediction_dir, gt_dir = Path(prediction_dir), Path(gt_dir)
    if not gt_dir.is_dir():
        raise FileNotFoundError(f"no ground-truth directory {gt_dir}")
    if not prediction_dir.is_dir():
        raise FileNotFoundError(f"no prediction directory {prediction_dir}")
    gt_paths = sorted(gt_dir.glob("*.mat"))
    if not gt_paths:
        raise FileNotFoundError(f"no ground-truth .mat files in {gt_dir}")
    names = [p.stem for p in gt_paths]
    predictions = [find_prediction(prediction_dir, n) for n in names]
    result = evaluate_images(names, predictions, gt_paths, thresholds, max_dist, thin, workers, progress)
    if output_dir is not None:
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        for name, image_counts in zip(names, result.counts):
            write_image_counts(output_dir / f"{name}_ev1.txt", result.thresholds, image_counts)
        write_bench_results(output_dir, result.summary)
    return result


def evaluate_images(
    names: Sequence[str],
    predictions: Sequence,
    gt_paths: Sequence[Path],
    thresholds: int | Sequence[float] = DEFAULT_THRESHOLD_COUNT,
    max_dist: float = DEFAULT_MAX_DIST,
    thin: bool = True,
    workers: int | None = None,
    progress: bool = True,
) -> DirectoryResult:
    """Counts and scores of images given as predictions (arrays, segmentations or files) and ground-truth files,
    in ``workers`` processes (default: one per CPU)."""
    jobs = [(prediction, gt, thresholds, max_dist, thin) for prediction, gt in zip(predictions, gt_paths)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    _warm_up()
    bar = {"total": len(jobs), "desc": "BSDS boundaries", "unit": "img", "disable": not progress}
    if workers == 1:
        results = [_evaluate_one(job) for job in tqdm(jobs, **bar)]
    else:
        with process_pool(workers) as pool:
            results = list(tqdm(pool.imap(_evaluate_one, jobs, chunksize=1), **bar))

    image_thresholds_list = [t for t, _ in results]
    for name, t in zip(names, image_thresholds_list):
        if t.shape != image_thresholds_list[0].shape or not np.array_equal(t, image_thresholds_list[0]):
            raise ValueError(f"{name}: its thresholds differ from {names[0]}'s (e.g. a different number of segs)")
    counts = np.stack([c for _, c in results])
    return DirectoryResult(list(names), image_thresholds_list[0], counts, summarize(counts, image_thresholds_list[0]))
