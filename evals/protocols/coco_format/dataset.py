"""COCO-format instance annotations: the official val2017 layout, and a reader that SegInW reuses.

The reader needs only an annotation file in COCO `instances` format and the folder its `file_name`s are relative
to, so a Roboflow COCO export (SegInW: `<Dataset>/valid/_annotations_min1cat.coco.json` beside its images) reads
exactly as `coco/annotations/instances_val2017.json` with `coco/val2017/`. Images keep the annotation file's
order; each carries its ground-truth boxes (for `--boxes gt`) and the annotation file it belongs to (the metric
groups images by it: one mask AP per annotation file).

Everything the run and pycocotools' COCOeval read from the file is checked here, before the first prediction, and
a problem is a `DataError` naming the file and the record: JSON that does not parse (a truncated download), a
missing key, an image id that is not an integer or appears twice, a `file_name` outside the images folder, a size
that is not positive, a box that is not four finite numbers or has a negative width or height, an RLE mask of
another size than its image. Zero-sized ground-truth boxes are accepted: the official COCO 2017 annotations hold a
few (cocodataset/cocoapi#355: train2017 annotation 918, bbox [296.65, 388.33, 1.03, 0.0]); they are scored by their
masks, and `--boxes gt` prompts with them as the file gives them. An image's pixels are checked when they are read
(`read_rgb`: whole, decodable, of the annotation file's size).
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ... import images as image_files
from ...base import DatasetLayoutError, Requirement
from ...errors import DataError

VAL2017_IMAGES = Path("val2017")
VAL2017_ANNOTATIONS = Path("annotations") / "instances_val2017.json"
VAL2017_FOLDER = "coco"  # <data-root>/coco, or the data root itself
# The official archives (cocodataset.org/#download, "2017 Val images" and "2017 Train/Val annotations").
VAL2017_IMAGES_URL = "http://images.cocodataset.org/zips/val2017.zip"
VAL2017_ANNOTATIONS_URL = "http://images.cocodataset.org/annotations/annotations_trainval2017.zip"
VAL2017_TREE = """\
<data-root>/coco/                      (or <data-root> itself)
    val2017/*.jpg                       5,000 images (COCO 2017 val)
    annotations/instances_val2017.json  from annotations_trainval2017.zip
"""
MISSING_SHOWN = 5  # how many missing image files an error names
ANNOTATION_KEYS = ("id", "image_id", "category_id", "bbox", "area", "segmentation")  # what COCOeval reads
IMAGE_KEYS = ("id", "file_name", "height", "width")


@dataclass(frozen=True)
class GroundTruthBox:
    """One annotation's box as the annotation file gives it (COCO [x, y, w, h], pixels)."""

    annotation_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    iscrowd: bool


@dataclass(frozen=True)
class CocoImage:
    image_id: int
    path: Path
    height: int
    width: int
    annotation_file: Path  # the ground truth this image is scored against
    ground_truth: tuple[GroundTruthBox, ...]  # in the annotation file's order, crowd annotations included


def val2017_root(data_root: Path) -> Path:
    """Where COCO val2017 is under `data_root`: <data-root>/coco (canonical) or <data-root> itself, whichever holds
    a part of it; <data-root>/coco when neither does."""
    data_root = Path(data_root)
    for root in (data_root / VAL2017_FOLDER, data_root):
        if (root / VAL2017_IMAGES).is_dir() or (root / VAL2017_ANNOTATIONS).is_file():
            return root
    return data_root / VAL2017_FOLDER


def val2017_requirements(data_root: Path) -> list[Requirement]:
    """The images folder and the annotation file of COCO val2017, where they must be and their archives."""
    root = val2017_root(data_root)
    images, annotations = root / VAL2017_IMAGES, root / VAL2017_ANNOTATIONS
    return [
        Requirement("COCO val2017 images (val2017/*.jpg, 5,000 files)", images, VAL2017_IMAGES_URL, images.is_dir),
        Requirement("COCO val2017 annotations (annotations/instances_val2017.json)", annotations,
                    VAL2017_ANNOTATIONS_URL, annotations.is_file),
    ]  # fmt: skip


def find_val2017(data_root: Path) -> tuple[Path, Path]:
    """(images folder, annotation file) of COCO val2017 under `data_root`/coco or `data_root` itself."""
    data_root = Path(data_root)
    for root in (data_root / VAL2017_FOLDER, data_root):
        if (root / VAL2017_IMAGES).is_dir() and (root / VAL2017_ANNOTATIONS).is_file():
            return root / VAL2017_IMAGES, root / VAL2017_ANNOTATIONS
    raise DatasetLayoutError(f"COCO val2017 not found under {data_root}", VAL2017_TREE)


def read_json(path: Path, expected: str, source: str | None = None) -> Any:
    """The content of JSON file `path`; a DataError naming the file, what is wrong and what was `expected` (and
    where to get a whole copy: `source`) if it is missing, unreadable or not JSON (e.g. truncated)."""
    path = Path(path)
    again = f"; get a whole copy from {source}" if source else ""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found (expected {expected}){again}") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read it ({err.strerror or err}); expected {expected}") from None
    try:
        return json.loads(data)
    except json.JSONDecodeError as err:
        truncated = " (the file ends there: truncated?)" if err.pos >= len(data.rstrip()) else ""
        raise DataError(f"{path}: not valid JSON: {err.msg} at line {err.lineno} column {err.colno}, byte {err.pos} "
                        f"of {len(data)}{truncated}; expected {expected}{again}") from None  # fmt: skip
    except (UnicodeDecodeError, RecursionError) as err:
        raise DataError(f"{path}: not a JSON text ({type(err).__name__}); expected {expected}{again}") from None


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def box_problem(bbox: Any, allow_empty: bool) -> str | None:
    """What is wrong with a COCO [x, y, w, h] box, or None: four finite numbers, width and height positive (or, with
    `allow_empty`, not negative)."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(is_number(v) for v in bbox):
        return f"bbox {str(bbox)[:80]} is not [x, y, width, height] (four finite numbers)"
    for name, value in (("width", bbox[2]), ("height", bbox[3])):
        if value < 0 or (value == 0 and not allow_empty):
            return (f"bbox {list(bbox)} has {'a negative' if value < 0 else 'zero'} {name} ({value}); expected "
                    f"[x, y, width, height] with {'non-negative' if allow_empty else 'positive'} width and height")
    return None


def image_file(images_dir: Path, file_name: Any) -> Path | None:
    """`images_dir`/`file_name` for a relative name inside the folder; None for anything else."""
    if not isinstance(file_name, str) or not file_name or "\\" in file_name or "\0" in file_name:
        return None
    name = PurePosixPath(file_name)
    if name.is_absolute() or ".." in name.parts:
        return None
    return Path(images_dir) / name


def _segmentation_problem(segmentation: Any, size: tuple[int, int] | None) -> str | None:
    """Polygons (a list of coordinate lists) or an RLE ({size: [h, w], counts}) of its image's size."""
    if isinstance(segmentation, list):
        return None if all(isinstance(p, list) for p in segmentation) else "segmentation is not a list of polygons"
    if isinstance(segmentation, dict) and "counts" in segmentation and isinstance(segmentation.get("size"), list):
        if size is not None and segmentation["size"] != list(size):
            return f"RLE segmentation of size {segmentation['size']} on an image of height x width {list(size)}"
        return None
    return f"segmentation {str(segmentation)[:80]} is neither polygons nor an RLE"


def read_coco_images(annotation_file: Path, images_dir: Path, source: str | None = None,
                     file_name_key: str = "file_name") -> list[CocoImage]:  # fmt: skip
    """Every image of `annotation_file`, in its order, with its ground-truth boxes; image files are not opened.
    The file is checked (module docstring); `source`: where a whole copy comes from (named in errors).
    `file_name_key`: the image record's key naming its file; "coco_url" for LVIS, whose records name their COCO
    image by URL only (its last two parts, e.g. val2017/000000397133.jpg, are the file under `images_dir`)."""
    annotation_file = Path(annotation_file)
    expected = "a COCO instances file: {images, annotations, categories}"
    content = read_json(annotation_file, expected, source)
    if not isinstance(content, dict):
        raise DataError(f"{annotation_file}: not a COCO instances file (a JSON {type(content).__name__}, expected an "
                        "object with images, annotations and categories)")  # fmt: skip
    for key in ("images", "annotations", "categories"):
        if not isinstance(content.get(key), list):
            problem = "lacks" if key not in content else "has no list under"
            raise DataError(f"{annotation_file}: not a COCO instances file: it {problem} '{key}'; expected {expected}")

    def fail(record: str, problem: str):
        raise DataError(f"{annotation_file}: {record}: {problem}")

    sizes: dict[int, tuple[int, int]] = {}
    records = []
    for index, record in enumerate(content["images"]):
        where = f"images[{index}]"
        keys = (*IMAGE_KEYS[:1], file_name_key, *IMAGE_KEYS[2:])
        if not isinstance(record, dict) or any(key not in record for key in keys):
            fail(where, f"lacks one of {', '.join(keys)}: {str(record)[:200]}")
        image_id = record["id"]
        where = f"images[{index}] (id {image_id!r})"
        if not is_integer(image_id):
            fail(where, "the image id is not an integer")
        if image_id in sizes:
            fail(where, f"image id {image_id} appears twice")
        if not all(is_integer(record[k]) and record[k] > 0 for k in ("height", "width")):
            fail(where, f"height {record['height']!r} and width {record['width']!r} must be positive integers")
        name = record[file_name_key]
        if file_name_key == "coco_url" and isinstance(name, str):
            name = "/".join(name.split("/")[-2:])
        path = image_file(images_dir, name)
        if path is None:
            fail(where, f"{file_name_key} {record[file_name_key]!r} does not name a file inside {images_dir}")
        sizes[image_id] = (record["height"], record["width"])
        records.append((image_id, path, record["height"], record["width"]))

    boxes: dict[int, list[GroundTruthBox]] = defaultdict(list)
    annotation_ids = set()
    for index, ann in enumerate(content["annotations"]):
        where = f"annotations[{index}]"
        if not isinstance(ann, dict) or any(key not in ann for key in ANNOTATION_KEYS):
            missing = [key for key in ANNOTATION_KEYS if not isinstance(ann, dict) or key not in ann]
            fail(where, f"lacks {', '.join(repr(k) for k in missing)} (every annotation needs "
                        f"{', '.join(ANNOTATION_KEYS)}): {str(ann)[:200]}")  # fmt: skip
        where = f"annotations[{index}] (id {ann['id']!r}, image {ann['image_id']!r})"
        if not all(is_integer(ann[key]) for key in ("id", "image_id", "category_id")):
            fail(where, "id, image_id and category_id must be integers")
        if ann["id"] in annotation_ids:
            fail(where, f"annotation id {ann['id']} appears twice")
        annotation_ids.add(ann["id"])
        problem = box_problem(ann["bbox"], allow_empty=True) or _segmentation_problem(
            ann["segmentation"], sizes.get(ann["image_id"])
        )
        if not is_number(ann["area"]) or ann["area"] < 0:
            problem = problem or f"area {ann['area']!r} is not a non-negative number"
        if problem:
            fail(where, problem)
        boxes[ann["image_id"]].append(
            GroundTruthBox(ann["id"], ann["category_id"], tuple(ann["bbox"]), bool(ann.get("iscrowd", 0)))
        )
    return [
        CocoImage(image_id=image_id, path=path, height=height, width=width, annotation_file=annotation_file,
                  ground_truth=tuple(boxes.get(image_id, ())))
        for image_id, path, height, width in records
    ]  # fmt: skip


def require_image_files(images: list[CocoImage], tree: str = VAL2017_TREE) -> None:
    """A DatasetLayoutError naming the first missing image files, if any is missing."""
    missing = [image.path for image in images if not image.path.is_file()]
    if missing:
        shown = ", ".join(str(p) for p in missing[:MISSING_SHOWN]) + (", ..." if len(missing) > MISSING_SHOWN else "")
        raise DatasetLayoutError(
            f"{len(missing)} of {len(images)} images of the annotation file are missing: {shown}", tree
        )


def read_rgb(image: CocoImage) -> np.ndarray:
    """H x W x 3 uint8 RGB, decoded as TinySAM's eval/tinysam_zero_shot_ins_eval.py does: ``cv2.imread`` (which
    applies EXIF orientation) then ``cv2.cvtColor(image, cv2.COLOR_BGR2RGB)``; grayscale JPEGs become 3 channels.
    (EfficientViT-SAM's eval_efficientvit_sam_model.py uses ``PIL.Image.open(path).convert("RGB")``, which decodes
    the same JPEGs with libjpeg too.) The file is checked whole first (evals/images.py); a size other than the
    annotation file's is an error: the masks would not line up with the ground truth.
    """
    rgb = image_files.read_rgb(image.path)
    if rgb.shape[:2] != (image.height, image.width):
        raise DataError(f"{image.path}: the image is {rgb.shape[1]}x{rgb.shape[0]} but the annotation file says "
                        f"{image.width}x{image.height} ({image.annotation_file}, image id {image.image_id})")  # fmt: skip
    return rgb


def read_rgb_or_blank(image: CocoImage) -> np.ndarray:
    """The image, or a blank canvas of its size where the file is missing or broken: the panels without it."""
    try:
        return read_rgb(image)
    except (OSError, ValueError, DataError):
        from ... import visual  # drawing: only for the report's panels

        return visual.blank(image.height, image.width)
