"""Score many images on several processes; the numbers equal those of one SODMetrics fed sequentially.

Workers only score images; the parent adds the scores to one SODMetrics in input order (``Pool.imap`` keeps
it), so every sum runs in the same order as in a sequential run, whichever worker finishes first.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evals.parallel import process_pool
from evals.sod.folders import ImagePair, match_prediction_folder, read_gray
from evals.sod.metrics import ImageScores, SODMetrics, score_image

ImageOrPath = np.ndarray | str | Path
PairInput = tuple[ImageOrPath, ImageOrPath] | ImagePair


def _load(image: ImageOrPath) -> np.ndarray:
    return image if isinstance(image, np.ndarray) else read_gray(image)


def score_pair(pair: PairInput) -> ImageScores:
    """Scores of one (pred, gt) pair of arrays or image paths, or of an ImagePair."""
    if isinstance(pair, ImagePair):
        pred, gt = pair.pred_path, pair.gt_path
    else:
        pred, gt = pair
    try:
        return score_image(_load(pred), _load(gt))
    except (ValueError, TypeError) as error:
        where = f" ({pred}, {gt})" if not isinstance(pred, np.ndarray) else ""
        raise type(error)(f"{error}{where}") from error


def evaluate_pairs(
    pairs: Sequence[PairInput],
    workers: int = 2,
    progress: bool = True,
    chunksize: int | None = None,
    metrics: SODMetrics | None = None,
) -> dict[str, float]:
    """SODMetrics results over ``pairs`` (arrays, paths or ImagePairs), scored on ``workers`` processes.

    ``workers <= 1`` scores in this process. Workers are spawned (not forked: OpenCV's thread pool does not
    survive a fork reliably), so each pays one import of numpy/scipy/OpenCV at start. Pass ``metrics`` to add
    the images to an existing accumulator (and keep its per-image scores).
    """
    metrics = SODMetrics() if metrics is None else metrics
    pairs = list(pairs)
    bar = tqdm(total=len(pairs), desc="SOD metrics", unit="img", disable=not progress)
    with bar:
        if workers <= 1 or len(pairs) <= 1:
            for pair in pairs:
                metrics.add(score_pair(pair))
                bar.update()
        else:
            if chunksize is None:
                chunksize = max(1, min(16, len(pairs) // (4 * workers)))
            with process_pool(workers) as pool:
                for scores in pool.imap(score_pair, pairs, chunksize=chunksize):
                    metrics.add(scores)
                    bar.update()
    return metrics.results()


def evaluate_folders(
    pred_dir: str | Path, gt_dir: str | Path, workers: int = 2, progress: bool = True
) -> dict[str, float]:
    """SODMetrics results of the ``<stem>.png`` predictions in ``pred_dir`` against the masks in ``gt_dir``."""
    return evaluate_pairs(match_prediction_folder(pred_dir, gt_dir), workers=workers, progress=progress)
