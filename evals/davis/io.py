"""Read a DAVIS dataset tree and a results folder; write masks in the DAVIS results format.

Dataset tree (as davisvideochallenge/davis2017-evaluation, davis2017/davis.py, class DAVIS):

    <root>/JPEGImages/480p/<sequence>/00000.jpg ...
    <root>/Annotations/480p/<sequence>/00000.png ...   palette PNG, pixel value = object id, 255 = void
    <root>/ImageSets/2017/val.txt                       one sequence name per line

DAVIS-2016 annotations (8-bit grayscale PNGs holding only 0 and 255) are also accepted: they hold one object,
value > 127, as in the note of shared/data/davis2016_sample/expected_official_eval.json.

Results folder (davis2017/results.py, class Results): <results>/<sequence>/<frame>.png, palette PNGs whose
pixel value is the object id, one file per annotated frame, named as the annotation.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..images import open_pil
from ..names import check_name

# davis2017/davis.py, DAVIS.__init__: resolution='480p' default; the ImageSets folder is '2017' for the
# semi-supervised task; subsets are listed in DAVIS.SUBSET_OPTIONS.
DEFAULT_RESOLUTION = "480p"
IMAGESET_YEAR = "2017"
SUBSETS = ("train", "val", "test-dev", "test-challenge")

# davis2017/davis.py, DAVIS.VOID_LABEL and get_all_masks: annotation pixels equal to 255 are void; they are set to
# background before objects are separated. The semi-supervised evaluation passes no void mask to the metrics
# (davis2017/evaluation.py, _evaluate_semisupervised(..., None, metric)), so void simply counts as background.
VOID_LABEL = 255

# DAVIS-2016 binary masks: value > 127 is the (single) object. Source: the note of
# shared/data/davis2016_sample/expected_official_eval.json ("value>127 -> object 1").
DAVIS2016_FOREGROUND_THRESHOLD = 127

ANNOTATION_FORMATS = ("auto", "davis2017", "davis2016")

EXPECTED_DATASET_TREE = """Expected DAVIS layout:
  {root}/
    JPEGImages/{res}/<sequence>/00000.jpg ...   frames (not needed to compute the metrics)
    Annotations/{res}/<sequence>/00000.png ...  palette PNG, pixel value = object id (255 = void),
                                                 or DAVIS-2016 binary grayscale PNG (0 / 255, one object)
    ImageSets/{year}/{subset}.txt               one sequence name per line (not needed when sequences are given)"""

EXPECTED_RESULTS_TREE = """Expected results layout:
  {root}/
    <sequence>/<frame>.png   one palette PNG per annotated frame, named as the annotation (e.g. 00001.png),
                             pixel value = object id (0 = background), same size as the annotation"""


class DavisLayoutError(DataError, FileNotFoundError):
    """The dataset or results folder does not have the DAVIS layout."""


class MissingResultFrameError(DataError, FileNotFoundError):
    """A results PNG that the evaluation needs is missing."""


class MaskFormatError(DataError, ValueError):
    """A PNG cannot be read as an object-id map, or does not match its annotation."""


def _dataset_layout_error(root: Path, resolution: str, subset: str, problem: str) -> DavisLayoutError:
    tree = EXPECTED_DATASET_TREE.format(root=root, res=resolution, year=IMAGESET_YEAR, subset=subset)
    return DavisLayoutError(f"{problem}\n{tree}")


def _results_layout_error(root: Path, problem: str) -> DavisLayoutError:
    return DavisLayoutError(f"{problem}\n{EXPECTED_RESULTS_TREE.format(root=root)}")


@dataclass(frozen=True)
class DavisSequence:
    """One annotated sequence: its frame names (annotation file stems, sorted) and how to read its masks."""

    name: str
    annotation_dir: Path
    frame_names: tuple[str, ...]
    annotation_format: str  # "davis2017" (ids) or "davis2016" (binary 0/255)

    def annotation_path(self, frame_name: str) -> Path:
        return self.annotation_dir / f"{frame_name}.png"

    def read_annotation(self, frame_name: str) -> np.ndarray:
        return read_annotation(self.annotation_path(frame_name), self.annotation_format)


def _id_map_from_image(image: Image.Image, path: Path) -> np.ndarray:
    """Pixel values of an indexed or 8-bit grayscale PNG as a uint8 id map (no palette lookup, as np.array(PIL))."""
    if image.mode in ("P", "L"):
        ids = np.asarray(image)
    elif image.mode == "1":
        ids = np.asarray(image).astype(np.uint8)
    else:
        raise MaskFormatError(
            f"{path}: mode {image.mode!r}; expected an indexed (palette) or 8-bit grayscale PNG whose pixel "
            "values are object ids (write results with evals.davis.io.write_palette_mask)"
        )
    if ids.ndim != 2:
        raise MaskFormatError(f"{path}: expected a 2-D id map, got shape {ids.shape}")
    return ids


def detect_annotation_format(path: Path) -> str:
    """'davis2016' for a grayscale PNG holding only 0 and 255 (binary mask); 'davis2017' (object ids) otherwise."""
    image = open_pil(path)  # checked whole (evals/images.py): a missing or truncated PNG is a DataError naming it
    if image.mode != "L":
        return "davis2017"
    values = np.unique(np.asarray(image))
    return "davis2016" if set(values.tolist()) <= {0, 255} and 255 in values else "davis2017"


def read_annotation(path: Path, annotation_format: str = "davis2017") -> np.ndarray:
    """Annotation PNG -> uint8 object-id map, 0 = background. Void (255) becomes background (davis2017/davis.py)."""
    ids = _id_map_from_image(open_pil(path), path)
    if annotation_format == "davis2016":
        return (ids > DAVIS2016_FOREGROUND_THRESHOLD).astype(np.uint8)
    if annotation_format != "davis2017":
        raise ValueError(f"annotation_format must be 'davis2017' or 'davis2016' here, got {annotation_format!r}")
    ids = ids.copy()
    ids[ids == VOID_LABEL] = 0
    return ids


def read_sequence_names(root: Path | str, subset: str = "val", resolution: str = DEFAULT_RESOLUTION) -> list[str]:
    """Sequence names from <root>/ImageSets/2017/<subset>.txt (davis2017/davis.py reads the same file)."""
    root = Path(root)
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    listing = root / "ImageSets" / IMAGESET_YEAR / f"{subset}.txt"
    if not listing.is_file():
        raise _dataset_layout_error(root, resolution, subset, f"Sequence list not found: {listing}")
    try:
        names = [line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{listing}: cannot read it as a text list of sequence names ({err})") from None
    for name in names:  # each names a folder under Annotations/ and JPEGImages/: never one outside them
        check_name(f"{listing}: sequence name", name, DataError)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"{listing}: sequence(s) {', '.join(repeated)} listed more than once; each sequence once")
    return names


def open_davis(
    root: Path | str,
    subset: str = "val",
    sequences: list[str] | None = None,
    resolution: str = DEFAULT_RESOLUTION,
    annotation_format: str = "auto",
) -> list[DavisSequence]:
    """The annotated sequences of a DAVIS tree, in list order (ImageSets/2017/<subset>.txt unless given).

    annotation_format: 'davis2017' (palette ids, 255 void), 'davis2016' (binary 0/255, one object) or 'auto'
    (decided per sequence from its first annotation: a grayscale PNG with only 0 and 255 is DAVIS-2016).
    """
    root = Path(root)
    if annotation_format not in ANNOTATION_FORMATS:
        raise ValueError(f"annotation_format must be one of {ANNOTATION_FORMATS}, got {annotation_format!r}")
    if not root.is_dir():
        raise _dataset_layout_error(root, resolution, subset, f"DAVIS root not found: {root}")
    annotations_root = root / "Annotations" / resolution
    if not annotations_root.is_dir():
        raise _dataset_layout_error(root, resolution, subset, f"Annotations folder not found: {annotations_root}")
    names = list(sequences) if sequences is not None else read_sequence_names(root, subset, resolution)
    for name in sequences or ():
        check_name("sequence name", name, DataError)
    if not names:
        raise DataError(f"no sequences to evaluate under {root} (ImageSets/{IMAGESET_YEAR}/{subset}.txt is empty)")

    opened = []
    for name in names:
        annotation_dir = annotations_root / name
        frame_names = tuple(sorted(p.stem for p in annotation_dir.glob("*.png")))
        if not frame_names:
            raise _dataset_layout_error(
                root, resolution, subset, f"No annotation PNGs for sequence {name!r} in {annotation_dir}"
            )
        images_dir = root / "JPEGImages" / resolution / name
        if images_dir.is_dir():
            n_images = sum(1 for _ in images_dir.glob("*.jpg"))
            if n_images > len(frame_names):
                # davis2017/davis.py pads the mask list with -1 and fails on it: every frame must be annotated.
                raise _dataset_layout_error(
                    root, resolution, subset,
                    f"Sequence {name!r} has {n_images} frames but {len(frame_names)} annotations; "
                    "the semi-supervised evaluation needs every frame annotated (train/val)",
                )
        fmt = annotation_format
        if fmt == "auto":
            fmt = detect_annotation_format(annotation_dir / f"{frame_names[0]}.png")
        opened.append(DavisSequence(name, annotation_dir, frame_names, fmt))
    return opened


@dataclass(frozen=True)
class ResultsFolder:
    """<root>/<sequence>/<frame>.png id maps (davis2017/results.py)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def frame_path(self, sequence: str, frame_name: str) -> Path:
        return self.root / sequence / f"{frame_name}.png"

    def check_frames(self, sequence: str, frame_names: tuple[str, ...] | list[str]) -> None:
        """Raise a clear error when the folder, the sequence folder or any needed frame is missing."""
        if not self.root.is_dir():
            raise _results_layout_error(self.root, f"Results folder not found: {self.root}")
        sequence_dir = self.root / sequence
        if not sequence_dir.is_dir():
            raise _results_layout_error(self.root, f"No results folder for sequence {sequence!r}: {sequence_dir}")
        missing = [f for f in frame_names if not self.frame_path(sequence, f).is_file()]
        if missing:
            shown = ", ".join(f"{f}.png" for f in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise MissingResultFrameError(
                f"Sequence {sequence!r}: {len(missing)} result frame(s) missing in {sequence_dir}: {shown}\n"
                + EXPECTED_RESULTS_TREE.format(root=self.root)
            )

    def read(self, sequence: str, frame_name: str) -> np.ndarray:
        """Result PNG -> uint8 object-id map (raw pixel values: 255 is an object id here, not void)."""
        path = self.frame_path(sequence, frame_name)
        if not path.is_file():
            raise MissingResultFrameError(
                f"Sequence {sequence!r}: result frame {frame_name}.png not found ({path})\n"
                + EXPECTED_RESULTS_TREE.format(root=self.root)
            )
        return _id_map_from_image(open_pil(path), path)


def davis_palette() -> np.ndarray:
    """The 256-colour palette of DAVIS PNGs: the PASCAL VOC colour map (davis2017/utils.py, color_map).

    Bits 0, 1, 2 of the label go to the top bit of red, green, blue; bits 3, 4, 5 to the next bit; and so on.
    """
    labels = np.arange(256)
    palette = np.zeros((256, 3), dtype=np.uint8)
    for level in range(8):  # label bits 3*level .. 3*level+2 -> colour bit 7-level
        for channel in range(3):
            bit = (labels >> (3 * level + channel)) & 1
            palette[:, channel] |= (bit << (7 - level)).astype(np.uint8)
    return palette


def write_palette_mask(path: Path | str, ids: np.ndarray) -> None:
    """Write an object-id map as an indexed PNG with the DAVIS palette (0 = background)."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise MaskFormatError(f"expected a 2-D id map, got shape {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise MaskFormatError("object ids must be in 0..255")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(ids.astype(np.uint8))  # mode 'L'; putpalette turns it into 'P', pixel values kept
    image.putpalette(davis_palette().ravel().tolist())
    image.save(path)
