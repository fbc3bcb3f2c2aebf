"""Readers for the bench's inputs: predictions (soft maps, ucm2, segmentations) and ground-truth ``.mat`` files.

Formats, as BSR ``bench/benchmarks/evaluation_bdry_image.m`` reads them:

- soft boundary map image: ``pb = double(imread(inFile))/255`` (8-bit, one channel);
- ``.mat`` with ``ucm2`` (ultrametric contour map, "doubleSize" (2H+1, 2W+1) format):
  ``pb = double(ucm2(3:2:end, 3:2:end))``;
- ``.mat`` with ``segs``: a cell of label images, one "threshold" each (see ``image_evaluation``);
- ground truth: ``groundTruth``, a cell with one struct per annotator whose ``Boundaries`` is used.

Beyond the bench: ``.npy`` float maps, and ``.mat`` files holding a single 2-D numeric variable (a soft map).
MATLAB v7.3 (HDF5) files are not readable by ``scipy.io.loadmat`` and are reported as such.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import scipy.io
import scipy.io.matlab

from evals.errors import DataError
from evals.images import read_cv2

PREDICTION_SUFFIXES = (".mat", ".png", ".npy")  # looked up in this order (BSR boundaryBench.m: .mat, then .png)


class Segmentations(list):
    """The label images of a ``segs`` cell, in MATLAB's linear cell order (one boundary map each)."""


def _load_mat(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return scipy.io.loadmat(str(path))
    except NotImplementedError:  # v7.3 files
        raise DataError(f"{path}: MATLAB v7.3 (HDF5) files are not supported; save with -v7") from None
    except (ValueError, TypeError, OSError, scipy.io.matlab.MatReadError) as error:  # truncated or foreign files
        raise DataError(f"{path}: not a readable MATLAB .mat file ({error})") from None


def read_ground_truth(path: str | Path) -> list[np.ndarray]:
    """Boundary maps (bool, H x W) of every annotator in a BSDS ``groundTruth`` .mat file."""
    path = Path(path)
    data = _load_mat(path)
    if "groundTruth" not in data:
        raise DataError(f"{path}: no 'groundTruth' variable (found {_variables(data)})")
    cells = np.asarray(data["groundTruth"]).ravel(order="F")
    if cells.size == 0:
        raise DataError(f"{path}: empty groundTruth")  # the bench's "bad gtFile !"
    boundaries = []
    for cell in cells:
        if cell.dtype.names is None or "Boundaries" not in cell.dtype.names:
            raise DataError(f"{path}: groundTruth entries must be structs with a 'Boundaries' field")
        boundaries.append(np.asarray(cell["Boundaries"][0, 0]) != 0)
    shapes = {b.shape for b in boundaries}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise DataError(f"{path}: annotator boundary maps differ in size or are not 2-D: {shapes}")
    return boundaries


def read_prediction(path: str | Path) -> np.ndarray | Segmentations:
    """A prediction file as the bench reads it: a float soft map (H x W) or ``Segmentations``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return _read_mat_prediction(path)
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise DataError(f"{path}: not a readable .npy array ({err})") from None
        return _as_soft_map(array, path)
    image = read_cv2(path, cv2.IMREAD_UNCHANGED)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise DataError(f"{path}: a boundary image must be 8-bit single-channel, got {image.dtype} {image.shape}")
    return image.astype(np.float64) / 255


def find_prediction(directory: str | Path, name: str) -> Path:
    """The prediction file for image ``name``: ``name.mat``, else ``name.png``, else ``name.npy``."""
    directory = Path(directory)
    for suffix in PREDICTION_SUFFIXES:
        candidate = directory / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    raise DataError(f"no prediction for {name} in {directory} (looked for {', '.join(PREDICTION_SUFFIXES)})")


def _read_mat_prediction(path: Path) -> np.ndarray | Segmentations:
    data = _load_mat(path)
    if "ucm2" in data:
        ucm2 = np.asarray(data["ucm2"], dtype=np.float64)
        if ucm2.ndim != 2 or ucm2.shape[0] % 2 != 1 or ucm2.shape[1] % 2 != 1:
            raise DataError(f"{path}: ucm2 must be a doubleSize (2H+1, 2W+1) map, got {ucm2.shape}")
        return ucm2[2::2, 2::2].copy()
    if "segs" in data:
        cells = np.asarray(data["segs"])
        if cells.dtype != object:
            cells = np.array([cells], dtype=object)  # a single segmentation saved without a cell
        segs = Segmentations(np.asarray(s) for s in cells.ravel(order="F"))
        if not segs or any(s.ndim != 2 for s in segs):
            raise DataError(f"{path}: segs must be a non-empty cell of 2-D label images")
        return segs
    arrays = {k: v for k, v in data.items() if not k.startswith("__") and isinstance(v, np.ndarray)}
    numeric = {k: v for k, v in arrays.items() if v.ndim == 2 and v.dtype.kind in "fiub"}
    if len(numeric) != 1:
        raise DataError(f"{path}: expected 'ucm2', 'segs' or one 2-D numeric map, found {_variables(data)}")
    return _as_soft_map(next(iter(numeric.values())), path)


def _as_soft_map(array: np.ndarray, path: Path) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.dtype.kind not in "fiub":
        raise DataError(f"{path}: a soft boundary map must be a 2-D numeric array, got {array.dtype} {array.shape}")
    return array.astype(np.float64)


def _variables(data: dict) -> list[str]:
    return sorted(k for k in data if not k.startswith("__"))
