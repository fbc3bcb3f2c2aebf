"""Any method's anomaly maps, scored by `--task mvtec --predictions DIR`.

One map per test image, named by the sample id, first match in this order:
    DIR/<category>/<defect>/<name>.npy     2-D float array (any dtype numpy can cast to float32)
    DIR/<category>/<defect>/<name>.tiff    single-channel float TIFF (or .tif), read as it is
    DIR/<category>/<defect>/<name>.png     8- or 16-bit single-channel PNG, read as it is
e.g. DIR/bottle/broken_large/000.npy. Any size: the metric resizes it to 400 x 400 with cv2 INTER_CUBIC as SAA+
does (utils/eval_utils.py specify_resolution). Higher = more anomalous; the scale is free (the metric is invariant
to any strictly increasing map of the scores, and SAA+ min-max normalises per category anyway).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np

from .. import images
from ..base import Sample
from ..errors import DataError

SUFFIXES = (".npy", ".tiff", ".tif", ".png")
FORMAT_NOTE = "DIR/<category>/<defect>/<name>.{npy,tiff,tif,png}: one 2-D map per test image, higher = more anomalous"


def find_external_map(directory: Path, sample: Sample) -> Path:
    base = Path(directory) / sample.id
    path = next((base.with_name(base.name + suffix) for suffix in SUFFIXES
                 if base.with_name(base.name + suffix).is_file()), None)  # fmt: skip
    if path is None:
        raise DataError(f"no anomaly map for {sample.id}: expected {base}{{{','.join(SUFFIXES)}}} ({FORMAT_NOTE})")
    return path


def read_external_map(directory: Path, sample: Sample) -> dict:
    """The sample's map as float32, checked: whole, numeric, one channel, not empty, finite (a DataError naming the
    file otherwise)."""
    path = find_external_map(directory, sample)
    if path.suffix == ".npy":
        try:
            anomaly_map = np.load(path, allow_pickle=False)
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:  # numpy's errors for truncated files
            raise DataError(f"{path}: cannot read this anomaly map ({err}); expected a whole .npy of a 2-D float "
                            "array") from None  # fmt: skip
        if not isinstance(anomaly_map, np.ndarray):  # an .npz renamed .npy
            raise DataError(f"{path}: holds several arrays (an .npz?); expected one 2-D float array")
    else:
        anomaly_map = images.read_cv2(path, cv2.IMREAD_UNCHANGED)
    if not (np.issubdtype(anomaly_map.dtype, np.floating) or np.issubdtype(anomaly_map.dtype, np.integer)
            or anomaly_map.dtype == bool):  # fmt: skip
        raise DataError(f"{path}: an anomaly map of {anomaly_map.dtype} values; expected numbers ({FORMAT_NOTE})")
    anomaly_map = np.squeeze(anomaly_map)
    if anomaly_map.ndim != 2 or anomaly_map.size == 0:
        raise DataError(f"{path}: an anomaly map must have one channel and at least one pixel, got shape "
                        f"{anomaly_map.shape} ({FORMAT_NOTE})")  # fmt: skip
    anomaly_map = anomaly_map.astype(np.float32)
    if not np.isfinite(anomaly_map).all():
        raise DataError(f"{path}: the anomaly map has NaN or infinite values (as float32); every score must be finite")
    return {"anomaly_map": anomaly_map, "source": str(path)}
