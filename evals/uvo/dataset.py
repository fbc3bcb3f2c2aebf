"""The UVO v1.0 dense val reader: a YouTube-VIS-format json and the PNG frames extracted from the videos.

    datasets/UVOv1.0/VideoDenseSet/UVO_video_val_dense.json                  YouTube-VIS format (class-agnostic)
    datasets/UVOv1.0/uvo_videos_dense_frames/<video_id>/<frame>.png          frames 0, 1, ... of uvo_videos_dense/*.mp4

A video's frame paths are its `file_names` in the json under uvo_videos_dense_frames/, as SAM-PT's ytvis.py reads
them (image_root joined with file_names); `python -m evals.uvo.extract_frames` makes that folder from the videos.

The json is checked before the first prediction (`load_uvo_videos`): valid JSON, the keys the reader uses, positive
sizes, file names inside the frames folder, every annotation of a known video with one segmentation per frame at the
video's size; and every frame's size against its video's (from the PNG headers). A problem is a DataError naming
the file (and the video or annotation) and what was expected.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..base import DatasetLayoutError, Requirement
from ..errors import DataError
from ..images import image_size
from .protocol import ANNOTATIONS, FRAMES_DIR, VIDEOS_DIR

if TYPE_CHECKING:  # ytvis_eval imports pycocotools: loaded where the ground truth is built, not with the options
    from .ytvis_eval import Track

EXPECTED_TREE = f"""
<data-root>/UVOv1.0/{ANNOTATIONS}              YouTube-VIS format
<data-root>/UVOv1.0/{FRAMES_DIR}/<video_id>/<frame>.png    (python -m evals.uvo.extract_frames)
"""
# The official release (UVO v1.0: the UVOv1.0 folder with VideoDenseSet/ and the preprocessed videos); SAM-PT's
# docs/02-prepare-datasets.md downloads the videos (uvo_videos_dense.zip) from the Google Drive folder below.
DATASET_PAGE = "https://sites.google.com/view/unidentified-video-object/dataset"
VIDEOS_FOLDER = "https://drive.google.com/drive/folders/1fOhEdHqrp_6D_tBsrR9hazDLYV2Sw1XC"


@dataclass(frozen=True)
class UvoVideo:
    id: int  # the json's video id
    name: str  # the folder of its frames (the sample id)
    height: int
    width: int
    frame_paths: tuple[Path, ...]
    annotations: tuple[dict[str, Any], ...]  # the json's annotations of this video, as given
    annotations_file: Path | None = None  # the json they come from (its size and tracks)

    def ground_truth(self) -> list[Track]:
        """Its annotated tracks, every category as one (class-agnostic)."""
        from .ytvis_eval import Track, to_rle

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


def frames_root(data_root: Path) -> Path:
    return uvo_root(data_root) / FRAMES_DIR


def uvo_requirements(data_root: Path, need_frames: bool = True) -> list[Requirement]:
    """The annotations; with frames (a SAM-PT run) the extracted frames, and the videos they come from while the
    frames are not there."""
    requirements = [Requirement("UVO v1.0 dense val annotations (the UVOv1.0 folder's VideoDenseSet)",
                                annotations_path(data_root), f"{DATASET_PAGE} (the UVOv1.0 folder)")]  # fmt: skip
    if need_frames:
        frames, videos = frames_root(data_root), uvo_root(data_root) / VIDEOS_DIR
        requirements += [
            Requirement("UVO v1.0 dense val frames", frames, f"python -m evals.uvo.extract_frames {videos} {frames}"),
            Requirement("UVO v1.0 dense videos (uvo_videos_dense/*.mp4, to extract the frames from)", videos,
                        f"uvo_videos_dense.zip, linked from {DATASET_PAGE} ({VIDEOS_FOLDER}, as SAM-PT's "
                        "docs/02-prepare-datasets.md downloads it), unzipped into UVOv1.0/",
                        present=lambda: frames.is_dir() or any(videos.glob("*.mp4"))),
        ]  # fmt: skip
    return requirements


def read_json(path: Path) -> Any:
    """A json file, or a DataError naming it and what is wrong (truncated, not JSON, not UTF-8)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read it as UTF-8 text ({err})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        # A whole json file ends with the } or ] of its top-level object or list.
        ending = "; the file ends inside a value: truncated?" if text.rstrip()[-1:] not in ("}", "]") else ""
        raise DataError(f"{path}: not valid JSON ({err.msg}, line {err.lineno} column {err.colno}{ending}); "
                        "download it again") from None  # fmt: skip


def _field(record: Any, key: str, kinds: type, where: str, what: str) -> Any:
    if not isinstance(record, dict) or key not in record:
        raise DataError(f"{where}: {what} has no {key!r} (YouTube-VIS format expected: {EXPECTED_FORMAT})")
    value = record[key]
    if not isinstance(value, kinds) or isinstance(value, bool):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise DataError(f"{where}: {what}'s {key!r} is {shown}, not {KIND_NAMES[kinds]}")
    return value


KIND_NAMES = {int: "an integer", list: "a list", str: "a string"}


EXPECTED_FORMAT = ("{videos: [{id, height, width, file_names: [<video>/<frame>.png ...]}], annotations: [{id, "
                   "video_id, segmentations: [RLE {size: [height, width], counts} or polygons or null per frame]}]}")


