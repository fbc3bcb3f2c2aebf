"""Where SegInW's box prompts (`--seginw-boxes`) and other methods' masks (`--predictions`) come from: one COCO results
file per dataset, each recorded in the results with its sha256.

Box prompts: ``DIR/<Dataset>.json`` (``[{image_id, category_id, bbox: [x, y, w, h], score}, ...]``), as
``run_eval.py --detect seginw`` writes them (detect.py) beside ``DIR/provenance.json`` (the detector, its weights'
sha256 and the protocol of each file); DIR is ``boxes/seginw`` unless ``--seginw-boxes DIR`` says otherwise (the
folder the README's detection command writes). Missing files are named by the run's requirements, with the command
that makes them. ``--seginw-boxes gt`` prompts with the ground-truth boxes instead: an oracle.

Masks of another method: ``DIR/<Dataset>.json`` or sam-hq's own ``DIR/seginw-<Dataset>_val.json``
(test_ap_on_seginw.py ``--save_json``: ``seginw_output/sam/seginw-<Dataset>_val.json``), segm results.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..base import Requirement
from ..detectors.weights import DEFAULT_WEIGHTS_DIR
from ..errors import DataError
from ..params import FileIdentity
from ..protocols.box_prompts.options import PREDICTIONS
from ..protocols.box_prompts.prompts import GROUND_TRUTH_SCORE
from ..protocols.coco_format.dataset import read_json
from .datasets import is_full_benchmark

GROUND_TRUTH_BOXES = "gt"
DEFAULT_BOXES_DIR = Path("boxes") / "seginw"  # README: run_eval.py --detect seginw ... --out boxes/seginw
PROVENANCE_FILE = "provenance.json"
PAPER_BACKBONE = "Swin-B"  # sam-hq test_seginw.sh: GroundingDINO_SwinB.py, groundingdino_swinb_cogcoor.pth


def boxes_file(directory: Path, name: str) -> Path:
    return Path(directory) / f"{name}.json"


def predictions_file(directory: Path, name: str) -> Path:
    """DIR/<Dataset>.json, else sam-hq's DIR/seginw-<Dataset>_val.json; an error if neither exists."""
    candidates = [Path(directory) / f"{name}.json", Path(directory) / f"seginw-{name}_val.json"]
    for path in candidates:
        if path.is_file():
            return path
    expected = " or ".join(path.name for path in candidates)
    raise DataError(f"--predictions {directory}: no predictions for {name}: expected {expected}")


def read_provenance(directory: Path) -> dict[str, Any]:
    path = Path(directory) / PROVENANCE_FILE
    if not path.is_file():
        return {"datasets": {}}
    content = read_json(path, "the record of `run_eval.py --detect seginw`: {datasets: {<Dataset>: ...}}")
    if not isinstance(content, dict) or not isinstance(content.get("datasets", {}), dict) or not all(
        isinstance(entry, dict) for entry in content.get("datasets", {}).values()
    ):
        raise DataError(f"{path}: not the record of `run_eval.py --detect seginw` (expected {{datasets: {{<Dataset>: "
                        "{file, sha256, detector, protocol}}}}); delete it and make the box files again")  # fmt: skip
    return {"datasets": {}, **content}


def detection_command(data_root: Path, directory: Path, datasets: tuple[str, ...]) -> str:
    """The command that makes the box files of `datasets` in `directory`."""
    subset = "" if is_full_benchmark(datasets) else f" --seginw-datasets {','.join(datasets)}"
    return (f"python run_eval.py --detect seginw --data-root {data_root} --detector-weights {DEFAULT_WEIGHTS_DIR} "
            f"--out {directory}{subset}")  # fmt: skip


def boxes_requirement(directory: Path, datasets: tuple[str, ...], data_root: Path) -> Requirement:
    """The box files of `datasets` in `directory` (--seginw-boxes), and the command that makes them."""
    directory = Path(directory)

    def missing() -> list[str]:
        return [name for name in datasets if not boxes_file(directory, name).is_file()]

    absent = missing() or list(datasets)
    path = boxes_file(directory, absent[0]) if len(absent) == 1 else directory
    what = "Grounding-DINO Swin-B box prompts (--seginw-boxes DIR: DIR/<Dataset>.json"
    what += f"; missing for {', '.join(absent)})" if len(absent) < len(datasets) else ")"
    return Requirement(what, path, f"the command `{detection_command(data_root, directory, datasets)}`",
                       lambda: not missing())  # fmt: skip


def box_source_params(boxes: str | None, datasets: tuple[str, ...]) -> dict[str, Any]:
    """The `SegInWParams` fields of the box prompts' source: every file and its sha256 with its detector (from
    provenance.json, when it describes that very file), or the ground-truth oracle. Box files are looked for in
    `DEFAULT_BOXES_DIR` without --seginw-boxes; missing ones are not an error here (the run's requirements name them,
    with everything else that is missing)."""
    from models.checkpoint import sha256_file  # imports torch: only once a run is set up

    if boxes == GROUND_TRUTH_BOXES:
        return {"prompts": "ground truth", "oracle": True, "ground_truth_score": GROUND_TRUTH_SCORE}
    directory = DEFAULT_BOXES_DIR if boxes is None else Path(boxes)
    provenance = read_provenance(directory)["datasets"] if directory.is_dir() else {}
    files, detectors = {}, {}
    for name in datasets:
        path = boxes_file(directory, name)
        files[name] = FileIdentity(file=str(path), sha256=sha256_file(path) if path.is_file() else None)
        entry = provenance.get(name)
        detectors[name] = entry if entry is not None and entry.get("sha256") == files[name].sha256 else None
    return {"prompts": "detections", "oracle": False, "boxes_dir": str(directory), "boxes_files": files,
            "boxes_detector": detectors, "paper_boxes": paper_boxes(detectors)}  # fmt: skip


def paper_boxes(detectors: dict[str, dict | None]) -> bool | None:
    """True when provenance.json shows every file made by Grounding-DINO Swin-B with sam-hq's selection (top 100),
    False when it shows any other, None when it does not describe the files (boxes made elsewhere)."""
    from ..detectors.phrase_grounding import NUM_SELECT  # imports torch: only once a run is set up

    if any(entry is None for entry in detectors.values()):
        return None
    return all(
        entry.get("detector", {}).get("backbone") == PAPER_BACKBONE
        and entry.get("protocol", {}).get("num_select") == NUM_SELECT
        for entry in detectors.values()
    )


def predictions_params(directory: Path, datasets: tuple[str, ...]) -> dict[str, Any]:
    from models.checkpoint import sha256_file  # imports torch: only once a run is set up

    files = {}
    for name in datasets:
        path = predictions_file(directory, name)
        files[name] = FileIdentity(file=str(path), sha256=sha256_file(path))
    return {"prompts": PREDICTIONS, "predictions_dir": str(directory), "predictions_files": files}

