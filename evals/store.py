"""Per-sample prediction store: one file per sample, written atomically, so a killed run resumes where it stopped.

A prediction is a dict of numpy arrays and JSON-able values. Arrays go into an .npz as they are (lossless), the
rest into one JSON entry, so what is read back equals what was written. The metric always reads predictions
back from the store, so a resumed run scores exactly as an uninterrupted one. `manifest.json` records the settings the predictions were made with; reopening the store with
other settings is an error rather than a silent mix.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

_JSON_KEY = "__json__"


# The process's umask, read once at import (reading it means setting it): written files get the permissions a plain
# open() would give them, not mkstemp's owner-only 0600, so results and reports stay readable by a team.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode())


def encode_prediction(prediction: dict[str, Any]) -> bytes:
    arrays = {k: v for k, v in prediction.items() if isinstance(v, np.ndarray)}
    rest = {k: v for k, v in prediction.items() if not isinstance(v, np.ndarray)}
    if _JSON_KEY in prediction:
        raise ValueError(f"{_JSON_KEY!r} is reserved")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, **{_JSON_KEY: np.array(json.dumps(rest))})
    return buffer.getvalue()


def decode_prediction(data: bytes) -> dict[str, Any]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        prediction = {k: npz[k] for k in npz.files if k != _JSON_KEY}
        prediction.update(json.loads(str(npz[_JSON_KEY])))
    return prediction


def sample_file(directory: Path, sample_id: str, container: str) -> Path:
    """<directory>/<sample_id>.npz; an id that would name a file outside `directory` is an error."""
    parts = Path(sample_id).parts
    if not parts or Path(sample_id).is_absolute() or ".." in parts:
        raise ValueError(f"sample id {sample_id!r} cannot name a file inside {container}")
    return Path(directory) / f"{sample_id}.npz"


def differing_keys(stored: dict, wanted: dict) -> list[str]:
    """The keys whose values differ between two manifests (present in one only counts), sorted."""
    return sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))


class PredictionStore:
    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.directory = Path(directory)
        manifest_path = self.directory / "manifest.json"
        if manifest_path.is_file():
            stored = json.loads(manifest_path.read_text())
            if stored != manifest:
                raise RuntimeError(
                    f"{self.directory} holds predictions made with other settings "
                    f"(differing: {', '.join(differing_keys(stored, manifest))}).\n"
                    "Delete that folder to start over, or pass another --out."
                )
        else:
            atomic_write_json(manifest_path, manifest)

    def path(self, sample_id: str) -> Path:
        return sample_file(self.directory, sample_id, "the store")

    def has(self, sample_id: str) -> bool:
        return self.path(sample_id).is_file()

    def load(self, sample_id: str) -> dict[str, Any] | None:
        """The stored prediction, or None when the sample has none yet."""
        path = self.path(sample_id)
        return decode_prediction(path.read_bytes()) if path.is_file() else None

    def save(self, sample_id: str, prediction: dict[str, Any]) -> None:
        atomic_write_bytes(self.path(sample_id), encode_prediction(prediction))
