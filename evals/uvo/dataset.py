"""The UVO v1.0 dense val reader: a YouTube-VIS-format json and the PNG frames extracted from the videos.

    datasets/UVOv1.0/VideoDenseSet/UVO_video_val_dense.json                  YouTube-VIS format (class-agnostic)
    datasets/UVOv1.0/uvo_videos_dense_frames/<video_id>/<frame>.png          frames 0, 1, ... of uvo_videos_dense/*.mp4

A video's frame paths are its `file_names` in the json under uvo_videos_dense_frames/, as SAM-PT's ytvis.py reads
them (image_root joined with file_names); `python -m evals.uvo.extract_frames` makes that folder from the videos.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import DatasetLayoutError
from .protocol import ANNOTATIONS, FRAMES_DIR
from .ytvis_eval import Track, to_rle

EXPECTED_TREE = f"""
<data-root>/UVOv1.0/{ANNOTATIONS}              YouTube-VIS format
<data-root>/UVOv1.0/{FRAMES_DIR}/<video_id>/<frame>.png    (python -m evals.uvo.extract_frames)
"""


@dataclass(frozen=True)
class UvoVideo:
    id: int  # the json's video id
    name: str  # the folder of its frames (the sample id)
    height: int
    width: int
    frame_paths: tuple[Path, ...]
    annotations: tuple[dict[str, Any], ...]  # the json's annotations of this video, as given

    def ground_truth(self) -> list[Track]:
        """Its annotated tracks, every category as one (class-agnostic)."""
        tracks = []
        for annotation in self.annotations:
            segmentations = [to_rle(s, self.height, self.width) for s in annotation["segmentations"]]
            if len(segmentations) != len(self.frame_paths):
                raise ValueError(f"UVO video {self.name}: an annotation of {len(segmentations)} frames, the video "
                                 f"has {len(self.frame_paths)}")  # fmt: skip
            tracks.append(Track(self.id, segmentations, iscrowd=int(annotation.get("iscrowd", 0)),
                                areas=annotation.get("areas")))  # fmt: skip
        return tracks


def uvo_root(data_root: Path) -> Path:
    return Path(data_root) / "UVOv1.0"


def annotations_path(data_root: Path) -> Path:
    return uvo_root(data_root) / ANNOTATIONS


def load_uvo_videos(data_root: Path, need_frames: bool = True) -> list[UvoVideo]:
    """Every video of the dense val json, in the json's order (frames checked when `need_frames`)."""
    path = annotations_path(data_root)
    if not path.is_file():
        raise DatasetLayoutError(f"UVO v1.0: no annotations at {path}", EXPECTED_TREE)
    dataset = json.loads(path.read_text())
    frames_root = uvo_root(data_root) / FRAMES_DIR
    if need_frames and not frames_root.is_dir():
        raise DatasetLayoutError(f"UVO v1.0: no frames folder {frames_root}", EXPECTED_TREE)
    by_video: dict[int, list[dict]] = {}
    for annotation in dataset.get("annotations", []):
        by_video.setdefault(annotation["video_id"], []).append(annotation)
    videos = []
    for video in dataset["videos"]:
        if "file_names" not in video:
            raise DatasetLayoutError(f"UVO v1.0: video {video['id']} in {path} has no file_names (not YouTube-VIS "
                                     "format)", EXPECTED_TREE)  # fmt: skip
        frame_paths = tuple(frames_root / name for name in video["file_names"])
        name = Path(video["file_names"][0]).parent.name or str(video["id"])
        if need_frames:
            missing = [p for p in frame_paths if not p.is_file()]
            if missing:
                raise DatasetLayoutError(f"UVO v1.0: {len(missing)} of the {len(frame_paths)} frames of video {name} "
                                         f"are missing, e.g. {missing[0]}", EXPECTED_TREE)  # fmt: skip
        videos.append(UvoVideo(video["id"], name, video["height"], video["width"], frame_paths,
                               tuple(by_video.get(video["id"], []))))  # fmt: skip
    return videos
