"""Point trackers behind one interface (base.py), the role of SAM-PT's `sam_pt/point_tracker/`.

    tracker = build_tracker("lk")                                   # or "pips" / "cotracker" with weights
    tracks = tracker.track(frames, query_points)                    # T x N x 2 trajectories, T x N visibilities

| name | what | weights | verified |
|---|---|---|---|
| `lk` | pyramidal Lucas-Kanade + forward-backward check (OpenCV) | none | run here (tests, DAVIS sample) |
| `pips` | PIPS, SAM-PT v1's (aharley/pips, or SAM-PT's copy) | reference_model | fakes; real class loaded |
| `cotracker` | CoTracker v1, SAM-PT's current (co-tracker@4f297a9) | cotracker_stride_4_wind_8 | fakes; real code run |

"with fakes": the adapters are tested against fakes of the packages' interfaces (tests/test_trackers.py), never run
here with the official weights. Checked once by hand: aharley/pips's `nets.pips.Pips` built by the adapter and loaded
with weights_only from a checkpoint its own saverloader.save wrote (model and AdamW state), weights equal (its
forward needs CUDA: not run); co-tracker@4f297a9's CoTracker v1, random weights loaded with weights_only, tracked a
5-frame video through the adapter on CPU (shapes only: random weights track nothing).

Used by the DAVIS task (SAM-PT) and the UVO task. Importing this package imports neither torch nor a tracker's
package (the command line reads the options first); the adapters import them when a tracker is built.
"""
from __future__ import annotations

from pathlib import Path

from ..base import Requirement
from . import cotracker, pips
from .base import PointTracker, TrackerOptionError, TrackerSettings, TrackerUnavailable, Tracks
from .cotracker import CoTrackerSettings, CoTrackerTracker, cotracker_params
from .lk import LkSettings, LucasKanadeTracker
from .pips import PipsSettings, PipsTracker, pips_params

TRACKERS = ("pips", "cotracker", "lk")


def tracker_params(name: str, checkpoint: Path | str | None = None, require_weights: bool = True) -> TrackerSettings:
    """What `build_tracker(name, checkpoint)` would track with, without loading it (checks the weight file; without
    `require_weights`, missing weights are recorded with sha256 None and left to `tracker_requirements`)."""
    if name == "lk":
        if checkpoint is not None:
            raise TrackerOptionError("--tracker lk takes no --tracker-checkpoint (it needs no weights): drop it")
        return LucasKanadeTracker().params
    if name == "pips":
        return pips_params(checkpoint, require_weights)
    if name == "cotracker":
        return cotracker_params(checkpoint, require_weights)
    raise ValueError(f"unknown tracker {name!r}; known: {', '.join(TRACKERS)}")


def tracker_requirements(settings: TrackerSettings) -> list[Requirement]:
    """What the tracker of `settings` (a task's recorded `tracker_params`) needs that a user installs: its weights
    file and its code, importable (lk: nothing)."""
    if isinstance(settings, PipsSettings):
        return pips.requirements(settings.checkpoint)
    if isinstance(settings, CoTrackerSettings):
        return cotracker.requirements(settings.checkpoint)
    return []


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

    def get(self, settings: TrackerSettings, device) -> PointTracker:
        """`settings`: the task's recorded `tracker_params`. The weights loaded must be the ones recorded there (the
        run's predictions are stored under those settings)."""
        if self._built is None or self._built[0] != str(device):
            weighted = isinstance(settings, (PipsSettings, CoTrackerSettings))
            tracker = build_tracker(settings.tracker, settings.checkpoint if weighted else None, str(device))
            loaded = tracker.params
            if weighted and settings.checkpoint_sha256 != loaded.checkpoint_sha256:
                recorded = settings.checkpoint_sha256
                was = "missing" if recorded is None else f"sha256 {recorded[:12]}..."
                raise TrackerUnavailable(f"tracker weights {loaded.checkpoint} changed since this run's settings were "
                                         f"read ({was}, now sha256 {str(loaded.checkpoint_sha256)[:12]}...): run the "
                                         "command again")  # fmt: skip
            self._built = (str(device), tracker)
        return self._built[1]


__all__ = ["TRACKERS", "CoTrackerSettings", "LazyTracker", "LkSettings", "PipsSettings", "PointTracker",
           "TrackerOptionError", "TrackerSettings", "TrackerUnavailable", "Tracks", "build_tracker", "tracker_params",
           "tracker_requirements"]  # fmt: skip
