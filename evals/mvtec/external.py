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

from pathlib import Path

import cv2
import numpy as np

from ..base import Sample

SUFFIXES = (".npy", ".tiff", ".tif", ".png")
FORMAT_NOTE = "DIR/<category>/<defect>/<name>.{npy,tiff,tif,png}: one 2-D map per test image, higher = more anomalous"


def read_external_map(directory: Path, sample: Sample) -> dict:
    base = Path(directory) / sample.id
    path = next((base.with_name(base.name + suffix) for suffix in SUFFIXES
                 if base.with_name(base.name + suffix).is_file()), None)  # fmt: skip
    if path is None:
        raise FileNotFoundError(f"no anomaly map for {sample.id}: expected {base}{{{','.join(SUFFIXES)}}} "
                                f"({FORMAT_NOTE})")  # fmt: skip
    if path.suffix == ".npy":
        anomaly_map = np.load(path, allow_pickle=False)
    else:
        anomaly_map = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if anomaly_map is None:
            raise OSError(f"cannot read anomaly map {path}")
    anomaly_map = np.squeeze(anomaly_map)
    if anomaly_map.ndim != 2:
        raise ValueError(f"{path}: an anomaly map must have one channel, got shape {anomaly_map.shape}")
    return {"anomaly_map": anomaly_map.astype(np.float32), "source": str(path)}
