"""`run_eval.py --detect seginw`: Grounding-DINO boxes for every SegInW dataset, made once and reused for every model.

    python run_eval.py --detect seginw --data-root datasets --detector-weights weights/grounding-dino-base \
        --out boxes/seginw --device cuda
    python run_eval.py --task seginw --model repvit --seginw-boxes boxes/seginw

Writes ``OUT/<Dataset>.json`` (COCO results, detectors/coco_results.py) per dataset and ``OUT/provenance.json``:
per dataset the file's sha256, the annotation file's sha256, the detector (weights sha256, backbone, versions) and
the protocol (sam-hq test_ap_on_seginw.py, detectors/phrase_grounding.py and grounding_dino.py). A dataset whose
file exists and was made by the same weights with the same protocol is skipped (a killed run resumes); `--overwrite`
redoes it.
"""
from __future__ import annotations

import json
from pathlib import Path

from models.checkpoint import sha256_file

from ..detectors.coco_results import detect_annotation_file
from ..detectors.grounding_dino import IMAGE_MEAN, IMAGE_STD, RESIZE_MAX_SIZE, RESIZE_SHORT_SIDE, GroundingDinoDetector
from ..detectors.phrase_grounding import CAPTION_END, CATEGORY_SEPARATOR, NUM_SELECT, POSITIVE_MAP_EPS
from ..log import LOGGER
from ..store import atomic_write_bytes, atomic_write_json
from .datasets import annotation_file, find_seginw_root, images_dir, parse_dataset_names, require_datasets
from .sources import PROVENANCE_FILE, boxes_file, read_provenance


def detection_protocol(num_select: int = NUM_SELECT) -> dict:
    """The detection protocol recorded with every boxes file (sources: detectors/phrase_grounding.py and
    detectors/grounding_dino.py)."""
    return {
        "source": "SysCV/sam-hq seginw/test_ap_on_seginw.py (Grounded SAM)",
        "caption": f"category names in annotation-file order joined by {CATEGORY_SEPARATOR!r}, then {CAPTION_END!r}",
        "category_score": "mean over the category's tokens of sigmoid(logit) (normalised positive map, "
                          f"eps {POSITIVE_MAP_EPS})",
        "num_select": num_select,
        "selection": "top num_select over queries x categories, no score threshold",
        "image_transform": f"PIL RGB, resize short side {RESIZE_SHORT_SIDE} (long side <= {RESIZE_MAX_SIZE}, PIL "
                           f"bilinear), normalize mean {list(IMAGE_MEAN)} std {list(IMAGE_STD)}",
        "box_format": "COCO [x, y, w, h] from the float32 xyxy box times the original [w, h, w, h], not clipped",
        "batch_size": 1,
    }  # fmt: skip


def detect_seginw(
    data_root: Path, weights_dir: Path, out_dir: Path, datasets: tuple[str, ...] | None = None, device: str = "cpu",
    num_select: int = NUM_SELECT, overwrite: bool = False, detector: GroundingDinoDetector | None = None,
) -> list[Path]:  # fmt: skip
    """Write OUT/<Dataset>.json for each dataset (all 25 by default); returns the files. `detector` (already loaded)
    replaces `weights_dir`."""
    names = datasets if datasets is not None else parse_dataset_names(None)
    root = find_seginw_root(data_root)
    require_datasets(root, names)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if detector is None:
        detector = GroundingDinoDetector.load(weights_dir, device)
    protocol = detection_protocol(num_select)
    written = []
    for name in names:
        path = boxes_file(out_dir, name)
        entry = read_provenance(out_dir)["datasets"].get(name)
        if not overwrite and _up_to_date(path, entry, detector, protocol):
            LOGGER.info(f"{name}: {path} is up to date, kept")
            written.append(path)
            continue
        annotations = annotation_file(root, name)
        entries = detect_annotation_file(detector, annotations, images_dir(root, name), num_select, description=name)
        atomic_write_bytes(path, json.dumps(entries).encode())
        _record(out_dir, name, {
            "file": path.name, "sha256": sha256_file(path), "annotation_file": str(annotations),
            "annotation_sha256": sha256_file(annotations), "num_images": len({e["image_id"] for e in entries}),
            "num_detections": len(entries), "detector": detector.provenance, "protocol": protocol,
        })  # fmt: skip
        LOGGER.info(f"{name}: {len(entries)} detections -> {path}")
        written.append(path)
    return written


def _up_to_date(path: Path, entry: dict | None, detector: GroundingDinoDetector, protocol: dict) -> bool:
    return (
        path.is_file() and entry is not None and entry.get("sha256") == sha256_file(path)
        and entry.get("protocol") == protocol
        and entry.get("detector", {}).get("weights_sha256") == detector.provenance["weights_sha256"]
    )  # fmt: skip


def _record(out_dir: Path, name: str, entry: dict) -> None:
    provenance = read_provenance(out_dir)
    provenance.setdefault("datasets", {})[name] = entry
    atomic_write_json(out_dir / PROVENANCE_FILE, provenance)
