"""The point-tracker interface: query points on the first frame + the video -> trajectories and visibilities.

The role of SAM-PT's `sam_pt/point_tracker/tracker.py` (`PointTracker.forward(rgbs, query_points)`), narrowed to
what the VOS and VIS protocols here need: every query point starts on frame 0 (SAM-PT's DAVIS and UVO queries all
come from the first annotated frame), so a tracker only tracks forward in time.

    tracks = tracker.track(frames, query_points)   # frames T x H x W x 3 uint8 RGB, query_points N x 2 (x, y)
    tracks.trajectories                             # T x N x 2 float32 (x, y) pixels of `frames`
    tracks.visibilities                             # T x N bool
    tracker.name, tracker.params                    # its TrackerSettings, recorded in the results
"""
from __future__ import annotations

import hashlib
import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import SamzeroError

from ..errors import UsageError
from ..params import Params


class TrackerUnavailable(SamzeroError, RuntimeError):
    """A tracker's package or weights are not installed, or its weights file is not the official one; the message
    says what to install or download (the command line: exit status 2, no traceback)."""


class TrackerOptionError(UsageError, ValueError):
    """Tracker options that cannot work together (e.g. --tracker lk with --tracker-checkpoint)."""


def file_sha256(path: Path | str) -> str:
    """sha256 of a weights file (recorded with the tracker's settings: stored predictions name the weights)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def load_weights(path: Path | str, what: str, url: str) -> dict[str, Any]:
    """A tracker's checkpoint read with `torch.load(weights_only=True)`: tensors and plain containers only, no code
    from the file runs. A file that is truncated, or holds other objects, is a TrackerUnavailable naming it."""
    import torch  # here, not at import: the command line reads tracker options without torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- torch.load raises many types (UnpicklingError, RuntimeError, EOFError)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TrackerUnavailable(f"{what} {path} cannot be read as a weights file ({reason}): a truncated download, or "
                                 f"not the official checkpoint; download {url} again") from None  # fmt: skip
    if not isinstance(state, dict):
        raise TrackerUnavailable(f"{what} {path} holds a {type(state).__name__}, not a state dict: not the official "
                                 f"checkpoint ({url})")  # fmt: skip
    return state


def import_problem(module_name: str, attributes: tuple[str, ...] = ()) -> str | None:
    """None when `module_name` imports (with importlib, dependencies included) and has `attributes`; else what went
    wrong, in a few words ("No module named 'einops'")."""
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 -- a checkout's own imports can fail in any way; reported, not raised
        return f"{module_name}: {type(err).__name__}: {err}"
    missing = [name for name in attributes if not hasattr(module, name)]
    return f"{module_name} has no {', '.join(missing)}" if missing else None


@dataclass(frozen=True)
class Tracks:
    trajectories: np.ndarray  # T x N x 2 float32, (x, y) in pixels of the frames given to `track`
    visibilities: np.ndarray  # T x N bool

    def __post_init__(self) -> None:
        t, n, two = self.trajectories.shape
        if two != 2 or self.visibilities.shape != (t, n) or self.visibilities.dtype != bool:
            raise ValueError(
                f"trajectories must be T x N x 2 and visibilities T x N bool, got {self.trajectories.shape} "
                f"and {self.visibilities.shape} {self.visibilities.dtype}"
            )


@dataclass(frozen=True)
class TrackerSettings(Params):
    """Every setting of a point tracker that changes the tracks: recorded with a run's parameters (the task's
    `tracker`) and in its prediction store. Each tracker's are a subclass whose `tracker` default names it (LkSettings,
    PipsSettings, CoTrackerSettings); `TrackerSettings.from_dict` reads a record into the one it names."""

    tracker: str  # the `--tracker` name

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> TrackerSettings:
        if cls is not TrackerSettings:
            return super().from_dict(recorded)
        kinds = {kind.__dataclass_fields__["tracker"].default: kind for kind in cls.__subclasses__()}
        name = recorded.get("tracker") if isinstance(recorded, dict) else None
        if name not in kinds:
            raise ValueError(f"recorded tracker settings name the tracker {name!r}; known: {', '.join(kinds)}")
        return kinds[name].from_dict(recorded)


class PointTracker(ABC):
    name: str  # the `--tracker` key

    @property
    @abstractmethod
    def params(self) -> TrackerSettings:
        """Every setting that changes the tracks: recorded in the results and the prediction store."""

    @abstractmethod
    def track(self, frames: np.ndarray, query_points: np.ndarray) -> Tracks:
        """Track `query_points` (N x 2, (x, y) on frame 0) through `frames` (T x H x W x 3 uint8 RGB).

        Frame 0 of the result: the query points, visible (lk, pips), or the tracker's own estimate of them
        (cotracker, as SAM-PT uses it)."""


def check_inputs(frames: np.ndarray, query_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frames = np.asarray(frames)
    query_points = np.asarray(query_points, dtype=np.float32)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be T x H x W x 3 uint8 RGB, got {frames.shape} {frames.dtype}")
    if query_points.ndim != 2 or query_points.shape[1] != 2:
        raise ValueError(f"query points must be N x 2 (x, y), got {query_points.shape}")
    return frames, query_points
