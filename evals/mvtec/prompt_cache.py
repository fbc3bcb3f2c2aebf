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
than mixed.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..store import (
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


class PromptCacheError(RuntimeError):
    pass


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
                f"saliency maps once with\n    python run_eval.py --detect mvtec --mvtec-prompts {self.directory}\n"
                "(or python -m evals.mvtec.detect), then run any SAM model with the same --mvtec-prompts."
            )
        manifest = json.loads(self.manifest_path.read_text())
        if manifest.get("format") != FORMAT:
            raise PromptCacheError(f"{self.manifest_path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
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
        missing = [key for key in ARRAY_KEYS if not isinstance(entry.get(key), np.ndarray)]
        if missing:
            raise ValueError(f"prompt cache entry {sample_id}: missing arrays {missing}")
        atomic_write_bytes(self.path(sample_id), encode_prediction(entry))

    def load(self, sample_id: str) -> dict[str, Any]:
        path = self.path(sample_id)
        if not path.is_file():
            raise PromptCacheError(f"the prompt cache {self.directory} has no entry for {sample_id} ({path}); run "
                                   f"the detection stage for its category first (--detect mvtec)")  # fmt: skip
        return decode_prediction(path.read_bytes())
