"""`lk`: a weight-free pyramidal Lucas-Kanade point tracker with a forward-backward visibility check.

A baseline, not SAM-PT's tracker (SAM-PT v1 uses PIPS, its current code CoTracker; see pips.py, cotracker.py): it
needs no weights, so the SAM-PT pipeline runs everywhere, and results made with it are labelled as such.
Verified here: tests/test_trackers.py (sub-pixel accuracy on a translated texture, occluded points dropped) and
tests/test_davis_task.py (the whole DAVIS protocol on three real DAVIS sequences).

Method: OpenCV's `calcOpticalFlowPyrLK` from each frame to the next on grayscale frames (Bouguet's pyramidal LK),
then back again; a point stays visible while both passes converge, the backward pass lands within
`fb_threshold_px` of where it started (the forward-backward error of Kalal, Mikolajczyk and Matas, ICPR 2010), and
it stays inside the frame. A point that fails once is lost for the rest of the video (LK has no re-detection) and
keeps its last position.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .base import PointTracker, TrackerSettings, Tracks, check_inputs

# Window, pyramid and forward-backward threshold chosen here on the three DAVIS-2016 sample sequences (blackswan,
# dog, libby; frames at 1024 px width; 50 random points in the first mask): a 31x31 window on 5 pyramid levels
# (maxLevel 4) keeps about twice as many points on the fast dog as OpenCV's defaults (21x21, maxLevel 3) and every
# kept point stays on the object; a 1 px forward-backward threshold keeps precision at 100% there (2 px lets a few
# points drift onto the background). Iterations and epsilon are OpenCV's defaults (COUNT|EPS, 30, 0.01).
WINDOW_PX = 31
PYRAMID_LEVELS = 4  # maxLevel: levels above the full-resolution one
MAX_ITERATIONS = 30
EPSILON = 0.01
FB_THRESHOLD_PX = 1.0  # forward-backward error above which a point is lost (pixels of the tracked frames)


@dataclass(frozen=True)
class LkSettings(TrackerSettings):
    """`lk`'s settings (chosen here, above; no reference)."""

    tracker: str = "lk"
    window_px: int = WINDOW_PX  # calcOpticalFlowPyrLK winSize (square)
    pyramid_levels: int = PYRAMID_LEVELS  # maxLevel
    max_iterations: int = MAX_ITERATIONS  # criteria: COUNT
    epsilon: float = EPSILON  # criteria: EPS
    fb_threshold_px: float = FB_THRESHOLD_PX
    opencv: str = field(default_factory=lambda: cv2.__version__)  # the OpenCV that tracks (its LK may change)


class LucasKanadeTracker(PointTracker):
    name = "lk"

    def __init__(self, window_px: int = WINDOW_PX, pyramid_levels: int = PYRAMID_LEVELS,
                 fb_threshold_px: float = FB_THRESHOLD_PX):  # fmt: skip
        self.window_px = window_px
        self.pyramid_levels = pyramid_levels
        self.fb_threshold_px = fb_threshold_px

    @property
    def params(self) -> LkSettings:
        return LkSettings(window_px=self.window_px, pyramid_levels=self.pyramid_levels,
                          fb_threshold_px=self.fb_threshold_px)  # fmt: skip

    def _flow(self, source: np.ndarray, target: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            source, target, points.reshape(-1, 1, 2), None,
            winSize=(self.window_px, self.window_px), maxLevel=self.pyramid_levels,
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, MAX_ITERATIONS, EPSILON),
        )  # fmt: skip
        return moved.reshape(-1, 2), status.reshape(-1).astype(bool)

    def track(self, frames: np.ndarray, query_points: np.ndarray) -> Tracks:
        frames, query_points = check_inputs(frames, query_points)
        n_frames, height, width = frames.shape[:3]
        trajectories = np.empty((n_frames, len(query_points), 2), dtype=np.float32)
        visibilities = np.zeros((n_frames, len(query_points)), dtype=bool)
        points = query_points.copy()
        alive = np.ones(len(points), dtype=bool)
        trajectories[0], visibilities[0] = points, alive
        previous = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
        for t in range(1, n_frames):
            current = cv2.cvtColor(frames[t], cv2.COLOR_RGB2GRAY)
            index = np.flatnonzero(alive)
            if len(index):
                start = np.ascontiguousarray(points[index])
                forward, forward_ok = self._flow(previous, current, start)
                backward, backward_ok = self._flow(current, previous, forward)
                fb_error = np.linalg.norm(backward - start, axis=1)
                x, y = forward[:, 0], forward[:, 1]
                inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
                kept = forward_ok & backward_ok & (fb_error < self.fb_threshold_px) & inside
                points[index[kept]] = forward[kept]
                alive[index[~kept]] = False
            trajectories[t], visibilities[t] = points, alive
            previous = current
        return Tracks(trajectories, visibilities)
