"""Pair a folder of 8-bit prediction PNGs with a folder of ground-truth masks, by file stem.

Both are read as PySODMetrics' reference script reads them (examples/test_metrics.py:
``cv2.imread(path, cv2.IMREAD_GRAYSCALE)``), so a 3-channel mask becomes its gray conversion and a 16-bit PNG
is reduced to 8 bits by OpenCV. Sizes are not changed: a prediction of another size than its mask is an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from evals.errors import DataError
from evals.images import read_cv2

GT_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")  # masks ship as PNG, some sets as JPEG/BMP
PRED_SUFFIX = ".png"
MISSING_SHOWN = 5  # how many missing prediction names an error lists


@dataclass(frozen=True)
class ImagePair:
    name: str  # the shared file stem
    pred_path: Path
    gt_path: Path


def read_gray(path: str | Path) -> np.ndarray:
    """uint8 (H, W) image, as cv2.imread(path, IMREAD_GRAYSCALE); a missing or unreadable file is an error."""
    return read_cv2(path, cv2.IMREAD_GRAYSCALE)


def files_by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    by_stem: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            if path.stem in by_stem:
                first = by_stem[path.stem].name
                raise DataError(f"two files share the stem {path.stem!r} in {folder}: {first}, {path.name}")
            by_stem[path.stem] = path
    return by_stem


def match_prediction_folder(pred_dir: str | Path, gt_dir: str | Path) -> list[ImagePair]:
    """One pair per ground-truth mask, sorted by name; every mask needs a ``<stem>.png`` prediction.

    Predictions without a mask are ignored. Raises DataError naming the first few masks that have no prediction, or
    when the mask folder holds no image.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    masks = files_by_stem(gt_dir, GT_SUFFIXES)
    if not masks:
        raise DataError(f"no mask ({', '.join(GT_SUFFIXES)}) in {gt_dir}")
    predictions = files_by_stem(pred_dir, (PRED_SUFFIX,))
    missing = [stem for stem in masks if stem not in predictions]
    if missing:
        shown = ", ".join(missing[:MISSING_SHOWN]) + (", ..." if len(missing) > MISSING_SHOWN else "")
        raise DataError(
            f"{len(missing)} of {len(masks)} masks in {gt_dir} have no prediction {PRED_SUFFIX} in {pred_dir}: {shown}"
        )
    return [ImagePair(stem, predictions[stem], masks[stem]) for stem in masks]
