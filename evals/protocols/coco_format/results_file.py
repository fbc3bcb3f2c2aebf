"""COCO results-format files: one JSON list of detections ``{image_id, category_id, score, bbox | segmentation}``.

Both the box prompts (a detector's output, e.g. ViTDet-H's) and another method's masks (`--predictions`) come in
this format, one file for the whole split. The engine asks for one image at a time, so a file is read once and
indexed by image id; within an image, detections keep the file's order (COCOeval breaks score ties by that order:
`pycocotools/cocoeval.py`, evaluateImg, ``np.argsort([-d['score'] for d in dt], kind='mergesort')``).
A file that does not parse, is not a list, or holds a detection without the keys its reader needs (or with an
image id, category id or score of another type) is a `DataError` naming the file and the detection.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ...errors import DataError
from .dataset import is_integer, is_number, read_json
from .rle import compressed_rle

DETECTRON2_RESULTS_NAME = "coco_instances_results.json"  # detectron2's COCOEvaluator writes this in its output dir
EXPECTED = "a COCO results file: a JSON list of detections {image_id, category_id, score, bbox or segmentation}"


def read_results(path: Path, required: tuple[str, ...], source: str | None = None) -> list[dict]:
    """The detections of a COCO results file, in file order; each has the `required` keys, an integer image_id
    and category_id and a finite score (where required). `source`: where a whole copy comes from (for errors)."""
    path = Path(path)
    detections = read_json(path, EXPECTED, source)
    if not isinstance(detections, list):
        raise DataError(f"{path}: not a COCO results file (a JSON {type(detections).__name__}); expected {EXPECTED}")
    for index, detection in enumerate(detections):
        if not isinstance(detection, dict) or any(key not in detection for key in required):
            raise DataError(f"{path}: detection #{index} lacks one of {', '.join(required)}: {str(detection)[:200]}")
        problem = next((f"{key} {detection[key]!r} is not an integer" for key in ("image_id", "category_id")
                        if key in required and not is_integer(detection[key])), None)  # fmt: skip
        if problem is None and "score" in required and not is_number(detection["score"]):
            problem = f"score {detection['score']!r} is not a finite number"
        if problem:
            raise DataError(f"{path}: detection #{index}: {problem}")
    return detections


def by_image(detections: list[dict]) -> dict[int, list[dict]]:
    """{image_id: [detections in file order]}."""
    grouped: dict[int, list[dict]] = defaultdict(list)
    for detection in detections:
        grouped[detection["image_id"]].append(detection)
    return dict(grouped)


def read_results_by_image(path: Path, required: tuple[str, ...]) -> dict[int, list[dict]]:
    """{image_id: [detection dicts in file order]}; every detection must have the `required` keys."""
    return by_image(read_results(path, required))


def resolve_results_file(path: Path) -> Path:
    """`path` itself, or inside a folder: detectron2's coco_instances_results.json, else its only *.json file."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise DataError(f"--predictions {path}: no such results file or folder")
    if (path / DETECTRON2_RESULTS_NAME).is_file():
        return path / DETECTRON2_RESULTS_NAME
    candidates = sorted(path.glob("*.json"))
    if len(candidates) != 1:
        names = ", ".join(p.name for p in candidates) or "none"
        raise DataError(
            f"--predictions {path}: expected one COCO results .json (or {DETECTRON2_RESULTS_NAME}) in the folder, "
            f"found {names}"
        )
    return candidates[0]


def mask_detections(entries: list[dict], height: int, width: int, source: str = "") -> list[dict]:
    """Results-file entries of one image -> ``{category_id, score, segmentation}`` with compressed RLE masks
    (polygons and uncompressed RLE converted, see rle.compressed_rle); `bbox` is not kept (the metric drops it).
    A segmentation that is not one, or of another size than the image, is a DataError naming `source`."""
    try:
        return [
            {"category_id": entry["category_id"], "score": entry["score"],
             "segmentation": compressed_rle(entry["segmentation"], height, width)}
            for entry in entries
        ]  # fmt: skip
    except (ValueError, TypeError) as err:
        raise DataError(f"{source or 'a results file'}: {err}") from None
