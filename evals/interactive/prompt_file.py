"""Frozen prompt files: the boxes and clicks a run gave each object, written (`--export-prompts FILE`) and read back
(`--prompts FILE`) so that two models, two machines or two papers are scored on identical prompts.

A box and the first click depend only on the ground truth; every later click depends on the model that made the
earlier predictions, so a prompt file records them as that model made them, and names the model, the protocol and
the annotation file they were made on. Reading one back replaces the protocol's own prompts object by object;
re-scoring the same model on its own file gives the same numbers (tests/test_interactive.py).

Format (JSON, version 1):
    {"format": "samzero-interactive-prompts", "version": 1,
     "made_by": {"model": ..., "protocol": ..., "clicks": N},
     "annotations": {"file": ..., "sha256": ...},
     "images": {"<image id>": {"<annotation id>": {"box": [x0, y0, x1, y1] | null,
                                                    "clicks": [[x, y, label], ...]}}}}
Coordinates are pixels of the original image, x to the right, y down; label 1 positive, 0 negative.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..protocols.coco_format.dataset import is_number, read_json
from ..store import atomic_write_json
from .efficientvit import FrozenPrompts

FORMAT = "samzero-interactive-prompts"
VERSION = 1


def write_prompt_file(path: Path, predictions: list, made_by: dict, annotations: dict) -> Path:
    """`predictions`: (sample, prediction) pairs of a run, in sample order."""
    images = {}
    for sample, prediction in predictions:
        images[str(sample.data.image.image_id)] = {
            str(record["annotation_id"]): {"box": record.get("box"), "clicks": record.get("clicks", [])}
            for record in prediction["objects"]
        }
    atomic_write_json(Path(path), {"format": FORMAT, "version": VERSION, "made_by": made_by,
                                   "annotations": annotations, "images": images})  # fmt: skip
    return Path(path)


def read_prompt_file(path: Path) -> tuple[dict, dict[int, dict[int, FrozenPrompts]]]:
    """(made_by, {image id: {annotation id: FrozenPrompts}}); a DataError naming the file and the entry for anything
    that is not a version-1 prompt file."""
    content = read_versioned(path, FORMAT, VERSION, "prompt file", "write one with --export-prompts")
    frozen: dict[int, dict[int, FrozenPrompts]] = {}
    for image_id, annotation_id, entry, where in object_entries(path, content):
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected {{\"box\": ..., \"clicks\": ...}}, got {str(entry)[:80]}")
        box, clicks = entry.get("box"), entry.get("clicks", [])
        if box is not None and not (isinstance(box, list) and len(box) == 4 and all(is_number(v) for v in box)):
            raise DataError(f"{where}: box {str(box)[:80]} is not [x0, y0, x1, y1]")
        if not isinstance(clicks, list) or not all(_is_click(c) for c in clicks):
            raise DataError(f"{where}: clicks {str(clicks)[:80]} are not [[x, y, label], ...] with pixel "
                            "coordinates and label 1, 0 or -2")  # fmt: skip
        frozen.setdefault(image_id, {})[annotation_id] = FrozenPrompts(
            tuple(box) if box is not None else None, tuple(tuple(c) for c in clicks))
    return content.get("made_by", {}), frozen


def read_versioned(path: Path, file_format: str, version: int, name: str, hint: str) -> dict:
    """The content of a JSON file of this task's own formats (prompt files, mask files: `{"format", "version",
    "images": ...}`); a DataError naming the file when it is not one, or of another version."""
    content = read_json(path, f"a {name} ({file_format}, version {version}; {hint})")
    if not isinstance(content, dict) or content.get("format") != file_format:
        raise DataError(f"{path}: not a {name} (no \"format\": \"{file_format}\"); {hint}")
    if content.get("version") != version:
        raise DataError(f"{path}: {name} version {content.get('version')!r}; this samzero reads version {version}")
    return content


def object_entries(path: Path, content: dict):
    """(image id, annotation id, entry, where) of every `images/<image id>/<annotation id>` entry, the ids checked
    to be integers; `where` names the entry for errors."""
    for image_id, objects in _items(path, content.get("images"), "images"):
        for annotation_id, entry in _items(path, objects, f"images/{image_id}"):
            yield int(image_id), int(annotation_id), entry, f"{path}: images/{image_id}/{annotation_id}"


def _items(path: Path, mapping, where: str):
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and k.lstrip("-").isdigit() for k in mapping):
        raise DataError(f"{path}: {where} is not an object keyed by integer ids")
    return mapping.items()


def _is_click(click) -> bool:
    """[x, y, label]: pixel coordinates (integers for the RITM clicker, fractions for EdgeSAM's 1024-frame clicks
    mapped back), label 1 positive, 0 negative, -2 ignored (EdgeSAM's, where too few pixels are wrong)."""
    return (isinstance(click, list) and len(click) == 3 and all(is_number(v) for v in click)
            and click[2] in (0, 1, -2) and click[0] >= 0 and click[1] >= 0)  # fmt: skip
