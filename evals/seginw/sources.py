"""Where SegInW's box prompts (`--seginw-boxes`) and other methods' masks (`--predictions`) come from: one COCO results
file per dataset, each recorded in the results with its sha256.

Box prompts: ``DIR/<Dataset>.json`` (``[{image_id, category_id, bbox: [x, y, w, h], score}, ...]``), as
``run_eval.py --detect seginw`` writes them (detect.py) beside ``DIR/provenance.json`` (the detector, its weights'
sha256 and the protocol of each file). ``--seginw-boxes gt`` prompts with the ground-truth boxes instead: an oracle.

Masks of another method: ``DIR/<Dataset>.json`` or sam-hq's own ``DIR/seginw-<Dataset>_val.json``
(test_ap_on_seginw.py ``--save_json``: ``seginw_output/sam/seginw-<Dataset>_val.json``), segm results.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.checkpoint import sha256_file

from ..coco.prompts import GROUND_TRUTH_SCORE
from ..detectors.phrase_grounding import NUM_SELECT

GROUND_TRUTH_BOXES = "gt"
PROVENANCE_FILE = "provenance.json"
PAPER_BACKBONE = "Swin-B"  # sam-hq test_seginw.sh: GroundingDINO_SwinB.py, groundingdino_swinb_cogcoor.pth
MISSING_BOXES = (
    "--task seginw needs box prompts: --seginw-boxes DIR with DIR/<Dataset>.json, Grounding-DINO Swin-B detections "
    "in COCO results format (make them once with `python run_eval.py --detect seginw --data-root D "
    "--detector-weights W --out DIR`), or --seginw-boxes gt for ground-truth boxes (an oracle setting)"
)


def boxes_file(directory: Path, name: str) -> Path:
    return Path(directory) / f"{name}.json"


def predictions_file(directory: Path, name: str) -> Path:
    """DIR/<Dataset>.json, else sam-hq's DIR/seginw-<Dataset>_val.json; an error if neither exists."""
    candidates = [Path(directory) / f"{name}.json", Path(directory) / f"seginw-{name}_val.json"]
    for path in candidates:
        if path.is_file():
            return path
    expected = " or ".join(path.name for path in candidates)
    raise FileNotFoundError(f"no predictions for {name} in {directory}: expected {expected}")


def read_provenance(directory: Path) -> dict[str, Any]:
    path = Path(directory) / PROVENANCE_FILE
    if not path.is_file():
        return {"datasets": {}}
    with open(path) as f:
        return json.load(f)


def box_source_params(boxes: str | None, datasets: tuple[str, ...]) -> dict[str, Any]:
    """The box prompts' source, recorded in the results: every file and its sha256 with its detector (from
    provenance.json, when it describes that very file), or the ground-truth oracle."""
    if boxes is None:
        raise ValueError(MISSING_BOXES)
    if boxes == GROUND_TRUTH_BOXES:
        return {"prompts": "ground truth", "oracle": True,
                "note": "ORACLE: ground-truth boxes, not the paper's Grounding-DINO boxes; crowd annotations not "
                        "prompted", "ground_truth_score": GROUND_TRUTH_SCORE}  # fmt: skip
    directory = Path(boxes)
    if not directory.is_dir():
        raise FileNotFoundError(f"--seginw-boxes {directory}: no such folder. {MISSING_BOXES}")
    missing = [name for name in datasets if not boxes_file(directory, name).is_file()]
    if missing:
        raise FileNotFoundError(f"--seginw-boxes {directory}: no box file for {', '.join(missing)} "
                                f"(expected <Dataset>.json). {MISSING_BOXES}")  # fmt: skip
    provenance = read_provenance(directory).get("datasets", {})
    files, detectors = {}, {}
    for name in datasets:
        path = boxes_file(directory, name)
        files[name] = {"file": str(path), "sha256": sha256_file(path)}
        entry = provenance.get(name)
        detectors[name] = entry if entry is not None and entry.get("sha256") == files[name]["sha256"] else None
    return {"prompts": "detections", "oracle": False, "boxes_dir": str(directory), "boxes_files": files,
            "boxes_detector": detectors, "paper_boxes": paper_boxes(detectors)}  # fmt: skip


def paper_boxes(detectors: dict[str, dict | None]) -> bool | None:
    """True when provenance.json shows every file made by Grounding-DINO Swin-B with sam-hq's selection (top 100),
    False when it shows any other, None when it does not describe the files (boxes made elsewhere)."""
    if any(entry is None for entry in detectors.values()):
        return None
    return all(
        entry.get("detector", {}).get("backbone") == PAPER_BACKBONE
        and entry.get("protocol", {}).get("num_select") == NUM_SELECT
        for entry in detectors.values()
    )


def predictions_params(directory: Path, datasets: tuple[str, ...]) -> dict[str, Any]:
    files = {}
    for name in datasets:
        path = predictions_file(directory, name)
        files[name] = {"file": str(path), "sha256": sha256_file(path)}
    return {"prompts": "none: masks from --predictions", "predictions_dir": str(directory), "predictions_files": files}

