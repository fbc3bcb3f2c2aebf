"""The SAA+ prompt cache: what stages 1-2 (Grounding DINO, saliency) computed for each image, made once per data
set and read by every SAM model's run (`--mvtec-prompts DIR`).

    DIR/manifest.json                         how it was made: protocol, prompts, weights (sha256), packages
    DIR/<category>/<defect>/<name>.npz         one image (the sample id), written atomically

An entry (an .npz in the prediction store's encoding, evals/store.py: arrays as they are + one JSON record):
    defect_boxes     K x 4 float32   defect boxes kept by SAA+'s filters, pixel corners (x0, y0, x1, y1)
    defect_logits    K float32       their logits (highest token probability)
    object_boxes     M x 4 float32   object boxes kept, normalised (cx, cy, w, h), as the detector gives them
    object_logits    M float32
    saliency         h x w float32   the low-resolution saliency map (64 x 64 at SAA+'s 256 input)
    image_size       2 int64         (H, W) of the image the boxes are in
    JSON: defect_phrases, defect_prompt_indices (into the category's defect prompts), object_phrases,
          object_area (the largest object box area: 1 when none), max_defect_area
`identity_of` -- the manifest without its time, command, host, package versions and detector folder -- is what a
run records and compares: a cache made with other weights, thresholds, prompts or input sizes is refused rather
than mixed. Every entry is checked when it is read (`load`): a truncated file, a missing array, boxes that are not
K x 4 finite corners with x1 >= x0 and y1 >= y0, or logits / saliency of the wrong shape is a DataError naming the
file; `--detect mvtec` makes such an entry again (`entry_problem`).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..store import (
    UNREADABLE,
    atomic_write_bytes,
    atomic_write_json,
    decode_prediction,
    differing_keys,
    encode_prediction,
    sample_file,
)

FORMAT = "saa-plus-prompt-cache/1"
MANIFEST = "manifest.json"
VOLATILE_KEYS = ("created", "command", "host", "packages", "detector_run")  # recorded, but not part of the identity
ARRAY_KEYS = ("defect_boxes", "defect_logits", "object_boxes", "object_logits", "saliency", "image_size")


class PromptCacheError(DataError):
    """A prompt cache that is missing, unreadable, made otherwise than this run needs, or lacks an image."""


def detection_hint(directory: Path) -> str:
    return f"python run_eval.py --detect mvtec --mvtec-prompts {directory}"


def entry_problems(entry: dict[str, Any]) -> list[str]:
    """What is wrong with a decoded entry (empty: nothing), in words."""
    missing = [key for key in ARRAY_KEYS if not isinstance(entry.get(key), np.ndarray)]
    if missing:
        return [f"missing arrays {', '.join(missing)}"]
    problems = []
    for key in ARRAY_KEYS:
        if not (np.issubdtype(entry[key].dtype, np.floating) or np.issubdtype(entry[key].dtype, np.integer)):
            problems.append(f"{key} holds {entry[key].dtype} values, not numbers")
    if problems:
        return problems
    boxes, logits = entry["defect_boxes"], entry["defect_logits"]
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        problems.append(f"defect_boxes has shape {boxes.shape}, expected K x 4 (x0, y0, x1, y1 pixels)")
    elif not np.isfinite(boxes).all():
        problems.append("defect_boxes has NaN or infinite values")
    elif (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        bad = int(((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).sum())
        problems.append(f"{bad} defect box(es) with negative width or height (x1 < x0 or y1 < y0)")
    if logits.shape != (len(boxes),) or not np.isfinite(logits).all():
        problems.append(f"defect_logits has shape {logits.shape} (expected ({len(boxes)},), one per defect box) or "
                        "non-finite values")  # fmt: skip
    saliency = entry["saliency"]
    if saliency.ndim != 2 or saliency.size == 0 or not np.isfinite(saliency).all():
        problems.append(f"saliency has shape {saliency.shape} or non-finite values (expected a finite h x w map)")
    size = entry["image_size"]
    if size.shape != (2,) or not np.issubdtype(size.dtype, np.integer) or (size < 1).any():
        problems.append(f"image_size is {size.tolist()}, expected (H, W) in pixels")
    return problems


def identity_of(manifest: dict) -> dict:
    return {key: value for key, value in manifest.items() if key not in VOLATILE_KEYS}


def identity_sha256(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(identity_of(manifest), sort_keys=True).encode()).hexdigest()


class PromptCache:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> dict:
        if not self.exists():
            raise PromptCacheError(
                f"no SAA+ prompt cache at {self.directory} ({MANIFEST} missing). Compute the detector boxes and "
                f"saliency maps once with\n    {detection_hint(self.directory)}\n"
                "then run any SAM model with the same --mvtec-prompts."
            )
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise PromptCacheError(f"{self.manifest_path}: cannot read this prompt cache's manifest ({err}); it is "
                                   f"truncated or not the one `--detect mvtec` writes: delete {self.directory} and "
                                   f"make it again with `{detection_hint(self.directory)}`") from None  # fmt: skip
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
            raise PromptCacheError(f"{self.manifest_path}: format {found!r}, expected {FORMAT!r} (a prompt cache "
                                   "written by `--detect mvtec`)")  # fmt: skip
        return manifest

    def open_for_writing(self, manifest: dict) -> None:
        """Start or resume a cache: an existing one must have been made the same way."""
        if self.exists():
            stored = self.manifest()
            if identity_of(stored) != identity_of(manifest):
                changed = differing_keys(identity_of(stored), identity_of(manifest))
                raise PromptCacheError(f"{self.directory} holds prompts made otherwise (differing: "
                                       f"{', '.join(changed)}); pass another --mvtec-prompts or delete it")  # fmt: skip
            return
        atomic_write_json(self.manifest_path, manifest)

    def path(self, sample_id: str) -> Path:
        return sample_file(self.directory, sample_id, "the prompt cache")

    def has(self, sample_id: str) -> bool:
        return self.path(sample_id).is_file()

    def save(self, sample_id: str, entry: dict[str, Any]) -> None:
        problems = entry_problems(entry)
        if problems:  # the detection stage made it: a bug, not a data problem
            raise ValueError(f"prompt cache entry {sample_id}: {'; '.join(problems)}")
        atomic_write_bytes(self.path(sample_id), encode_prediction(entry))

    def missing_entry_message(self, sample_id: str) -> str:
        category = sample_id.split("/")[0]
        return (f"the prompt cache {self.directory} has no entry for {sample_id} ({self.path(sample_id)}); make the "
                f"entries of its category first: `{detection_hint(self.directory)} --mvtec-categories {category}` "
                "(with the same --data-root)")  # fmt: skip

    def read_entry(self, sample_id: str) -> dict[str, Any]:
        """The entry, decoded and checked; a PromptCacheError naming the file otherwise."""
        path = self.path(sample_id)
        if not path.is_file():
            raise PromptCacheError(self.missing_entry_message(sample_id))
        fix = (f"run `{detection_hint(self.directory)} --mvtec-categories {sample_id.split('/')[0]}` again (same "
               "--data-root): it makes such an entry anew")  # fmt: skip
        try:
            entry = decode_prediction(path.read_bytes())
        except UNREADABLE as err:
            raise PromptCacheError(f"{path}: truncated or corrupt prompt-cache entry ({type(err).__name__}: {err}); "
                                   f"{fix}") from None  # fmt: skip
        problems = entry_problems(entry)
        if problems:
            raise PromptCacheError(f"{path}: not a prompt-cache entry of `--detect mvtec`: {'; '.join(problems)}; "
                                   f"{fix}")  # fmt: skip
        return entry

    def load(self, sample_id: str) -> dict[str, Any]:
        return self.read_entry(sample_id)

    def entry_problem(self, sample_id: str) -> str | None:
        """None when the entry is there and whole, else why not (the detection stage then makes it again)."""
        try:
            self.read_entry(sample_id)
        except PromptCacheError as err:
            return str(err)
        return None
