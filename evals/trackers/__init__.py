"""Point trackers behind one interface (base.py), the role of SAM-PT's `sam_pt/point_tracker/`.

    tracker = build_tracker("lk")                                   # or "pips" / "cotracker" with weights
    tracks = tracker.track(frames, query_points)                    # T x N x 2 trajectories, T x N visibilities

| name | what | weights | verified |
|---|---|---|---|
| `lk` | pyramidal Lucas-Kanade + forward-backward check (OpenCV) | none | run here (tests, DAVIS sample) |
| `pips` | PIPS, SAM-PT v1's tracker (aharley/pips, or SAM-PT's copy) | reference_model | with fakes only |
| `cotracker` | CoTracker v1, SAM-PT's current one (co-tracker@4f297a9) | cotracker_stride_4_wind_8 | with fakes only |

"with fakes only": the adapters are tested against fakes of the packages' interfaces, never run here with the real
networks and weights.

Used by the DAVIS task (SAM-PT) and meant for the UVO task too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import PointTracker, TrackerUnavailable, Tracks
from .cotracker import CoTrackerTracker, cotracker_params
from .lk import LucasKanadeTracker
from .pips import PipsTracker, pips_params

TRACKERS = ("pips", "cotracker", "lk")


def tracker_params(name: str, checkpoint: Path | str | None = None) -> dict[str, Any]:
    """What `build_tracker(name, checkpoint)` would track with, without loading it (checks the weight file)."""
    if name == "lk":
        if checkpoint is not None:
            raise ValueError("the lk tracker takes no --tracker-checkpoint")
        return LucasKanadeTracker().params
    if name == "pips":
        return pips_params(checkpoint)
    if name == "cotracker":
        return cotracker_params(checkpoint)
    raise ValueError(f"unknown tracker {name!r}; known: {', '.join(TRACKERS)}")


def build_tracker(name: str, checkpoint: Path | str | None = None, device: str = "cpu") -> PointTracker:
    if name == "lk":
        tracker_params(name, checkpoint)
        return LucasKanadeTracker()
    if name == "pips":
        return PipsTracker(checkpoint, device)
    if name == "cotracker":
        return CoTrackerTracker(checkpoint, device)
    raise ValueError(f"unknown tracker {name!r}; known: {', '.join(TRACKERS)}")


class LazyTracker:
    """A task's tracker: built on its first video (loading weights takes seconds), rebuilt only for another device."""

    def __init__(self):
        self._built: tuple[str, PointTracker] | None = None  # (device, tracker)

    def get(self, settings: dict[str, Any], device) -> PointTracker:
        """`settings`: the task's recorded `tracker_params`."""
        if self._built is None or self._built[0] != str(device):
            self._built = (str(device), build_tracker(settings["tracker"], settings.get("checkpoint"), str(device)))
        return self._built[1]


__all__ = ["TRACKERS", "LazyTracker", "PointTracker", "TrackerUnavailable", "Tracks", "build_tracker", "tracker_params"]
