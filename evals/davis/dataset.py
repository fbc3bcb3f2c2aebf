"""The DAVIS 2017 val videos the task runs on: the 480p annotations it scores against (io.py's reader) and the
frames and first-frame annotation SAM-PT starts from.

Source resolution (`--source-resolution`): SAM-PT reads DAVIS's full-resolution frames and annotations
(sam_pt/vos_eval/data/test_datasets.py, DAVISTestDataset: 'Full-Resolution', else '1080p', whenever size != 480;
vos_eval_root.yaml: size -1) and resizes them to 1024 px; `480p` (the default here, the layout of
datasets/README.md) starts from the 480p frames instead, `full` does as SAM-PT. Either way frames are resized to
1024 px on their longest side and masks are written and scored at the 480p annotation's size.

Every sequence's files are checked here, before the first prediction (`check_sequence`): each annotation PNG whole,
an id map (indexed or grayscale, as its sequence's others) whose palette gives its object ids the colours the
sequence's other annotations give them, and of its frame's size; every frame of one size. A damaged file is a
DataError naming it, instead of a wrong score or a failure long after the predictions started.
"""
from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..base import DatasetLayoutError, Requirement
from ..errors import DataError
from ..images import image_size, open_pil, read_checked
from .io import DEFAULT_RESOLUTION, DavisLayoutError, DavisSequence, detect_annotation_format, open_davis

# The official archives (https://davischallenge.org/davis2017/code.html, "TrainVal - Images and Annotations"); each
# unpacks into DAVIS/, so both unzipped in the data root make one tree.
DOWNLOAD_PAGE = "https://davischallenge.org/davis2017/code.html"
ARCHIVE_480P = "https://data.vision.ee.ethz.ch/csergi/share/davis/DAVIS-2017-trainval-480p.zip"
ARCHIVE_FULL = "https://data.vision.ee.ethz.ch/csergi/share/davis/DAVIS-2017-trainval-Full-Resolution.zip"
ANNOTATION_MODES = ("P", "L", "1")  # what io.read_annotation reads as ids: indexed (DAVIS 2017) or grayscale

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


def davis_requirements(data_root: Path, source_resolution: str = "480p", need_frames: bool = True) -> list[Requirement]:
    """The DAVIS archives a run needs, at <data-root>/DAVIS (or where it was found: <data-root> itself); the layout
    inside is checked by `load_davis_videos`."""
    data_root = Path(data_root)
    try:
        root = find_davis_root(data_root)
    except DatasetLayoutError:
        root = data_root / "DAVIS"  # the canonical place: the archives unpack into DAVIS/
    frames_480p = need_frames and source_resolution == "480p"
    needs = ["Annotations/480p", "ImageSets/2017/val.txt"] + (["JPEGImages/480p"] if frames_480p else [])
    requirements = [Requirement(
        f"DAVIS 2017 trainval 480p ({', '.join(needs)})", root,
        f"{ARCHIVE_480P} (unzip it in {data_root}; listed on {DOWNLOAD_PAGE})",
        present=lambda: all((root / need).exists() for need in needs),
    )]  # fmt: skip
    if need_frames and source_resolution == "full":
        requirements.append(Requirement(
            "DAVIS 2017 trainval full resolution (JPEGImages/Full-Resolution, Annotations/Full-Resolution; "
            "--source-resolution full)", root / "JPEGImages" / "Full-Resolution",
            f"{ARCHIVE_FULL} (unzip it in {data_root}, beside the 480p archive; listed on {DOWNLOAD_PAGE})",
            present=lambda: all(any((root / kind / f).is_dir() for f in FULL_RESOLUTION_FOLDERS)
                                for kind in ("JPEGImages", "Annotations")),
        ))  # fmt: skip
    return requirements


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


@dataclass(frozen=True)
class AnnotationHeader:
    path: Path
    size: tuple[int, int]  # (W, H)
    mode: str
    palette: tuple[int, ...] | None  # RGB triplets of an indexed PNG


def annotation_header(path: Path) -> AnnotationHeader:
    """An annotation PNG checked whole (evals/images.py) and its header read."""
    data = read_checked(path)
    try:
        with Image.open(io.BytesIO(data)) as image:
            palette = image.getpalette() if image.mode == "P" else None
            return AnnotationHeader(path, image.size, image.mode, tuple(palette) if palette else None)
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: not an image PIL can read ({err}); replace it from {ARCHIVE_480P}") from None


