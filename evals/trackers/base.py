"""The point-tracker interface: query points on the first frame + the video -> trajectories and visibilities.

The role of SAM-PT's `sam_pt/point_tracker/tracker.py` (`PointTracker.forward(rgbs, query_points)`), narrowed to
what the VOS and VIS protocols here need: every query point starts on frame 0 (SAM-PT's DAVIS and UVO queries all
come from the first annotated frame), so a tracker only tracks forward in time.

    tracks = tracker.track(frames, query_points)   # frames T x H x W x 3 uint8 RGB, query_points N x 2 (x, y)
    tracks.trajectories                             # T x N x 2 float32 (x, y) pixels of `frames`
    tracks.visibilities                             # T x N bool
    tracker.name, tracker.params                    # recorded in the results
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np


class TrackerUnavailable(RuntimeError):
    """A tracker's package or weights are not installed; the message says what to install or download."""


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


class PointTracker(ABC):
    name: str  # the `--tracker` key

    @property
    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Every setting that changes the tracks (JSON-able): recorded in the results and the prediction store."""

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
