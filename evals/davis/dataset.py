"""The DAVIS 2017 val videos the task runs on: the 480p annotations it scores against (io.py's reader) and the
frames and first-frame annotation SAM-PT starts from.

Source resolution (`--source-resolution`): SAM-PT reads DAVIS's full-resolution frames and annotations
(sam_pt/vos_eval/data/test_datasets.py, DAVISTestDataset: 'Full-Resolution', else '1080p', whenever size != 480;
vos_eval_root.yaml: size -1) and resizes them to 1024 px; `480p` (the default here, the layout of
datasets/README.md) starts from the 480p frames instead, `full` does as SAM-PT. Either way frames are resized to
1024 px on their longest side and masks are written and scored at the 480p annotation's size.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..base import DatasetLayoutError
from .io import DEFAULT_RESOLUTION, DavisLayoutError, DavisSequence, detect_annotation_format, open_davis

SOURCE_RESOLUTIONS = ("480p", "full")
FULL_RESOLUTION_FOLDERS = ("Full-Resolution", "1080p")  # test_datasets.py: Full-Resolution, else 1080p
SUBSET = "val"
DAVIS_TREE = """\
<data-root>/DAVIS/                                  (or <data-root> itself)
    JPEGImages/480p/<sequence>/00000.jpg ...        frames (not needed with --predictions)
    Annotations/480p/<sequence>/00000.png ...       palette PNGs, pixel value = object id
    ImageSets/2017/val.txt                          30 sequences
    JPEGImages/Full-Resolution/, Annotations/Full-Resolution/   only for --source-resolution full
"""


@dataclass(frozen=True)
class DavisVideo:
    sequence: DavisSequence  # 480p annotations: objects, frame names, scoring
    frame_paths: tuple[Path, ...]  # one JPEG per annotated frame, at the source resolution (empty: not needed)
    first_annotation: Path | None  # frame 0's annotation at the source resolution
    first_annotation_format: str

    @property
    def name(self) -> str:
        return self.sequence.name


def find_davis_root(data_root: Path) -> Path:
    data_root = Path(data_root)
    for root in (data_root / "DAVIS", data_root):
        if (root / "Annotations" / DEFAULT_RESOLUTION).is_dir():
            return root
    raise DatasetLayoutError(f"DAVIS 2017 not found under {data_root}", DAVIS_TREE)


def _source_folder(root: Path, kind: str, source_resolution: str, sequence: str) -> Path:
    if source_resolution == "480p":
        return root / kind / DEFAULT_RESOLUTION / sequence
    for folder in FULL_RESOLUTION_FOLDERS:
        if (root / kind / folder).is_dir():
            return root / kind / folder / sequence
    raise DatasetLayoutError(f"--source-resolution full: no {kind}/Full-Resolution or {kind}/1080p under {root}",
                             DAVIS_TREE)  # fmt: skip


def load_davis_videos(data_root: Path, source_resolution: str = "480p", need_frames: bool = True) -> list[DavisVideo]:
    """DAVIS 2017 val in ImageSets/2017/val.txt order; frames checked to exist when `need_frames`."""
    if source_resolution not in SOURCE_RESOLUTIONS:
        raise ValueError(f"source resolution must be one of {SOURCE_RESOLUTIONS}, got {source_resolution!r}")
    root = find_davis_root(data_root)
    try:
        sequences = open_davis(root, SUBSET)
    except DavisLayoutError as error:
        raise DatasetLayoutError(str(error).split("\n")[0], DAVIS_TREE) from error
    videos = []
    for sequence in sequences:
        if not need_frames:
            videos.append(DavisVideo(sequence, (), None, sequence.annotation_format))
            continue
        frames_dir = _source_folder(root, "JPEGImages", source_resolution, sequence.name)
        frame_paths = tuple(frames_dir / f"{name}.jpg" for name in sequence.frame_names)
        missing = [p.name for p in frame_paths if not p.is_file()]
        if missing:
            raise DatasetLayoutError(f"sequence {sequence.name!r}: {len(missing)} frame(s) missing in {frames_dir}, "
                                     f"e.g. {', '.join(missing[:3])}", DAVIS_TREE)  # fmt: skip
        first = _source_folder(root, "Annotations", source_resolution, sequence.name) / f"{sequence.frame_names[0]}.png"
        if not first.is_file():
            raise DatasetLayoutError(f"sequence {sequence.name!r}: first annotation {first} not found", DAVIS_TREE)
        videos.append(DavisVideo(sequence, frame_paths, first, detect_annotation_format(first)))
    return videos


def dataset_files(videos: list[DavisVideo]) -> list[Path]:
    """Every file the run reads (fingerprinted in the results)."""
    files: list[Path] = []
    for video in videos:
        files += [video.sequence.annotation_path(name) for name in video.sequence.frame_names]
        files += list(video.frame_paths)
        if video.first_annotation is not None and video.first_annotation not in files:
            files.append(video.first_annotation)
    return files
