"""Per-sample prediction store: one file per sample, written atomically, so a killed run resumes where it stopped.

A prediction is a dict of numpy arrays and JSON-able values. Arrays go into an .npz as they are (lossless), the
rest into one JSON entry, so what is read back equals what was written. The metric always reads predictions
back from the store, so a resumed run scores exactly as an uninterrupted one.

Nothing stale is scored: `manifest.json` records the settings the predictions were made with (reopening the store
with other settings is an error rather than a silent mix), and each sample's file records the fingerprint of the
input files its prediction read (`status`): a sample whose inputs changed since, or whose file cannot be read back
whole, is predicted again.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .names import check_sample_id

_JSON_KEY = "__json__"
_INPUTS_KEY = "__inputs__"  # the fingerprint of the input files the prediction was made from
# What numpy / zipfile raise for a stored file that is truncated or corrupt.
UNREADABLE = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile)


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


def encode_prediction(prediction: dict[str, Any], inputs: str = "") -> bytes:
    arrays = {k: v for k, v in prediction.items() if isinstance(v, np.ndarray)}
    rest = {k: v for k, v in prediction.items() if not isinstance(v, np.ndarray)}
    if _JSON_KEY in prediction or _INPUTS_KEY in prediction:
        raise ValueError(f"{_JSON_KEY!r} and {_INPUTS_KEY!r} are reserved")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, **{_JSON_KEY: np.array(json.dumps(rest)), _INPUTS_KEY: np.array(inputs)})
    return buffer.getvalue()


def decode_prediction(data: bytes) -> dict[str, Any]:
    return decode_stored(data)[0]


def decode_stored(data: bytes) -> tuple[dict[str, Any], str]:
    """(prediction, fingerprint of its inputs); raises one of UNREADABLE for a truncated or corrupt file."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        prediction = {k: npz[k] for k in npz.files if k not in (_JSON_KEY, _INPUTS_KEY)}
        prediction.update(json.loads(str(npz[_JSON_KEY])))
        inputs = str(npz[_INPUTS_KEY]) if _INPUTS_KEY in npz.files else ""
    return prediction, inputs


def sample_file(directory: Path, sample_id: str, container: str) -> Path:
    """<directory>/<sample_id>.npz; an id that would name a file outside `directory` is an error."""
    return Path(directory) / f"{check_sample_id(sample_id, container)}.npz"


def differing_keys(stored: dict, wanted: dict) -> list[str]:
    """The keys whose values differ between two manifests (present in one only counts), sorted."""
    return sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))


class PredictionStore:
    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.directory = Path(directory)
        manifest_path = self.directory / "manifest.json"
        if manifest_path.is_file():
            try:
                stored = json.loads(manifest_path.read_text())
            except (OSError, ValueError) as err:
                raise DataError(f"{manifest_path}: cannot read this store's manifest ({err}); delete {self.directory} "
                                "to start over") from None  # fmt: skip
            if stored != manifest:
                raise DataError(
                    f"{self.directory} holds predictions made with other settings "
                    f"(differing: {', '.join(differing_keys(stored, manifest))}).\n"
                    "Delete that folder to start over, or pass another --out."
                )
        else:
            atomic_write_json(manifest_path, manifest)

    def path(self, sample_id: str) -> Path:
        return sample_file(self.directory, sample_id, "the store")

    def status(self, sample_id: str, inputs: str) -> str:
        """'stored' (a whole prediction made from inputs with fingerprint `inputs`), 'missing', 'changed' (made from
        other inputs, or by a version that recorded none) or 'unreadable' (truncated or corrupt)."""
        path = self.path(sample_id)
        if not path.is_file():
            return "missing"
        try:
            _, stored = decode_stored(path.read_bytes())
        except UNREADABLE:
            return "unreadable"
        return "stored" if stored == inputs else "changed"

    def load(self, sample_id: str) -> dict[str, Any]:
        """The stored prediction (`status` said it is there and whole)."""
        path = self.path(sample_id)
        try:
            return decode_prediction(path.read_bytes())
        except UNREADABLE as err:
            raise DataError(f"{path}: stored prediction cannot be read ({type(err).__name__}: {err}); rerun the "
                            "same command to predict it again") from None  # fmt: skip

    def save(self, sample_id: str, prediction: dict[str, Any], inputs: str = "") -> None:
        atomic_write_bytes(self.path(sample_id), encode_prediction(prediction, inputs))