def _majority(values):
    return Counter(values).most_common(1)[0][0]


def _check_palette(header: AnnotationHeader, reference: tuple[int, ...], reference_path: Path) -> None:
    """An indexed annotation whose palette differs from its sequence's: an error when an object id it holds has
    another colour there (the file was re-indexed, e.g. re-saved by an image editor: its pixel values no longer
    name the sequence's objects); a difference in colours it does not use is harmless."""
    if header.palette is None or header.palette == reference:
        return
    for index in np.unique(np.asarray(open_pil(header.path))).tolist():
        mine, theirs = header.palette[3 * index : 3 * index + 3], reference[3 * index : 3 * index + 3]
        if mine != theirs:
            raise DataError(
                f"{header.path}: its palette gives pixel value {index} the colour {tuple(mine)}, the sequence's other "
                f"annotations (e.g. {reference_path.name}) give it {tuple(theirs)}: a re-indexed palette PNG whose "
                f"pixel values do not name the sequence's objects; replace it from the DAVIS archive ({ARCHIVE_480P})"
            )


def check_sequence(sequence: DavisSequence, frame_paths: tuple[Path, ...], first_annotation: Path | None,
                   source_resolution: str) -> None:  # fmt: skip
    """The annotations and frames of one sequence agree (module docstring); a DataError names the damaged file."""
    headers = [annotation_header(sequence.annotation_path(name)) for name in sequence.frame_names]
    for header in headers:
        if header.mode not in ANNOTATION_MODES:
            raise DataError(f"{header.path}: a {header.mode} PNG; DAVIS annotations are indexed (palette) PNGs whose "
                            f"pixel values are object ids; replace it from {ARCHIVE_480P}")  # fmt: skip
    mode = _majority(h.mode for h in headers)
    for header in headers:
        if header.mode != mode:
            raise DataError(f"{header.path}: a {header.mode} PNG, the other annotations of sequence "
                            f"{sequence.name!r} are {mode}; replace it from {ARCHIVE_480P}")  # fmt: skip
    palettes = [h for h in headers if h.palette is not None]
    if palettes:
        reference = _majority(h.palette for h in palettes)
        reference_path = next(h.path for h in palettes if h.palette == reference)
        for header in palettes:
            _check_palette(header, reference, reference_path)
    frame_sizes = [image_size(path) for path in frame_paths]
    if frame_sizes:
        common = _majority(frame_sizes)
        for path, size in zip(frame_paths, frame_sizes):
            if size != common:
                raise DataError(f"{path}: {_size(size)} pixels (W x H), the other frames of sequence "
                                f"{sequence.name!r} are {_size(common)}; replace it from the DAVIS archive")
    if frame_sizes and source_resolution == "480p":  # each 480p annotation against its own frame
        for header, path, size in zip(headers, frame_paths, frame_sizes):
            if header.size != size:
                raise DataError(f"{header.path}: {_size(header.size)} pixels (W x H), but its frame {path} is "
                                f"{_size(size)}; an annotation has its frame's size: replace it from {ARCHIVE_480P}")
    else:  # no 480p frames to compare with: the sequence's annotations share one size
        common = _majority(h.size for h in headers)
        for header in headers:
            if header.size != common:
                raise DataError(f"{header.path}: {_size(header.size)} pixels (W x H), the other annotations of "
                                f"sequence {sequence.name!r} are {_size(common)}; replace it from {ARCHIVE_480P}")
    if first_annotation is not None and source_resolution != "480p":  # the full-resolution first annotation
        header = annotation_header(first_annotation)
        if header.mode not in ANNOTATION_MODES:
            raise DataError(f"{first_annotation}: a {header.mode} PNG; DAVIS annotations are indexed (palette) PNGs "
                            f"whose pixel values are object ids; replace it from {ARCHIVE_FULL}")  # fmt: skip
        if frame_sizes and header.size != frame_sizes[0]:
            raise DataError(f"{first_annotation}: {_size(header.size)} pixels (W x H), but its frame {frame_paths[0]} "
                            f"is {_size(frame_sizes[0])}; an annotation has its frame's size: replace it from "
                            f"{ARCHIVE_FULL}")  # fmt: skip
        if palettes:
            _check_palette(header, reference, reference_path)


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
            check_sequence(sequence, (), None, source_resolution)
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
        check_sequence(sequence, frame_paths, first, source_resolution)
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
