"""The clip of the UVO protocol-parity test (tests/test_protocol_parity_uvo.py) and of the SAM-PT VIS run it is
compared with (tests/data/protocols/uvo/make_reference.py): real frames in UVO v1.0's layout.

The first CLIP_FRAMES frames of the DAVIS clip (tests/davis_protocol_clip.py: the bundled blackswan, 480p JPEGs
copied byte for byte) as one video under UVOv1.0/uvo_videos_dense_frames/, and a YouTube-VIS json
(UVOv1.0/VideoDenseSet/UVO_video_val_dense.json, where both SAM-PT's datasets/builtin.py and our task read it)
whose ground truth is that clip's two objects as class-agnostic tracks (compressed RLE per frame, with the areas and
boxes UVO's json carries). Numpy, PIL and pycocotools only: the reference driver imports it (as
`tests.uvo_protocol_clip`) from its own venv.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from tests.davis_protocol_clip import N_OBJECTS, SAMPLE, VIDEO, frame_names, two_object_ids

CLIP_FRAMES = 3
VIDEO_ID = 1
HEIGHT, WIDTH = 480, 854  # the DAVIS 480p frames
FRAMES_DIR = "UVOv1.0/uvo_videos_dense_frames"
ANNOTATIONS = "UVOv1.0/VideoDenseSet/UVO_video_val_dense.json"


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _bbox(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def write_uvo_clip(data_root: Path, frames: int = CLIP_FRAMES) -> Path:
    """<data_root>/UVOv1.0/ with the clip's first `frames` frames and their ground truth; returns the json's path."""
    names = frame_names(frames)
    folder = Path(data_root) / FRAMES_DIR / VIDEO
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.jpg").write_bytes((SAMPLE / "JPEGImages" / "480p" / VIDEO / f"{name}.jpg").read_bytes())
    ids = [two_object_ids(name) for name in names]
    annotations = []
    for k in range(N_OBJECTS):
        masks = [frame == k + 1 for frame in ids]
        annotations.append({"id": k + 1, "video_id": VIDEO_ID, "category_id": 1, "iscrowd": 0,
                            "height": HEIGHT, "width": WIDTH,
                            "segmentations": [_rle(m) if m.any() else None for m in masks],
                            "areas": [float(m.sum()) if m.any() else None for m in masks],
                            "bboxes": [_bbox(m) if m.any() else None for m in masks]})  # fmt: skip
    dataset = {"info": {"description": "UVO-layout parity clip (tests/uvo_protocol_clip.py)"},
               "videos": [{"id": VIDEO_ID, "height": HEIGHT, "width": WIDTH, "length": frames,
                           "file_names": [f"{VIDEO}/{name}.jpg" for name in names]}],
               "annotations": annotations,
               "categories": [{"id": 1, "name": "object", "supercategory": "object"}]}  # fmt: skip
    path = Path(data_root) / ANNOTATIONS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dataset))
    return path