def _check_segmentation(segmentation: Any, height: int, width: int, where: str) -> None:
    if segmentation is None or (isinstance(segmentation, (list, dict)) and not segmentation):
        return  # no mask on this frame
    if isinstance(segmentation, dict):
        size, counts = segmentation.get("size"), segmentation.get("counts")
        if size is None or counts is None:
            raise DataError(f"{where}: an RLE without 'size' and 'counts'")
        if list(size) != [height, width]:
            raise DataError(f"{where}: an RLE of size {list(size)} (height, width), the video is {[height, width]}")
        if not isinstance(counts, (str, list)):
            raise DataError(f"{where}: RLE counts are neither a string nor a list")
        if isinstance(counts, list) and sum(counts) != height * width:
            raise DataError(f"{where}: uncompressed RLE counts sum to {sum(counts)}, the video has {height * width} "
                            "pixels")  # fmt: skip
        return
    if isinstance(segmentation, list) and all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0
                                              for p in segmentation):  # fmt: skip
        return  # polygons: x, y pairs
    raise DataError(f"{where}: neither an RLE, polygons nor null")


def _frame_path(root: Path, name: Any, where: str) -> Path:
    """<frames>/<name>; a name that is absolute or climbs out of the frames folder is an error."""
    if not isinstance(name, str) or not name:
        raise DataError(f"{where}: file name {name!r} is not a relative path")
    parts = PurePosixPath(name).parts
    if PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name:
        raise DataError(f"{where}: file name {name!r} would name a file outside {root}")
    return root.joinpath(*parts)


def load_uvo_videos(data_root: Path, need_frames: bool = True) -> list[UvoVideo]:
    """Every video of the dense val json, in the json's order, checked (module docstring; frames when
    `need_frames`)."""
    path = annotations_path(data_root)
    if not path.is_file():
        raise DatasetLayoutError(f"UVO v1.0: no annotations at {path}", EXPECTED_TREE)
    dataset = read_json(path)
    frames_dir = frames_root(data_root)
    if need_frames and not frames_dir.is_dir():
        raise DatasetLayoutError(f"UVO v1.0: no frames folder {frames_dir}", EXPECTED_TREE)
    entries = _field(dataset, "videos", list, str(path), "the file")
    annotations = dataset.get("annotations", [])
    if not isinstance(annotations, list):
        raise DataError(f"{path}: 'annotations' is not a list (YouTube-VIS format expected: {EXPECTED_FORMAT})")
    sizes: dict[int, tuple[int, int, int]] = {}  # video id -> (height, width, frames)
    videos, names = [], {}
    for index, video in enumerate(entries):
        where = f"{path}, videos[{index}]"
        video_id = _field(video, "id", int, where, "the video")
        where = f"{path}, video {video_id}"
        if video_id in sizes:
            raise DataError(f"{where}: video id {video_id} appears twice in 'videos'")
        height = _field(video, "height", int, where, "the video")
        width = _field(video, "width", int, where, "the video")
        if height <= 0 or width <= 0:
            raise DataError(f"{where}: size {width}x{height} (W x H); expected positive sizes")
        file_names = _field(video, "file_names", list, where, "the video")
        if not file_names:
            raise DataError(f"{where}: no file_names (a video has at least one frame)")
        frame_paths = tuple(_frame_path(frames_dir, name, where) for name in file_names)
        name = PurePosixPath(file_names[0]).parent.name or str(video_id)
        if name in names:
            raise DataError(f"{where}: its frames folder {name!r} is also video {names[name]}'s")
        names[name] = video_id
        sizes[video_id] = (height, width, len(frame_paths))
        if need_frames:
            missing = [p for p in frame_paths if not p.is_file()]
            if missing:
                raise DatasetLayoutError(f"UVO v1.0: {len(missing)} of the {len(frame_paths)} frames of video {name} "
                                         f"are missing, e.g. {missing[0]}", EXPECTED_TREE)  # fmt: skip
            for frame in frame_paths:
                if image_size(frame) != (width, height):
                    size = image_size(frame)
                    raise DataError(f"{frame}: {size[0]}x{size[1]} pixels (W x H), but video {video_id} ({name}) is "
                                    f"{width}x{height} in {path}; extract the frames again from its video "
                                    "(python -m evals.uvo.extract_frames)")  # fmt: skip
        videos.append((video_id, name, height, width, frame_paths))
    by_video: dict[int, list[dict]] = {}
    for index, annotation in enumerate(annotations):
        where = f"{path}, annotations[{index}]"
        video_id = _field(annotation, "video_id", int, where, "the annotation")
        if video_id not in sizes:
            raise DataError(f"{where}: video_id {video_id} is no video of the file")
        height, width, n_frames = sizes[video_id]
        segmentations = _field(annotation, "segmentations", list, where, "the annotation")
        where = f"{path}, annotation {annotation.get('id', index)} of video {video_id}"
        if (annotation.get("height", height), annotation.get("width", width)) != (height, width):
            raise DataError(f"{where}: size {annotation.get('width')}x{annotation.get('height')} (W x H), the video is "
                            f"{width}x{height}")  # fmt: skip
        if len(segmentations) != n_frames:
            raise DataError(f"{where}: {len(segmentations)} segmentations, the video has {n_frames} frames "
                            "(one segmentation, or null, per frame)")  # fmt: skip
        for t, segmentation in enumerate(segmentations):
            _check_segmentation(segmentation, height, width, f"{where}, frame {t}")
        by_video.setdefault(video_id, []).append(annotation)
    return [UvoVideo(video_id, name, height, width, frame_paths, tuple(by_video.get(video_id, [])), path)
            for video_id, name, height, width, frame_paths in videos]  # fmt: skip
